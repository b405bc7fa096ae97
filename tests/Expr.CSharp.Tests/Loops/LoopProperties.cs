using System.Globalization;
using System.Text;
using ExprGrad.Tests.Properties;
using FsCheck;
using FsCheck.Fluent;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ExprGrad.Tests.Loops;

/// <summary>
/// Random loop programs (<see cref="LoopProgramGenerator"/>): sums over ranges and arrays, Select and Zip, nested
/// sums, folds, Max and Min, with random bodies from the expression generator's catalogue and lengths 0 to 50. Each
/// is checked against central differences (GradCheck) and against its written-out equivalent built with Expression
/// factories, differentiated by the same engine.
/// </summary>
/// <remarks>
/// Against the written-out form the value is the same bits (the same operations in the same order). The gradient
/// adds the same contributions in another order wherever several meet (the loop in iteration order, backwards for a
/// fold, with a body's forks summed in the body's order; the reverse sweep of the tree in its own), so it agrees to
/// 1e-12 relative to the sum of the contributions' magnitudes, measured per component by the written-out program whose
/// every read of a parameter is an input of its own (<see cref="LoopLowerer.Split"/>). The run reports how many
/// gradients were the same bits anyway. The masks m, m2 of the programs are all ones (captured arrays read at the loop's index).
/// Replay a failure with EXPRGRAD_FSCHECK_REPLAY=seed,gamma (printed on failure); EXPRGRAD_PROPERTY_SCALE multiplies the case count.
/// </remarks>
public sealed class LoopProperties(ITestOutputHelper output)
{
    private const int Cases = 150;
    private const int PointAttempts = 10;
    private const double SumRelativeTolerance = 1e-12;
    private const double ErrorEstimateSafety = 4;
    private const double MaxRelativeTolerance = 1e-3;

    [Fact]
    public void Loop_programs_agree_with_their_written_out_form_and_with_central_differences()
    {
        var tally = new Tally();
        var cases = PropertyRunner.Scaled(Cases);
        PropertyRunner.Check(Prop.ForAll(LoopProgramGenerator.Programs(), p => Agrees(p, tally)), cases, "loop programs agree");
        output.WriteLine(tally.ToString());
        if (PropertyRunner.IsReplaying)
            return;
        Assert.True(tally.Discarded <= cases / 10, $"{tally.Discarded} of {cases} discarded (last: {tally.LastReason})");
        Assert.True(tally.Loosened <= cases / 20, $"{tally.Loosened} needed a looser numeric tolerance");
    }

    private static Property Agrees(LoopProgram p, Tally tally)
    {
        var unrolled = p.Unrolled;
        double[]? point = null;
        string? reason = null;
        for (var attempt = 0; attempt < PointAttempts && point is null; attempt++)
        {
            var candidate = Point(p, attempt);
            reason = PointScreen.Reject(unrolled, candidate);
            if (reason is null)
                point = candidate;
        }
        if (point is null)
        {
            tally.Discard(reason);
            return Prop.When(false, () => { });
        }

        var loop = Differentiate(p);
        var written = Grad.Of(unrolled.Lambda);
        var scratch = new double[point.Length];
        var referenceError = NumericReference.EstimatedRelativeError(x => loop.Evaluate(x, scratch), point, GradCheck.DefaultAbsoluteTolerance);
        var tolerance = Math.Max(GradCheck.DefaultRelativeTolerance, ErrorEstimateSafety * referenceError);
        var numericFair = tolerance <= MaxRelativeTolerance;

        return Prop.When(true, () =>
        {
            var g = new double[point.Length];
            var value = loop.Evaluate(point, g);
            var expected = new double[point.Length];
            var expectedValue = written.Evaluate(point, expected);

            // The value: the same bits as the written-out tree and as LINQ itself running the lambda.
            var linq = (double)p.Loop.Compile().DynamicInvoke(point[0], point[1], point[2..])!;
            if (!value.Equals(expectedValue) || !value.Equals(linq))
                throw Failure(p, point, $"value {value:R}, written out {expectedValue:R}, LINQ {linq:R}");

            // The gradient against the written-out tree.
            var scale = Scale(p, point);
            var bitForBit = true;
            for (var c = 0; c < g.Length; c++)
            {
                if (g[c].Equals(expected[c]))
                    continue;
                bitForBit = false;
                if (!(Math.Abs(g[c] - expected[c]) <= SumRelativeTolerance * scale[c]))
                    throw Failure(p, point, string.Create(CultureInfo.InvariantCulture,
                        $"gradient [{Slot(c)}] {g[c]:R}, written out {expected[c]:R} (allowed {SumRelativeTolerance * scale[c]:G3})"), g, expected);
            }

            // The typed API gives the span API's bits.
            var typedLowered = new Lowered(p.Loop, p.Signature, [1, 1, p.Length], []);
            var (typedValue, typed) = TypedEvaluation.Evaluate(typedLowered, typedLowered.Arguments(point));
            if (!typedValue.Equals(value) || Enumerable.Range(0, g.Length).Any(c => !typed[c].Equals(g[c])))
                throw Failure(p, point, "typed and span APIs differ", g, typed.Values);

            // Central differences.
            if (numericFair)
            {
                var report = GradCheck.Check(loop, point, tolerance, GradCheck.DefaultAbsoluteTolerance);
                if (!report.Passed)
                    throw Failure(p, point, $"GradCheck {report} at {Slot(report.WorstIndex)} (relative tolerance {tolerance:G2})", g);
            }
            tally.Check(p, bitForBit, numericFair, tolerance > GradCheck.DefaultRelativeTolerance);
        });
    }

    private static Gradient Differentiate(LoopProgram p)
    {
        try
        {
            return Grad.Of(p.Loop);
        }
        catch (ExprGradException e)
        {
            throw new XunitException($"Grad.Of rejected {p}:\n{e.Message}");
        }
    }

    /// <summary>
    /// Per gradient component, the sum of the magnitudes of the contributions the loop and the written-out tree add up
    /// (each in its own order): the gradient of <see cref="LoopLowerer.Split"/>, whose every read of a parameter is an
    /// input of its own.
    /// </summary>
    private static double[] Scale(LoopProgram p, double[] point)
    {
        var (lambda, components) = LoopLowerer.Split(p);
        var uses = Array.ConvertAll(components, c => point[c]);
        var (_, parts) = Grad.Of(lambda).Evaluate(uses);
        var scale = new double[point.Length];
        for (var u = 0; u < components.Length; u++)
            scale[components[u]] += Math.Abs(parts[u]);
        return scale;
    }

    /// <summary>The case's points: x0, x1, then a, uniform in [−2.5, 2.5] (six decimals), from its seed.</summary>
    internal static double[] Point(LoopProgram p, int attempt)
    {
        var random = new Random(unchecked(p.PointSeed * 7919 + attempt * 104_729));
        var point = new double[2 + p.Length];
        for (var k = 0; k < point.Length; k++)
            point[k] = Math.Round((random.NextDouble() * 2 - 1) * ExpressionGenerator.PointRange, 6);
        return point;
    }

    private static string Slot(int c) => c switch { 0 => "x0", 1 => "x1", _ => $"a[{c - 2}]" };

    private static XunitException Failure(LoopProgram p, double[] point, string what, double[]? gradient = null, double[]? expected = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine(what);
        sb.AppendLine($"  program:  {p}");
        sb.AppendLine($"  captured: {string.Join(", ", TermWalk.Nodes(p.Body).OfType<CapturedLeaf>().Select(b => b.Box.Value.ToString("R", CultureInfo.InvariantCulture)))}");
        sb.AppendLine($"  point:    new double[] {{ {Format(point)} }}");
        if (gradient is not null)
            sb.AppendLine($"  gradient: [{Format(gradient)}]");
        if (expected is not null)
            sb.AppendLine($"  expected: [{Format(expected)}]");
        return new XunitException(sb.ToString());
    }

    private static string Format(double[] values) => string.Join(", ", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private sealed class Tally
    {
        private readonly Dictionary<LoopShape, (int Checked, int BitForBit, int Numeric)> _shapes = [];

        public int Discarded { get; private set; }
        public int Loosened { get; private set; }
        public string? LastReason { get; private set; }

        public void Discard(string? reason)
        {
            Discarded++;
            LastReason = reason;
        }

        public void Check(LoopProgram p, bool bitForBit, bool numeric, bool loosened)
        {
            var (c, b, n) = _shapes.GetValueOrDefault(p.Shape);
            _shapes[p.Shape] = (c + 1, b + (bitForBit ? 1 : 0), n + (numeric ? 1 : 0));
            if (loosened)
                Loosened++;
        }

        public override string ToString() =>
            string.Join("; ", _shapes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}: {kv.Value.Checked} checked, {kv.Value.BitForBit} bit for bit, {kv.Value.Numeric} against differences"))
            + $"; {Discarded} discarded (last: {LastReason}), {Loosened} at a looser numeric tolerance";
    }
}
