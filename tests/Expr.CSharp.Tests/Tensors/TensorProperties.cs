using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using ExprGrad.Tests.Properties;
using FsCheck;
using FsCheck.Fluent;
using Xunit.Abstractions;
using Xunit.Sdk;
using M = MathNet.Numerics.LinearAlgebra.Matrix<double>;
using V = MathNet.Numerics.LinearAlgebra.Vector<double>;

namespace ExprGrad.Tests.Tensors;

/// <summary>
/// Random compositions of the vector and matrix catalogue (<see cref="TensorCatalogue"/>) with random shapes and
/// captured values: ExprGrad's gradient agrees with central differences of the function on every element of every
/// parameter, its value agrees with Linq's own compilation of the lambda, and its gradients are shaped like the
/// parameters. The ground truth is the lambda compiled by .NET (MathNet's own methods), never ExprGrad.
/// </summary>
public sealed class TensorProperties(ITestOutputHelper output)
{
    // ≥ 200 cases as the brief asks; each compiles three delegates (truth, probe, ExprGrad), a few ms in all.
    private const int Cases = 300;

    /// <summary>The seeds 0, 1, ... whose cases (at depth <see cref="CoveringDepth"/>) together use every operation of the catalogue.</summary>
    internal const int CoveringSeeds = 300;

    /// <summary>The depth of the case of covering seed <paramref name="seed"/>.</summary>
    internal static int CoveringDepth(int seed) => MinDepth + seed % (MaxDepth - MinDepth + 1);
    internal const int MinDepth = 3, MaxDepth = 6;

    // Seeded points tried per case before it is discarded (every one near a kink, too large, or too rough for
    // the differences to judge).
    private const int PointAttempts = 8;

    // Intermediate values beyond this make the differences' rounding error too large to judge small components.
    private const double MaxMagnitude = 1e4;

    // A norm's argument nearer zero than this (e.g. relu of an all-negative matrix) sits on the norm's kink.
    private const double NormMargin = 1e-3;

    private const double RelativeTolerance = 1e-6;

    // Rounding in f is about ε·(largest intermediate) per operation, amplified by 1/h ≈ 1350 in the stencil;
    // 1e-9 of the largest intermediate is ~50× that bound for the ~20-operation functions generated here.
    private const double AbsoluteToleranceScale = 1e-9;

    // As in the scalar properties: where Richardson's estimate of the stencil's own error exceeds the default,
    // the case is checked at 4× the estimate, and a point whose estimate exceeds 1e-3 is not used at all.
    private const double ErrorEstimateSafety = 4;
    private const double MaxRelativeTolerance = 1e-3;

    // The analytic value against Linq's: both evaluate the same operations, fused kernels may round differently.
    private const double ValueTolerance = 1e-10;

    [Fact]
    public void Gradient_agrees_with_central_differences_on_random_tensor_expressions()
    {
        var tally = new Tally();
        var cases = PropertyRunner.Scaled(Cases);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        PropertyRunner.Check(Prop.ForAll(CaseArbitrary(), spec => Check(spec, tally)), cases, "tensor gradient agrees with central differences");
        output.WriteLine($"{tally.Checked} cases checked ({tally.Loosened} at a looser tolerance, {tally.Elements} gradient elements), " +
            $"{tally.Discarded} discarded, {tally.PointsRejected} points rejected, {clock.ElapsedMilliseconds} ms");
        foreach (var (reason, count) in tally.Reasons.OrderByDescending(kv => kv.Value))
            output.WriteLine($"  rejected {count}×: {reason}");
        output.WriteLine("operations exercised: " + string.Join(", ", tally.Operations.OrderBy(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")));
        output.WriteLine("inputs exercised: " + string.Join(", ", tally.Features.OrderBy(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")));

        if (PropertyRunner.IsReplaying)
            return; // a replay may stop at the failing case; the run-wide counts mean nothing

        Assert.True(tally.Discarded <= cases / 10, $"{tally.Discarded} of {cases} cases discarded for want of a usable point");
        Assert.True(tally.Loosened <= cases / 10, $"{tally.Loosened} of {tally.Checked} cases needed a looser tolerance");
        var missing = TensorCatalogue.All.Select(op => op.Name).Where(name => !tally.Operations.ContainsKey(name)).ToList();
        Assert.True(missing.Count == 0, "operations never exercised by the random property: " + string.Join(", ", missing));
        var missingFeatures = TensorCase.AllFeatures.Where(f => !tally.Features.ContainsKey(f)).ToList();
        Assert.True(missingFeatures.Count == 0, "inputs never exercised by the random property: " + string.Join(", ", missingFeatures));
    }

    [Fact]
    public void Generator_is_deterministic_and_covers_the_catalogue()
    {
        // Independent of the engine: the same seed gives the same function, and a few hundred seeds reach every
        // entry (so the property's coverage assertion can only fail for want of checked cases).
        Assert.Equal(new TensorCase(12345, 3).Display, new TensorCase(12345, 3).Display);
        var seen = new Dictionary<string, int>();
        var features = new HashSet<string>();
        for (var seed = 0; seed < CoveringSeeds; seed++)
        {
            var c = new TensorCase(seed, CoveringDepth(seed));
            foreach (var op in c.Operations)
                seen[op] = seen.GetValueOrDefault(op) + 1;
            features.UnionWith(c.Features);
            Assert.Equal(typeof(double), c.Lambda.ReturnType);
            Assert.InRange(c.Parameters.Count, 1, 8);
        }
        output.WriteLine(string.Join(", ", seen.OrderBy(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")));
        var missing = TensorCatalogue.All.Select(op => op.Name).Except(seen.Keys).ToList();
        Assert.True(missing.Count == 0, "never generated: " + string.Join(", ", missing));
        Assert.Empty(TensorCase.AllFeatures.Except(features));
        Assert.Empty(features.Except(TensorCase.AllFeatures));
    }

    [Fact]
    public void Truth_and_probe_evaluate_generated_cases()
    {
        // The oracle's own plumbing, independent of the engine: the compiled truth agrees with the probe's last
        // node (the body), and the probe's shapes agree with the generator's.
        for (var seed = 0; seed < 50; seed++)
        {
            var c = new TensorCase(seed, 3);
            var oracle = new Oracle(c);
            var args = c.Arguments(Point(c, 0));
            var values = oracle.Probe(args);
            Assert.Equal(c.Nodes.Count, values.Length);
            for (var i = 0; i < values.Length; i++)
                Assert.Equal(c.Nodes[i].Shape, ShapeOf(values[i]));
            var f = oracle.Truth(args);
            Assert.True(f.Equals((double)values[^1]), $"{c}: truth {f}, probe {values[^1]}");
        }
    }

    [Fact]
    public void Oracle_finds_a_usable_point_for_almost_every_case()
    {
        // Independent of the engine: the screens (magnitude, norms at zero, kinks crossed by the stencil, rough
        // differences) leave enough cases for the property to mean what it says.
        var tally = new Tally();
        var sizes = new List<int>();
        for (var seed = 0; seed < Cases; seed++)
        {
            var c = new TensorCase(seed, MinDepth + seed % (MaxDepth - MinDepth + 1));
            var prepared = Prepare(c, new Oracle(c), tally);
            if (prepared is null)
                tally.Discard();
            else
            {
                tally.Check(c, prepared.Value.Tolerance > RelativeTolerance);
                tally.Elements += c.Dimension;
                sizes.Add(c.Operations.Count);
            }
        }
        output.WriteLine($"{tally.Checked} usable ({tally.Loosened} loosened), {tally.Discarded} discarded, {tally.PointsRejected} points rejected; " +
            $"{tally.Elements} gradient elements; operations per case: median {sizes.Order().ElementAt(sizes.Count / 2)}, max {sizes.Max()}");
        foreach (var (reason, count) in tally.Reasons.OrderByDescending(kv => kv.Value))
            output.WriteLine($"  rejected {count}×: {reason}");
        Assert.True(tally.Discarded <= Cases / 10, $"{tally.Discarded} of {Cases} cases have no usable point");
        Assert.True(tally.Loosened <= Cases / 10, $"{tally.Loosened} of {tally.Checked} cases need a looser tolerance");
    }

    // ---- the property ----

    internal sealed record CaseSpec(int Seed, int Depth)
    {
        public override string ToString() => $"case seed {Seed}, depth {Depth}";
    }

    private static Arbitrary<CaseSpec> CaseArbitrary() =>
        Arb.From(
            from depth in Gen.Sized(size => Gen.Choose(MinDepth, Math.Clamp(MinDepth + size / 25, MinDepth, MaxDepth)))
            from seed in Gen.Choose(0, int.MaxValue - 1)
            select new CaseSpec(seed, depth));

    private static Property Check(CaseSpec spec, Tally tally)
    {
        var c = new TensorCase(spec.Seed, spec.Depth);
        var oracle = new Oracle(c);
        var prepared = Prepare(c, oracle, tally);
        if (prepared is null)
        {
            tally.Discard();
            return Prop.When(false, () => { });
        }
        var (point, numeric, tolerance, magnitude) = prepared.Value;
        tally.Check(c, tolerance > RelativeTolerance);

        return Prop.When(true, () =>
        {
            var (value, analytic) = EvaluateWithExprGrad(c, point);
            tally.Elements += analytic.Length;
            var expected = oracle.Truth(c.Arguments(point));
            var absolute = AbsoluteToleranceScale * Math.Max(1, magnitude);
            if (!(Math.Abs(value - expected) <= ValueTolerance * Math.Max(1, magnitude)))
                throw Failure(c, point, string.Create(CultureInfo.InvariantCulture, $"value {value:R}, but the lambda compiled by Linq gives {expected:R}"), analytic, numeric);
            for (var k = 0; k < analytic.Length; k++)
            {
                var allowed = absolute + tolerance * Math.Max(Math.Abs(analytic[k]), Math.Abs(numeric[k]));
                if (!(Math.Abs(analytic[k] - numeric[k]) <= allowed))
                    throw Failure(c, point, string.Create(CultureInfo.InvariantCulture,
                        $"d/d{c.ElementName(k)}: ExprGrad {analytic[k]:R}, central differences {numeric[k]:R} " +
                        $"(allowed {allowed:G3}: relative {tolerance:G2}, absolute {absolute:G2})"), analytic, numeric);
            }
        });
    }

    /// <summary>
    /// The first seeded point where every intermediate value is finite and moderate, no norm's argument is near
    /// zero, no stencil evaluation crosses a kink, and the differences are accurate enough to judge; with the
    /// numeric gradient there, the tolerance it supports, and the largest intermediate magnitude.
    /// </summary>
    internal static (double[] Point, double[] Numeric, double Tolerance, double Magnitude)? Prepare(TensorCase c, Oracle oracle, Tally tally)
    {
        for (var attempt = 0; attempt < PointAttempts; attempt++)
        {
            var point = Point(c, attempt);
            var values = oracle.Probe(c.Arguments(point));
            var magnitude = values.Max(MaxAbs);
            if (!(magnitude <= MaxMagnitude))
            {
                tally.Reject(double.IsFinite(magnitude) ? "an intermediate value above 1e4" : "a non-finite intermediate value");
                continue;
            }
            if (c.Kinks.Any(k => k.Kink is Kink.ZeroTensor && MaxAbs(values[k.NodeIndex]) < NormMargin))
            {
                tally.Reject("a norm of a (near-)zero tensor");
                continue;
            }

            // Every stencil evaluation must see each kink's argument on the same side as the point does.
            var baseline = Signature(c, values);
            var crossed = false;
            var (numeric, error) = Numeric.GradientWithError(flat =>
            {
                var args = c.Arguments(flat);
                if (c.Kinks.Count > 0 && !crossed && !Signature(c, oracle.Probe(args)).SequenceEqual(baseline))
                    crossed = true;
                return oracle.Truth(args);
            }, point);
            if (crossed)
            {
                tally.Reject("the stencil crosses a kink");
                continue;
            }

            var absolute = AbsoluteToleranceScale * Math.Max(1, magnitude);
            var estimate = 0.0;
            for (var k = 0; k < numeric.Length; k++)
                if (error[k] > absolute / 4)
                    estimate = Math.Max(estimate, error[k] / Math.Abs(numeric[k]));
            var tolerance = Math.Max(RelativeTolerance, ErrorEstimateSafety * estimate);
            if (!(tolerance <= MaxRelativeTolerance) || numeric.Any(v => !double.IsFinite(v)))
            {
                tally.Reject("central differences too inaccurate to judge");
                continue;
            }
            return (point, numeric, tolerance, magnitude);
        }
        return null;
    }

    /// <summary>The case's attempt-th point, flat in parameter order, uniform in ±<see cref="Values.Range"/>.</summary>
    private static double[] Point(TensorCase c, int attempt)
    {
        var rng = new Random(unchecked(c.Seed * 31 + 1_000_003 * (attempt + 1)));
        var point = new double[c.Dimension];
        for (var k = 0; k < point.Length; k++)
            point[k] = Values.Draw(rng);
        return point;
    }

    // The side of each thresholded element: −1, 0 or +1 per element, kink sites in order.
    internal static IEnumerable<int> Signature(TensorCase c, object[] values)
    {
        foreach (var site in c.Kinks)
            if (site.Kink is Kink.Threshold t)
                foreach (var v in Elements(values[site.NodeIndex]))
                    yield return Math.Sign(v - t.At);
    }

    private static IEnumerable<double> Elements(object value) => value switch
    {
        double d => [d],
        V v => v,
        M m => m.Enumerate(),
        _ => throw new InvalidOperationException($"unexpected node value {value.GetType()}"),
    };

    private static double MaxAbs(object value)
    {
        var max = 0.0;
        foreach (var v in Elements(value))
        {
            if (!double.IsFinite(v))
                return double.PositiveInfinity;
            max = Math.Max(max, Math.Abs(v));
        }
        return max;
    }

    private static Shape ShapeOf(object value) => value switch
    {
        double => Shape.Scalar,
        V v => Shape.Vector(v.Count),
        M m => Shape.Matrix(m.RowCount, m.ColumnCount),
        _ => throw new InvalidOperationException($"unexpected node value {value.GetType()}"),
    };

    // ---- ExprGrad, called through its typed API by reflection (arity and types vary per case) ----

    private static (double Value, double[] Gradient) EvaluateWithExprGrad(TensorCase c, double[] point)
    {
        var types = c.Parameters.Select(p => p.Type).ToArray();
        var of = typeof(Grad).GetMethods()
            .Single(m => m.Name == nameof(Grad.Of) && m.IsGenericMethodDefinition && m.GetGenericArguments().Length == types.Length)
            .MakeGenericMethod(types);
        var args = c.Arguments(point);
        object result;
        try
        {
            var gradient = of.Invoke(null, [c.Lambda])!;
            result = gradient.GetType().GetMethod("Evaluate", types)!.Invoke(gradient, args)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            // Every generated operation is in the catalogue and every shape conforms: any exception is a failure.
            throw Failure(c, point, $"ExprGrad threw {e.InnerException.GetType().Name}: {e.InnerException.Message}", null, null, e.InnerException);
        }

        var value = (double)result.GetType().GetProperty("Value")!.GetValue(result)!;
        var flat = new List<double>();
        for (var i = 0; i < types.Length; i++)
        {
            var p = c.Parameters[i];
            var d = result.GetType().GetProperty($"D{i + 1}")!.GetValue(result);
            var name = p.Expression.Name;
            switch (d)
            {
                case double s when p.Shape.Kind == Kind.Scalar && !p.IsArray:
                    flat.Add(s);
                    break;
                case double[] a when p.IsArray && a.Length == p.ArrayLength:
                    flat.AddRange(a);
                    break;
                case V v when p.Shape.Kind == Kind.Vector && v.Count == p.Shape.Rows:
                    Assert.False(ReferenceEquals(v, args[i]), $"the gradient of {name} is the argument itself");
                    flat.AddRange(v);
                    break;
                case M m when p.Shape.Kind == Kind.Matrix && m.RowCount == p.Shape.Rows && m.ColumnCount == p.Shape.Columns:
                    Assert.False(ReferenceEquals(m, args[i]), $"the gradient of {name} is the argument itself");
                    flat.AddRange(m.ToColumnMajorArray());
                    break;
                default:
                    throw Failure(c, point, $"the gradient of {p.Describe()} is {Describe(d)}, not shaped like the parameter", null, null);
            }
        }
        return (value, [.. flat]);

        static string Describe(object? d) => d switch
        {
            null => "null",
            V v => $"a vector of {v.Count}",
            M m => $"a {m.RowCount}×{m.ColumnCount} matrix",
            double[] a => $"double[{a.Length}]",
            _ => d.GetType().Name,
        };
    }

    private static XunitException Failure(TensorCase c, double[] point, string what, double[]? analytic, double[]? numeric, Exception? inner = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine(what);
        sb.AppendLine($"  {c}");
        sb.Append(c.Describe());
        var args = c.Arguments(point);
        for (var i = 0; i < args.Length; i++)
            sb.AppendLine($"  {c.Parameters[i].Expression.Name} = {Values.Format(args[i])}");
        if (analytic is not null && numeric is not null)
        {
            sb.AppendLine("  element: ExprGrad | central differences");
            for (var k = 0; k < analytic.Length; k++)
                sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"    {c.ElementName(k)}: {analytic[k]:R} | {numeric[k]:R}"));
        }
        sb.AppendLine($"  reproduce: new TensorCase({c.Seed}, {c.Depth}) at the point above, or rerun with the FsCheck replay seed below");
        if (inner is not null)
            sb.AppendLine(inner.ToString());
        return new XunitException(sb.ToString());
    }

    /// <summary>
    /// The ground truth: the generated lambda compiled by Linq (MathNet's own methods run it), and a probe that
    /// returns every node's value, both taking the lambda's arguments as an object array.
    /// </summary>
    internal sealed class Oracle
    {
        public Func<object[], double> Truth { get; }
        public Func<object[], object[]> Probe { get; }

        public Oracle(TensorCase c)
        {
            var args = Expression.Parameter(typeof(object[]), "args");
            var parameters = c.Lambda.Parameters;
            // The lambda's own parameters become block variables, so the nodes (and Map lambdas closing over a
            // scalar parameter) read them unchanged.
            var assign = parameters.Select((p, i) => (Expression)Expression.Assign(p, Expression.Convert(Expression.ArrayIndex(args, Expression.Constant(i)), p.Type)));
            Truth = Expression.Lambda<Func<object[], double>>(Expression.Block(parameters, [.. assign, c.Lambda.Body]), args).Compile();
            var all = Expression.NewArrayInit(typeof(object), c.Nodes.Select(n => Expression.Convert(n.Expression, typeof(object))));
            Probe = Expression.Lambda<Func<object[], object[]>>(Expression.Block(parameters, [.. assign, all]), args).Compile();
        }
    }

    /// <summary>Counts over a run (FsCheck runs a property on one thread).</summary>
    internal sealed class Tally
    {
        public int Checked { get; private set; }
        public int Loosened { get; private set; }
        public int Discarded { get; private set; }
        public int PointsRejected { get; private set; }
        public int Elements { get; set; }
        public Dictionary<string, int> Operations { get; } = [];
        public Dictionary<string, int> Reasons { get; } = [];
        public Dictionary<string, int> Features { get; } = [];

        public void Check(TensorCase c, bool loosened)
        {
            Checked++;
            if (loosened)
                Loosened++;
            foreach (var op in c.Operations)
                Operations[op] = Operations.GetValueOrDefault(op) + 1;
            foreach (var f in c.Features.Distinct())
                Features[f] = Features.GetValueOrDefault(f) + 1;
        }

        public void Discard() => Discarded++;

        public void Reject(string reason)
        {
            PointsRejected++;
            Reasons[reason] = Reasons.GetValueOrDefault(reason) + 1;
        }
    }
}
