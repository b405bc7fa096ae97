using System.Globalization;
using ExprGrad.Tests.Properties;

namespace ExprGrad.Tests.SecondOrder;

/// <summary>The check the second-order properties share: each row of a Hessian against central differences of the gradient.</summary>
internal static class HessianRows
{
    public const double ErrorEstimateSafety = 4;
    public const double MaxRelativeTolerance = 1e-3;

    /// <summary>
    /// Row i of <paramref name="h"/> against central differences of component i of <paramref name="g"/>'s compiled
    /// gradient at <paramref name="point"/>, at a tolerance widened by the differences' own estimated error; rows the
    /// differences cannot judge are skipped. A NaN entry where the difference is finite fails. Returns the rows checked
    /// and how many of them needed a looser tolerance than GradCheck's default.
    /// </summary>
    public static (int Rows, int Loosened) Check(Gradient g, double[] point, double[,] h, Func<string, Exception> failure)
    {
        var d = point.Length;
        var (rows, loosened) = (0, 0);
        var scratch = new double[d];
        for (var i = 0; i < d; i++)
        {
            var component = i;
            double Partial(double[] x)
            {
                g.Evaluate(x, scratch);
                return scratch[component];
            }
            var row = Enumerable.Range(0, d).Select(j => h[component, j]).ToArray();
            if (Array.FindIndex(row, double.IsNaN) is var nan and >= 0 && double.IsFinite(GradCheck.Numeric(Partial, point)[nan]))
                throw failure($"H[{i}, {nan}] is NaN where the gradient's difference is finite");
            var referenceError = NumericReference.EstimatedRelativeError(Partial, point, GradCheck.DefaultAbsoluteTolerance);
            var tolerance = Math.Max(GradCheck.DefaultRelativeTolerance, ErrorEstimateSafety * referenceError);
            if (!(tolerance <= MaxRelativeTolerance))
                continue; // the numeric second derivative cannot judge this row
            var report = GradCheck.Check(Partial, point, row, tolerance, GradCheck.DefaultAbsoluteTolerance);
            if (!report.Passed)
                throw failure(string.Create(CultureInfo.InvariantCulture,
                    $"Hessian row {i}: {report} at column {report.WorstIndex} (relative tolerance {tolerance:G2})"));
            rows++;
            if (tolerance > GradCheck.DefaultRelativeTolerance)
                loosened++;
        }
        return (rows, loosened);
    }
}
