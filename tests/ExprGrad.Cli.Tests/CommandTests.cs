using System.Diagnostics;
using System.Text.Json;

namespace ExprGrad.Cli.Tests;

/// <summary>The exprgrad command on the seeds: text and JSON output, standard input, help, and errors with carets.</summary>
public sealed partial class CommandTests
{
    private static (int Code, string Out, string Err) Run(string? stdin, params string[] args) =>
        Run(new StringReader(stdin ?? ""), false, args);

    private static (int Code, string Out, string Err) Run(TextReader stdin, bool stdinIsTerminal, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = Command.Run(args, stdin, output, error, stdinIsTerminal);
        return (code, output.ToString().ReplaceLineEndings("\n"), error.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void The_CS231n_seed_prints_value_gradient_formulas_and_code()
    {
        // (x + y) * z at (-2, 5, -4) → -12; ∇ = (-4, -4, 3).
        var (code, output, error) = Run(null, "(x + y) * z", "--at", "x=-2,y=5,z=-4");
        Assert.True(code == 0, error);
        Assert.Equal(
            """
            f(x, y, z) = (x + y) * z

            at x = -2, y = 5, z = -4
              f     = -12
              ∂f/∂x = -4
              ∂f/∂y = -4
              ∂f/∂z = 3

            derivatives
              ∂f/∂x = z
              ∂f/∂y = z
              ∂f/∂z = x + y

            staged code
              // forward
              q = x + y;
              f = q * z;
              // backward
              dq = z;
              dz = q;
              dx = dq;
              dy = dq;

            """, output);
    }

    [Fact]
    public void A_formula_of_no_variables_prints_no_empty_sections()
    {
        var (code, output, error) = Run(null, "2*3");
        Assert.True(code == 0, error);
        Assert.Equal("f() = 2*3\n\nstaged code\n  // forward\n  f = 6;\n", output);
    }

    [Fact]
    public void No_dead_stage_is_printed()
    {
        // The adjoint of x^2 is the constant 1, written where it is read: a line dq = 1; would be read by nobody.
        var (code, output, error) = Run(null, "x^2 + y", "--code");
        Assert.True(code == 0, error);
        Assert.Equal("// forward\nq = Fn.Square(x);\nf = q + y;\n// backward\ndy = 1;\ndx = 2 * x;\n", output);
    }

    [Fact]
    public void Names_that_spell_adjoints_print_code_that_reads_the_users_variables()
    {
        // The sympy oracle's relu(dq^4 / (2 * q)) printed dq = 2 * dr; and then read dq as the user's variable.
        var (code, output, error) = Run(null, "relu(dq^4/(2*q))", "--code");
        Assert.True(code == 0, error);
        // The listing itself is StagedCodeTests' golden: the command prints the library's.
        Assert.Equal(Grad.Of((double dq, double q) => Fn.Relu(Math.Pow(dq, 4) / (2 * q))).ToCode().ReplaceLineEndings("\n"), output);
        Assert.Contains("\ndq_ = 2 * dr;\n", output, StringComparison.Ordinal);
        Assert.Contains("\nddq = ", output, StringComparison.Ordinal);
        (code, output, error) = Run(null, "dx*x*exp(x)", "--code");
        Assert.True(code == 0, error);
        Assert.DoesNotContain("\ndx +=", output, StringComparison.Ordinal);
        Assert.DoesNotContain("\ndx =", output, StringComparison.Ordinal);
        Assert.Contains("\ndx_ += dx * dq;", output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_issue_example_runs_at_its_point()
    {
        var (code, output, error) = Run(null, "(x + sigmoid(y)) / (sigmoid(x) + (x + y)^2)", "--at", "x=3,y=-4");
        Assert.True(code == 0, error);
        var g = Grad.Of((double x, double y) => (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + Math.Pow(x + y, 2)));
        var (value, dx, dy) = g.Evaluate(3, -4);
        Assert.Contains($"  f     = {value:R}\n", output);
        Assert.Contains($"  ∂f/∂x = {dx:R}\n", output);
        Assert.Contains($"  ∂f/∂y = {dy:R}\n", output);
        Assert.Contains("sigmoid", output);
        Assert.Contains("// backward", output);
    }

    [Fact]
    public void Json_carries_everything_machine_readable()
    {
        var (code, output, error) = Run(null, "x*y", "--at", "x=4,y=-3", "--json");
        Assert.True(code == 0, error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal("x*y", root.GetProperty("formula").GetString());
        Assert.Equal(["x", "y"], root.GetProperty("variables").EnumerateArray().Select(v => v.GetString()!));
        Assert.Equal(-12, root.GetProperty("value").GetDouble());
        Assert.Equal(-3, root.GetProperty("gradient").GetProperty("x").GetDouble());
        Assert.Equal(4, root.GetProperty("gradient").GetProperty("y").GetDouble());
        Assert.Equal("y", root.GetProperty("derivatives").GetProperty("x").GetProperty("infix").GetString());
        Assert.Equal("x", root.GetProperty("derivatives").GetProperty("y").GetProperty("latex").GetString());
        Assert.Contains("dx = y;", root.GetProperty("code").GetString());
        Assert.DoesNotContain("\\u002B", Run(null, "x + y", "--json").Out); // + stays readable
    }

    [Fact]
    public void Json_writes_non_finite_numbers_as_strings()
    {
        var (code, output, _) = Run(null, "log(x)", "--at", "x=0", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal("-Infinity", doc.RootElement.GetProperty("value").GetString());
        Assert.Equal("Infinity", doc.RootElement.GetProperty("gradient").GetProperty("x").GetString());
    }

    [Fact]
    public void Latex_typesets_the_derivatives()
    {
        var (code, output, _) = Run(null, "x*sin(x)", "--latex");
        Assert.Equal(0, code);
        Assert.Contains(@"\frac{\partial f}{\partial x} = ", output);
        Assert.Contains(@"\sin", output);
    }

    [Theory]
    // The sympy oracle's findings of issue 16: exact constants, not 17-digit decimals; sign(-x) merged with sign(x);
    // 0·u and 0/u are 0 (log(x)*0 once printed 0*log(x)); exp(a)·exp(b) and |u|^k·sign(u) combined.
    [InlineData("log10(x)", "∂f/∂x = 1/(x*log(10))")]
    [InlineData("log2(x) + pi*x", "∂f/∂x = pi + 1/(x*log(2))")]
    [InlineData("3*x/2 + abs(-x) + sign(x)*x/2", "∂f/∂x = 3*step(x)")]
    [InlineData("3*x/2 - abs(-x) + abs(x)/2", "∂f/∂x = 3/2 - sign(x)/2")]
    [InlineData("x + log(x)*0*y", "∂f/∂x = 1")]
    [InlineData("x + y*0/x", "∂f/∂x = 1")]
    [InlineData("exp(x)*exp(2*x)", "∂f/∂x = 3*exp(3*x)")]
    [InlineData("abs(x)^4", "∂f/∂x = 4*x^3")]
    public void Formulas_as_short_as_a_CAS(string formula, string expected)
    {
        var (code, output, error) = Run(null, formula);
        Assert.True(code == 0, error);
        Assert.Contains(expected + "\n", output.Replace("\r\n", "\n"));
    }

    [Fact]
    public void Special_functions_by_name_in_formula_text()
    {
        // ∂/∂k gammaln(k) + erf(x k) = ψ(k) + 2/√π·x·e^(−k²x²); at k = 1, x = 0: ψ(1) = −γ.
        var (code, output, error) = Run(null, "gammaln(k) + erf(x*k)", "--at", "k=1,x=0");
        Assert.True(code == 0, error);
        Assert.Contains("∂f/∂k = digamma(k) + 2*x*exp(-k^2*x^2)/sqrt(pi)", output);
        Assert.Contains("-0.5772156649015", output);
        (code, output, _) = Run(null, "gamma(k)", "--latex");
        Assert.Equal(0, code);
        Assert.Contains(@"\Gamma\left(k\right) \psi\left(k\right)", output);
    }

    [Fact]
    public void Code_prints_only_the_staged_passes()
    {
        var (code, output, _) = Run(null, "x*y", "--code");
        Assert.Equal(0, code);
        Assert.Equal("// forward\nf = x * y;\n// backward\ndx = y;\ndy = x;\n", output);
    }

    [Fact]
    public void The_formula_can_come_from_standard_input()
    {
        var (code, output, error) = Run("(x + y) * z\n", "--at", "x=-2,y=5,z=-4");
        Assert.True(code == 0, error);
        Assert.Contains("  ∂f/∂z = 3\n", output);
        var (dashCode, dashOutput, _) = Run("x*y", "-", "--code");
        Assert.Equal(0, dashCode);
        Assert.Contains("dx = y;", dashOutput);
    }

    [Fact]
    public void Help_describes_the_command()
    {
        var (code, output, _) = Run(null, "--help");
        Assert.Equal(0, code);
        Assert.Contains("--at", output);
        Assert.Contains("--json", output);
        Assert.Contains("sigmoid", output);
        Assert.Contains("exprgrad [<formula>] [options]", output);
        Assert.DoesNotContain("notebook", output); // the runner is retired: notebooks run in the real .NET Interactive kernel
    }

    [Fact]
    public void An_unknown_option_is_an_error()
    {
        var (code, _, error) = Run(null, "x*y", "--bogus");
        Assert.Equal(Command.BadUsage, code);
        Assert.Contains("--bogus", error);
    }

    [Theory]
    [InlineData("(x + * y)", 6)]
    [InlineData("x +", 4)]
    [InlineData("foo(x)", 1)]
    [InlineData("(x + y", 7)]
    public void A_bad_formula_exits_non_zero_with_a_caret_under_the_error(string formula, int column)
    {
        var (code, output, error) = Run(null, formula);
        Assert.Equal(Command.BadFormula, code);
        Assert.Equal("", output);
        var lines = error.Split('\n');
        Assert.StartsWith("error: ", lines[0]);
        Assert.Equal("  " + formula, lines[1]);
        Assert.Equal(new string(' ', 2 + column - 1) + "^", lines[2]);
    }

    [Fact]
    public void A_long_formula_shows_a_window_around_the_error()
    {
        var formula = string.Join(" + ", Enumerable.Repeat("x", 200)) + " + * y";
        var (code, _, error) = Run(null, formula);
        Assert.Equal(Command.BadFormula, code);
        var lines = error.Split('\n');
        Assert.StartsWith("  ...", lines[1]);
        Assert.True(lines[1].Length < 100, lines[1]);
        Assert.Equal('*', lines[1][lines[2].IndexOf('^', StringComparison.Ordinal)]);
    }

    [Theory]
    [InlineData("x=1", "no value for y")]
    [InlineData("x=1,y=2,z=3", "no variable 'z'")]
    [InlineData("x=1,y=two", "'two' is not a number")]
    [InlineData("x=1,x=2,y=3", "'x' is given twice")]
    [InlineData("x", "'x' is not name=value")]
    public void A_bad_point_exits_non_zero_and_says_why(string at, string why)
    {
        var (code, _, error) = Run(null, "x*y", "--at", at);
        Assert.Equal(Command.BadPoint, code);
        Assert.Contains(why, error);
    }

    [Fact]
    public void The_built_command_runs_as_a_process()
    {
        // The same binary a user runs: exit codes and streams as the shell sees them.
        var dll = Path.Combine(AppContext.BaseDirectory, "ExprGrad.Cli.dll");
        var start = new ProcessStartInfo("dotnet", [dll, "x*y", "--at", "x=4,y=-3"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("  ∂f/∂x = -3\n", output.ReplaceLineEndings("\n"));

        using var bad = Process.Start(new ProcessStartInfo("dotnet", [dll, "x +"]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var error = bad.StandardError.ReadToEnd();
        bad.WaitForExit();
        Assert.Equal(Command.BadFormula, bad.ExitCode);
        Assert.Contains("^", error);
    }
}
