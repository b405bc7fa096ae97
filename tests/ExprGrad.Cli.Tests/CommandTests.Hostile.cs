using System.Diagnostics;
using System.Globalization;

namespace ExprGrad.Cli.Tests;

/// <summary>
/// Hostile input to the exprgrad command (issue 13): response files, directives, non-finite points, terminal escapes,
/// huge text and huge formulas, a terminal for standard input. Each case: its exit code and what the message says.
/// </summary>
public sealed partial class CommandTests
{
    // What a refusal before the work may take, even on a loaded machine: it runs in a fraction of a second (the
    // messages prove no parse happened); the bound only catches the minutes these inputs took before.
    private static readonly TimeSpan Refused = TimeSpan.FromSeconds(15);

    // The error stream as written, line breaks untouched, so that a smuggled \r, U+0085 or U+2028 would show.
    private static (int Code, string Out, string RawErr) RunRaw(string? stdin, params string[] args)
    {
        var output = new StringWriter { NewLine = "\n" };
        var error = new StringWriter { NewLine = "\n" };
        var code = Command.Run(args, new StringReader(stdin ?? ""), output, error);
        return (code, output.ToString(), error.ToString());
    }

    // Only printable text and the line feeds between lines.
    private static void AssertPrintable(string text)
    {
        foreach (var (c, i) in text.Select((c, i) => (c, i)))
        {
            if (c == '\n')
                continue;
            var category = CharUnicodeInfo.GetUnicodeCategory(c);
            Assert.False(
                char.IsSurrogate(c) || category is UnicodeCategory.Control or UnicodeCategory.Format
                    or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator,
                $"U+{(int)c:X4} at {i} in: {text}");
        }
    }

    private static void AssertShortLines(string text, int max = 2 * ErrorText.MaxLine)
    {
        foreach (var line in text.Split('\n'))
            Assert.True(line.Length <= max, $"a line of {line.Length:N0} characters: {line[..Math.Min(200, line.Length)]}...");
    }

    [Fact]
    public void An_at_sign_is_formula_text_never_a_response_file()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "x*y --code");
            var (code, output, error) = Run(null, "@" + file);
            Assert.Equal(Command.BadFormula, code);
            Assert.Equal("", output);
            Assert.StartsWith("error: 1:1: ", error, StringComparison.Ordinal);
            Assert.Contains("found '@'", error, StringComparison.Ordinal);
            Assert.Contains("  @" + file + "\n  ^\n", error, StringComparison.Ordinal);
            Assert.DoesNotContain("x*y", error, StringComparison.Ordinal); // the file is never read
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_formula_in_brackets_is_formula_text_never_a_directive()
    {
        var (code, output, error) = Run(null, "[x]");
        Assert.Equal(Command.BadFormula, code);
        Assert.Equal("", output);
        Assert.Equal("error: 1:1: expected an operand (number, variable, function call or '('), found '['\n  [x]\n  ^\n", error);

        // Before options and after them alike; and with a second formula, the extra one is named.
        Assert.Equal(Command.BadFormula, Run(null, "[x]", "--code").Code);
        Assert.Equal(Command.BadFormula, Run(null, "--code", "[x]").Code);
        var (two, _, twoError) = Run(null, "[x]", "[y]");
        Assert.Equal(Command.BadUsage, two);
        Assert.Contains("'[y]'", twoError, StringComparison.Ordinal);
    }

    [Fact]
    public void A_variable_named_like_the_command_is_a_variable()
    {
        // System.CommandLine would take a first argument "exprgrad" for the command itself and drop it.
        var (code, output, error) = Run(null, "exprgrad", "--code");
        Assert.True(code == 0, error);
        Assert.Equal("// forward\nf = exprgrad;\n// backward\ndexprgrad = 1;\n", output);
        (code, output, error) = Run(null, "bin/exprgrad", "--code"); // a path's file name counts too
        Assert.True(code == 0, error);
        Assert.StartsWith("// forward\nf = bin / exprgrad;\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_and_the_formula_mix_in_any_order()
    {
        var (code, output, error) = Run(null, "--code", "x*y");
        Assert.True(code == 0, error);
        Assert.Contains("dx = y;", output, StringComparison.Ordinal);
        (code, output, error) = Run(null, "x*y", "--at", "x=2,y=3", "--", "--code");
        Assert.Equal(Command.BadUsage, code); // after --, "--code" is a second formula
        Assert.Contains("'--code'", error, StringComparison.Ordinal);
        Assert.Equal("", output);
    }

    [Theory]
    [InlineData("NaN", "NaN")]
    [InlineData("Infinity", "Infinity")]
    [InlineData("-Infinity", "-Infinity")]
    [InlineData("1e999", "Infinity")]
    [InlineData("-1e999", "-Infinity")]
    public void A_non_finite_point_is_refused_unless_asked_for(string value, string reads)
    {
        var (code, output, error) = Run(null, "x*y", "--at", $"x=1,y={value}");
        Assert.Equal(Command.BadPoint, code);
        Assert.Equal("", output);
        Assert.Equal(
            $"error: --at x=1,y={value}: the value for y, '{value}', is not finite (it reads as {reads}); give --allow-nonfinite to evaluate there anyway\n",
            error);

        var (allowed, json, allowedError) = Run(null, "x*y", "--at", $"x=1,y={value}", "--allow-nonfinite", "--json");
        Assert.True(allowed == 0, allowedError);
        Assert.Contains($"\"y\": \"{reads}\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_states_the_limits_the_exit_codes_and_the_non_finite_flag()
    {
        var (code, output, _) = Run(null, "--help");
        Assert.Equal(0, code);
        Assert.Contains("--allow-nonfinite", output, StringComparison.Ordinal);
        Assert.Contains("1,000,000 characters", output, StringComparison.Ordinal);
        Assert.Contains("20,000 operators and function", output, StringComparison.Ordinal);
        Assert.Contains("Exit codes: 0 done, 1 the formula does not parse", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("x+\u001by", "\\u001b")] // ESC: starts a terminal command (a colour, a title, a clear screen)
    [InlineData("x+\u009by", "\\u009b")] // C1 CSI: the same in one character on some terminals
    [InlineData("x+\u007fy", "\\u007f")] // DEL
    [InlineData("x+\u0007y", "\\u0007")] // BEL
    [InlineData("x+\fy", "\\u000c")] // form feed
    [InlineData("x+\u0085y", "\\u0085")] // NEL, a line break to some terminals
    [InlineData("x+\u202ey", "\\u202e")] // right-to-left override
    [InlineData("x+\u2066y", "\\u2066")] // left-to-right isolate
    [InlineData("x+\u2028y", "\\u2028")] // line separator
    public void Error_lines_show_control_characters_as_escapes_with_the_caret_on_them(string formula, string escape)
    {
        var (code, _, error) = RunRaw(null, formula);
        Assert.Equal(Command.BadFormula, code);
        AssertPrintable(error);
        var lines = error.Split('\n');
        Assert.Equal("  x+" + escape + "y", lines[1]);
        Assert.Equal(lines[1].IndexOf(escape, StringComparison.Ordinal), lines[2].IndexOf('^', StringComparison.Ordinal));
    }

    [Fact]
    public void A_lone_surrogate_is_shown_as_an_escape()
    {
        // Not [InlineData]: the test runner's serialization would turn the lone surrogate into U+FFFD.
        var (code, _, error) = RunRaw(null, "x+" + '\ud800' + "y");
        Assert.Equal(Command.BadFormula, code);
        AssertPrintable(error);
        Assert.Equal("  x+\\ud800y", error.Split('\n')[1]);
    }

    [Fact]
    public void The_caret_stays_on_the_error_past_escaped_characters()
    {
        // A control character never parses, so the excerpt is checked alone: three ESCs, then the error at 'y'.
        var (excerpt, caret) = ErrorText.Excerpt("x\u001b\u001b\u001by", 4);
        Assert.Equal("x\\u001b\\u001b\\u001by", excerpt);
        Assert.Equal('y', excerpt[caret]);

        // Cut on both sides of a long run of escapes, the caret still on its character.
        var text = string.Concat(Enumerable.Repeat("\u001b", 1000)) + "!" + new string('\u009b', 1000);
        (excerpt, caret) = ErrorText.Excerpt(text, 1000);
        Assert.StartsWith("...\\u001b", excerpt, StringComparison.Ordinal);
        Assert.EndsWith("\\u009b...", excerpt, StringComparison.Ordinal);
        Assert.True(excerpt.Length <= ErrorText.ExcerptWidth + 6, excerpt);
        Assert.Equal('!', excerpt[caret]);

        // An error on the second line shows that line only, the caret under the second '*'.
        var (code, _, error) = RunRaw(null, "x +\r\ny * * z");
        Assert.Equal(Command.BadFormula, code);
        var lines = error.Split('\n');
        Assert.StartsWith("error: 2:5: ", lines[0], StringComparison.Ordinal);
        Assert.Equal("  y * * z", lines[1]);
        Assert.Equal("      ^", lines[2]);
    }

    [Fact]
    public void Usage_errors_and_bad_points_are_escaped_too()
    {
        var (code, _, error) = RunRaw(null, "x", "--\u001b[2J");
        Assert.Equal(Command.BadUsage, code);
        AssertPrintable(error);
        Assert.Contains("'--\\u001b[2J'", error, StringComparison.Ordinal);

        (code, _, error) = RunRaw(null, "x", "--at", "x=\u001b]0;title\u0007");
        Assert.Equal(Command.BadPoint, code);
        AssertPrintable(error);
        Assert.Contains("'\\u001b]0;title\\u0007' is not a number (for x)", error, StringComparison.Ordinal);

        (code, _, error) = RunRaw(null, "x", "--at", "\u202ex=1");
        Assert.Equal(Command.BadPoint, code);
        AssertPrintable(error);
        Assert.Contains("no variable '\\u202ex'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_line_is_cut_around_the_error_with_the_caret_on_it()
    {
        // 1 MB of text: half a million characters of name before the error, as many after.
        var formula = new string('a', 500_000) + " * * " + new string('b', 499_990);
        var (code, _, error) = RunRaw(null, formula);
        Assert.Equal(Command.BadFormula, code);
        AssertShortLines(error);
        var lines = error.Split('\n');
        Assert.StartsWith("  ...", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("...", lines[1], StringComparison.Ordinal);
        Assert.True(lines[1].Length <= 2 + ErrorText.ExcerptWidth + 6, lines[1]);
        var caret = lines[2].IndexOf('^', StringComparison.Ordinal);
        Assert.Equal('*', lines[1][caret]);
        Assert.Equal(' ', lines[1][caret - 1]);
        Assert.Equal('*', lines[1][caret - 2]); // the second '*' is the error
    }

    [Fact]
    public void A_long_name_in_a_message_is_cut()
    {
        var name = new string('f', 50_000);
        var (code, _, error) = RunRaw(null, name + "(x)");
        Assert.Equal(Command.BadFormula, code);
        AssertShortLines(error);
        var lines = error.Split('\n');
        Assert.Equal(2, lines[2].IndexOf('^', StringComparison.Ordinal));

        (code, _, error) = RunRaw(null, "x", "--at", name + "=1");
        Assert.Equal(Command.BadPoint, code);
        AssertShortLines(error);
        Assert.Contains("characters in all", error, StringComparison.Ordinal);
        Assert.Contains("(its variables: x)", error, StringComparison.Ordinal);

        (code, _, error) = RunRaw(null, "x", "--" + name);
        Assert.Equal(Command.BadUsage, code);
        AssertShortLines(error);
    }

    [Fact]
    public void A_formula_over_the_size_limit_is_refused_before_parsing()
    {
        var watch = Stopwatch.StartNew();
        var (code, output, error) = Run(null, new string('x', Command.MaxFormulaLength + 1));
        Assert.Equal(Command.BadUsage, code);
        Assert.Equal("", output);
        Assert.Equal("error: the formula is 1,000,001 characters long; the limit is 1,000,000 (see --help)\n", error);

        (code, _, error) = Run(new string('x', 3 * Command.MaxFormulaLength));
        Assert.Equal(Command.BadUsage, code);
        Assert.Equal("error: the formula on standard input is longer than 1,000,000 characters, the limit (see --help)\n", error);
        Assert.True(watch.Elapsed < Refused, $"{watch.Elapsed}");
    }

    [Fact]
    public void Standard_input_is_read_no_further_than_the_limit()
    {
        var endless = new EndlessReader();
        var (code, _, error) = Run(endless, false);
        Assert.Equal(Command.BadUsage, code);
        Assert.Contains("longer than 1,000,000 characters", error, StringComparison.Ordinal);
        Assert.True(endless.Given <= Command.MaxFormulaLength + 3, $"{endless.Given:N0} characters read");

        // Exactly at the limit, with the line break that ends standard input: accepted (then it is one long name).
        var name = new string('x', Command.MaxFormulaLength);
        (code, var output, error) = Run(name + "\r\n", "--code");
        Assert.True(code == 0, error);
        Assert.StartsWith("// forward\nf = " + name[..100], output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_megabyte_of_operations_is_refused_before_parsing()
    {
        // Today "x+" times half a million takes a minute and most of a gigabyte: stopped before parsing.
        var watch = Stopwatch.StartNew();
        var sum = string.Concat(Enumerable.Repeat("x+", 499_999)) + "x";
        var (code, output, error) = Run(null, sum);
        Assert.Equal(Command.BadUsage, code);
        Assert.Equal("", output);
        Assert.Equal("error: the formula has about 499,999 operators and function calls; exprgrad differentiates at most 20,000 (see --help)\n", error);

        var products = string.Concat(Enumerable.Repeat("x*y+", 249_999)) + "x";
        Assert.Equal(Command.BadUsage, Run(products).Code);
        var calls = string.Concat(Enumerable.Repeat("sin(", 5_001)) + "x" + new string(')', 5_001) + string.Concat(Enumerable.Repeat("+x", 15_000));
        Assert.Equal(Command.BadUsage, Run(null, calls).Code);
        Assert.True(watch.Elapsed < Refused, $"{watch.Elapsed}");
    }

    [Fact]
    public void The_work_cap_is_counted_before_parsing_and_exact_at_its_edge()
    {
        // 20,000 operators with nothing after the last: the cap lets it through, so the parser reports the end.
        var atCap = string.Concat(Enumerable.Repeat("x+", Command.MaxOperations));
        var (code, _, error) = Run(null, atCap);
        Assert.Equal(Command.BadFormula, code);
        Assert.Contains("found the end of the text", error, StringComparison.Ordinal);

        // One more, and the text is never parsed.
        (code, _, error) = Run(null, atCap + "-");
        Assert.Equal(Command.BadUsage, code);
        Assert.Equal("error: the formula has about 20,001 operators and function calls; exprgrad differentiates at most 20,000 (see --help)\n", error);

        // A call counts as an operation; a name or parentheses alone do not.
        Assert.Equal(Command.BadUsage, Run(null, string.Concat(Enumerable.Repeat("sin(x)", Command.MaxOperations + 1))).Code);
        Assert.Equal(Command.BadFormula, Run(null, string.Concat(Enumerable.Repeat("(x)", Command.MaxOperations + 1))).Code);
    }

    [Fact]
    public void A_megabyte_of_parentheses_fails_fast_at_the_nesting_limit()
    {
        var watch = Stopwatch.StartNew();
        var deep = new string('(', 499_999) + "x" + new string(')', 499_999);
        var (code, _, error) = RunRaw(null, deep);
        Assert.Equal(Command.BadFormula, code);
        AssertShortLines(error);
        Assert.Contains("nest more than 10000 deep", error, StringComparison.Ordinal);
        var lines = error.Split('\n');
        Assert.Equal('(', lines[1][lines[2].IndexOf('^', StringComparison.Ordinal)]);
        Assert.True(watch.Elapsed < Refused, $"{watch.Elapsed}");
    }

    [Fact]
    public void No_formula_on_a_terminal_prints_the_usage_instead_of_waiting()
    {
        var (code, output, error) = Run(new ThrowingReader(), true);
        Assert.Equal(Command.BadUsage, code);
        Assert.Equal("", output);
        Assert.StartsWith("error: no formula: give it as an argument, pipe it to standard input, or give - to type it\nusage: exprgrad [<formula>]", error, StringComparison.Ordinal);
        Assert.Equal(Command.BadUsage, Run(new ThrowingReader(), true, "--at", "x=1").Code);

        // "-" asks for the terminal on purpose; a formula argument never reads it.
        var (dash, dashOutput, _) = Run(new StringReader("x*y\n"), true, "-", "--code");
        Assert.Equal(0, dash);
        Assert.Contains("dx = y;", dashOutput, StringComparison.Ordinal);
        Assert.Equal(0, Run(new ThrowingReader(), true, "x*y", "--code").Code);
    }

    private sealed class EndlessReader : TextReader
    {
        public long Given { get; private set; }

        public override int Read(char[] buffer, int index, int count)
        {
            Array.Fill(buffer, 'x', index, count);
            Given += count;
            return count;
        }
    }

    private sealed class ThrowingReader : TextReader
    {
        public override int Read() => throw new InvalidOperationException("standard input is a terminal: nobody should wait on it");

        public override int Read(char[] buffer, int index, int count) => Read();

        public override string ReadToEnd() => Read().ToString(CultureInfo.InvariantCulture);
    }
}
