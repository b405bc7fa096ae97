using MathNet.Numerics.LinearAlgebra;

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

    // A matrix gradient, element by element. An element of W̄ = D̄·Xᵀ is a sum over the batch that can cancel to
    // almost nothing, and two correct implementations that associate it differently then differ by a few ulps of
    // the terms, not of the sum; so each element is judged relative to the larger of itself and 1e-6 of the
    // matrix's largest element (for MLP-sized gradients still ~1e-15 absolute, far below any real mistake).
    public static void Close(string what, Matrix<double> expected, Matrix<double> actual)
    {
        if (expected.RowCount != actual.RowCount || expected.ColumnCount != actual.ColumnCount)
            throw new InvalidOperationException(
                $"{what}: shape {actual.RowCount}×{actual.ColumnCount}, expected {expected.RowCount}×{expected.ColumnCount}");
        var floor = 1e-6 * expected.Enumerate().Select(Math.Abs).DefaultIfEmpty().Max();
        for (var j = 0; j < expected.ColumnCount; j++)
            for (var i = 0; i < expected.RowCount; i++)
            {
                var (e, a) = (expected[i, j], actual[i, j]);
                if (!(e == a || Math.Abs(e - a) <= Tolerance * Math.Max(Math.Max(Math.Abs(e), Math.Abs(a)), floor)))
                    throw new InvalidOperationException(
                        $"ExprGrad disagrees with the hand-written gradient: {what}[{i},{j}] = {a:R}, expected {e:R}");
            }
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

    /// <summary>
    /// One array parameter of any length (issue 14: a loop runs over it), checked through both APIs. Its
    /// <see cref="Gradient.Dimension"/> is only the shortest point allowed, so the check is that the length is
    /// variable and that the gradient comes back as long as the point.
    /// </summary>
    public static void VariableLengthGradient(Gradient<double[]> g, double[] point, double value, double[] gradient)
    {
        if (!g.HasVariableLength)
            throw new InvalidOperationException("the array parameter should have a variable length");
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
