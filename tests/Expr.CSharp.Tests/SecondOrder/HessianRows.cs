using System.Globalization;
using ExprGrad.Tests.Properties;

namespace ExprGrad.Tests.SecondOrder;

/// <summary>The check the second-order properties share: each row of a Hessian against central differences of the gradient.</summary>
internal static class HessianRows
{
    public const double ErrorEstimateSafety = 4;
    public const double MaxRelativeTolerance = 1e-3;

    /// <summary>
    /// The absolute tolerance for central differences of <paramref name="f"/> at <paramref name="point"/>: GradCheck's
    /// default, or the five-point stencil's rounding error where that is larger. Each value is rounded (a few ulps, ε|f|
    /// each); the stencil adds (1 + 8 + 8 + 1)/12 of them and divides by its step h ≥ GradCheck's ε^(1/5): at most
    /// about 16 ε |f| / ε^(1/5). Where the derivative is 0 and |f| is in the tens of thousands, that is past 1e-8 (a
    /// Jacobian row of f² for f ≈ 170 differed from 0 by 1.3e-8). Richardson's estimate divides by 15 what is
    /// truncation error, so it does not measure this.
    /// </summary>
    public static double AbsoluteTolerance(Func<double[], double> f, double[] point)
    {
        var epsilon = Math.Pow(2, -52);
        return Math.Max(GradCheck.DefaultAbsoluteTolerance, 16 * epsilon * Math.Abs(f(point)) / Math.Pow(epsilon, 0.2));
    }

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
            var absolute = AbsoluteTolerance(Partial, point);
            var referenceError = NumericReference.EstimatedRelativeError(Partial, point, absolute);
            var tolerance = Math.Max(GradCheck.DefaultRelativeTolerance, ErrorEstimateSafety * referenceError);
            if (!(tolerance <= MaxRelativeTolerance))
                continue; // the numeric second derivative cannot judge this row
            var report = GradCheck.Check(Partial, point, row, tolerance, absolute);
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
