using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

// The four small seed functions, one class each so that every class has its own hand-written baseline.
//
// A seed's primal is one or two instructions once inlined, below what a single benchmark invocation can resolve
// (BenchmarkDotNet reports it as indistinguishable from an empty method, and every ratio to it as "?"). So each
// invocation evaluates a batch of Batch copies of the seed point, read from arrays (the JIT cannot fold or hoist
// them), writing every value and gradient to its own output slot, and OperationsPerInvoke reports the time per
// evaluation. All four variants run the identical loop, so the loop's cost is shared and the ratios stay fair.
//
// Hand-written gradients follow the CS231n staging: a forward pass into named locals, then a backward pass in
// reverse order, with += where a value fans out to more than one use.
public static class SeedBatch
{
    public const int Size = 16;

    // Size copies of a point, laid out one after another (the span API's flat layout).
    public static double[] Repeat(params double[] point)
    {
        var batch = new double[Size * point.Length];
        for (var i = 0; i < Size; i++)
            point.CopyTo(batch, i * point.Length);
        return batch;
    }
}

[NoisyBoxJob, MemoryDiagnoser]
public partial class SeedMul
{
    private const int Dim = 2, N = SeedBatch.Size;
    private double[] _points = SeedBatch.Repeat(4, -3);
    private double[] _values = new double[N];
    private double[] _gradients = new double[N * Dim];
    private Gradient<double, double> _g = null!;
    private Func<double, double, double> _compiledPrimal = null!;

    // [Differentiable]: the source generator writes FWithGradient, the staged gradient as C# compiled with this class.
    [Differentiable]
    public static double F(double x, double y) => x * y;

    public static double HandGrad(double x, double y, Span<double> gradient)
    {
        var f = x * y;
        gradient[0] = y; // df/dx
        gradient[1] = x; // df/dy
        return f;
    }

    [GlobalSetup]
    public void Setup()
    {
        Expression<Func<double, double, double>> f = (x, y) => x * y;
        _g = Grad.Of(f);
        _compiledPrimal = f.Compile();
        Check.Equal("Dimension", Dim, _g.Dimension);
        var (x, y) = (_points[0], _points[1]);
        var expected = new double[Dim];
        var value = HandGrad(x, y, expected);
        Check.Close("primal", value, F(x, y));
        var (v, dx, dy) = _g.Evaluate(x, y);
        Check.Close("typed", [value, .. expected], [v, dx, dy]);
        var g = new double[Dim];
        Check.Close("span", [value, .. expected], [_g.Evaluate(_points.AsSpan(0, Dim), g), .. g]);
        Check.Close("generated", [value, .. expected], [FWithGradient(_points[0], _points[1], out g[0], out g[1]), .. g]);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void Primal()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = F(p[Dim * i], p[Dim * i + 1]);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public void HandWritten()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = HandGrad(p[Dim * i], p[Dim * i + 1], _gradients.AsSpan(Dim * i, Dim));
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradTyped()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
        {
            var (v, dx, dy) = _g.Evaluate(p[Dim * i], p[Dim * i + 1]);
            _values[i] = v;
            _gradients[Dim * i] = dx;
            _gradients[Dim * i + 1] = dy;
        }
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradSpan()
    {
        for (var i = 0; i < N; i++)
            _values[i] = _g.Evaluate(_points.AsSpan(Dim * i, Dim), _gradients.AsSpan(Dim * i, Dim));
    }

    // The floor of any gradient compiled at run time: the primal alone, compiled from the same lambda by
    // Expression.Compile and called through its delegate, which the JIT cannot inline into this loop.
    [Benchmark(OperationsPerInvoke = N)]
    public void CompiledPrimal()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = _compiledPrimal(p[Dim * i], p[Dim * i + 1]);
    }

    // Generated at compile time from [Differentiable] F: plain C#, so the JIT inlines it into this loop as it inlines
    // the hand-written gradient.
    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradGenerated()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = FWithGradient(p[Dim * i], p[Dim * i + 1], out _gradients[Dim * i], out _gradients[Dim * i + 1]);
    }
}

[NoisyBoxJob, MemoryDiagnoser]
public partial class SeedAddMul
{
    private const int Dim = 3, N = SeedBatch.Size;
    private double[] _points = SeedBatch.Repeat(-2, 5, -4);
    private double[] _values = new double[N];
    private double[] _gradients = new double[N * Dim];
    private Gradient<double, double, double> _g = null!;

    // [Differentiable]: the source generator writes FWithGradient, the staged gradient as C# compiled with this class.
    [Differentiable]
    public static double F(double x, double y, double z) => (x + y) * z;

    public static double HandGrad(double x, double y, double z, Span<double> gradient)
    {
        // forward
        var q = x + y;
        var f = q * z;
        // backward
        var dq = z;
        var dz = q;
        var dx = dq;
        var dy = dq;
        gradient[0] = dx;
        gradient[1] = dy;
        gradient[2] = dz;
        return f;
    }

    [GlobalSetup]
    public void Setup()
    {
        _g = Grad.Of((double x, double y, double z) => (x + y) * z);
        Check.Equal("Dimension", Dim, _g.Dimension);
        var (x, y, z) = (_points[0], _points[1], _points[2]);
        var expected = new double[Dim];
        var value = HandGrad(x, y, z, expected);
        Check.Close("primal", value, F(x, y, z));
        var (v, dx, dy, dz) = _g.Evaluate(x, y, z);
        Check.Close("typed", [value, .. expected], [v, dx, dy, dz]);
        var g = new double[Dim];
        Check.Close("span", [value, .. expected], [_g.Evaluate(_points.AsSpan(0, Dim), g), .. g]);
        Check.Close("generated", [value, .. expected], [FWithGradient(_points[0], _points[1], _points[2], out g[0], out g[1], out g[2]), .. g]);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void Primal()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = F(p[Dim * i], p[Dim * i + 1], p[Dim * i + 2]);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public void HandWritten()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = HandGrad(p[Dim * i], p[Dim * i + 1], p[Dim * i + 2], _gradients.AsSpan(Dim * i, Dim));
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradTyped()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
        {
            var (v, dx, dy, dz) = _g.Evaluate(p[Dim * i], p[Dim * i + 1], p[Dim * i + 2]);
            _values[i] = v;
            _gradients[Dim * i] = dx;
            _gradients[Dim * i + 1] = dy;
            _gradients[Dim * i + 2] = dz;
        }
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradSpan()
    {
        for (var i = 0; i < N; i++)
            _values[i] = _g.Evaluate(_points.AsSpan(Dim * i, Dim), _gradients.AsSpan(Dim * i, Dim));
    }

    // Generated at compile time from [Differentiable] F: plain C#, so the JIT inlines it into this loop as it inlines
    // the hand-written gradient.
    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradGenerated()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = FWithGradient(p[Dim * i], p[Dim * i + 1], p[Dim * i + 2], out _gradients[Dim * i], out _gradients[Dim * i + 1], out _gradients[Dim * i + 2]);
    }
}

// The 2-input sigmoid neuron, parameters in the order (w0, w1, w2, x0, x1).
[NoisyBoxJob, MemoryDiagnoser]
public partial class SeedNeuron
{
    private const int Dim = 5, N = SeedBatch.Size;
    private double[] _points = SeedBatch.Repeat(2, -3, -3, -1, -2);
    private double[] _values = new double[N];
    private double[] _gradients = new double[N * Dim];
    private Gradient<double, double, double, double, double> _g = null!;

    // [Differentiable]: the source generator writes FWithGradient, the staged gradient as C# compiled with this class.
    [Differentiable]
    public static double F(double w0, double w1, double w2, double x0, double x1) =>
        Fn.Sigmoid(w0 * x0 + w1 * x1 + w2);

    // Uses Fn.Sigmoid (not an inline 1/(1+exp(-x))) so all versions share one sigmoid and the comparison
    // measures the differentiation, not two sigmoid formulas.
    public static double HandGrad(double w0, double w1, double w2, double x0, double x1, Span<double> gradient)
    {
        // forward
        var dot = w0 * x0 + w1 * x1 + w2;
        var f = Fn.Sigmoid(dot);
        // backward
        var ddot = (1 - f) * f;
        gradient[0] = x0 * ddot; // dw0
        gradient[1] = x1 * ddot; // dw1
        gradient[2] = ddot;      // dw2
        gradient[3] = w0 * ddot; // dx0
        gradient[4] = w1 * ddot; // dx1
        return f;
    }

    [GlobalSetup]
    public void Setup()
    {
        _g = Grad.Of((double w0, double w1, double w2, double x0, double x1) => Fn.Sigmoid(w0 * x0 + w1 * x1 + w2));
        Check.Equal("Dimension", Dim, _g.Dimension);
        var p = _points;
        var expected = new double[Dim];
        var value = HandGrad(p[0], p[1], p[2], p[3], p[4], expected);
        Check.Close("primal", value, F(p[0], p[1], p[2], p[3], p[4]));
        var (v, dw0, dw1, dw2, dx0, dx1) = _g.Evaluate(p[0], p[1], p[2], p[3], p[4]);
        Check.Close("typed", [value, .. expected], [v, dw0, dw1, dw2, dx0, dx1]);
        var g = new double[Dim];
        Check.Close("span", [value, .. expected], [_g.Evaluate(_points.AsSpan(0, Dim), g), .. g]);
        Check.Close("generated", [value, .. expected], [FWithGradient(_points[0], _points[1], _points[2], _points[3], _points[4], out g[0], out g[1], out g[2], out g[3], out g[4]), .. g]);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void Primal()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
        {
            var j = Dim * i;
            _values[i] = F(p[j], p[j + 1], p[j + 2], p[j + 3], p[j + 4]);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public void HandWritten()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
        {
            var j = Dim * i;
            _values[i] = HandGrad(p[j], p[j + 1], p[j + 2], p[j + 3], p[j + 4], _gradients.AsSpan(j, Dim));
        }
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradTyped()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
        {
            var j = Dim * i;
            var (v, dw0, dw1, dw2, dx0, dx1) = _g.Evaluate(p[j], p[j + 1], p[j + 2], p[j + 3], p[j + 4]);
            _values[i] = v;
            _gradients[j] = dw0;
            _gradients[j + 1] = dw1;
            _gradients[j + 2] = dw2;
            _gradients[j + 3] = dx0;
            _gradients[j + 4] = dx1;
        }
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradSpan()
    {
        for (var i = 0; i < N; i++)
            _values[i] = _g.Evaluate(_points.AsSpan(Dim * i, Dim), _gradients.AsSpan(Dim * i, Dim));
    }

    // Generated at compile time from [Differentiable] F: plain C#, so the JIT inlines it into this loop as it inlines
    // the hand-written gradient.
    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradGenerated()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = FWithGradient(p[Dim * i], p[Dim * i + 1], p[Dim * i + 2], p[Dim * i + 3], p[Dim * i + 4], out _gradients[Dim * i], out _gradients[Dim * i + 1], out _gradients[Dim * i + 2], out _gradients[Dim * i + 3], out _gradients[Dim * i + 4]);
    }
}

// The staged example from the CS231n backpropagation notes.
[NoisyBoxJob, MemoryDiagnoser]
public partial class SeedCs231n
{
    private const int Dim = 2, N = SeedBatch.Size;
    private double[] _points = SeedBatch.Repeat(3, -4);
    private double[] _values = new double[N];
    private double[] _gradients = new double[N * Dim];
    private Gradient<double, double> _g = null!;

    // [Differentiable]: the source generator writes FWithGradient, the staged gradient as C# compiled with this class.
    [Differentiable]
    public static double F(double x, double y) => (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + (x + y) * (x + y));

    // Stage for stage as in the notes (sigmoids via Fn.Sigmoid, as in SeedNeuron).
    public static double HandGrad(double x, double y, Span<double> gradient)
    {
        // forward pass
        var sigy = Fn.Sigmoid(y);    // sigmoid in numerator      #(1)
        var num = x + sigy;          // numerator                 #(2)
        var sigx = Fn.Sigmoid(x);    // sigmoid in denominator    #(3)
        var xpy = x + y;             //                           #(4)
        var xpysqr = xpy * xpy;      //                           #(5)
        var den = sigx + xpysqr;     // denominator               #(6)
        var invden = 1.0 / den;      //                           #(7)
        var f = num * invden;        // done!                     #(8)

        // backprop f = num * invden
        var dnum = invden;                           // #(8)
        var dinvden = num;                           // #(8)
        // backprop invden = 1.0 / den
        var dden = (-1.0 / (den * den)) * dinvden;   // #(7)
        // backprop den = sigx + xpysqr
        var dsigx = dden;                            // #(6)
        var dxpysqr = dden;                          // #(6)
        // backprop xpysqr = xpy**2
        var dxpy = (2 * xpy) * dxpysqr;              // #(5)
        // backprop xpy = x + y
        var dx = dxpy;                               // #(4)
        var dy = dxpy;                               // #(4)
        // backprop sigx = sigmoid(x)
        dx += ((1 - sigx) * sigx) * dsigx;           // #(3) note +=
        // backprop num = x + sigy
        dx += dnum;                                  // #(2)
        var dsigy = dnum;                            // #(2)
        // backprop sigy = sigmoid(y)
        dy += ((1 - sigy) * sigy) * dsigy;           // #(1)

        gradient[0] = dx;
        gradient[1] = dy;
        return f;
    }

    [GlobalSetup]
    public void Setup()
    {
        _g = Grad.Of((double x, double y) => (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + (x + y) * (x + y)));
        Check.Equal("Dimension", Dim, _g.Dimension);
        var (x, y) = (_points[0], _points[1]);
        var expected = new double[Dim];
        var value = HandGrad(x, y, expected);
        Check.Close("primal", value, F(x, y));
        var (v, dx, dy) = _g.Evaluate(x, y);
        Check.Close("typed", [value, .. expected], [v, dx, dy]);
        var g = new double[Dim];
        Check.Close("span", [value, .. expected], [_g.Evaluate(_points.AsSpan(0, Dim), g), .. g]);
        Check.Close("generated", [value, .. expected], [FWithGradient(_points[0], _points[1], out g[0], out g[1]), .. g]);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void Primal()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = F(p[Dim * i], p[Dim * i + 1]);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public void HandWritten()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = HandGrad(p[Dim * i], p[Dim * i + 1], _gradients.AsSpan(Dim * i, Dim));
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradTyped()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
        {
            var (v, dx, dy) = _g.Evaluate(p[Dim * i], p[Dim * i + 1]);
            _values[i] = v;
            _gradients[Dim * i] = dx;
            _gradients[Dim * i + 1] = dy;
        }
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradSpan()
    {
        for (var i = 0; i < N; i++)
            _values[i] = _g.Evaluate(_points.AsSpan(Dim * i, Dim), _gradients.AsSpan(Dim * i, Dim));
    }

    // Generated at compile time from [Differentiable] F: plain C#, so the JIT inlines it into this loop as it inlines
    // the hand-written gradient.
    [Benchmark(OperationsPerInvoke = N)]
    public void ExprGradGenerated()
    {
        var p = _points;
        for (var i = 0; i < N; i++)
            _values[i] = FWithGradient(p[Dim * i], p[Dim * i + 1], out _gradients[Dim * i], out _gradients[Dim * i + 1]);
    }
}
