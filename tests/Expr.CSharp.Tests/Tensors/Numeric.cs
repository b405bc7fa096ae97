using System.Globalization;
using System.Text;
using MathNet.Numerics.LinearAlgebra;
using Xunit.Sdk;

namespace ExprGrad.Tests.Tensors;

/// <summary>
/// Central differences on every element of a vector or matrix: the ground truth the tensor tests hold ExprGrad and
/// the hand-written closed forms to. Written here rather than taken from <see cref="GradCheck"/> so that the oracle
/// shares no code with the library under test.
/// </summary>
internal static class Numeric
{
    // The five-point stencil's step, ε^(1/5) ≈ 7.4e-4 scaled by max(1, |x|): its O(h⁴) truncation error and its
    // O(ε/h) rounding error are then both about ε^(4/5) ≈ 3e-13 relative on a smooth function of modest size.
    private static readonly double Step = Math.Pow(Math.Pow(2, -52), 0.2);

    /// <summary>
    /// ∂f/∂xᵢ for every i by (f(x−2h) − 8f(x−h) + 8f(x+h) − f(x+2h)) / 12h. <paramref name="f"/> gets a fresh copy
    /// of the point with one element moved, never the caller's array.
    /// </summary>
    public static double[] Gradient(Func<double[], double> f, double[] point, double stepScale = 1)
    {
        var x = (double[])point.Clone();
        var result = new double[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            var xi = x[i];
            var h = stepScale * Step * Math.Max(1.0, Math.Abs(xi));
            h = (xi + h) - xi; // exactly representable, so x ± h moves by exactly h
            double At(double offset)
            {
                x[i] = xi + offset;
                return f((double[])x.Clone());
            }
            result[i] = (At(-2 * h) - 8 * At(-h) + 8 * At(h) - At(2 * h)) / (12 * h);
            x[i] = xi;
        }
        return result;
    }

    /// <summary>∂f/∂Aᵢⱼ for every element of <paramref name="at"/>; f gets a fresh matrix on every call.</summary>
    public static Matrix<double> Gradient(Func<Matrix<double>, double> f, Matrix<double> at)
    {
        var (rows, columns) = (at.RowCount, at.ColumnCount);
        var flat = Gradient(p => f(Matrix<double>.Build.DenseOfColumnMajor(rows, columns, p)), at.ToColumnMajorArray());
        return Matrix<double>.Build.DenseOfColumnMajor(rows, columns, flat);
    }

    /// <summary>∂f/∂vᵢ for every element of <paramref name="at"/>; f gets a fresh vector on every call.</summary>
    public static Vector<double> Gradient(Func<Vector<double>, double> f, Vector<double> at) =>
        Vector<double>.Build.Dense(Gradient(p => f(Vector<double>.Build.Dense(p)), at.ToArray()));

    /// <summary>
    /// Richardson's estimate of the stencil's truncation error per component, |D(h) − D(2h)| / 15 (the error is
    /// O(h⁴), so doubling h multiplies it by 16), and D(h) itself.
    /// </summary>
    public static (double[] Gradient, double[] Error) GradientWithError(Func<double[], double> f, double[] point)
    {
        var atH = Gradient(f, point);
        var at2H = Gradient(f, point, stepScale: 2);
        var error = new double[point.Length];
        for (var i = 0; i < error.Length; i++)
            error[i] = Math.Abs(atH[i] - at2H[i]) / 15;
        return (atH, error);
    }
}

/// <summary>Element-wise comparisons of vectors and matrices whose failure names the worst element and both values.</summary>
internal static class TensorAssert
{
    /// <summary>
    /// |aᵢⱼ − eᵢⱼ| ≤ tolerance · max(|eᵢⱼ|, floor · max|e|) for every element: relative per element, with a floor
    /// at a small fraction of the largest expected element so that entries that cancel to near zero are judged on the
    /// matrix's scale, not their own.
    /// </summary>
    public static void Close(Matrix<double> expected, Matrix<double>? actual, double tolerance, string what, double floor = 1e-3)
    {
        Assert.NotNull(actual);
        if (expected.RowCount != actual.RowCount || expected.ColumnCount != actual.ColumnCount)
            throw new XunitException($"{what}: shape {Shape(actual)}, expected {Shape(expected)}");
        var scale = floor * expected.Enumerate().Select(Math.Abs).DefaultIfEmpty().Max();
        var (worstI, worstJ, worstRatio) = (-1, -1, 0.0);
        for (var j = 0; j < expected.ColumnCount; j++)
            for (var i = 0; i < expected.RowCount; i++)
            {
                var allowed = tolerance * Math.Max(Math.Abs(expected[i, j]), scale);
                var ratio = expected[i, j] == actual[i, j] ? 0 : Math.Abs(expected[i, j] - actual[i, j]) / allowed;
                if (double.IsNaN(ratio))
                    ratio = double.PositiveInfinity;
                if (ratio > worstRatio || worstI < 0)
                    (worstI, worstJ, worstRatio) = (i, j, ratio);
            }
        if (worstRatio > 1)
            throw new XunitException(string.Create(CultureInfo.InvariantCulture,
                $"{what}: element [{worstI},{worstJ}] is {actual[worstI, worstJ]:R}, expected {expected[worstI, worstJ]:R} " +
                $"(error {worstRatio:G3} × allowed, relative tolerance {tolerance:G2})\nexpected:\n{Format(expected)}actual:\n{Format(actual)}"));
    }

    public static void Close(Vector<double> expected, Vector<double>? actual, double tolerance, string what, double floor = 1e-3)
    {
        Assert.NotNull(actual);
        Close(expected.ToColumnMatrix(), actual.ToColumnMatrix(), tolerance, what, floor);
    }

    public static void Close(double expected, double actual, double tolerance, string what)
    {
        if (!(expected == actual || Math.Abs(expected - actual) <= tolerance * Math.Abs(expected)))
            throw new XunitException(string.Create(CultureInfo.InvariantCulture,
                $"{what}: {actual:R}, expected {expected:R} (relative tolerance {tolerance:G2})"));
    }

    public static string Shape(Matrix<double> m) => $"{m.RowCount}×{m.ColumnCount}";

    public static string Format(Matrix<double> m)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < m.RowCount; i++)
        {
            sb.Append("  ");
            for (var j = 0; j < m.ColumnCount; j++)
                sb.Append(m[i, j].ToString("R", CultureInfo.InvariantCulture)).Append(j + 1 < m.ColumnCount ? ", " : "");
            sb.AppendLine();
        }
        return sb.ToString();
    }
}

/// <summary>Seeded test data: every tensor test draws its numbers from a <see cref="Random"/> with a fixed seed.</summary>
internal static class Data
{
    /// <summary>A rows × columns matrix of values uniform in [−scale, scale).</summary>
    public static Matrix<double> Matrix(Random rng, int rows, int columns, double scale = 1) =>
        Matrix<double>.Build.Dense(rows, columns, (_, _) => scale * (2 * rng.NextDouble() - 1));

    /// <summary>A vector of values uniform in [−scale, scale).</summary>
    public static Vector<double> Vector(Random rng, int length, double scale = 1) =>
        Vector<double>.Build.Dense(length, _ => scale * (2 * rng.NextDouble() - 1));

    /// <summary>q × n one-hot columns: column j has its 1 at a random class.</summary>
    public static Matrix<double> OneHot(Random rng, int classes, int examples)
    {
        var y = Matrix<double>.Build.Dense(classes, examples);
        for (var j = 0; j < examples; j++)
            y[rng.Next(classes), j] = 1;
        return y;
    }
}
