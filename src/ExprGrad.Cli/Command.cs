using System.CommandLine;
using System.Globalization;
using System.Linq.Expressions;
using System.Text;
using System.Text.Json;
using ExprGrad.Symbolic;

namespace ExprGrad.Cli;

/// <summary>
/// The <c>exprgrad</c> command: differentiates a formula typed as text and prints its value and gradient at a
/// point, the simplified partial derivatives (infix or LaTeX) and the staged backward pass as C#, or all of it as JSON.
/// </summary>
internal static class Command
{
    /// <summary>Exit code for a formula that does not parse or cannot be differentiated.</summary>
    public const int BadFormula = 1;

    /// <summary>Exit code for a bad <c>--at</c> point.</summary>
    public const int BadPoint = 2;

    /// <summary>Runs the command with the given arguments and streams; returns the process exit code.</summary>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var formula = new Argument<string?>("formula")
        {
            Description = "The function, e.g. \"(x + sigmoid(y)) / (sigmoid(x) + (x + y)^2)\". Omit it, or give -, to read it from standard input.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var at = new Option<string?>("--at")
        {
            Description = "The point: a value for every variable, e.g. x=3,y=-4. Without it, only formulas and code are shown.",
        };
        var latex = new Option<bool>("--latex") { Description = "Print the derivatives as LaTeX." };
        var json = new Option<bool>("--json") { Description = "Print everything as one JSON object (machine-readable)." };
        var code = new Option<bool>("--code") { Description = "Print only the staged forward and backward code." };

        // A named command, not RootCommand (which names itself after the assembly): help and errors say "exprgrad".
        var root = new System.CommandLine.Command("exprgrad",
            """
            Differentiates a formula by staged reverse mode: value and gradient at a point, simplified partial
            derivatives, and the backward pass as C#. Formulas use numbers, variables, + - * / ^ and parentheses,
            and the functions exp log log10 log2 sqrt cbrt sin cos tan asin acos atan atan2 sinh cosh tanh asinh
            acosh atanh abs sign floor ceiling round truncate max min sigmoid relu softplus square, and pi and e.
            Variables are ordered as they first appear.
            """)
        {
            formula, at, latex, json, code, new System.CommandLine.Help.HelpOption(), new VersionOption(),
        };
        root.SetAction(parsed =>
        {
            var text = parsed.GetValue(formula);
            if (text is null or "-")
                text = stdin.ReadToEnd().TrimEnd('\r', '\n');
            var request = new Request(text, parsed.GetValue(at), parsed.GetValue(latex), parsed.GetValue(json), parsed.GetValue(code));
            return Execute(request, stdout, stderr);
        });
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }

    private sealed record Request(string Formula, string? At, bool Latex, bool Json, bool CodeOnly);

    private static int Execute(Request request, TextWriter stdout, TextWriter stderr)
    {
        LambdaExpression lambda;
        Gradient g;
        try
        {
            lambda = Parse.Lambda(Fn.Library, request.Formula);
            g = Grad.Of(lambda);
        }
        catch (FormulaSyntaxException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            WriteCaret(stderr, request.Formula, e.Line, e.Column);
            return BadFormula;
        }
        catch (ExprGradException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return BadFormula;
        }

        var names = lambda.Parameters.Select(p => p.Name!).ToArray();
        double[]? point = null;
        if (request.At is not null)
        {
            if (!TryParsePoint(request.At, names, out point, out var problem))
            {
                stderr.WriteLine($"error: --at {request.At}: {problem}");
                return BadPoint;
            }
        }
        double value = double.NaN;
        var gradient = new double[names.Length];
        if (point is not null)
            value = g.Evaluate(point, gradient);

        if (request.Json)
            WriteJson(stdout, request.Formula, names, point, value, gradient, g);
        else if (request.CodeOnly)
            stdout.Write(g.ToCode());
        else
            WriteText(stdout, request, names, point, value, gradient, g);
        return 0;
    }

    private static void WriteText(TextWriter o, Request request, string[] names, double[]? point, double value, double[] gradient, Gradient g)
    {
        o.WriteLine($"f({string.Join(", ", names)}) = {request.Formula.Trim()}");
        if (point is not null)
        {
            o.WriteLine();
            o.WriteLine(names.Length == 0 ? "at the point with no variables" : "at " + string.Join(", ", names.Select((n, i) => $"{n} = {Number(point[i])}")));
            var labels = names.Select(n => $"∂f/∂{n}").Prepend("f").ToArray();
            var width = labels.Max(l => l.Length);
            o.WriteLine($"  {labels[0].PadRight(width)} = {Number(value)}");
            for (var i = 0; i < names.Length; i++)
                o.WriteLine($"  {labels[i + 1].PadRight(width)} = {Number(gradient[i])}");
        }
        o.WriteLine();
        o.WriteLine("derivatives");
        foreach (var d in g.Formulas)
            o.WriteLine("  " + (request.Latex ? d.ToLatex() : d.ToString()));
        o.WriteLine();
        o.WriteLine("staged code");
        foreach (var line in g.ToCode().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            o.WriteLine("  " + line.TrimEnd('\r'));
    }

    private static void WriteJson(TextWriter o, string formula, string[] names, double[]? point, double value, double[] gradient, Gradient g)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = true,
            // Formulas and code keep + and & readable; the output is data for programs, never embedded in HTML.
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            w.WriteStartObject();
            w.WriteString("formula", formula.Trim());
            w.WriteStartArray("variables");
            foreach (var n in names)
                w.WriteStringValue(n);
            w.WriteEndArray();
            if (point is not null)
            {
                w.WriteStartObject("at");
                for (var i = 0; i < names.Length; i++)
                    WriteNumber(w, names[i], point[i]);
                w.WriteEndObject();
                WriteNumber(w, "value", value);
                w.WriteStartObject("gradient");
                for (var i = 0; i < names.Length; i++)
                    WriteNumber(w, names[i], gradient[i]);
                w.WriteEndObject();
            }
            w.WriteStartObject("derivatives");
            foreach (var d in g.Formulas)
            {
                w.WriteStartObject(d.Variable);
                w.WriteString("infix", d.Infix);
                w.WriteString("latex", d.Latex);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteString("code", g.ToCode());
            w.WriteEndObject();
        }
        o.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    // JSON has no NaN or infinity: those are written as the strings "NaN", "Infinity", "-Infinity".
    private static void WriteNumber(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v))
            w.WriteNumber(name, v);
        else
            w.WriteString(name, v.ToString(CultureInfo.InvariantCulture));
    }

    private static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Parses <c>x=3,y=-4</c>: every variable exactly once, nothing else.</summary>
    private static bool TryParsePoint(string text, string[] names, out double[] point, out string problem)
    {
        point = new double[names.Length];
        var given = new bool[names.Length];
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                problem = $"'{part}' is not name=value";
                return false;
            }
            var name = part[..eq].Trim();
            var index = Array.IndexOf(names, name);
            if (index < 0)
            {
                problem = names.Length == 0
                    ? $"the formula has no variables, but '{name}' is given"
                    : $"the formula has no variable '{name}' (its variables: {string.Join(", ", names)})";
                return false;
            }
            if (given[index])
            {
                problem = $"'{name}' is given twice";
                return false;
            }
            if (!double.TryParse(part[(eq + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out point[index]))
            {
                problem = $"'{part[(eq + 1)..].Trim()}' is not a number (for {name})";
                return false;
            }
            given[index] = true;
        }
        var missing = names.Where((_, i) => !given[i]).ToList();
        problem = missing.Count == 0 ? "" : $"no value for {string.Join(", ", missing)}";
        return missing.Count == 0;
    }

    /// <summary>
    /// Prints the offending line of the formula with a caret under the column (1-based); a long line is cut to a
    /// window around the column, marked with "..." where it was cut.
    /// </summary>
    private static void WriteCaret(TextWriter o, string text, int line, int column)
    {
        const int Window = 72;
        var lines = text.Split('\n');
        if (line < 1 || line > lines.Length)
            return;
        var shown = lines[line - 1].TrimEnd('\r');
        var at = Math.Clamp(column - 1, 0, shown.Length);
        var start = shown.Length <= Window ? 0 : Math.Clamp(at - Window / 2, 0, shown.Length - Window);
        var end = Math.Min(shown.Length, start + Window);
        var prefix = start > 0 ? "..." : "";
        o.WriteLine("  " + prefix + shown[start..end] + (end < shown.Length ? "..." : ""));
        o.WriteLine("  " + new string(' ', prefix.Length + at - start) + "^");
    }
}
