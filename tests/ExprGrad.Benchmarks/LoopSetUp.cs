using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

/// <summary>
/// The one-off cost of <see cref="Grad.Of{T1}"/> (import, reverse sweep, <c>Expression.Compile</c>) on the LINQ
/// Rosenbrock lambda of <see cref="LoopRosenbrockFunction"/>. The lambda has no n in it: the length is read at each
/// call, so the measured call is the same at every n.
/// </summary>
/// <remarks>
/// <see cref="N"/> only picks the point at which the set-up checks the gradient (the whole point of the measurement
/// is that Grad.Of cannot depend on it); both rows run the identical call, and their difference is the noise.
/// </remarks>
[SetUpJob, MemoryDiagnoser]
public class LoopSetUp
{
    private Expression<Func<double[], double>> _lambda = null!;
    private readonly double[] _point = [0.5, 0.51, 0.52];
    private readonly double[] _gradient = new double[3];

    /// <summary>The length at which the built gradient is checked; Grad.Of never sees it.</summary>
    [Params(10, 1_000_000)]
    public int N { get; set; }

    /// <summary>Checks that one gradient, built once, is right at length <see cref="N"/>.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var g = Grad.Of(LoopRosenbrockFunction.Lambda());
        var a = RosenbrockFunction.Point(N);
        var expected = new double[N];
        var value = RosenbrockFunction.ValueAndGradient(a, expected);
        Check.VariableLengthGradient(g, a, value, expected);
        Console.WriteLine($"// LoopSetUp: checked at n={N}, {g.StageCount} stages");
    }

    /// <summary>A fresh tree for every call, so a cache keyed on the tree (if the engine had one) could not hit.</summary>
    [IterationSetup]
    public void FreshTree() => _lambda = LoopRosenbrockFunction.Lambda();

    /// <summary>Grad.Of on the LINQ lambda: construction and compilation of the typed kernel.</summary>
    [Benchmark]
    public Gradient GradOf() => Grad.Of(_lambda);

    /// <summary>
    /// Grad.Of, then one span call on a 3-element point: the span API's flat kernel is compiled on its first use, so
    /// this is what a caller of the span API pays before its first gradient (the evaluation itself is nanoseconds).
    /// </summary>
    [Benchmark]
    public double GradOfThenFirstSpanCall() => Grad.Of(_lambda).Evaluate(_point, _gradient);
}
