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

    /// <summary>
    /// Exit code for bad usage: an unknown option or an extra argument, no formula on a terminal, a formula over the
    /// size or work limits; and for a bad <c>--at</c> point (<see cref="BadPoint"/>).
    /// </summary>
    public const int BadUsage = 2;

    /// <summary>Exit code for a bad <c>--at</c> point: a missing, unknown, repeated, unreadable or non-finite value.</summary>
    public const int BadPoint = BadUsage;

    /// <summary>
    /// The longest formula text accepted, in characters (UTF-16 code units, as .NET counts a string's length), after
    /// the line breaks that end standard input are dropped. Longer text is refused before it is parsed, and standard
    /// input is never read past this.
    /// </summary>
    public const int MaxFormulaLength = 1_000_000;

    /// <summary>
    /// The most operators and function calls a formula may have (each is at most a few stages of the graph). Staging,
    /// compiling and printing take about a second at this size; far past it, minutes and gigabytes.
    /// </summary>
    public const int MaxOperations = 20_000;

    /// <summary>
    /// Runs the command with the given arguments and streams; returns the process exit code: 0, <see cref="BadFormula"/>
    /// or <see cref="BadUsage"/>.
    /// </summary>
    /// <param name="args">The arguments after the command's name.</param>
    /// <param name="stdin">Where a formula comes from when none is given (or it is <c>-</c>).</param>
    /// <param name="stdout">Where results go.</param>
    /// <param name="stderr">Where errors go, one safe line each (see <see cref="ErrorText"/>).</param>
    /// <param name="stdinIsTerminal">
    /// Standard input is a terminal (not redirected): without a formula argument the command prints its usage
    /// instead of waiting for a formula to be typed.
    /// </param>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, bool stdinIsTerminal = false)
    {
        var formula = new Argument<string?>("formula")
        {
            Description = "The function, e.g. \"(x + sigmoid(y)) / (sigmoid(x) + (x + y)^2)\". Omit it, or give -, to read it "
                + "from standard input (omitted on a terminal, the usage is printed instead).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var at = new Option<string?>("--at")
        {
            Description = "The point: a finite value for every variable, e.g. x=3,y=-4. Without it, only formulas and code are shown.",
        };
        var allowNonFinite = new Option<bool>("--allow-nonfinite")
        {
            Description = "Accept NaN, Infinity, -Infinity and overflowing values (1e999) in --at; without it they are refused.",
        };
        var latex = new Option<bool>("--latex") { Description = "Print the derivatives as LaTeX." };
        var json = new Option<bool>("--json") { Description = "Print everything as one JSON object (machine-readable)." };
        var code = new Option<bool>("--code") { Description = "Print only the staged forward and backward code." };

        // A named command, not RootCommand (which names itself after the assembly): help and errors say "exprgrad".
        var root = new System.CommandLine.Command("exprgrad",
            $"""
            Differentiates a formula by staged reverse mode: value and gradient at a point, simplified partial
            derivatives, and the backward pass as C#. Formulas use numbers, variables, + - * / ^ and parentheses,
            and the functions exp log log10 log2 sqrt cbrt sin cos tan asin acos atan atan2 sinh cosh tanh asinh
            acosh atanh abs sign floor ceiling round truncate max min sigmoid relu softplus square, and pi and e.
            Variables are ordered as they first appear.

            Limits: a formula of at most {MaxFormulaLength:N0} characters and {MaxOperations:N0} operators and function calls;
            larger ones are refused (exit code 2). Derivatives too large to simplify are shown by their size only.
            Exit codes: 0 done, 1 the formula does not parse or cannot be differentiated, 2 bad usage or a bad --at.
            """)
        {
            formula, at, allowNonFinite, latex, json, code, new System.CommandLine.Help.HelpOption(), new VersionOption(),
        };
        root.SetAction(parsed =>
        {
            var text = parsed.GetValue(formula);
            if (text is null && stdinIsTerminal)
            {
                stderr.WriteLine("error: no formula: give it as an argument, pipe it to standard input, or give - to type it");
                stderr.WriteLine(Usage);
                return BadUsage;
            }
            if (text is null or "-" && !TryReadBounded(stdin, out text))
            {
                stderr.WriteLine($"error: the formula on standard input is longer than {MaxFormulaLength:N0} characters, the limit (see --help)");
                return BadUsage;
            }
            var request = new Request(text, parsed.GetValue(at), parsed.GetValue(allowNonFinite), parsed.GetValue(latex), parsed.GetValue(json), parsed.GetValue(code));
            return Execute(request, stdout, stderr);
        });

        // No response files: "@name" is formula text like any other argument, never the contents of a file.
        var result = root.Parse(KeepLeadingArguments(args), new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (result.Errors.Count > 0 && result.Action is not System.CommandLine.Help.HelpAction)
        {
            // System.CommandLine's own report exits 1, the code of a bad formula, and echoes arguments raw.
            foreach (var error in result.Errors)
                stderr.WriteLine("error: " + ErrorText.Clip(error.Message));
            stderr.WriteLine(Usage);
            return BadUsage;
        }
        return result.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }

    private const string Usage = "usage: exprgrad [<formula>] [--at x=1,y=2] [--allow-nonfinite] [--latex | --json | --code]; exprgrad --help for more";

    /// <summary>
    /// System.CommandLine 2.0 reads leading arguments in its own ways, with no switch to turn them off: each leading
    /// <c>[...]</c> is a directive (and dropped when it is not one it knows: exprgrad knows none), and a first argument
    /// whose file name is the command's (<c>exprgrad</c>, <c>x/exprgrad</c>) is taken for the command itself. When the
    /// arguments start so, the leading ones that are not options move behind a <c>--</c>, where every argument is an
    /// argument (the command has one positional argument, so its place among the options does not matter). Other
    /// arguments are left in their order, so that System.CommandLine's messages name the argument at fault.
    /// </summary>
    private static string[] KeepLeadingArguments(string[] args)
    {
        if (args.Length == 0 || !(IsDirective(args[0]) || Path.GetFileName(args[0]) == "exprgrad"))
            return args;
        var leading = 0;
        while (leading < args.Length && !args[leading].StartsWith('-'))
            leading++;
        var rest = args[leading..];
        var dashes = Array.IndexOf(rest, "--");
        return dashes < 0
            ? [.. rest, "--", .. args[..leading]]
            : [.. rest[..(dashes + 1)], .. args[..leading], .. rest[(dashes + 1)..]];

        // System.CommandLine's test for a directive.
        static bool IsDirective(string arg) => arg.Length > 2 && arg[0] == '[' && arg[1] is not (']' or ':') && arg[^1] == ']';
    }

    /// <summary>
    /// Reads standard input up to one character past the limit (with room for the line break that ends it), so an
    /// endless or huge stream costs at most <see cref="MaxFormulaLength"/> characters of memory, and a short formula
    /// only its own length.
    /// </summary>
    private static bool TryReadBounded(TextReader stdin, out string text)
    {
        const int Bound = MaxFormulaLength + 3;
        var read = new StringBuilder();
        var block = new char[4096];
        int count;
        while (read.Length < Bound && (count = stdin.Read(block, 0, Math.Min(block.Length, Bound - read.Length))) > 0)
            read.Append(block, 0, count);
        text = read.ToString().TrimEnd('\r', '\n');
        return text.Length <= MaxFormulaLength;
    }

    private sealed record Request(string Formula, string? At, bool AllowNonFinite, bool Latex, bool Json, bool CodeOnly);

    private static int Execute(Request request, TextWriter stdout, TextWriter stderr)
    {
        if (request.Formula.Length > MaxFormulaLength)
        {
            stderr.WriteLine($"error: the formula is {request.Formula.Length:N0} characters long; the limit is {MaxFormulaLength:N0} (see --help)");
            return BadUsage;
        }
        var operations = CountOperations(request.Formula);
        if (operations > MaxOperations)
        {
            stderr.WriteLine($"error: the formula has about {operations:N0} operators and function calls; exprgrad differentiates at most {MaxOperations:N0} (see --help)");
            return BadUsage;
        }

        LambdaExpression lambda;
        Gradient g;
        try
        {
            lambda = Parse.Lambda(Fn.Library, request.Formula);
            g = Grad.Of(lambda);
        }
        catch (FormulaSyntaxException e)
        {
            stderr.WriteLine("error: " + ErrorText.Clip(e.Message));
            var (excerpt, caret) = ErrorText.Excerpt(request.Formula, e.Index);
            stderr.WriteLine("  " + excerpt);
            stderr.WriteLine("  " + new string(' ', caret) + "^");
            return BadFormula;
        }
        catch (ExprGradException e)
        {
            stderr.WriteLine("error: " + ErrorText.Clip(e.Message));
            return BadFormula;
        }

        var names = lambda.Parameters.Select(p => p.Name!).ToArray();
        double[]? point = null;
        if (request.At is not null)
        {
            if (!TryParsePoint(request.At, names, request.AllowNonFinite, out point, out var problem))
            {
                // Every piece of user text in the problem is already escaped and clipped: the line stays short.
                stderr.WriteLine($"error: --at {ErrorText.Clip(request.At, 80)}: {problem}");
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
        // The formula parsed, so its only control characters are the white space between tokens: one line.
        o.WriteLine($"f({string.Join(", ", names)}) = {string.Join(' ', request.Formula.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))}");
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
        if (g.Formulas.Count > 0)
        {
            // A formula of no variables has no derivatives: no empty heading.
            o.WriteLine();
            o.WriteLine("derivatives");
            foreach (var d in g.Formulas)
                o.WriteLine("  " + (request.Latex ? d.ToLatex() : d.ToString()));
        }
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

    /// <summary>
    /// Parses <c>x=3,y=-4</c>: every variable exactly once, nothing else, and finite values unless
    /// <paramref name="allowNonFinite"/>. The problem names what it is about, each piece of the user's text clipped.
    /// </summary>
    private static bool TryParsePoint(string text, string[] names, bool allowNonFinite, out double[] point, out string problem)
    {
        point = new double[names.Length];
        var given = new bool[names.Length];
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++)
            index.TryAdd(names[i], i);
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                problem = $"'{Quote(part)}' is not name=value";
                return false;
            }
            var name = part[..eq].Trim();
            var raw = part[(eq + 1)..].Trim();
            if (!index.TryGetValue(name, out var k))
            {
                problem = names.Length == 0
                    ? $"the formula has no variables, but '{Quote(name)}' is given"
                    : $"the formula has no variable '{Quote(name)}' (its variables: {ErrorText.Clip(string.Join(", ", names), 120)})";
                return false;
            }
            if (given[k])
            {
                problem = $"'{Quote(name)}' is given twice";
                return false;
            }
            if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out point[k]))
            {
                problem = $"'{Quote(raw)}' is not a number (for {Quote(name)})";
                return false;
            }
            // .NET reads NaN and ±Infinity by name and an overflow such as 1e999 as ±Infinity: all refused by default,
            // since a non-finite point is far more often a typo than a question.
            if (!allowNonFinite && !double.IsFinite(point[k]))
            {
                var reads = double.IsNaN(point[k]) ? "NaN" : point[k] > 0 ? "Infinity" : "-Infinity";
                problem = $"the value for {Quote(name)}, '{Quote(raw)}', is not finite (it reads as {reads}); "
                    + "give --allow-nonfinite to evaluate there anyway";
                return false;
            }
            given[k] = true;
        }
        var missing = names.Where((_, i) => !given[i]).ToList();
        problem = missing.Count == 0 ? "" : $"no value for {ErrorText.Clip(string.Join(", ", missing), 120)}";
        return missing.Count == 0;
    }

    private static string Quote(string text) => ErrorText.Clip(text, 60);

    /// <summary>
    /// About how many operators and function calls the text has, counted without parsing it: each <c>+ - * / ^</c>
    /// and each <c>(</c> right after a name. Every one is at most a few stages of the graph, so this bounds the work
    /// before any is done (a minus sign inside a number such as <c>1e-5</c> counts too, which only errs on the safe side).
    /// </summary>
    private static int CountOperations(string text)
    {
        var count = 0;
        var afterName = false;
        foreach (var c in text)
        {
            if (c is '+' or '-' or '*' or '/' or '^' || (c == '(' && afterName))
                count++;
            if (!char.IsWhiteSpace(c))
                afterName = char.IsLetterOrDigit(c) || c == '_';
        }
        return count;
    }
}
