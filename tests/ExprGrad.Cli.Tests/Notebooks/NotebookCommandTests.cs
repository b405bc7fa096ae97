using static ExprGrad.Cli.Tests.Notebooks.TestNotebook;

namespace ExprGrad.Cli.Tests.Notebooks;

/// <summary><c>exprgrad notebook run</c>: exit codes, messages, and <c>--write</c>.</summary>
[Collection(NotebookCollection.Name)]
public sealed class NotebookCommandTests : IDisposable
{
    private readonly TestNotebook _notebooks = new();

    public void Dispose() => _notebooks.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = Command.Run(args, new StringReader(""), output, error);
        return (code, output.ToString().ReplaceLineEndings("\n"), error.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Run_without_write_leaves_the_notebook_as_it_was()
    {
        var path = _notebooks.Write("plain.ipynb", CSharpCell("1 + 2"));
        var before = File.ReadAllText(path);
        var (code, output, error) = Run("notebook", "run", path);
        Assert.True(code == 0, error);
        Assert.Equal($"{path}: 1 code cells ran\n", output);
        Assert.Equal(before, File.ReadAllText(path));
    }

    [Fact]
    public void Run_with_write_stores_the_outputs()
    {
        var path = _notebooks.Write("written.ipynb", CSharpCell("1 + 2"));
        var (code, output, error) = Run("notebook", "run", path, "--write");
        Assert.True(code == 0, error);
        Assert.EndsWith("outputs written\n", output, StringComparison.Ordinal);
        Assert.Equal("3", Text(CodeCells(path)[0]["outputs"]![0]!["data"]!["text/plain"]));
    }

    [Fact]
    public void A_failing_cell_exits_with_code_3_and_names_the_cell()
    {
        var path = _notebooks.Write("failing.ipynb", Markdown("# title"), CSharpCell("var x = 1;"), CSharpCell("x.NoSuchMember()"));
        var (code, _, error) = Run("notebook", "run", path);
        Assert.Equal(Command.NotebookFailed, code);
        Assert.StartsWith($"error: {path}: cell 3 (csharp) failed: cell3.csx(1,3): error CS1061", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_notebook_exits_with_code_3()
    {
        var (code, _, error) = Run("notebook", "run", Path.Combine(_notebooks.Folder, "none.ipynb"));
        Assert.Equal(Command.NotebookFailed, code);
        Assert.Contains("no such notebook", error, StringComparison.Ordinal);
    }
}
