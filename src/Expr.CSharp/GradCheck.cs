using System.Globalization;

namespace ExprGrad;

/// <summary>
/// Numeric gradient checks for tests: compares an analytic gradient with fourth-order central differences.
/// The same check ExprGrad's own property tests use.
/// </summary>
/// <example>
/// <code>
/// var report = GradCheck.Check(Grad.Of((double[] w) =&gt; Loss(w)), point);
/// Assert.True(report.Passed, report.ToString());
/// </code>
/// </example>
public static partial class GradCheck
{
    /// <summary>Default relative tolerance: the agreement fourth-order differences reach on smooth functions, with margin.</summary>
    public const double DefaultRelativeTolerance = 1e-6;

    /// <summary>Default absolute tolerance, for components whose true value is (near) zero.</summary>
    public const double DefaultAbsoluteTolerance = 1e-8;

    /// <summary>Checks a compiled <see cref="Gradient"/> at a point in its flat layout against numeric differences of its own value.</summary>
    /// <param name="gradient">The gradient to check.</param>
    /// <param name="point">The point, of length <see cref="Gradient.Dimension"/>.</param>
    /// <param name="relativeTolerance">Allowed error relative to the larger of the two values.</param>
    /// <param name="absoluteTolerance">Allowed error near zero.</param>
    public static GradCheckReport Check(Gradient gradient, ReadOnlySpan<double> point,
        double relativeTolerance = DefaultRelativeTolerance, double absoluteTolerance = DefaultAbsoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        var x = point.ToArray();
        var analytic = new double[x.Length];
        gradient.Evaluate(x, analytic);
        var scratch = new double[x.Length];
        var report = Check(p => gradient.Evaluate(p, scratch), x, analytic, relativeTolerance, absoluteTolerance);
        var graph = gradient.Graph;
        return report with
        {
            Component = report.WorstIndex < 0 || graph.HasTensorParameters ? null
                : graph.SlotNames.ElementAtOrDefault(report.WorstIndex)
                  ?? $"{graph.Parameters[^1].Name}[{report.WorstIndex - graph.Parameters[^1].Offset}]", // the tail of an array of any length
            UserRules = [.. UserRules(graph.Root).Distinct().Order(StringComparer.Ordinal)],
        };
    }

    // The users' methods whose rules the gradient ran, in every region and loop body: a failure may be theirs.
    private static IEnumerable<string> UserRules(Staging.Region root)
    {
        var pending = new Stack<Staging.Region>([root]);
        while (pending.TryPop(out var region))
            foreach (var n in region.Nodes)
            {
                if (n.Function is { Method: { } method } && Import.CustomRules.Find(method) is not null)
                    yield return Import.CustomRules.Name(method);
                if (n.Then is { } then) pending.Push(then);
                if (n.Else is { } @else) pending.Push(@else);
                if (n.Loop is { } loop) pending.Push(loop.Builder.Root);
            }
    }

    /// <summary>Checks any analytic gradient of <paramref name="f"/> at <paramref name="point"/>.</summary>
    /// <param name="f">The function; it may read but must not keep or change the array it is given.</param>
    /// <param name="point">The point.</param>
    /// <param name="analytic">The gradient to check, one component per element of <paramref name="point"/>.</param>
    /// <param name="relativeTolerance">Allowed error relative to the larger of the two values.</param>
    /// <param name="absoluteTolerance">Allowed error near zero.</param>
    public static GradCheckReport Check(Func<double[], double> f, double[] point, ReadOnlySpan<double> analytic,
        double relativeTolerance = DefaultRelativeTolerance, double absoluteTolerance = DefaultAbsoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(point);
        if (analytic.Length != point.Length)
            throw new ArgumentException($"the gradient has {analytic.Length} components but the point has {point.Length}", nameof(analytic));

        var numeric = Numeric(f, point);
        var (worst, worstRatio) = Worst(analytic, numeric, relativeTolerance, absoluteTolerance);
        return worst < 0
            ? new GradCheckReport(true, -1, 0, 0, 0)
            : new GradCheckReport(worstRatio <= 1, worst, analytic[worst], numeric[worst], worstRatio);
    }

    /// <summary>
    /// The numeric gradient of <paramref name="f"/> at <paramref name="point"/> by the five-point central stencil
    /// (f(x−2h) − 8f(x−h) + 8f(x+h) − f(x+2h)) / 12h, with h = ε^(1/5)·max(1, |xᵢ|), which balances its O(h⁴)
    /// truncation error against rounding. The step scales with |xᵢ|, not with how fast the function oscillates:
    /// for something like sin(1000x), rescale the variable first.
    /// </summary>
    /// <param name="f">The function; it may read but must not keep or change the array it is given.</param>
    /// <param name="point">The point.</param>
    public static double[] Numeric(Func<double[], double> f, double[] point)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(point);
        var x = (double[])point.Clone();
        var result = new double[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            var xi = x[i];
            var h = Step * Math.Max(1.0, Math.Abs(xi));
            h = (xi + h) - xi; // an exactly representable step
            double At(double offset)
            {
                x[i] = xi + offset;
                return f(x);
            }
            result[i] = (At(-2 * h) - 8 * At(-h) + 8 * At(h) - At(2 * h)) / (12 * h);
            x[i] = xi;
        }
        return result;
    }

    private static readonly double Step = Math.Pow(Math.Pow(2, -52), 0.2);
}

/// <summary>The outcome of a <see cref="GradCheck"/>: the worst component and both of its values.</summary>
/// <param name="Passed">True if every component is within tolerance.</param>
/// <param name="WorstIndex">The index of the component furthest outside (or closest to) its tolerance; −1 for an empty point.</param>
/// <param name="Analytic">That component's analytic value.</param>
/// <param name="Numeric">That component's numeric value.</param>
/// <param name="ErrorRatio">Its error divided by its allowed error: at most 1 passes.</param>
public sealed record GradCheckReport(bool Passed, int WorstIndex, double Analytic, double Numeric, double ErrorRatio)
{
    /// <summary>The worst component's name (<c>x</c>, <c>w[2]</c>) when the check knew the function's parameters; else null.</summary>
    public string? Component { get; init; }

    /// <summary>
    /// The users' methods (<c>MyMath.Softplus</c>) whose derivative rules (<see cref="DerivativeRules"/>,
    /// <see cref="DerivativeAttribute"/>) the checked gradient ran: when a check fails, they are the first suspects.
    /// </summary>
    public IReadOnlyList<string> UserRules { get; init; } = [];

    /// <summary>One line naming the worst component and both values (and, on failure, the users' rules involved).</summary>
    public override string ToString()
    {
        var name = Component is null ? "" : $" ({Component})";
        var rules = Passed || UserRules.Count == 0 ? ""
            : $"; the gradient uses your derivative rule{(UserRules.Count > 1 ? "s" : "")} for {string.Join(", ", UserRules)}: check {(UserRules.Count > 1 ? "them" : "it")} first";
        return string.Create(CultureInfo.InvariantCulture,
            $"{(Passed ? "passed" : "FAILED")}: worst component [{WorstIndex}]{name} analytic {Analytic:R} vs numeric {Numeric:R} (error {ErrorRatio:G3} × allowed){rules}");
    }
}
