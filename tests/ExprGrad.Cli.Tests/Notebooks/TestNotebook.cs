using System.Text.Json.Nodes;

namespace ExprGrad.Cli.Tests.Notebooks;

/// <summary>Writes small Polyglot notebooks into a fresh temporary folder, and reads back what a run stored.</summary>
internal sealed class TestNotebook : IDisposable
{
    public TestNotebook() => Directory.CreateDirectory(Folder);

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "exprgrad-nb-" + Guid.NewGuid().ToString("N"));

    /// <summary>The ExprGrad.dll the test process itself loaded (same build as the runner's).</summary>
    public static string ExprGradDll => typeof(Grad).Assembly.Location;

    public static JsonObject Markdown(string text) => new()
    {
        ["cell_type"] = "markdown",
        ["metadata"] = new JsonObject(),
        ["source"] = new JsonArray(text),
    };

    public static JsonObject Code(string source, string kernel = "csharp") => new()
    {
        ["cell_type"] = "code",
        ["execution_count"] = null,
        ["metadata"] = new JsonObject
        {
            ["dotnet_interactive"] = new JsonObject { ["language"] = kernel },
            ["polyglot_notebook"] = new JsonObject { ["kernelName"] = kernel },
        },
        ["outputs"] = new JsonArray(),
        ["source"] = Cli.Notebooks.NotebookDocument.Lines(source),
    };

    public static JsonObject CSharpCell(string source) => Code(source);

    public static JsonObject FSharpCell(string source) => Code(source, "fsharp");

    /// <summary>Writes a notebook of <paramref name="cells"/> at <paramref name="name"/> (which may name a sub-folder) and returns its path.</summary>
    public string Write(string name, params JsonObject[] cells)
    {
        var notebook = new JsonObject
        {
            ["cells"] = new JsonArray(cells),
            ["metadata"] = new JsonObject
            {
                ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
            },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 2,
        };
        var path = Path.Combine(Folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, notebook.ToJsonString());
        return path;
    }

    /// <summary>The code cells of a stored notebook, as JSON.</summary>
    public static List<JsonObject> CodeCells(string path) =>
        JsonNode.Parse(File.ReadAllText(path))!["cells"]!.AsArray().Cast<JsonObject>()
            .Where(c => c["cell_type"]!.GetValue<string>() == "code").ToList();

    /// <summary>A multiline string of a stored output, joined.</summary>
    public static string Text(JsonNode? node) => Cli.Notebooks.NotebookDocument.Text(node);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A loaded DLL may still be mapped; the temporary folder is the system's to clean.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
