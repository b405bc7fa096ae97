using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

// The n-dimensional Rosenbrock function f(a) = Σ_{i<n-1} 100 (a[i+1] - a[i]²)² + (1 - a[i])².
public static class RosenbrockFunction
{
    public static double Value(double[] a)
    {
        var f = 0.0;
        for (var i = 0; i < a.Length - 1; i++)
        {
            var t = a[i + 1] - a[i] * a[i];
            var u = 1 - a[i];
            f += 100 * (t * t) + u * u;
        }

        return f;
    }

    // The standard hand-written gradient loop: each term touches a[i] and a[i+1].
    public static double ValueAndGradient(double[] a, Span<double> gradient)
    {
        var n = a.Length;
        var f = 0.0;
        gradient[0] = 0;
        for (var i = 0; i < n - 1; i++)
        {
            var ai = a[i];
            var t = a[i + 1] - ai * ai;
            var u = 1 - ai;
            f += 100 * (t * t) + u * u;
            gradient[i] += -400 * t * ai - 2 * u;
            gradient[i + 1] = 200 * t; // first contribution to a[i+1]; term i+1 adds its own with +=
        }

        return f;
    }

    // The same function as a factory-built tree over a double[] parameter: a left-leaning sum of n-1 terms
    // 100 * Fn.Square(a[i+1] - Fn.Square(a[i])) + Fn.Square(1 - a[i]), every a[k] read a fresh ArrayIndex node
    // (as the C# compiler would emit for a lambda written out by hand).
    public static Expression<Func<double[], double>> Lambda(int n)
    {
        var square = typeof(Fn).GetMethod(nameof(Fn.Square))!;
        var a = Expression.Parameter(typeof(double[]), "a");
        Expression At(int i) => Expression.ArrayIndex(a, Expression.Constant(i));

        Expression? sum = null;
        for (var i = 0; i < n - 1; i++)
        {
            var t = Expression.Subtract(At(i + 1), Expression.Call(square, At(i)));
            var term = Expression.Add(
                Expression.Multiply(Expression.Constant(100.0), Expression.Call(square, t)),
                Expression.Call(square, Expression.Subtract(Expression.Constant(1.0), At(i))));
            sum = sum is null ? term : Expression.Add(sum, term);
        }

        return Expression.Lambda<Func<double[], double>>(sum ?? Expression.Constant(0.0), a);
    }

    // Number of nodes in a tree, counting every occurrence (so the parameter a is counted once per a[k] read).
    public static int CountNodes(Expression e)
    {
        var counter = new NodeCounter();
        counter.Visit(e);
        return counter.Count;
    }

    // The point a[i] = 0.5 + 0.01 i: not a stationary point, all gradient entries nonzero.
    public static double[] Point(int n)
    {
        var a = new double[n];
        for (var i = 0; i < n; i++)
            a[i] = 0.5 + 0.01 * i;
        return a;
    }

    private sealed class NodeCounter : ExpressionVisitor
    {
        public int Count { get; private set; }

        public override Expression? Visit(Expression? node)
        {
            if (node is not null)
                Count++;
            return base.Visit(node);
        }
    }
}

[NoisyBoxJob, MemoryDiagnoser]
public class Rosenbrock
{
    private double[] _a = [];
    private double[] _gradient = [];
    private Gradient<double[]> _g = null!;

    [Params(10, 1000)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _a = RosenbrockFunction.Point(N);
        _gradient = new double[N];
        _g = Grad.Of(RosenbrockFunction.Lambda(N));

        var expected = new double[N];
        var value = RosenbrockFunction.ValueAndGradient(_a, expected);
        Check.Close("primal", value, RosenbrockFunction.Value(_a));
        Check.ArrayGradient(_g, _a, value, expected);
        Console.WriteLine($"// Rosenbrock n={N}: {_g.StageCount} stages");
    }

    [Benchmark]
    public double Primal() => RosenbrockFunction.Value(_a);

    [Benchmark(Baseline = true)]
    public double HandWritten() => RosenbrockFunction.ValueAndGradient(_a, _gradient);

    [Benchmark]
    public ValueAndGradient<double[]> ExprGradTyped() => _g.Evaluate(_a);

    [Benchmark]
    public double ExprGradSpan() => _g.Evaluate(_a, _gradient);
}

// Rosenbrock in 10 dimensions written out as a [Differentiable] method, the same tree as RosenbrockFunction.Lambda(10):
// the gradient the source generator writes at compile time, against the same baselines as in Rosenbrock.
[NoisyBoxJob, MemoryDiagnoser]
public partial class Rosenbrock10
{
    private double[] _a = RosenbrockFunction.Point(10);
    private double[] _gradient = new double[10];
    private Gradient<double[]> _g = null!;

    [Differentiable]
    public static double F(double[] a) =>
        100 * Fn.Square(a[1] - Fn.Square(a[0])) + Fn.Square(1 - a[0]) +
        100 * Fn.Square(a[2] - Fn.Square(a[1])) + Fn.Square(1 - a[1]) +
        100 * Fn.Square(a[3] - Fn.Square(a[2])) + Fn.Square(1 - a[2]) +
        100 * Fn.Square(a[4] - Fn.Square(a[3])) + Fn.Square(1 - a[3]) +
        100 * Fn.Square(a[5] - Fn.Square(a[4])) + Fn.Square(1 - a[4]) +
        100 * Fn.Square(a[6] - Fn.Square(a[5])) + Fn.Square(1 - a[5]) +
        100 * Fn.Square(a[7] - Fn.Square(a[6])) + Fn.Square(1 - a[6]) +
        100 * Fn.Square(a[8] - Fn.Square(a[7])) + Fn.Square(1 - a[7]) +
        100 * Fn.Square(a[9] - Fn.Square(a[8])) + Fn.Square(1 - a[8]);

    [GlobalSetup]
    public void Setup()
    {
        _g = Grad.Of(RosenbrockFunction.Lambda(10));
        var expected = new double[10];
        var value = RosenbrockFunction.ValueAndGradient(_a, expected);
        Check.Close("primal", value, F(_a));
        var generated = new double[10];
        Check.Close("generated", [value, .. expected], [FWithGradient(_a, generated), .. generated]);
        Check.ArrayGradient(_g, _a, value, expected);
    }

    [Benchmark]
    public double Primal() => RosenbrockFunction.Value(_a);

    [Benchmark(Baseline = true)]
    public double HandWritten() => RosenbrockFunction.ValueAndGradient(_a, _gradient);

    [Benchmark]
    public double ExprGradSpan() => _g.Evaluate(_a, _gradient);

    [Benchmark]
    public double ExprGradGenerated() => FWithGradient(_a, _gradient);
}
