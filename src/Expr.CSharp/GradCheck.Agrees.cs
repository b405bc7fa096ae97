using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace ExprGrad;

// For users' own tests: a hand-written gradient against ExprGrad's or against central differences, over random points
// of a box, with a shrunk counterexample that names the component. No test framework is referenced: a failure is a
// GradCheckException, which fails an xunit/NUnit/MSTest test and an FsCheck property alike.
public static partial class GradCheck
{
    /// <summary>The number of random points <c>AssertAgrees</c> checks unless told otherwise.</summary>
    public const int DefaultSamples = 200;

    /// <summary>
    /// The environment variable that, when set to a number, is the seed of every <c>AssertAgrees</c> call given no
    /// <c>seed:</c>: a failure seen in CI replays locally without editing the test.
    /// </summary>
    public const string SeedVariable = "EXPRGRAD_GRADCHECK_SEED";

    // Shrinking stops after this many comparisons (each one evaluation of both gradients, and 4n+1 of f for
    // central differences), whether or not a simpler failing point is left to find.
    private const int ShrinkBudget = 1_000;

    /// <summary>
    /// Asserts that a hand-written gradient of <paramref name="f"/> agrees with fourth-order central differences of
    /// <paramref name="f"/> at <paramref name="samples"/> random points of <paramref name="domain"/>. On the first
    /// failing point it shrinks the point (toward 0, integers, fewer decimals, within the box) while the same component
    /// still fails, then throws a <see cref="GradCheckException"/> naming that component, the point, both values and the seed.
    /// Points where f or the differences are not finite are skipped and counted; if every point is skipped, it fails.
    /// </summary>
    /// <param name="f">The function; it may read but must not keep or change the array it is given.</param>
    /// <param name="gradient">The hand-written gradient: a new array, one component per coordinate.</param>
    /// <param name="domain">Where to draw points; its names (if any) name the components.</param>
    /// <param name="samples">How many points to draw.</param>
    /// <param name="seed">The seed that fixes the points; when null, <see cref="SeedVariable"/> if set, else a fresh
    /// seed, printed on failure. The same seed draws the same points and reaches the same verdict.</param>
    /// <param name="relativeTolerance">Allowed error relative to the larger of the two values.</param>
    /// <param name="absoluteTolerance">Allowed error near zero.</param>
    /// <returns>What was checked, for a test that wants to assert on it (say, that few points were skipped).</returns>
    /// <exception cref="GradCheckException">A component disagrees, or no point could be checked.</exception>
    /// <example>
    /// <code>
    /// GradCheck.AssertAgrees(p =&gt; p[0] * Math.Sin(p[1]), p =&gt; [Math.Sin(p[1]), p[0] * Math.Cos(p[1])], Box.Of(("x", -3, 3), ("y", -3, 3)));
    /// </code>
    /// </example>
    public static GradCheckSummary AssertAgrees(Func<double[], double> f, Func<double[], double[]> gradient, Box domain,
        int samples = DefaultSamples, int? seed = null,
        double relativeTolerance = DefaultRelativeTolerance, double absoluteTolerance = DefaultAbsoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(domain);
        return Run(Comparison.AgainstDifferences(f, Hand(gradient), domain, relativeTolerance, absoluteTolerance), domain, samples, seed);
    }

    /// <summary>
    /// Asserts that a hand-written gradient that writes into a span agrees with central differences of
    /// <paramref name="f"/> over random points of <paramref name="domain"/>; see
    /// <see cref="AssertAgrees(Func{double[], double}, Func{double[], double[]}, Box, int, int?, double, double)"/>.
    /// A component the gradient does not write counts as NaN, so it fails.
    /// </summary>
    /// <param name="f">The function; it may read but must not keep or change the array it is given.</param>
    /// <param name="gradient">The hand-written gradient: writes component i of the gradient at the point to span[i].</param>
    /// <param name="domain">Where to draw points; its names (if any) name the components.</param>
    /// <param name="samples">How many points to draw.</param>
    /// <param name="seed">The seed that fixes the points; when null, <see cref="SeedVariable"/> if set, else a fresh seed.</param>
    /// <param name="relativeTolerance">Allowed error relative to the larger of the two values.</param>
    /// <param name="absoluteTolerance">Allowed error near zero.</param>
    /// <returns>What was checked.</returns>
    /// <exception cref="GradCheckException">A component disagrees, or no point could be checked.</exception>
    /// <example>
    /// <code>
    /// GradCheck.AssertAgrees(p =&gt; p[0] * p[1], (p, g) =&gt; { g[0] = p[1]; g[1] = p[0]; }, Box.Cube(2, -3, 3));
    /// </code>
    /// </example>
    public static GradCheckSummary AssertAgrees(Func<double[], double> f, Action<ReadOnlySpan<double>, Span<double>> gradient, Box domain,
        int samples = DefaultSamples, int? seed = null,
        double relativeTolerance = DefaultRelativeTolerance, double absoluteTolerance = DefaultAbsoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(domain);
        return Run(Comparison.AgainstDifferences(f, Hand(gradient), domain, relativeTolerance, absoluteTolerance), domain, samples, seed);
    }

    /// <summary>
    /// Asserts that a hand-written gradient agrees with ExprGrad's <paramref name="reference"/> (a <see cref="Gradient"/>
    /// of the same function, from <see cref="Grad.Of(System.Linq.Expressions.LambdaExpression)"/>) at random points of
    /// <paramref name="domain"/>, in the flat layout; see
    /// <see cref="AssertAgrees(Func{double[], double}, Func{double[], double[]}, Box, int, int?, double, double)"/> for the
    /// sampling, shrinking and skipping. Components are named after the lambda's parameters (<c>∂f/∂y</c>, <c>∂f/∂w[3]</c>).
    /// </summary>
    /// <param name="reference">ExprGrad's gradient of the function; its value decides which points are skipped.</param>
    /// <param name="gradient">The hand-written gradient: a new array of <see cref="Gradient.Dimension"/> components.</param>
    /// <param name="domain">Where to draw points, of <see cref="Gradient.Dimension"/> coordinates.</param>
    /// <param name="samples">How many points to draw.</param>
    /// <param name="seed">The seed that fixes the points; when null, <see cref="SeedVariable"/> if set, else a fresh seed.</param>
    /// <param name="relativeTolerance">Allowed error relative to the larger of the two values.</param>
    /// <param name="absoluteTolerance">Allowed error near zero.</param>
    /// <returns>What was checked.</returns>
    /// <exception cref="GradCheckException">A component disagrees, or no point could be checked.</exception>
    /// <exception cref="ArgumentException">The box's dimension or names do not match the gradient's.</exception>
    /// <example>
    /// <code>
    /// GradCheck.AssertAgrees(Grad.Of((double x, double y) =&gt; x * y), p =&gt; [p[1], p[0]], Box.Cube(2, -3, 3));
    /// </code>
    /// </example>
    public static GradCheckSummary AssertAgrees(Gradient reference, Func<double[], double[]> gradient, Box domain,
        int samples = DefaultSamples, int? seed = null,
        double relativeTolerance = DefaultRelativeTolerance, double absoluteTolerance = DefaultAbsoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(domain);
        return Run(Comparison.AgainstExprGrad(reference, Hand(gradient), domain, relativeTolerance, absoluteTolerance), domain, samples, seed);
    }

    /// <summary>
    /// Asserts that a hand-written gradient that writes into a span agrees with ExprGrad's <paramref name="reference"/>
    /// at random points of <paramref name="domain"/>; see
    /// <see cref="AssertAgrees(Gradient, Func{double[], double[]}, Box, int, int?, double, double)"/>.
    /// </summary>
    /// <param name="reference">ExprGrad's gradient of the function.</param>
    /// <param name="gradient">The hand-written gradient: writes component i of the gradient at the point to span[i].</param>
    /// <param name="domain">Where to draw points, of <see cref="Gradient.Dimension"/> coordinates.</param>
    /// <param name="samples">How many points to draw.</param>
    /// <param name="seed">The seed that fixes the points; when null, <see cref="SeedVariable"/> if set, else a fresh seed.</param>
    /// <param name="relativeTolerance">Allowed error relative to the larger of the two values.</param>
    /// <param name="absoluteTolerance">Allowed error near zero.</param>
    /// <returns>What was checked.</returns>
    /// <exception cref="GradCheckException">A component disagrees, or no point could be checked.</exception>
    /// <example>
    /// <code>
    /// GradCheck.AssertAgrees(Grad.Of((double x, double y) =&gt; x * y), (p, g) =&gt; { g[0] = p[1]; g[1] = p[0]; }, Box.Cube(2, -3, 3));
    /// </code>
    /// </example>
    public static GradCheckSummary AssertAgrees(Gradient reference, Action<ReadOnlySpan<double>, Span<double>> gradient, Box domain,
        int samples = DefaultSamples, int? seed = null,
        double relativeTolerance = DefaultRelativeTolerance, double absoluteTolerance = DefaultAbsoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(domain);
        return Run(Comparison.AgainstExprGrad(reference, Hand(gradient), domain, relativeTolerance, absoluteTolerance), domain, samples, seed);
    }

    /// <summary>
    /// Asserts, at one point, that a hand-written gradient agrees with central differences of <paramref name="f"/>: the
    /// body of an FsCheck property whose generator (<c>Arb.From(Gen.Choose(0, int.MaxValue).Select(box.Sample), box.Shrink)</c>)
    /// lets FsCheck draw and shrink the points. Does nothing where f or the differences are not finite.
    /// </summary>
    /// <param name="f">The function; it may read but must not keep or change the array it is given.</param>
    /// <param name="gradient">The hand-written gradient: a new array, one component per coordinate.</param>
    /// <param name="point">The point.</param>
    /// <param name="relativeTolerance">Allowed error relative to the larger of the two values.</param>
    /// <param name="absoluteTolerance">Allowed error near zero.</param>
    /// <exception cref="GradCheckException">A component disagrees; the message names it (<c>∂f/∂x[1]</c>) and both values.</exception>
    /// <example>
    /// <code>
    /// Prop.ForAll(points, p =&gt; GradCheck.AssertAgreesAt(p =&gt; p[0] * p[1], p =&gt; [p[1], p[0]], p));
    /// </code>
    /// </example>
    public static void AssertAgreesAt(Func<double[], double> f, Func<double[], double[]> gradient, double[] point,
        double relativeTolerance = DefaultRelativeTolerance, double absoluteTolerance = DefaultAbsoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(point);
        At(Comparison.AgainstDifferences(f, Hand(gradient), Unnamed(point.Length), relativeTolerance, absoluteTolerance), point);
    }

    /// <summary>
    /// Asserts, at one point, that a hand-written gradient that writes into a span agrees with central differences of
    /// <paramref name="f"/>; see <see cref="AssertAgreesAt(Func{double[], double}, Func{double[], double[]}, double[], double, double)"/>.
    /// </summary>
    /// <param name="f">The function; it may read but must not keep or change the array it is given.</param>
    /// <param name="gradient">The hand-written gradient: writes component i of the gradient at the point to span[i].</param>
    /// <param name="point">The point.</param>
    /// <param name="relativeTolerance">Allowed error relative to the larger of the two values.</param>
    /// <param name="absoluteTolerance">Allowed error near zero.</param>
    /// <exception cref="GradCheckException">A component disagrees.</exception>
    /// <example>
    /// <code>
    /// GradCheck.AssertAgreesAt(p =&gt; p[0] * p[1], (p, g) =&gt; { g[0] = p[1]; g[1] = p[0]; }, [2.0, 3.0]);
    /// </code>
    /// </example>
    public static void AssertAgreesAt(Func<double[], double> f, Action<ReadOnlySpan<double>, Span<double>> gradient, double[] point,
        double relativeTolerance = DefaultRelativeTolerance, double absoluteTolerance = DefaultAbsoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(point);
        At(Comparison.AgainstDifferences(f, Hand(gradient), Unnamed(point.Length), relativeTolerance, absoluteTolerance), point);
    }

    /// <summary>
    /// Asserts, at one point, that a hand-written gradient agrees with ExprGrad's <paramref name="reference"/>; see
    /// <see cref="AssertAgreesAt(Func{double[], double}, Func{double[], double[]}, double[], double, double)"/>. Components
    /// are named after the lambda's parameters.
    /// </summary>
    /// <param name="reference">ExprGrad's gradient of the function.</param>
    /// <param name="gradient">The hand-written gradient: a new array of <see cref="Gradient.Dimension"/> components.</param>
    /// <param name="point">The point, of <see cref="Gradient.Dimension"/> coordinates.</param>
    /// <param name="relativeTolerance">Allowed error relative to the larger of the two values.</param>
    /// <param name="absoluteTolerance">Allowed error near zero.</param>
    /// <exception cref="GradCheckException">A component disagrees.</exception>
    /// <example>
    /// <code>
    /// GradCheck.AssertAgreesAt(Grad.Of((double x, double y) =&gt; x * y), p =&gt; [p[1], p[0]], [2.0, 3.0]);
    /// </code>
    /// </example>
    public static void AssertAgreesAt(Gradient reference, Func<double[], double[]> gradient, double[] point,
        double relativeTolerance = DefaultRelativeTolerance, double absoluteTolerance = DefaultAbsoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(point);
        At(Comparison.AgainstExprGrad(reference, Hand(gradient), Unnamed(point.Length), relativeTolerance, absoluteTolerance), point);
    }

    /// <summary>
    /// Asserts, at one point, that a hand-written gradient that writes into a span agrees with ExprGrad's
    /// <paramref name="reference"/>; see <see cref="AssertAgreesAt(Gradient, Func{double[], double[]}, double[], double, double)"/>.
    /// </summary>
    /// <param name="reference">ExprGrad's gradient of the function.</param>
    /// <param name="gradient">The hand-written gradient: writes component i of the gradient at the point to span[i].</param>
    /// <param name="point">The point, of <see cref="Gradient.Dimension"/> coordinates.</param>
    /// <param name="relativeTolerance">Allowed error relative to the larger of the two values.</param>
    /// <param name="absoluteTolerance">Allowed error near zero.</param>
    /// <exception cref="GradCheckException">A component disagrees.</exception>
    /// <example>
    /// <code>
    /// GradCheck.AssertAgreesAt(Grad.Of((double x, double y) =&gt; x * y), (p, g) =&gt; { g[0] = p[1]; g[1] = p[0]; }, [2.0, 3.0]);
    /// </code>
    /// </example>
    public static void AssertAgreesAt(Gradient reference, Action<ReadOnlySpan<double>, Span<double>> gradient, double[] point,
        double relativeTolerance = DefaultRelativeTolerance, double absoluteTolerance = DefaultAbsoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(point);
        At(Comparison.AgainstExprGrad(reference, Hand(gradient), Unnamed(point.Length), relativeTolerance, absoluteTolerance), point);
    }

    // A single point has no box: its coordinates are as unnamed as a cube's (a Gradient names them).
    private static Box Unnamed(int dimension) => Box.Cube(dimension, 0, 0);

    private static Func<double[], double[]> Hand(Func<double[], double[]> gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        return gradient;
    }

    // A component the span gradient leaves unwritten reads NaN, which fails against any finite reference. One buffer
    // serves every point: a comparison reads the result before it asks for the next.
    private static Func<double[], double[]> Hand(Action<ReadOnlySpan<double>, Span<double>> gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        double[]? g = null;
        return p =>
        {
            if (g is null || g.Length != p.Length)
                g = new double[p.Length];
            Array.Fill(g, double.NaN);
            gradient(p, g);
            return g;
        };
    }

    private static void At(Comparison comparison, double[] point)
    {
        var outcome = comparison.Compare(point);
        if (outcome.Failed)
            throw comparison.Failure(point, outcome, point, outcome, steps: 0, drawn: null);
    }

    private static GradCheckSummary Run(Comparison comparison, Box domain, int samples, int? seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(samples);
        var s = seed ?? SeedFromEnvironment() ?? Random.Shared.Next();
        var random = new Random(s);
        var (skipped, worst) = (0, 0.0);
        double[]? firstSkipped = null;
        var point = new double[domain.Dimension]; // reused for every sample; only a point that is kept is copied
        for (var k = 0; k < samples; k++)
        {
            domain.Sample(random, point);
            var outcome = comparison.Compare(point);
            if (outcome.Skipped)
            {
                skipped++;
                firstSkipped ??= (double[])point.Clone();
                continue;
            }
            if (outcome.Failed)
            {
                var (shrunk, last, steps) = Shrink(comparison, domain, point, outcome);
                throw comparison.Failure(shrunk, last, point, outcome, steps, (domain, k + 1, samples, skipped, s));
            }
            worst = Math.Max(worst, outcome.Ratio);
        }
        if (skipped == samples)
            throw new GradCheckException(string.Create(CultureInfo.InvariantCulture,
                $"""
                GradCheck: no point could be checked: f or its reference gradient was not finite at all {samples} points drawn from {comparison.FormatBox(domain)} (the first: {comparison.FormatPoint(firstSkipped!)}).
                Choose a box where f is finite. Replay: seed: {s} (or {SeedVariable}={s}).
                """),
                -1, "", firstSkipped!, double.NaN, double.NaN, firstSkipped!, s);
        return new GradCheckSummary(s, samples - skipped, skipped, worst);
    }

    private static int? SeedFromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(SeedVariable);
        if (string.IsNullOrWhiteSpace(text))
            return null;
        return int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed)
            ? seed
            : throw new InvalidOperationException($"{SeedVariable} is '{text}', which is not an integer seed; unset it or set it to the seed a failure printed");
    }

    // Greedy, like QuickCheck: take the first simpler point where the same component still fails, and start again
    // from it, until no candidate fails or the budget is spent. Deterministic: the candidates come in a fixed order.
    // A new point's candidates repeat many the last round already compared (from 2.75 the round tries 0, 1, 2; from 2
    // it tries 0, 1 again), so points rejected once are remembered and not compared (nor counted) again.
    private static (double[] Point, Outcome Outcome, int Steps) Shrink(Comparison comparison, Box domain, double[] point, Outcome outcome)
    {
        var (budget, steps) = (ShrinkBudget, 0);
        var rejected = new HashSet<double[]>(SamePoint.Instance);
        var improved = true;
        while (improved && budget > 0)
        {
            improved = false;
            foreach (var candidate in domain.Shrink(point))
            {
                if (rejected.Contains(candidate))
                    continue;
                if (budget-- <= 0)
                    break;
                var o = comparison.Compare(candidate);
                if (o.Failed && o.Component == outcome.Component)
                {
                    (point, outcome, improved) = (candidate, o, true);
                    steps++;
                    break;
                }
                rejected.Add(candidate);
            }
        }
        return (point, outcome, steps);
    }

    // Points equal bit for bit: f may tell 0 from -0.
    private sealed class SamePoint : IEqualityComparer<double[]>
    {
        public static readonly SamePoint Instance = new();

        public bool Equals(double[]? a, double[]? b) =>
            a is not null && b is not null && MemoryMarshal.Cast<double, long>(a).SequenceEqual(MemoryMarshal.Cast<double, long>(b));

        public int GetHashCode(double[] point)
        {
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(point.AsSpan()));
            return hash.ToHashCode();
        }
    }

    // The worst component of a hand-written gradient against a reference, as an error ratio (at most 1 passes). A NaN
    // where the other side has a number is infinitely wrong; NaN against NaN is left to the caller.
    private static (int Index, double Ratio) Worst(ReadOnlySpan<double> analytic, ReadOnlySpan<double> reference,
        double relativeTolerance, double absoluteTolerance)
    {
        var (worst, worstRatio) = (-1, -1.0);
        for (var i = 0; i < analytic.Length; i++)
        {
            var allowed = absoluteTolerance + relativeTolerance * Math.Max(Math.Abs(analytic[i]), Math.Abs(reference[i]));
            var ratio = Math.Abs(analytic[i] - reference[i]) / allowed;
            if (double.IsNaN(ratio) && !(double.IsNaN(analytic[i]) && double.IsNaN(reference[i])))
                ratio = double.PositiveInfinity;
            if (ratio > worstRatio)
                (worst, worstRatio) = (i, ratio);
        }
        return (worst, worstRatio);
    }

    private readonly record struct Outcome(bool Skipped, int Component, double HandWritten, double Reference, double Ratio)
    {
        public bool Failed => !Skipped && Ratio > 1;
    }

    // One hand-written gradient against one reference, at any point: the part every entry point shares.
    private sealed class Comparison(
        Func<double[], double[]?> reference, Func<double[], double[]> handWritten, string referenceName, string[] names,
        double relativeTolerance, double absoluteTolerance)
    {
        public static Comparison AgainstDifferences(Func<double[], double> f, Func<double[], double[]> handWritten, Box domain,
            double relativeTolerance, double absoluteTolerance)
        {
            ArgumentNullException.ThrowIfNull(f);
            var names = Enumerable.Range(0, domain.Dimension).Select(domain.NameOrIndex).ToArray();
            var copy = new double[domain.Dimension]; // f gets a copy, so that it cannot change the point
            return new Comparison(
                p => double.IsFinite(f(Copy(p, copy))) ? Numeric(f, p) : null,
                handWritten, "central differences", names, relativeTolerance, absoluteTolerance);
        }

        public static Comparison AgainstExprGrad(Gradient gradient, Func<double[], double[]> handWritten, Box domain,
            double relativeTolerance, double absoluteTolerance)
        {
            ArgumentNullException.ThrowIfNull(gradient);
            // A function whose last parameter is an array of any length takes points of any length from its dimension on.
            if (gradient.HasVariableLength ? domain.Dimension < gradient.Dimension : domain.Dimension != gradient.Dimension)
                throw new ArgumentException($"the box (or point) has {domain.Dimension} coordinates but the gradient's flat layout has " +
                    $"{(gradient.HasVariableLength ? "at least " : "")}{gradient.Dimension}", nameof(domain));
            var names = gradient.Graph.SlotNamesOf(domain.Dimension).ToArray();
            for (var i = 0; i < names.Length; i++)
                if (domain.Name(i) is { } name && name != names[i])
                    throw new ArgumentException($"the box names coordinate {i} '{name}' but the gradient's flat layout has '{names[i]}' there: list the box's coordinates in the lambda's parameter order", nameof(domain));
            var g = new double[domain.Dimension]; // every point's reference gradient, read before the next
            return new Comparison(p => double.IsFinite(gradient.Evaluate(p, g)) ? g : null,
                handWritten, "ExprGrad", names, relativeTolerance, absoluteTolerance);
        }

        private readonly double[] _copy = new double[names.Length];

        private static double[] Copy(double[] point, double[] buffer)
        {
            point.CopyTo(buffer, 0);
            return buffer;
        }

        // Skipped where the function or its reference gradient is not finite: there is nothing sound to compare.
        public Outcome Compare(double[] point)
        {
            var r = reference(point);
            if (r is null || !AllFinite(r))
                return new Outcome(Skipped: true, -1, double.NaN, double.NaN, 0);
            var h = handWritten(Copy(point, _copy));
            if (h is null || h.Length != r.Length)
                throw new ArgumentException($"the hand-written gradient returned {h?.Length.ToString(CultureInfo.InvariantCulture) ?? "null"} components at a point of {r.Length}");
            var (i, ratio) = Worst(h, r, relativeTolerance, absoluteTolerance);
            return i < 0 ? new Outcome(false, -1, 0, 0, 0) : new Outcome(false, i, h[i], r[i], ratio);
        }

        private static bool AllFinite(double[] values)
        {
            foreach (var v in values)
                if (!double.IsFinite(v))
                    return false;
            return true;
        }

        public string FormatPoint(IReadOnlyList<double> point) => string.Join(", ", point.Select((v, i) =>
            string.Create(CultureInfo.InvariantCulture, $"{names[i]} = {v:R}")));

        public GradCheckException Failure(double[] point, Outcome outcome, double[] first, Outcome firstOutcome, int steps,
            (Box Domain, int Index, int Samples, int Skipped, int Seed)? drawn)
        {
            var name = names[outcome.Component];
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture,
                $"GradCheck: ∂f/∂{name} is wrong at {FormatPoint(point)}: hand-written {outcome.HandWritten:R}, {referenceName} {outcome.Reference:R} ");
            text.Append(CultureInfo.InvariantCulture,
                $"(error {outcome.Ratio:G3} × allowed; allowed = {absoluteTolerance:G3} + {relativeTolerance:G3} × the larger magnitude).");
            if (drawn is var (domain, index, samples, skipped, seed))
            {
                text.AppendLine();
                if (steps == 0)
                    text.Append(CultureInfo.InvariantCulture, $"Not shrunk (no simpler point fails ∂f/∂{name}); ");
                else
                    text.Append(CultureInfo.InvariantCulture,
                        $"Shrunk in {steps} steps from the first failing point {FormatPoint(first)} (hand-written {firstOutcome.HandWritten:R}, {referenceName} {firstOutcome.Reference:R}); ");
                text.Append(CultureInfo.InvariantCulture,
                    $"point {index} of {samples} drawn from {FormatBox(domain)}, {skipped} skipped as not finite.");
                text.AppendLine();
                text.Append(CultureInfo.InvariantCulture, $"Replay: seed: {seed} (or {SeedVariable}={seed}).");
            }
            return new GradCheckException(text.ToString(), outcome.Component, name, point, outcome.HandWritten, outcome.Reference,
                first, drawn?.Seed);
        }

        public string FormatBox(Box domain) => domain.Format(names);
    }
}

/// <summary>What <c>GradCheck.AssertAgrees</c> checked when it passed.</summary>
/// <param name="Seed">The seed the points were drawn from.</param>
/// <param name="Checked">The number of points compared.</param>
/// <param name="Skipped">The number of points skipped because the function or its reference gradient was not finite there.</param>
/// <param name="WorstErrorRatio">The largest error seen, divided by its allowed error (at most 1, since it passed).</param>
public sealed record GradCheckSummary(int Seed, int Checked, int Skipped, double WorstErrorRatio);
