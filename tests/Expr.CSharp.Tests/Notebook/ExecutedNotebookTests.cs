using System.Text.Json;

namespace ExprGrad.Tests.Notebook;

/// <summary>
/// What the real .NET Interactive kernel showed, read from executed notebooks: the folder named by
/// <c>EXPRGRAD_EXECUTED_NOTEBOOKS</c> when set (CI points it at <c>artifacts/notebooks</c> after running every notebook
/// afresh with <c>.ci/notebooks</c>), else the committed <c>notebooks/*.ipynb</c>, whose outputs come from that kernel.
/// Cells are found by their source, never by their index, and checked by MIME type and content: this is what users
/// see, not what our formatters return when we call them ourselves.
/// </summary>
public sealed class ExecutedNotebookTests
{
    /// <summary>The environment variable naming a folder of freshly executed notebooks.</summary>
    public const string FolderVariable = "EXPRGRAD_EXECUTED_NOTEBOOKS";

    private sealed record Cell(int Number, string Source, JsonElement[] Outputs)
    {
        /// <summary>The cell's outputs as <paramref name="mimeType"/>, joined (a cell may display several values).</summary>
        public string[] As(string mimeType) =>
            Outputs.Where(o => o.TryGetProperty("data", out var data) && data.TryGetProperty(mimeType, out _))
                .Select(o => Text(o.GetProperty("data").GetProperty(mimeType)))
                .ToArray();

        public override string ToString() => $"cell {Number}: {Source.Split('\n')[0]}";
    }

    private static readonly string RepositoryRoot = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ExprGrad.sln")))
                return dir.FullName;
        throw new InvalidOperationException("ExprGrad.sln not found above " + AppContext.BaseDirectory);
    }

    private static string Folder =>
        Environment.GetEnvironmentVariable(FolderVariable) is { Length: > 0 } folder ? folder : Path.Combine(RepositoryRoot, "notebooks");

    // nbformat stores multi-line text either as one string or as a list of lines.
    private static string Text(JsonElement value) => value.ValueKind == JsonValueKind.Array
        ? string.Concat(value.EnumerateArray().Select(line => line.GetString()))
        : value.GetString() ?? "";

    private static Cell[] Cells(string notebook)
    {
        var path = Path.Combine(Folder, notebook);
        Assert.True(File.Exists(path), $"{path} is missing: run .ci/notebooks (after dotnet build src/Expr.CSharp)");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.GetProperty("cells").EnumerateArray()
            .Select((cell, k) => (cell, k))
            .Where(c => c.cell.GetProperty("cell_type").GetString() == "code")
            .Select(c => new Cell(
                c.k + 1,
                Text(c.cell.GetProperty("source")).Replace("\r\n", "\n", StringComparison.Ordinal).Trim(),
                c.cell.TryGetProperty("outputs", out var outputs) ? outputs.EnumerateArray().Select(o => o.Clone()).ToArray() : []))
            .ToArray();
    }

    private static Cell Find(string notebook, Func<string, bool> source, string what)
    {
        var found = Cells(notebook).Where(c => source(c.Source)).ToArray();
        Assert.True(found.Length == 1, $"{notebook}: expected one cell {what}, found {found.Length}");
        return found[0];
    }

    private static Cell Ending(string notebook, string lastLine) =>
        Find(notebook, s => s.Split('\n')[^1].Trim() == lastLine, $"ending with '{lastLine}'");

    private static Cell Containing(string notebook, string text) =>
        Find(notebook, s => s.Contains(text, StringComparison.Ordinal), $"containing '{text}'");

    public static TheoryData<string> Notebooks => ["01-circuits.ipynb", "02-backprop-by-hand.ipynb", "03-mlp.ipynb", "04-fsharp.ipynb", "05-optimizers.ipynb"];

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Every_cell_ran_without_an_error_and_shows_no_machine_path_or_exception_dump(string notebook)
    {
        foreach (var cell in Cells(notebook))
        {
            Assert.True(cell.Outputs.All(o => o.GetProperty("output_type").GetString() != "error"), $"{notebook}, {cell} failed");
            foreach (var output in cell.Outputs)
            {
                var raw = output.GetRawText();
                Assert.False(raw.Contains("file://", StringComparison.Ordinal), $"{notebook}, {cell} shows a file URL");
                // The kernel's default view of some values (an F# list, an Expression) walks their members into
                // exception dumps, assembly paths and per-run ids: show such values as text instead.
                Assert.False(raw.Contains("Exception", StringComparison.Ordinal), $"{notebook}, {cell} shows an exception");
                Assert.False(raw.Contains(RepositoryRoot, StringComparison.Ordinal) || raw.Contains(JsonEncodedText.Encode(RepositoryRoot).ToString(), StringComparison.Ordinal),
                    $"{notebook}, {cell} shows this machine's path {RepositoryRoot}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Every_code_cell_was_executed(string notebook)
    {
        // A cell that declares things shows nothing; but a notebook whose cells show nothing at all was not run.
        Assert.Contains(Cells(notebook), c => c.Outputs.Length > 0);
    }

    private static void AssertGradient(Cell cell, string firstPartial)
    {
        var markdown = Assert.Single(cell.As("text/markdown"));
        Assert.StartsWith("$$\n\\begin{aligned}\n" + firstPartial, markdown, StringComparison.Ordinal);
        Assert.Contains("```csharp\n// forward\n", markdown, StringComparison.Ordinal);
        Assert.Contains("// backward\n", markdown, StringComparison.Ordinal);
        // Beside any value the cell displayed first.
        Assert.Single(cell.As("text/plain"), t => t.StartsWith("∂f/∂", StringComparison.Ordinal) && t.Contains("// backward\n", StringComparison.Ordinal));
    }

    private static void AssertCircuit(Cell cell)
    {
        var html = Assert.Single(cell.As("text/html"));
        Assert.StartsWith("<div class=\"exprgrad-trace\"><svg ", html, StringComparison.Ordinal);
        Assert.EndsWith("</svg></div>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Circuits_gradients_show_typeset_formulas_and_staged_code()
    {
        AssertGradient(Ending("01-circuits.ipynb", "multiply"), @"\frac{\partial f}{\partial x} &= y \\");
        AssertGradient(Ending("01-circuits.ipynb", "sum"), @"\frac{\partial f}{\partial x} &= z \\");
        Assert.Contains("dq = z;\n", Assert.Single(Ending("01-circuits.ipynb", "sum").As("text/markdown")), StringComparison.Ordinal);
    }

    [Fact]
    public void Circuits_traces_show_their_circuit_as_SVG()
    {
        var trace = Ending("01-circuits.ipynb", "sum.Trace(-2, 5, -4)");
        AssertCircuit(trace);
        Assert.StartsWith("trace at x = -2, y = 5, z = -4: f = -12\n", Assert.Single(trace.As("text/plain")), StringComparison.Ordinal);
        AssertCircuit(Ending("01-circuits.ipynb", "circuit"));
    }

    [Fact]
    public void Circuits_values_and_gradients_show_by_parameter_name()
    {
        // (x + y) * z at (-2, 5, -4) → -12; ∇ = (-4, -4, 3)
        var cell = Containing("01-circuits.ipynb", "display(sum.Evaluate(-2, 5, -4));");
        Assert.Equal("f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3", Assert.Single(cell.As("text/plain"), t => t.StartsWith("f = ", StringComparison.Ordinal)));
        var table = Assert.Single(cell.As("text/html"));
        Assert.Contains("<th>f</th><th>∂f/∂x</th><th>∂f/∂y</th><th>∂f/∂z</th>", table, StringComparison.Ordinal);
        Assert.Contains(">-12</td>", table, StringComparison.Ordinal);

        var multiply = Ending("01-circuits.ipynb", "multiply.Evaluate(4, -3)");
        Assert.Equal("f = -12, ∂f/∂x = -3, ∂f/∂y = 4", Assert.Single(multiply.As("text/plain")));
        Assert.DoesNotContain("D1", Assert.Single(multiply.As("text/html")), StringComparison.Ordinal);
    }

    [Fact]
    public void Backprop_by_hand_shows_the_loss_gradient_typeset()
    {
        AssertGradient(Ending("02-backprop-by-hand.ipynb", "loss"), @"\frac{\partial f}{\partial w_{1}} &= ");
    }

    [Fact]
    public void Mlp_gradients_of_matrices_show_their_listing()
    {
        foreach (var name in new[] { "single", "batch" })
        {
            var cell = Ending("03-mlp.ipynb", name);
            var markdown = Assert.Single(cell.As("text/markdown"));
            Assert.StartsWith("```\nv0 = W2\nv1 = W1\n", markdown, StringComparison.Ordinal);
            Assert.Contains("\n# backward\n", markdown, StringComparison.Ordinal);
            Assert.Contains("\ndW1 = ", markdown, StringComparison.Ordinal);
            Assert.DoesNotContain(@"\frac", markdown, StringComparison.Ordinal);
            Assert.Empty(cell.As("text/latex"));
            Assert.StartsWith("v0 = W2\n", Assert.Single(cell.As("text/plain")), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Mlp_values_and_gradients_show_matrices_by_parameter_name()
    {
        var cell = Ending("03-mlp.ipynb", "result");
        var table = Assert.Single(cell.As("text/html"));
        Assert.Contains("<th>f</th><th>∂f/∂W1</th><th>∂f/∂W2</th>", table, StringComparison.Ordinal);
        Assert.Contains("<caption>5×4 matrix</caption>", table, StringComparison.Ordinal);
        Assert.Contains("<caption>3×5 matrix</caption>", table, StringComparison.Ordinal);
        Assert.StartsWith("f = 1.776465261577703, ∂f/∂W1 = 5×4 [[", Assert.Single(cell.As("text/plain")), StringComparison.Ordinal);
    }

    [Fact]
    public void Mlp_power_iteration_on_H_v_finds_the_Hessians_largest_eigenvalue()
    {
        var printed = Printed(Ending("03-mlp.ipynb", "Console.WriteLine($\"power iteration on H·v: {rayleigh:F6}\");"));
        Assert.Contains("eigenvalues from -0.365382 to 0.785038\n", printed, StringComparison.Ordinal);
        Assert.Contains("power iteration on H·v: 0.785038\n", printed, StringComparison.Ordinal);
    }

    [Fact]
    public void FSharp_shows_gradients_traces_and_values_by_name_too()
    {
        AssertGradient(Ending("04-fsharp.ipynb", "g"), @"\frac{\partial f}{\partial x} &= y + \cos\left(x\right) \\");
        AssertCircuit(Ending("04-fsharp.ipynb", "staged.Trace(3.0, -4.0)"));
        var value = Ending("04-fsharp.ipynb", "g.Evaluate(1.0, 2.0)");
        Assert.Equal("f = 2.8414709848078967, ∂f/∂x = 2.5403023058681398, ∂f/∂y = 1", Assert.Single(value.As("text/plain")));
        Assert.Contains("<th>∂f/∂y</th>", Assert.Single(value.As("text/html")), StringComparison.Ordinal);
    }

    // What a cell printed to the console (stream outputs), joined.
    private static string Printed(Cell cell) => string.Concat(cell.Outputs
        .Where(o => o.GetProperty("output_type").GetString() == "stream")
        .Select(o => Text(o.GetProperty("text"))));

    [Fact]
    public void Optimizers_fit_the_logistic_regression_and_plot_its_loss_per_iteration()
    {
        var fit = Printed(Containing("05-optimizers.ipynb", "new LimitedMemoryBfgsMinimizer(1e-8, 1e-12, 1e-12, memory: 5).FindMinimum(objective, start)"));
        Assert.Contains("loss 0.271748, ", fit, StringComparison.Ordinal);
        Assert.Contains("training accuracy 88.5 %", fit, StringComparison.Ordinal);

        // The loss per iteration falls from log 2 at w = 0 to the full run's minimum.
        var curve = Printed(Containing("05-optimizers.ipynb", "losses.Add("));
        Assert.StartsWith("0.69315, ", curve, StringComparison.Ordinal);
        Assert.Contains("after 15 iterations: 0.271748 (the full run: 0.271748)", curve, StringComparison.Ordinal);
        var svg = Assert.Single(Ending("05-optimizers.ipynb", "Curve(losses, \"loss\").DisplayAs(\"image/svg+xml\");").As("image/svg+xml"));
        Assert.StartsWith("<svg ", svg, StringComparison.Ordinal);
        Assert.Contains("<polyline points=\"", svg, StringComparison.Ordinal);
        Assert.Contains("loss (from 0.6931 down to 0.2717)", svg, StringComparison.Ordinal);

        var batch = Printed(Containing("05-optimizers.ipynb", "loss.EvaluateBatch(points, values, gradients);"));
        Assert.Contains("the lowest loss is at point 0 (the optimum)", batch, StringComparison.Ordinal);
        Assert.Contains("every value and gradient equal to a single call's: True", batch, StringComparison.Ordinal);
    }
}
