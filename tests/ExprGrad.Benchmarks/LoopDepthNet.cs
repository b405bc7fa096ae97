using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

/// <summary>
/// The depth-m net of <see cref="DepthNet"/> written as a fold (issue 14):
/// <c>o = Range(0, m − 1).Aggregate(x, (o, k) =&gt; σ(o·w[k]))</c>, <c>yhat = o·w[m−1]</c>,
/// <c>loss = 0.5 (y − yhat)²</c>, at m = 1,000, against <see cref="DepthNet.HandGrad"/>'s forward-and-backward loops.
/// </summary>
[NoisyBoxJob, MemoryDiagnoser]
public class LoopDepthNet
{
    // The data point, read by the lambda as fields of this object, as a C# closure reads them.
    private double _x = 0.7;
    private double _y = 0.3;

    private double[] _w = [];
    private double[] _o = [];
    private double[] _gradient = [];
    private Gradient<double[]> _g = null!;

    /// <summary>The depth of the net: the number of weights.</summary>
    public const int M = 1_000;

    /// <summary>The net as a user writes it, with the fold over the first m − 1 weights and the last weight, at any m.</summary>
    public Expression<Func<double[], double>> Lambda() =>
        w => 0.5 * Fn.Square(_y - Enumerable.Range(0, w.Length - 1).Aggregate(_x, (o, k) => Fn.Sigmoid(o * w[k])) * w[w.Length - 1]);

    /// <summary>
    /// Weights w[k] = −4 − 0.5 cos k. <see cref="DepthNet"/>'s weights (about 1) shrink the gradient by
    /// w·σ′ ≤ 0.4 a layer, which at m = 1,000 is far below the smallest double: every version would run on
    /// subnormals or zeros. Near −4 the layers settle where o ≈ 0.26 and |w σ′| ≈ 0.8, so dw[0] stays a normal number.
    /// </summary>
    [GlobalSetup]
    public void Setup()
    {
        _w = new double[M];
        for (var k = 0; k < M; k++)
            _w[k] = -4 - 0.5 * Math.Cos(k);
        _o = new double[M];
        _gradient = new double[M];
        _g = Grad.Of(Lambda());

        var expected = new double[M];
        var value = DepthNet.HandGrad(_w, _x, _y, _o, expected);
        Check.Close("primal", value, DepthNet.Loss(_w, _x, _y));
        var smallest = expected.Min(Math.Abs);
        if (!(smallest >= 1e-290)) // the smallest normal double is 2.2e-308
            throw new InvalidOperationException($"a gradient entry is {smallest:R}: too close to the subnormal range");
        Check.VariableLengthGradient(_g, _w, value, expected);
        Console.WriteLine($"// LoopDepthNet m={M}: {_g.StageCount} stages, loss {value:R}, dw[0] {expected[0]:R}, smallest |dw| {smallest:R}");
    }

    /// <summary>The loss alone: the forward loop.</summary>
    [Benchmark]
    public double Primal() => DepthNet.Loss(_w, _x, _y);

    /// <summary>The forward loop caching every layer's output in reusable scratch, then the backward loop.</summary>
    [Benchmark(Baseline = true)]
    public double HandWritten() => DepthNet.HandGrad(_w, _x, _y, _o, _gradient);

    /// <summary>ExprGrad's fold and its reverse fold over the tape, through the span API.</summary>
    [Benchmark]
    public double ExprGradSpan() => _g.Evaluate(_w, _gradient);
}
