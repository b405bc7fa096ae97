using System.Text.Json.Nodes;
using ExprGrad.Cli.Notebooks;

namespace ExprGrad.Cli.Tests.Notebooks;

/// <summary>
/// Every notebook under <c>notebooks/</c> runs top to bottom against the built library (so <c>dotnet test</c>, and CI,
/// run them all), is a Polyglot notebook referencing the library by a relative <c>#r</c>, and carries the outputs of
/// a run: the same cells ran, with outputs of the same kinds, as a run produces now.
/// </summary>
[Collection(NotebookCollection.Name)]
public sealed class RepositoryNotebookTests
{
    private static readonly string Folder = Path.Combine(RepositoryRoot(), "notebooks");

    private static string[] Names => Directory.GetFiles(Folder, "*.ipynb").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    public static TheoryData<string> Notebooks() => new(Names);

    [Fact]
    public void The_seed_notebooks_are_there()
    {
        Assert.Superset(new HashSet<string> { "01-circuits.ipynb", "02-backprop-by-hand.ipynb", "03-mlp.ipynb", "04-fsharp.ipynb" }, Names.ToHashSet());
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public async Task The_notebook_runs_and_its_stored_outputs_are_those_of_a_run(string name)
    {
        var path = Path.Combine(Folder, name);
        var before = File.ReadAllBytes(path);
        NotebookRun run;
        try
        {
            run = await NotebookRunner.RunAsync(path, write: false);
        }
        catch (NotebookException e)
        {
            Assert.Fail($"{name}: {e.Message}");
            return;
        }
        Assert.Equal(before, File.ReadAllBytes(path)); // a run without --write leaves the file alone

        var stored = NotebookDocument.Load(path).Cells.Where(c => c.IsCode).ToList();
        var ran = run.Document.Cells.Where(c => c.IsCode).ToList();
        Assert.Equal(stored.Count, ran.Count);
        for (var i = 0; i < stored.Count; i++)
        {
            var where = $"{name}, cell {stored[i].Number}: the stored outputs are stale (run 'exprgrad notebook run {name} --write')";
            Assert.True(stored[i].StoredExecutionCount == ran[i].StoredExecutionCount, where);
            Assert.True(Kinds(stored[i].StoredOutputs).SequenceEqual(Kinds(ran[i].StoredOutputs)), where);
        }
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void The_notebook_is_a_Polyglot_notebook_referencing_the_built_library(string name)
    {
        var path = Path.Combine(Folder, name);
        var root = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal(".net-csharp", root["metadata"]!["kernelspec"]!["name"]!.GetValue<string>());
        Assert.NotNull(root["metadata"]!["polyglot_notebook"]!["kernelInfo"]);
        var cells = NotebookDocument.Load(path).Cells;
        Assert.Contains(cells, c => !c.IsCode); // prose
        foreach (var cell in cells.Where(c => c.IsCode))
            Assert.Contains(cell.Kernel, new[] { "csharp", "fsharp" });

        var references = cells.Where(c => c.IsCode).SelectMany(c => CellCode.Parse(c.Source).References).ToList();
        Assert.Contains(references, r => r.EndsWith("ExprGrad.dll", StringComparison.Ordinal));
        foreach (var reference in references)
        {
            Assert.False(Path.IsPathRooted(reference), $"{name}: #r \"{reference}\" should be relative to the notebook");
            Assert.True(File.Exists(Path.GetFullPath(reference, Folder)), $"{name}: #r \"{reference}\" does not exist; build the solution first");
        }
    }

    // What a cell's outputs are, without their text (timings and such vary from run to run).
    private static IEnumerable<string> Kinds(JsonArray? outputs) =>
        (outputs ?? []).Select(o => o!["output_type"]!.GetValue<string>() + " " +
            (o["name"]?.GetValue<string>() ?? string.Join(",", o["data"]!.AsObject().Select(p => p.Key))));

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ExprGrad.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no ExprGrad.sln above {AppContext.BaseDirectory}");
    }
}
