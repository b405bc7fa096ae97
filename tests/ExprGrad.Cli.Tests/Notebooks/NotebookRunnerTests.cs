using System.Text.Json.Nodes;
using System.Xml.Linq;
using ExprGrad.Cli.Notebooks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using static ExprGrad.Cli.Tests.Notebooks.TestNotebook;

namespace ExprGrad.Cli.Tests.Notebooks;

/// <summary>
/// The headless runner: state from cell to cell, display and console output stored as nbformat 4, C# and F# in one
/// load context, the FSharp.Core pin, relative references, and failing cells reported by number.
/// </summary>
[Collection(NotebookCollection.Name)]
public sealed class NotebookRunnerTests : IDisposable
{
    private readonly TestNotebook _notebooks = new();

    public void Dispose() => _notebooks.Dispose();

    private static string Reference => $"#r \"{ExprGradDll}\"\nusing ExprGrad;\n";

    private static async Task<NotebookCellException> Fails(string path) =>
        await Assert.ThrowsAsync<NotebookCellException>(() => NotebookRunner.RunAsync(path, write: false));

    [Fact]
    public async Task State_carries_from_cell_to_cell_and_every_output_is_stored_as_nbformat_4()
    {
        var path = _notebooks.Write("state.ipynb",
            Markdown("# (x + y) z"),
            CSharpCell(Reference + "var g = Grad.Of((double x, double y, double z) => (x + y) * z);\nConsole.WriteLine(\"staged\");\ng"),
            CSharpCell("var t = g.Trace(-2, 5, -4);\ndisplay(t);\nConsole.Write(\"value \");\nConsole.WriteLine(t.Value);\nt.Output.Adjoint"),
            CSharpCell("// nothing to show\nvar unused = 1;"));
        var run = await NotebookRunner.RunAsync(path, write: true);
        Assert.Equal(3, run.CodeCells);

        var cells = CodeCells(path);
        Assert.Equal([1, 2, 3], cells.Select(c => c["execution_count"]!.GetValue<int>()));

        var first = cells[0]["outputs"]!.AsArray();
        Assert.Equal(["stream", "execute_result"], first.Select(o => o!["output_type"]!.GetValue<string>()));
        Assert.Equal("stdout", first[0]!["name"]!.GetValue<string>());
        Assert.Equal("staged\n", Text(first[0]!["text"]));
        var result = first[1]!;
        Assert.Equal(1, result["execution_count"]!.GetValue<int>());
        Assert.Equal(["text/markdown", "text/latex", "text/plain"], result["data"]!.AsObject().Select(p => p.Key));
        Assert.StartsWith("$$\n\\begin{aligned}", Text(result["data"]!["text/latex"]), StringComparison.Ordinal);
        Assert.Contains("dq = z;", Text(result["data"]!["text/markdown"]), StringComparison.Ordinal);
        Assert.IsType<JsonObject>(result["metadata"]);

        var second = cells[1]["outputs"]!.AsArray();
        Assert.Equal(["display_data", "stream", "execute_result"], second.Select(o => o!["output_type"]!.GetValue<string>()));
        var shown = second[0]!["data"]!;
        Assert.Equal(["text/html", "image/svg+xml", "text/plain"], shown.AsObject().Select(p => p.Key));
        Assert.Equal("svg", XDocument.Parse(Text(shown["image/svg+xml"])).Root!.Name.LocalName);
        Assert.Null(second[0]!["execution_count"]);
        Assert.Equal("value -12\n", Text(second[1]!["text"])); // two writes, one stream output
        Assert.Equal("1", Text(second[2]!["data"]!["text/plain"]));

        Assert.Empty(cells[2]["outputs"]!.AsArray());
        // Multiline strings are stored line by line, as Jupyter stores them.
        Assert.True(result["data"]!["text/plain"]!.AsArray().Count > 3);
        Assert.Equal(run.Document.ToJson(), File.ReadAllText(path));
    }

    [Fact]
    public async Task LINQ_and_expression_lambdas_compile_without_a_using_or_reference_in_the_cell()
    {
        // Scripting references almost nothing by default: System.Linq and System.Linq.Expressions are named by the runner.
        var path = _notebooks.Write("linq.ipynb", CSharpCell(
            "System.Linq.Expressions.Expression<Func<double, double>> twice = x => 2 * x;\n" +
            "var sum = new[] { 1.0, 2.0, 3.0 }.Where(v => v > 1).Select(twice.Compile()).Sum();\n" +
            "sum"));
        await NotebookRunner.RunAsync(path, write: true);
        Assert.Equal("10", Text(CodeCells(path)[0]["outputs"]![0]!["data"]!["text/plain"]));
    }

    [Fact]
    public async Task CSharp_and_FSharp_cells_share_one_copy_of_a_referenced_DLL()
    {
        // The C# cell leaves its Grad type where the F# cell can compare it with its own: two load contexts would give two types.
        var path = _notebooks.Write("shared.ipynb",
            CSharpCell(Reference + "AppDomain.CurrentDomain.SetData(\"exprgrad.grad\", typeof(Grad));"),
            FSharpCell($"#r \"{ExprGradDll}\"\nopen ExprGrad\n" +
                   "let same = obj.ReferenceEquals(System.AppDomain.CurrentDomain.GetData(\"exprgrad.grad\"), typeof<Grad>)\n" +
                   "if not same then failwith \"two copies of ExprGrad\"\n" +
                   "let g = Grad.Of(fun (x: float) (y: float) -> x * y)\n" +
                   "g.Trace(4.0, -3.0).Display()\n" +
                   "printfn \"same: %b\" same\n" +
                   "[| 1.0; 2.5 |]"));
        await NotebookRunner.RunAsync(path, write: true);

        var outputs = CodeCells(path)[1]["outputs"]!.AsArray();
        Assert.Equal(["display_data", "stream", "execute_result"], outputs.Select(o => o!["output_type"]!.GetValue<string>()));
        Assert.Contains("image/svg+xml", outputs[0]!["data"]!.AsObject().Select(p => p.Key));
        Assert.Equal("same: true\n", Text(outputs[1]!["text"]));
        Assert.Equal("[|1.0; 2.5|]", Text(outputs[2]!["data"]!["text/plain"])); // as F# Interactive prints it
    }

    [Fact]
    public void The_runner_hosts_the_pinned_FSharp_Core_and_ExprGrad_FSharp_needs_no_newer_one()
    {
        Assert.Equal(new Version(10, 1), new Version(SharedAssemblies.HostedFSharpCore.Major, SharedAssemblies.HostedFSharpCore.Minor));
        var fsharpDll = Path.Combine(Path.GetDirectoryName(ExprGradDll)!, "ExprGrad.FSharp.dll");
        var (name, _, fsharpCore) = SharedAssemblies.ReadIdentity(fsharpDll);
        Assert.Equal("ExprGrad.FSharp", name);
        Assert.NotNull(fsharpCore);
        Assert.True(fsharpCore <= SharedAssemblies.HostedFSharpCore, $"ExprGrad.FSharp needs FSharp.Core {fsharpCore}, the runner hosts {SharedAssemblies.HostedFSharpCore}");
    }

    [Fact]
    public async Task An_FSharp_DLL_built_against_a_newer_FSharp_Core_is_refused_by_name()
    {
        // A stand-in FSharp.Core 99.0.0.0 and a library compiled against it: the runner reads the reference before loading.
        var fakeCore = CSharpCompilation.Create("FSharp.Core",
            [CSharpSyntaxTree.ParseText("[assembly: System.Reflection.AssemblyVersion(\"99.0.0.0\")] namespace Microsoft.FSharp.Core { public class Fake { } }")],
            [MetadataReference.CreateFromFile(typeof(object).Assembly.Location)],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        using var core = new MemoryStream();
        Assert.True(fakeCore.Emit(core).Success);
        var library = CSharpCompilation.Create("NeedsNewerFSharp",
            [CSharpSyntaxTree.ParseText("public class Uses { public Microsoft.FSharp.Core.Fake F = null!; }")],
            [MetadataReference.CreateFromFile(typeof(object).Assembly.Location), MetadataReference.CreateFromImage(core.ToArray())],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var dll = Path.Combine(_notebooks.Folder, "NeedsNewerFSharp.dll");
        Assert.True(library.Emit(dll).Success);

        var path = _notebooks.Write("newer.ipynb", FSharpCell("#r \"NeedsNewerFSharp.dll\"\nlet x = 1"));
        var e = await Fails(path);
        Assert.Equal(1, e.Cell);
        Assert.Contains("NeedsNewerFSharp was built against FSharp.Core 99.0.0.0, newer than the FSharp.Core 10.1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Relative_references_resolve_against_the_notebook_folder_not_the_working_directory()
    {
        var lib = Path.Combine(_notebooks.Folder, "lib");
        Directory.CreateDirectory(lib);
        File.Copy(ExprGradDll, Path.Combine(lib, "ExprGrad.dll"));
        var path = _notebooks.Write(Path.Combine("deep", "er", "relative.ipynb"),
            CSharpCell("#r \"../../lib/ExprGrad.dll\"\nExprGrad.Grad.Of((double x) => x * x).Trace(3).Gradient[0]"));
        Assert.NotEqual(Path.GetDirectoryName(path), Environment.CurrentDirectory);
        await NotebookRunner.RunAsync(path, write: true);
        Assert.Equal("6", Text(CodeCells(path)[0]["outputs"]![0]!["data"]!["text/plain"]));

        var missing = _notebooks.Write(Path.Combine("deep", "missing.ipynb"), CSharpCell("#r \"../nowhere/ExprGrad.dll\""));
        var e = await Fails(missing);
        Assert.Contains(Path.Combine(_notebooks.Folder, "nowhere", "ExprGrad.dll"), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_cell_stops_the_run_with_its_number_and_error()
    {
        var compile = _notebooks.Write("compile.ipynb", Markdown("intro"), CSharpCell("var a = 1;"), Markdown("more"), CSharpCell("var b = a +;"), CSharpCell("var c = 3;"));
        var e = await Fails(compile);
        Assert.Equal(4, e.Cell); // cells count from 1, markdown included
        Assert.StartsWith("cell 4 (csharp) failed: cell4.csx(1,", e.Message, StringComparison.Ordinal);
        Assert.Contains("error CS1525", e.Message, StringComparison.Ordinal);

        var thrown = _notebooks.Write("throws.ipynb", CSharpCell("throw new InvalidOperationException(\"boom\");"));
        Assert.Equal("cell 1 (csharp) failed: InvalidOperationException: boom", (await Fails(thrown)).Message);

        var fsharp = _notebooks.Write("fsharp.ipynb", FSharpCell("let x: int = \"text\""));
        var f = await Fails(fsharp);
        Assert.StartsWith("cell 1 (fsharp) failed: cell1.fsx (1,14)", f.Message, StringComparison.Ordinal);

        var fsharpThrows = _notebooks.Write("fthrows.ipynb", FSharpCell("if true then failwith \"boom\""));
        Assert.Equal("cell 1 (fsharp) failed: Exception: boom", (await Fails(fsharpThrows)).Message);
    }

    [Fact]
    public async Task A_failed_run_does_not_write_the_notebook()
    {
        var path = _notebooks.Write("unchanged.ipynb", CSharpCell("1 + 1"), CSharpCell("undefined"));
        var before = File.ReadAllText(path);
        await Assert.ThrowsAsync<NotebookCellException>(() => NotebookRunner.RunAsync(path, write: true));
        Assert.Equal(before, File.ReadAllText(path));
    }

    [Fact]
    public async Task Cell_magics_choose_the_kernel_and_unknown_kernels_and_NuGet_references_are_named()
    {
        var magic = _notebooks.Write("magic.ipynb", CSharpCell("#!fsharp\nlet x = 40 + 2\nx"));
        await NotebookRunner.RunAsync(magic, write: true);
        Assert.Equal("42", Text(CodeCells(magic)[0]["outputs"]![0]!["data"]!["text/plain"]));

        var html = _notebooks.Write("html.ipynb", Code("<b>hi</b>", "html"));
        Assert.Contains("the kernel 'html' is not supported", (await Fails(html)).Message, StringComparison.Ordinal);

        var nuget = _notebooks.Write("nuget.ipynb", CSharpCell("#r \"nuget: MathNet.Numerics\""));
        Assert.Contains("NuGet references are not supported", (await Fails(nuget)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisplayAs_shows_content_under_the_MIME_type_given()
    {
        var path = _notebooks.Write("as.ipynb", CSharpCell("\"<svg xmlns='http://www.w3.org/2000/svg'/>\".DisplayAs(\"image/svg+xml\");"));
        await NotebookRunner.RunAsync(path, write: true);
        var output = Assert.Single(CodeCells(path)[0]["outputs"]!.AsArray())!;
        Assert.Equal("display_data", output["output_type"]!.GetValue<string>());
        Assert.Equal(["image/svg+xml"], output["data"]!.AsObject().Select(p => p.Key));
        Assert.Equal("<svg xmlns='http://www.w3.org/2000/svg'/>", Text(output["data"]!["image/svg+xml"]));
    }

    [Fact]
    public void Display_outside_a_run_says_where_it_works()
    {
        var e = Assert.Throws<InvalidOperationException>(() => NotebookFunctions.display(1));
        Assert.Contains("exprgrad notebook run", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => "text".Display());
    }

    [Fact]
    public void Files_that_are_not_notebooks_are_named_as_such()
    {
        Assert.Contains("not valid JSON", Assert.Throws<NotebookException>(() => NotebookDocument.Parse("{")).Message, StringComparison.Ordinal);
        Assert.Contains("nbformat 4", Assert.Throws<NotebookException>(() => NotebookDocument.Parse("{\"nbformat\": 3, \"cells\": []}")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1.5, "1.5")]
    [InlineData(null, "null")]
    [InlineData("text", "text")]
    public void Values_without_formatters_print_in_the_invariant_culture(object? value, string text) =>
        Assert.Equal(text, MimeBundle.Plain(value));

    [Fact]
    public void Sequences_print_as_lists()
    {
        Assert.Equal("[1.5, 2, [3, 4]]", MimeBundle.Plain(new object[] { 1.5, 2, new[] { 3, 4 } }));
        Assert.Equal(["text/plain"], MimeBundle.Of(new[] { 1, 2 }).Select(p => p.Key));
    }
}

/// <summary>Notebook runs share the console redirection and start F# sessions: one at a time, not beside each other.</summary>
[CollectionDefinition(Name)]
public sealed class NotebookCollection
{
    public const string Name = "notebooks";
}
