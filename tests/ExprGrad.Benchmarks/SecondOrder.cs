using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Benchmarks;

/// <summary>
/// The Hessian-vector product against one gradient of the same function (issue 15: ≤ 4 ×), on the depth-50 net and
/// on Rosenbrock n = 1,000 (the factory-built trees of <see cref="DepthNet"/> and <see cref="RosenbrockFunction"/>),
/// on Rosenbrock written as a loop over an array of any length (<see cref="LoopRosenbrockFunction"/>, n = 1,000), and on
/// the depth-1,000 net written as a fold (<see cref="LoopDepthNet"/>), all through the span API into preallocated buffers.
/// </summary>
[NoisyBoxJob, MemoryDiagnoser]
public class HessianVectorProduct
{
    private double[] _point = [];
    private double[] _v = [];
    private double[] _result = [];
    private Gradient<double[]> _g = null!;

    /// <summary>The function.</summary>
    [Params("depth-50 net", "Rosenbrock n=1000", "Rosenbrock loop n=1000", "fold net m=1000")]
    public string Function { get; set; } = "";

    /// <summary>Builds both kernels and checks the product against differences of the gradient along v.</summary>
    [GlobalSetup]
    public void Setup()
    {
        if (Function.StartsWith("depth", StringComparison.Ordinal))
        {
            _g = Grad.Of(new DepthNet().Lambda(50));
            _point = Enumerable.Range(0, 50).Select(k => 1.0 + 0.5 * Math.Cos(k)).ToArray();
        }
        else if (Function.StartsWith("fold", StringComparison.Ordinal))
        {
            // The depth-m net as a fold over its weights: H·v crosses the fold's pullback as the fold's tangent.
            _g = Grad.Of(new LoopDepthNet().Lambda());
            _point = Enumerable.Range(0, LoopDepthNet.M).Select(k => -4 - 0.5 * Math.Cos(k)).ToArray();
        }
        else
        {
            _g = Grad.Of(Function.Contains("loop", StringComparison.Ordinal) ? LoopRosenbrockFunction.Lambda() : RosenbrockFunction.Lambda(1000));
            _point = RosenbrockFunction.Point(1000);
        }
        var n = _point.Length;
        _v = Enumerable.Range(0, n).Select(k => Math.Sin(k + 0.5)).ToArray();
        _result = new double[n];
        _g.HessianVectorProduct(_point, _v, _result);

        // (∇f(x + hv) − ∇f(x − hv)) / 2h, a loose check that the benchmark measures the right thing.
        const double h = 1e-6;
        var (plus, minus) = (new double[n], new double[n]);
        _g.Evaluate(_point.Select((p, k) => p + h * _v[k]).ToArray(), plus);
        _g.Evaluate(_point.Select((p, k) => p - h * _v[k]).ToArray(), minus);
        var scale = _result.Max(Math.Abs);
        for (var k = 0; k < n; k++)
            if (Math.Abs((plus[k] - minus[k]) / (2 * h) - _result[k]) > 1e-5 * Math.Max(1, scale))
                throw new InvalidOperationException($"HessianVectorProduct[{k}] = {_result[k]}, differences give {(plus[k] - minus[k]) / (2 * h)}");
    }

    /// <summary>One gradient: the unit the product is measured in.</summary>
    [Benchmark(Baseline = true)]
    public double Gradient() => _g.Evaluate(_point, _result);

    /// <summary>H·v, staged from the gradient's own stages.</summary>
    [Benchmark]
    public void Product() => _g.HessianVectorProduct(_point, _v, _result);
}

/// <summary>
/// The dense Hessian of Rosenbrock n = 100 (issue 15: ≤ 1.5 × a hand-written one), into a preallocated row-major span:
/// the hand-written tridiagonal Hessian clears the matrix and writes its three bands.
/// </summary>
[NoisyBoxJob, MemoryDiagnoser]
public class DenseHessian
{
    private const int N = 100;
    private double[] _point = [];
    private double[] _hessian = [];
    private Gradient<double[]> _g = null!;

    /// <summary>Builds the Hessian kernel and checks it against the hand-written one.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _point = RosenbrockFunction.Point(N);
        _hessian = new double[N * N];
        _g = Grad.Of(RosenbrockFunction.Lambda(N));
        var expected = new double[N * N];
        HandWrittenHessian(_point, expected);
        _g.Hessian(_point, _hessian);
        Check.Close("Hessian", expected, _hessian);
    }

    /// <summary>The closed form: 1200 a_i² − 400 a_{i+1} + 2 (+ 200 from the previous term) on the diagonal, −400 a_i beside it.</summary>
    public static void HandWrittenHessian(double[] a, Span<double> h)
    {
        var n = a.Length;
        h[..(n * n)].Clear();
        for (var i = 0; i < n - 1; i++)
        {
            h[i * n + i] += 1200 * a[i] * a[i] - 400 * a[i + 1] + 2;
            h[i * n + i + 1] = -400 * a[i];
            h[(i + 1) * n + i] = -400 * a[i];
            h[(i + 1) * n + i + 1] = 200;
        }
    }

    /// <summary>The hand-written dense Hessian.</summary>
    [Benchmark(Baseline = true)]
    public void HandWritten() => HandWrittenHessian(_point, _hessian);

    /// <summary>ExprGrad's Hessian, entry by entry from the staged graph.</summary>
    [Benchmark]
    public void ExprGrad() => _g.Hessian(_point, _hessian);
}

/// <summary>
/// The typed Hessian-vector product of the D2L MLP at MNIST's sizes (<see cref="Mlp"/>: W1 256 × 784, W2 10 × 256, a
/// minibatch of 64) against one typed gradient of the same loss: H·v through products, relu's Map and the softmax
/// cross-entropy, swept twice.
/// </summary>
[NoisyBoxJob, MemoryDiagnoser]
public class MlpHessianVectorProduct
{
    private Matrix<double> _w1 = null!, _w2 = null!, _v1 = null!, _v2 = null!;
    private Gradient<Matrix<double>, Matrix<double>> _g = null!;

    /// <summary>Builds both kernels and checks the product against differences of the gradient along v.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(784);
        (var x, var y, _w1, _w2) = Mlp.Minibatch(rng);
        _v1 = Matrix<double>.Build.Dense(Mlp.H, Mlp.D, (_, _) => 2 * rng.NextDouble() - 1);
        _v2 = Matrix<double>.Build.Dense(Mlp.Q, Mlp.H, (_, _) => 2 * rng.NextDouble() - 1);
        _g = Grad.Of((Matrix<double> W1, Matrix<double> W2) =>
            Fn.CrossEntropy(W2 * (W1 * x).Map(Fn.Relu), y) + Mlp.Lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()));

        // (∇f(x + hv) − ∇f(x − hv)) / 2h, a loose check that the benchmark measures the right thing.
        const double h = 1e-7;
        var (h1, h2) = _g.HessianVectorProduct(_w1, _w2, _v1, _v2);
        var (_, p1, p2) = _g.Evaluate(_w1 + h * _v1, _w2 + h * _v2);
        var (_, m1, m2) = _g.Evaluate(_w1 - h * _v1, _w2 - h * _v2);
        var error = Math.Max(((p1 - m1) / (2 * h) - h1).InfinityNorm(), ((p2 - m2) / (2 * h) - h2).InfinityNorm());
        if (error > 1e-5 * Math.Max(1, Math.Max(h1.InfinityNorm(), h2.InfinityNorm())))
            throw new InvalidOperationException($"H·v differs from differences of the gradient by {error}");
    }

    /// <summary>One gradient: the unit the product is measured in.</summary>
    [Benchmark(Baseline = true)]
    public Matrix<double> Gradient() => _g.Evaluate(_w1, _w2).D1;

    /// <summary>H·v, staged from the gradient's own stages.</summary>
    [Benchmark]
    public Matrix<double> Product() => _g.HessianVectorProduct(_w1, _w2, _v1, _v2).H1;
}
