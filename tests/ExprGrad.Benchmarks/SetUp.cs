using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

// The one-off cost of Grad.Of (import, reverse sweep, Expression.Compile) on Rosenbrock trees of about 1,000
// and 10,000 Linq nodes. No hand-written baseline: there is nothing to set up by hand.
[SetUpJob, MemoryDiagnoser]
public class SetUp
{
    private int _n;
    private Expression<Func<double[], double>> _lambda = null!;

    [Params(1_000, 10_000)]
    public int Nodes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // The node count is linear in n (a fixed count per term plus the lambda's own), so two sizes give the
        // line; take the smallest n with at least the target count.
        var c2 = RosenbrockFunction.CountNodes(RosenbrockFunction.Lambda(2));
        var perTerm = RosenbrockFunction.CountNodes(RosenbrockFunction.Lambda(3)) - c2;
        _n = 2 + Math.Max(0, (Nodes - c2 + perTerm - 1) / perTerm);
        var lambda = RosenbrockFunction.Lambda(_n);
        var count = RosenbrockFunction.CountNodes(lambda);

        var g = Grad.Of(lambda);
        var a = RosenbrockFunction.Point(_n);
        var expected = new double[_n];
        var value = RosenbrockFunction.ValueAndGradient(a, expected);
        var actual = new double[_n];
        Check.Close("value", value, g.Evaluate(a, actual));
        Check.Close("gradient", expected, actual);
        Console.WriteLine($"// SetUp: Rosenbrock n={_n}, {count} Linq nodes, {g.StageCount} stages");
    }

    // A fresh tree for every call, so a cache keyed on the tree (if the engine had one) could not hit.
    [IterationSetup]
    public void FreshTree() => _lambda = RosenbrockFunction.Lambda(_n);

    [Benchmark]
    public Gradient GradOf() => Grad.Of(_lambda);
}
