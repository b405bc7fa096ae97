using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

/// <summary>
/// Rosenbrock written as a LINQ sum over a <c>double[]</c> of any length (issue 14): the lambda a user writes, which
/// <see cref="Grad.Of{T1}"/> compiles to a loop. One gradient serves every n.
/// </summary>
public static class LoopRosenbrockFunction
{
    /// <summary>
    /// Σ_{i &lt; n−1} 100 (a[i+1] − a[i]²)² + (1 − a[i])², as issue 14 writes it. A fresh tree on every call: the C#
    /// compiler builds an expression tree each time a lambda converted to <c>Expression</c> is evaluated.
    /// </summary>
    public static Expression<Func<double[], double>> Lambda() =>
        a => Enumerable.Range(0, a.Length - 1).Sum(i => 100 * Math.Pow(a[i + 1] - a[i] * a[i], 2) + Math.Pow(1 - a[i], 2));

    /// <summary>
    /// A diagnostic, not a baseline: <see cref="RosenbrockFunction.ValueAndGradient"/> changed in the two ways ExprGrad's
    /// emitted loop differs from it. The gradient span is cleared in a pass of its own first (the flat kernel's
    /// <c>FlatFrame.Clear</c>), and g[i+1] is added to (<c>+=</c>, a load and a store) where the hand-written loop
    /// stores its first contribution. If this runs as fast as ExprGrad, those two are what ExprGrad pays for.
    /// </summary>
    public static double ValueAndGradientAsEmitted(double[] a, Span<double> gradient)
    {
        var n = a.Length;
        gradient[..n].Clear();
        var f = 0.0;
        for (var i = 0; i < n - 1; i++)
        {
            var ai = a[i];
            var t = a[i + 1] - ai * ai;
            var u = 1 - ai;
            f += 100 * (t * t) + u * u;
            gradient[i] += -400 * t * ai - 2 * u;
            gradient[i + 1] += 200 * t;
        }

        return f;
    }
}

/// <summary>
/// Rosenbrock as a loop at n = 10, 10³ and 10⁶: the plain loop, the hand-written value-and-gradient loop (baseline,
/// into a preallocated span) and ExprGrad's span API on the <see cref="LoopRosenbrockFunction.Lambda"/> gradient.
/// </summary>
[NoisyBoxJob, MemoryDiagnoser]
public partial class LoopRosenbrock
{
    private double[] _a = [];
    private double[] _gradient = [];
    private Gradient<double[]> _g = null!;

    /// <summary>The length of the point.</summary>
    [Params(10, 1_000, 1_000_000)]
    public int N { get; set; }

    /// <summary>Builds the gradient once and checks it against the hand-written loop at this n.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _a = RosenbrockFunction.Point(N);
        _gradient = new double[N];
        _g = Grad.Of(LoopRosenbrockFunction.Lambda());

        var expected = new double[N];
        var value = RosenbrockFunction.ValueAndGradient(_a, expected);
        Check.Close("primal", value, RosenbrockFunction.Value(_a));
        Check.VariableLengthGradient(_g, _a, value, expected);
        var asEmitted = new double[N];
        Check.Close("as emitted", [value, .. expected], [LoopRosenbrockFunction.ValueAndGradientAsEmitted(_a, asEmitted), .. asEmitted]);
        var generated = new double[N];
        Check.Close("generated", [value, .. expected], [ForLoopWithGradient(_a, generated), .. generated]);
        Console.WriteLine($"// LoopRosenbrock n={N}: {_g.StageCount} stages");
    }

    /// <summary>The function alone: the plain loop.</summary>
    [Benchmark]
    public double Primal() => RosenbrockFunction.Value(_a);

    /// <summary>The standard single value-and-gradient loop, writing into a preallocated span.</summary>
    [Benchmark(Baseline = true)]
    public double HandWritten() => RosenbrockFunction.ValueAndGradient(_a, _gradient);

    /// <summary>The diagnostic <see cref="LoopRosenbrockFunction.ValueAndGradientAsEmitted"/>.</summary>
    [Benchmark]
    public double HandWrittenAsEmitted() => LoopRosenbrockFunction.ValueAndGradientAsEmitted(_a, _gradient);

    /// <summary>ExprGrad's compiled loop through the span API: the point is the array itself.</summary>
    [Benchmark]
    public double ExprGradSpan() => _g.Evaluate(_a, _gradient);

    /// <summary>The same function as a <c>[Differentiable]</c> method with a <c>for</c> loop: the generator's gradient, inlined.</summary>
    [Benchmark]
    public double ExprGradGenerated() => ForLoopWithGradient(_a, _gradient);

    [Differentiable]
    private static double ForLoop(double[] a)
    {
        var f = 0.0;
        for (var i = 0; i < a.Length - 1; i++)
            f += 100 * Fn.Square(a[i + 1] - a[i] * a[i]) + Fn.Square(1 - a[i]);
        return f;
    }
}
