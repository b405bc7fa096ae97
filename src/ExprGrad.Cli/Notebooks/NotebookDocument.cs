using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExprGrad.Cli.Notebooks;

/// <summary>
/// A Jupyter notebook (nbformat 4) as its JSON, so that everything the runner does not touch (metadata, markdown cells,
/// Polyglot's kernel info) is written back as it was read. The runner only replaces code cells' outputs and
/// execution counts.
/// </summary>
internal sealed class NotebookDocument
{
    private static readonly JsonSerializerOptions Written = new()
    {
        WriteIndented = true,
        IndentSize = 1,
        // As Jupyter writes notebooks: non-ASCII text and markup characters stay readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly JsonObject _root;

    private NotebookDocument(JsonObject root, List<NotebookCell> cells)
    {
        _root = root;
        Cells = cells;
    }

    public IReadOnlyList<NotebookCell> Cells { get; }

    /// <summary>The kernel of cells that name none: Polyglot's default kernel, else the kernelspec's language, else C#.</summary>
    public string DefaultKernel =>
        _root["metadata"]?["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"]?.GetValue<string>()
        ?? (_root["metadata"]?["kernelspec"]?["language"]?.GetValue<string>() is { } language ? KernelNames.Canonical(language) : null)
        ?? KernelNames.CSharp;

    public static NotebookDocument Parse(string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new NotebookException($"not a notebook: the file is not valid JSON ({e.Message})");
        }
        if (node is not JsonObject root || root["nbformat"]?.GetValueKind() != JsonValueKind.Number || root["nbformat"]!.GetValue<int>() != 4)
            throw new NotebookException("not an nbformat 4 notebook (the \"nbformat\": 4 field is missing)");
        if (root["cells"] is not JsonArray cells)
            throw new NotebookException("not a notebook: it has no \"cells\" array");
        var list = new List<NotebookCell>();
        for (var i = 0; i < cells.Count; i++)
            list.Add(new NotebookCell(cells[i] as JsonObject ?? throw new NotebookException($"cell {i + 1} is not a JSON object"), i + 1));
        return new NotebookDocument(root, list);
    }

    public static NotebookDocument Load(string path)
    {
        if (!File.Exists(path))
            throw new NotebookException($"no such notebook: {Path.GetFullPath(path)}");
        return Parse(File.ReadAllText(path));
    }

    public string ToJson() => _root.ToJsonString(Written) + "\n";

    /// <summary>A string of nbformat's "multiline string" type as Jupyter writes it: one array element per line, each ending in "\n" but the last.</summary>
    public static JsonArray Lines(string text)
    {
        var lines = new JsonArray();
        var start = 0;
        while (start < text.Length)
        {
            var end = text.IndexOf('\n', start);
            end = end < 0 ? text.Length : end + 1;
            lines.Add(text[start..end]);
            start = end;
        }
        return lines;
    }

    /// <summary>Reads a multiline string: an array of lines, or one string.</summary>
    public static string Text(JsonNode? node) => node switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l?.GetValue<string>())),
        JsonValue value => value.GetValue<string>(),
        _ => "",
    };
}

/// <summary>One cell of a notebook, numbered from 1 in the order of the file (markdown cells count).</summary>
internal sealed class NotebookCell(JsonObject json, int number)
{
    public int Number { get; } = number;

    public bool IsCode => json["cell_type"]?.GetValue<string>() == "code";

    public string Source => NotebookDocument.Text(json["source"]);

    /// <summary>The kernel Polyglot recorded for the cell (<c>polyglot_notebook.kernelName</c>, or the older <c>dotnet_interactive.language</c>).</summary>
    public string? Kernel =>
        json["metadata"]?["polyglot_notebook"]?["kernelName"]?.GetValue<string>()
        ?? json["metadata"]?["dotnet_interactive"]?["language"]?.GetValue<string>();

    /// <summary>The outputs as stored in the file.</summary>
    public JsonArray? StoredOutputs => json["outputs"] as JsonArray;

    /// <summary>The execution count as stored in the file (null if never run).</summary>
    public int? StoredExecutionCount => json["execution_count"] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<int>() : null;

    /// <summary>Replaces the cell's outputs and execution count with those of a run.</summary>
    public void Store(int executionCount, IEnumerable<CellOutput> outputs)
    {
        json["execution_count"] = executionCount;
        json["outputs"] = new JsonArray(outputs.Select(o => (JsonNode)o.ToJson(executionCount)).ToArray());
    }
}
