namespace ExprGrad.Benchmarks.Infrastructure;

// Start-up sanity checks: a benchmark class refuses to run if ExprGrad's value or gradient disagrees with the
// hand-written one, so a wrong engine cannot produce a fast-looking number.
public static class Check
{
    // Relative tolerance. Both sides compute the same products, possibly associated differently, so they agree
    // to a few ulps per stage; 1e-9 leaves room for ~10⁶ ulps while still catching any real mistake.
    public const double Tolerance = 1e-9;

    public static void Close(string what, double expected, double actual)
    {
        // Purely relative (no absolute floor): the depth-200 net's early-layer gradients are ~1e-80, and an
        // absolute floor would wave through any answer there. Exact equality covers true zeros.
        var scale = Math.Max(Math.Abs(expected), Math.Abs(actual));
        if (!(expected == actual || Math.Abs(expected - actual) <= Tolerance * scale))
            throw new InvalidOperationException(
                $"ExprGrad disagrees with the hand-written gradient: {what} = {actual:R}, expected {expected:R}");
    }

    public static void Close(string what, ReadOnlySpan<double> expected, ReadOnlySpan<double> actual)
    {
        if (expected.Length != actual.Length)
            throw new InvalidOperationException($"{what}: length {actual.Length}, expected {expected.Length}");
        for (var i = 0; i < expected.Length; i++)
            Close($"{what}[{i}]", expected[i], actual[i]);
    }

    // One array parameter, checked through both APIs against the hand-written value and gradient.
    public static void ArrayGradient(Gradient<double[]> g, double[] point, double value, double[] gradient)
    {
        Equal("Dimension", point.Length, g.Dimension);
        var (v, d) = g.Evaluate(point);
        Close("typed value", value, v);
        Close("typed gradient", gradient, d);
        var flat = new double[point.Length];
        Close("span value", value, g.Evaluate(point, flat));
        Close("span gradient", gradient, flat);
    }

    public static void Equal(string what, int expected, int actual)
    {
        if (expected != actual)
            throw new InvalidOperationException($"{what} = {actual}, expected {expected}");
    }
}
