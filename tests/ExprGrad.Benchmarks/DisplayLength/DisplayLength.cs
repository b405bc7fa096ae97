using System.Globalization;
using ExprGrad.Symbolic;

namespace ExprGrad.Benchmarks.DisplayLength;

/// <summary>
/// The display-length measure of issue 16: for every row of <c>DisplayLength/table.tsv</c> (a random formula, a
/// variable, and the length of sympy.simplify of its derivative, made once by <c>generate.py</c>), the length of
/// ExprGrad's formula for the same derivative: its infix text with spaces removed, the syntax the table's lengths
/// are counted in. Reports the share of rows no longer than sympy's, the worst ratio, and the totals.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project tests/ExprGrad.Benchmarks -- --display-length [--worst N] [table.tsv]</c>;
/// <c>--worst N</c> lists the N rows with the largest ratio, for finding what to simplify next; <c>--trace</c> names each
/// row on stderr before measuring it, and rows that take over a second are reported.
/// </remarks>
public static class DisplayLengthReport
{
    /// <summary>Measures the table and prints the figures.</summary>
    public static void Run(string[] args)
    {
        var worst = 0;
        var trace = false;
        string? path = null;
        for (var i = 0; i < args.Length; i++)
            if (args[i] == "--trace")
                trace = true;
            else if (args[i] == "--worst")
                worst = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else
                path = args[i];
        path ??= Path.Combine(AppContext.BaseDirectory, "DisplayLength", "table.tsv");
        var rows = new List<(string Formula, string Variable, int Sympy, int Ours, string Text, string SympyText)>();
        var failed = 0;
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var cells = line.Split('\t');
            var (formula, variable, sympy) = (cells[0], cells[1], int.Parse(cells[2], CultureInfo.InvariantCulture));
            string text;
            if (trace)
                Console.Error.WriteLine($"{formula} d/d{variable}");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                var g = Grad.Of(Parse.Lambda(Fn.Library, formula));
                text = g.Formulas.Single(d => d.Variable == variable).Infix.Replace(" ", "", StringComparison.Ordinal);
            }
            catch (Exception e) when (e is ExprGradException or FormulaSyntaxException or NotSupportedException or InvalidOperationException)
            {
                failed++;
                Console.WriteLine($"not measured: {formula} d/d{variable}: {e.Message}");
                continue;
            }
            if (clock.ElapsedMilliseconds > 1000)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"slow: {formula} d/d{variable}: {clock.ElapsedMilliseconds} ms"));
            rows.Add((formula, variable, sympy, text.Length, text, cells.Length > 3 ? cells[3] : ""));
        }
        static double Ratio(int ours, int sympy) => (double)ours / Math.Max(sympy, 1);
        var noLonger = rows.Count(r => r.Ours <= r.Sympy);
        var shorter = rows.Count(r => r.Ours < r.Sympy);
        var over = rows.Count(r => Ratio(r.Ours, r.Sympy) > 1.5);
        var worstRow = rows.MaxBy(r => Ratio(r.Ours, r.Sympy));
        var (ours, theirs) = (rows.Sum(r => (long)r.Ours), rows.Sum(r => (long)r.Sympy));
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"rows measured: {rows.Count} (not measured: {failed})"));
        Console.WriteLine(string.Create(inv, $"no longer than sympy.simplify: {noLonger} ({100.0 * noLonger / rows.Count:F1}%); shorter: {shorter} ({100.0 * shorter / rows.Count:F1}%)"));
        Console.WriteLine(string.Create(inv, $"more than 1.5x longer: {over}; worst ratio: {Ratio(worstRow.Ours, worstRow.Sympy):F2} ({worstRow.Formula} d/d{worstRow.Variable}: {worstRow.Ours} vs {worstRow.Sympy})"));
        Console.WriteLine(string.Create(inv, $"total characters: ExprGrad {ours}, sympy {theirs} (ratio {(double)ours / theirs:F3})"));
        foreach (var r in rows.OrderByDescending(r => Ratio(r.Ours, r.Sympy)).ThenByDescending(r => r.Ours - r.Sympy).Take(worst))
            Console.WriteLine(string.Create(inv, $"{Ratio(r.Ours, r.Sympy):F2}  {r.Formula}  d/d{r.Variable}\n      ours : {r.Text}\n      sympy: {r.SympyText}"));
    }
}
