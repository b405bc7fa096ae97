using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Benchmarks;

// The D2L MLP of issue 4 on a minibatch, at MNIST's sizes: d = 784 inputs, h = 256 hidden units, q = 10 classes,
// n = 64 examples per batch (one per column), relu, cross-entropy (mean over the batch) and the λ/2 (‖W1‖²_F + ‖W2‖²_F)
// regularizer:
//   Z = W1 X,  H = relu(Z),  O = W2 H,  J = CrossEntropy(O, Y) + λ/2 (‖W1‖²_F + ‖W2‖²_F)
// X and Y are fields the ExprGrad lambda captures (read live at every call, never differentiated).
//
// Three versions in one run:
//   Primal       the forward loss only, with the same MathNet calls (the cheap-gradient bound is ≤ 4 × this);
//   HandWritten  the backprop a user writes with MathNet (the baseline; the target is ExprGrad ≤ 1.2 × this);
//   ExprGradTyped g.Evaluate(W1, W2), which returns fresh dW1, dW2 (there is no span API for tensor parameters).
// Two products of the large shapes dominate: W1·X (256 × 784 × 64) forward, and dZ·Xᵀ backward, so the gradient
// costs about twice the primal. Since issue 17 ExprGrad runs them on its own kernel (Gemm), the hand-written rows on
// MathNet's; the NoisyBox1Core job runs everything on one core (TorchSharp's references: 2.69 ms on 1 thread,
// 1.88 ms on 2). The MathNet versions allocate intermediates and results as plain MathNet code does; ExprGrad keeps its
// temporaries per thread and allocates about the gradients it returns. The memory diagnoser reports bytes per call.
[NoisyBoxJob, NoisyBoxOneCoreJob, MemoryDiagnoser]
public class Mlp
{
    public const int D = 784, H = 256, Q = 10, N = 64;
    public const double Lambda = 1e-3;

    private Matrix<double> _x = null!, _y = null!, _w1 = null!, _w2 = null!;
    private Gradient<Matrix<double>, Matrix<double>> _g = null!;

    public static double Loss(Matrix<double> w1, Matrix<double> w2, Matrix<double> x, Matrix<double> y)
    {
        var (n1, n2) = (w1.FrobeniusNorm(), w2.FrobeniusNorm());
        return Fn.CrossEntropy(w2 * (w1 * x).Map(Fn.Relu), y) + Lambda / 2 * (n1 * n1 + n2 * n2);
    }

    // The staged backprop of the seeds: forward caching Z, H, O; backward in reverse order. Y is one-hot, so each
    // column's Σy is 1 and the cross-entropy's gradient in O is (softmax(O) − Y) / n.
    public static (double J, Matrix<double> DW1, Matrix<double> DW2) HandGrad(
        Matrix<double> w1, Matrix<double> w2, Matrix<double> x, Matrix<double> y)
    {
        // forward
        var z = w1 * x;                                             // h × n
        var h = z.Map(Fn.Relu);
        var o = w2 * h;                                             // q × n
        var (n1, n2) = (w1.FrobeniusNorm(), w2.FrobeniusNorm());
        var j = Fn.CrossEntropy(o, y) + Lambda / 2 * (n1 * n1 + n2 * n2);

        // backward
        var dO = (Fn.Softmax(o) - y) / x.ColumnCount;              // ∂J/∂O
        var dW2 = dO.TransposeAndMultiply(h) + Lambda * w2;         // ∂J/∂O Hᵀ + λW2
        var dH = w2.TransposeThisAndMultiply(dO);                   // W2ᵀ ∂J/∂O
        var dZ = dH.PointwiseMultiply(z.Map(t => t > 0 ? 1.0 : 0.0)); // ∂J/∂H ⊙ relu'(Z)
        var dW1 = dZ.TransposeAndMultiply(x) + Lambda * w1;         // ∂J/∂Z Xᵀ + λW1
        return (j, dW1, dW2);
    }

    /// <summary>Seeded data shaped like MNIST: pixels in [0, 1), one-hot labels, weights uniform in ±1/√fan-in.</summary>
    public static (Matrix<double> X, Matrix<double> Y, Matrix<double> W1, Matrix<double> W2) Minibatch(Random rng)
    {
        var x = Matrix<double>.Build.Dense(D, N, (_, _) => rng.NextDouble());
        var y = Matrix<double>.Build.Dense(Q, N);
        for (var k = 0; k < N; k++)
            y[rng.Next(Q), k] = 1;
        var w1 = Matrix<double>.Build.Dense(H, D, (_, _) => (2 * rng.NextDouble() - 1) / Math.Sqrt(D));
        var w2 = Matrix<double>.Build.Dense(Q, H, (_, _) => (2 * rng.NextDouble() - 1) / Math.Sqrt(H));
        return (x, y, w1, w2);
    }

    [GlobalSetup]
    public void Setup()
    {
        (_x, _y, _w1, _w2) = Minibatch(new Random(784));

        _g = Grad.Of((Matrix<double> W1, Matrix<double> W2) =>
            Fn.CrossEntropy(W2 * (W1 * _x).Map(Fn.Relu), _y) + Lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()));

        var (j, dW1, dW2) = HandGrad(_w1, _w2, _x, _y);
        Check.Close("primal", j, Loss(_w1, _w2, _x, _y));
        CheckAgainstDifferences(dW1, dW2);

        var (value, d1, d2) = _g.Evaluate(_w1, _w2);
        Check.Close("value", j, value);
        Check.Close("dW1", dW1, d1);
        Check.Close("dW2", dW2, d2);
        Console.WriteLine($"// Mlp {H}×{D}, {Q}×{H}, batch {N}: {_g.StageCount} stages, J {j:R}, ‖dW1‖ {dW1.FrobeniusNorm():R}, ‖dW2‖ {dW2.FrobeniusNorm():R}");
    }

    // The hand-written gradient against five-point central differences of Loss on a few entries of each matrix, so
    // the baseline is known right before ExprGrad is compared with it. Entries of W1 are taken only where the
    // stencil (±2h on W1[i, c] moves Z[i, k] by at most 2h·X[c, k]) cannot cross relu's kink.
    private void CheckAgainstDifferences(Matrix<double> dW1, Matrix<double> dW2)
    {
        var step = Math.Pow(Math.Pow(2, -52), 0.2);
        var z = _w1 * _x;
        var checkedW1 = 0;
        for (var i = 0; i < H && checkedW1 < 3; i += 37)
            for (var c = 0; c < D && checkedW1 < 3; c += 101)
            {
                var safe = true;
                for (var k = 0; k < N; k++)
                    safe &= Math.Abs(z[i, k]) > 4 * step * Math.Abs(_x[c, k]);
                if (!safe)
                    continue;
                Numeric($"dW1[{i},{c}]", dW1[i, c], _w1, i, c, step);
                checkedW1++;
            }
        if (checkedW1 == 0)
            throw new InvalidOperationException("no entry of W1 clear of relu's kink to check by differences");
        foreach (var (i, c) in new[] { (0, 0), (3, 100), (9, 255) })
            Numeric($"dW2[{i},{c}]", dW2[i, c], _w2, i, c, step);
    }

    private void Numeric(string what, double analytic, Matrix<double> w, int i, int c, double step)
    {
        var original = w[i, c];
        var h = step * Math.Max(1, Math.Abs(original));
        double At(double offset)
        {
            w[i, c] = original + offset;
            return Loss(_w1, _w2, _x, _y);
        }
        var numeric = (At(-2 * h) - 8 * At(-h) + 8 * At(h) - At(2 * h)) / (12 * h);
        w[i, c] = original;
        if (!(Math.Abs(numeric - analytic) <= 1e-6 * Math.Abs(analytic) + 1e-10))
            throw new InvalidOperationException($"hand-written {what} = {analytic:R}, central differences give {numeric:R}");
    }

    [Benchmark]
    public double Primal() => Loss(_w1, _w2, _x, _y);

    [Benchmark(Baseline = true)]
    public (double, Matrix<double>, Matrix<double>) HandWritten() => HandGrad(_w1, _w2, _x, _y);

    [Benchmark]
    public ValueAndGradient<Matrix<double>, Matrix<double>> ExprGradTyped() => _g.Evaluate(_w1, _w2);
}
