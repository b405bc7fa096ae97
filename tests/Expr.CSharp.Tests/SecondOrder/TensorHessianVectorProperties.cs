using System.Globalization;
using System.Reflection;
using ExprGrad.Tests.Properties;
using ExprGrad.Tests.Tensors;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;
using M = MathNet.Numerics.LinearAlgebra.Matrix<double>;
using V = MathNet.Numerics.LinearAlgebra.Vector<double>;

namespace ExprGrad.Tests.SecondOrder;

/// <summary>
/// The typed Hessian-vector product of random compositions of the vector and matrix catalogue (<see cref="TensorCase"/>:
/// products, transposes, Maps of the scalar catalogue, norms, sums, softmax, with double, double[], vector and matrix
/// parameters and captured values) against central differences of the compiled gradient along the direction, element by
/// element, at a tolerance widened by the differences' own estimated error; and H's symmetry through two products,
/// uᵀ(Hv) = vᵀ(Hu). The gradient itself is checked against differences of the function by <see cref="TensorProperties"/>.
/// Replay a failure with EXPRGRAD_FSCHECK_REPLAY=seed,gamma.
/// </summary>
public sealed class TensorHessianVectorProperties(ITestOutputHelper output)
{
    private const int Cases = 100;

    // uᵀ(Hv) and vᵀ(Hu) sum the same products in different orders: a few ulps of the largest term each.
    private const double SymmetryTolerance = 1e-9;

    [Fact]
    public void Hessian_vector_products_agree_with_differences_of_the_gradient()
    {
        var run = new Run();
        var cases = PropertyRunner.Scaled(Cases);
        PropertyRunner.Check(Prop.ForAll(CaseArbitrary(), spec => run.Prepare(spec) is { } check ? Prop.When(true, check) : Prop.When(false, () => { })),
            cases, "tensor Hessian-vector products agree with differences of the gradient");
        output.WriteLine(run.Summary);
        if (PropertyRunner.IsReplaying)
            return;
        Assert.True(run.Tally.Discarded <= cases / 5, $"{run.Tally.Discarded} of {cases} cases discarded");
    }

    [Fact]
    public void Hessian_vector_products_of_the_generators_first_cases_cover_the_catalogue()
    {
        // The cases whose generation covers every operation (TensorProperties' generator test), all checked: a hundred
        // random cases reach each of some ninety operations only most of the time, so coverage is asserted here.
        var run = new Run();
        for (var seed = 0; seed < TensorProperties.CoveringSeeds; seed++)
            run.Prepare(new CaseSpec(seed, TensorProperties.CoveringDepth(seed)))?.Invoke();
        output.WriteLine(run.Summary);
        Assert.True(run.Tally.Discarded <= TensorProperties.CoveringSeeds / 10, $"{run.Tally.Discarded} cases discarded");
        var missing = TensorCatalogue.All.Select(op => op.Name).Where(name => !run.Tally.Operations.ContainsKey(name)).ToList();
        Assert.True(missing.Count == 0, "operations never exercised: " + string.Join(", ", missing));
    }

    /// <summary>The checks of a run, and what they covered.</summary>
    private sealed class Run
    {
        private int _elements, _skipped, _crossed;

        public TensorProperties.Tally Tally { get; } = new();

        public string Summary =>
            $"{Tally.Checked} cases, {_elements} elements of H·v checked ({_skipped} the differences could not judge), " +
            $"{Tally.Discarded} discarded ({_crossed} crossing a kink along v)\noperations exercised: " +
            string.Join(", ", Tally.Operations.OrderBy(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}"));

        /// <summary>The check of a case at its first usable point, or null if it has none (the case is discarded).</summary>
        public Action? Prepare(CaseSpec spec)
        {
            var c = new TensorCase(spec.Seed, spec.Depth);
            var oracle = new TensorProperties.Oracle(c);
            if (TensorProperties.Prepare(c, oracle, Tally) is not { } prepared)
            {
                Tally.Discard();
                return null;
            }
            var point = prepared.Point;
            var rng = new Random(spec.Seed);
            var v = Direction(rng, c.Dimension);
            var probe = new Typed(c);
            var stencil = new GradientAlong(c, oracle, probe, point, v);
            // The differences along v must not cross a kink the coordinate stencils did not.
            if (stencil.Crosses())
            {
                _crossed++;
                Tally.Discard();
                return null;
            }
            Tally.Check(c, loosened: false);
            return () =>
            {
                var hv = probe.HessianVectorProduct(point, v);
                for (var k = 0; k < hv.Length; k++)
                {
                    var component = k;
                    double Partial(double[] t) => stencil.At(t[0])[component];
                    var absolute = HessianRows.AbsoluteTolerance(Partial, [0]);
                    var tolerance = Math.Max(GradCheck.DefaultRelativeTolerance,
                        HessianRows.ErrorEstimateSafety * NumericReference.EstimatedRelativeError(Partial, [0], absolute));
                    if (!(tolerance <= HessianRows.MaxRelativeTolerance))
                    {
                        _skipped++;
                        continue; // the differences cannot judge this element
                    }
                    var report = GradCheck.Check(Partial, [0], [hv[k]], tolerance, absolute);
                    if (!report.Passed)
                        throw Failure(c, point, v, string.Create(CultureInfo.InvariantCulture,
                            $"(H·v)[{c.ElementName(k)}]: {report} (relative tolerance {tolerance:G2})"));
                    _elements++;
                }

                var u = Direction(rng, c.Dimension);
                var (uHv, vHu) = (Dot(u, hv), Dot(v, probe.HessianVectorProduct(point, u)));
                var scale = Math.Max(1, Math.Max(Math.Abs(uHv), Math.Abs(vHu)));
                if (!(Math.Abs(uHv - vHu) <= SymmetryTolerance * scale))
                    throw Failure(c, point, v, string.Create(CultureInfo.InvariantCulture, $"uᵀ(Hv) = {uHv:R} but vᵀ(Hu) = {vHu:R}: H is not symmetric"));
            };
        }
    }

    internal sealed record CaseSpec(int Seed, int Depth)
    {
        public override string ToString() => $"case seed {Seed}, depth {Depth}";
    }

    private static Arbitrary<CaseSpec> CaseArbitrary() =>
        Arb.From(
            from depth in Gen.Choose(TensorProperties.MinDepth, TensorProperties.MaxDepth)
            from seed in Gen.Choose(0, int.MaxValue - 1)
            select new CaseSpec(seed, depth));

    private static double[] Direction(Random rng, int length) => Enumerable.Range(0, length).Select(_ => rng.NextDouble() * 2 - 1).ToArray();

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();

    /// <summary>The compiled gradient at x + t·v, flat, for the stencil's few values of t (each computed once).</summary>
    private sealed class GradientAlong(TensorCase c, TensorProperties.Oracle oracle, Typed probe, double[] point, double[] v)
    {
        private readonly Dictionary<double, double[]> _at = [];
        private readonly List<double> _steps = [];

        private double[] PointAt(double t) => point.Zip(v, (x, d) => x + t * d).ToArray();

        public double[] At(double t)
        {
            if (!_at.TryGetValue(t, out var gradient))
            {
                _at[t] = gradient = probe.Gradient(PointAt(t));
                _steps.Add(t);
            }
            return gradient;
        }

        /// <summary>True if a point of the stencils (run once to find their steps) sees a kink's argument on the other side.</summary>
        public bool Crosses()
        {
            double First(double[] t) => At(t[0])[0];
            NumericReference.EstimatedRelativeError(First, [0], 1);
            var baseline = TensorProperties.Signature(c, oracle.Probe(c.Arguments(point))).ToArray();
            return _steps.Any(t => !TensorProperties.Signature(c, oracle.Probe(c.Arguments(PointAt(t)))).SequenceEqual(baseline));
        }
    }

    /// <summary>The case's typed gradient, compiled once, and its typed Hessian-vector product, called by reflection, flat.</summary>
    private sealed class Typed
    {
        private readonly TensorCase _c;
        private readonly object _gradient;
        private readonly MethodInfo _evaluate;
        private readonly MethodInfo _product;

        public Typed(TensorCase c)
        {
            _c = c;
            var types = c.Parameters.Select(p => p.Type).ToArray();
            var of = typeof(Grad).GetMethods()
                .Single(m => m.Name == nameof(Grad.Of) && m.IsGenericMethodDefinition && m.GetGenericArguments().Length == types.Length)
                .MakeGenericMethod(types);
            _gradient = of.Invoke(null, [c.Lambda])!;
            _evaluate = _gradient.GetType().GetMethod("Evaluate", types)!;
            _product = _gradient.GetType().GetMethod("HessianVectorProduct", [.. types, .. types])!;
        }

        public double[] Gradient(double[] point)
        {
            var result = Invoke(_evaluate, _c.Arguments(point));
            return Flatten(Enumerable.Range(1, _c.Parameters.Count).Select(i => result.GetType().GetProperty($"D{i}")!.GetValue(result)!));
        }

        public double[] HessianVectorProduct(double[] point, double[] v)
        {
            var result = Invoke(_product, [.. _c.Arguments(point), .. _c.Arguments(v)]);
            // One parameter: H·v itself; more: a tuple of them.
            return Flatten(_c.Parameters.Count == 1 ? [result]
                : Enumerable.Range(1, _c.Parameters.Count).Select(i => result.GetType().GetField($"Item{i}")!.GetValue(result)!));
        }

        private object Invoke(MethodInfo method, object[] args)
        {
            try
            {
                return method.Invoke(_gradient, args)!;
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                // Every generated operation is in the catalogue and every shape conforms: any exception is a failure.
                throw new XunitException($"{_c}: {method.Name} threw {e.InnerException}\n{_c.Describe()}");
            }
        }

        private static double[] Flatten(IEnumerable<object> parts) => parts.SelectMany(part => part switch
        {
            double d => [d],
            double[] a => a,
            V vector => vector.ToArray(),
            M m => m.ToColumnMajorArray(),
            _ => throw new InvalidOperationException($"unexpected result {part.GetType()}"),
        }).ToArray();
    }

    private static XunitException Failure(TensorCase c, double[] point, double[] v, string what) =>
        new($"{what}\n  {c}\n{c.Describe()}  point = [{string.Join(", ", point.Select(x => x.ToString("R", CultureInfo.InvariantCulture)))}]\n" +
            $"  v = [{string.Join(", ", v.Select(x => x.ToString("R", CultureInfo.InvariantCulture)))}]\n" +
            "  reproduce: rerun with the FsCheck replay seed below");
}
