using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

/// <summary>
/// The logistic-regression loss Σ_i log(1 + exp(−y_i Σ_j X[i,j] w[j])) over a captured data set of 10,000 rows and
/// 100 features (<c>double[,]</c> X, labels y = ±1 in a <c>double[]</c>), in the weights w: a nested LINQ sum
/// (issue 14) against the hand-written value-and-gradient loops.
/// </summary>
[NoisyBoxJob, MemoryDiagnoser]
public class LoopLogistic
{
    private const int Rows = 10_000;
    private const int Features = 100;

    // The data, captured by the lambda as fields of this object (as a C# closure captures them): read on every call.
    private double[,] _x = new double[0, 0];
    private double[] _y = [];

    private double[] _w = [];
    private double[] _gradient = [];
    private double[] _z = [];
    private Gradient<double[]> _g = null!;

    /// <summary>The loss as a user writes it: a sum over the rows of a sum over the features.</summary>
    public Expression<Func<double[], double>> Lambda() =>
        w => Enumerable.Range(0, _y.Length).Sum(i =>
            Math.Log(1 + Math.Exp(-_y[i] * Enumerable.Range(0, w.Length).Sum(j => _x[i, j] * w[j]))));

    /// <summary>The loss alone: the two loops of the forward pass.</summary>
    public static double Loss(double[,] x, double[] y, double[] w)
    {
        var rows = y.Length;
        var features = w.Length;
        var loss = 0.0;
        for (var i = 0; i < rows; i++)
        {
            var z = 0.0;
            for (var j = 0; j < features; j++)
                z += x[i, j] * w[j];
            loss += Math.Log(1 + Math.Exp(-y[i] * z));
        }

        return loss;
    }

    /// <summary>
    /// The value and gradient as a person writes them: per row, the margin's dot product, the loss term, and the
    /// row added into the gradient with the weight σ(−y z)·(−y).
    /// </summary>
    public static double LossAndGradient(double[,] x, double[] y, double[] w, Span<double> gradient)
    {
        var rows = y.Length;
        var features = w.Length;
        gradient[..features].Clear();
        var loss = 0.0;
        for (var i = 0; i < rows; i++)
        {
            var z = 0.0;
            for (var j = 0; j < features; j++)
                z += x[i, j] * w[j];
            var e = Math.Exp(-y[i] * z);
            loss += Math.Log(1 + e);
            var dz = -y[i] * (e / (1 + e)); // d log(1 + e^m) / dm = e^m / (1 + e^m), m = −y z
            for (var j = 0; j < features; j++)
                gradient[j] += dz * x[i, j];
        }

        return loss;
    }

    /// <summary>
    /// A diagnostic, not a baseline: the loops as ExprGrad emits them. The outer sum's forward and backward passes are
    /// two loops over the rows (a body holding a loop is not fused into one): the forward one keeps each row's dot
    /// product z on a tape (<paramref name="z"/>, caller-owned, one per row), and the backward one computes
    /// exp(−y z) again from it before adding the row into the gradient.
    /// </summary>
    public static double LossAndGradientAsEmitted(double[,] x, double[] y, double[] w, double[] z, Span<double> gradient)
    {
        var rows = y.Length;
        var features = w.Length;
        var loss = 0.0;
        for (var i = 0; i < rows; i++)
        {
            var zi = 0.0;
            for (var j = 0; j < features; j++)
                zi += x[i, j] * w[j];
            loss += Math.Log(1 + Math.Exp(-y[i] * zi));
            z[i] = zi;
        }

        gradient[..features].Clear();
        for (var i = 0; i < rows; i++)
        {
            var e = Math.Exp(-y[i] * z[i]);
            var dz = -y[i] * (e / (1 + e));
            for (var j = 0; j < features; j++)
                gradient[j] += dz * x[i, j];
        }

        return loss;
    }

    /// <summary>
    /// Draws the data (features uniform in [−1, 1], labels from a random plane with 10% of them flipped) and a weight
    /// vector of margins about ±1, from a fixed seed; builds the gradient and checks it against the hand-written one.
    /// </summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(14);
        var plane = new double[Features];
        for (var j = 0; j < Features; j++)
            plane[j] = random.NextDouble() - 0.5;
        _x = new double[Rows, Features];
        _y = new double[Rows];
        for (var i = 0; i < Rows; i++)
        {
            var z = 0.0;
            for (var j = 0; j < Features; j++)
                z += (_x[i, j] = 2 * random.NextDouble() - 1) * plane[j];
            _y[i] = (z >= 0) == (random.NextDouble() >= 0.1) ? 1 : -1;
        }

        _w = new double[Features];
        for (var j = 0; j < Features; j++)
            _w[j] = 0.3 * (2 * random.NextDouble() - 1);
        _gradient = new double[Features];
        _z = new double[Rows];
        _g = Grad.Of(Lambda());

        var expected = new double[Features];
        var value = LossAndGradient(_x, _y, _w, expected);
        Check.Close("primal", value, Loss(_x, _y, _w));
        Check.VariableLengthGradient(_g, _w, value, expected);
        var asEmitted = new double[Features];
        Check.Close("as emitted", [value, .. expected], [LossAndGradientAsEmitted(_x, _y, _w, _z, asEmitted), .. asEmitted]);
        Console.WriteLine($"// LoopLogistic {Rows}×{Features}: {_g.StageCount} stages, loss {value:R}, dw[0] {expected[0]:R}");
    }

    /// <summary>The loss alone.</summary>
    [Benchmark]
    public double Primal() => Loss(_x, _y, _w);

    /// <summary>The hand-written value-and-gradient loops, into a preallocated span.</summary>
    [Benchmark(Baseline = true)]
    public double HandWritten() => LossAndGradient(_x, _y, _w, _gradient);

    /// <summary>The diagnostic <see cref="LossAndGradientAsEmitted"/>.</summary>
    [Benchmark]
    public double HandWrittenAsEmitted() => LossAndGradientAsEmitted(_x, _y, _w, _z, _gradient);

    /// <summary>ExprGrad's compiled nested loop through the span API.</summary>
    [Benchmark]
    public double ExprGradSpan() => _g.Evaluate(_w, _gradient);
}
