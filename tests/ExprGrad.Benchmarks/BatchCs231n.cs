using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

// Issue 15, part 5: a batch of 100,000 points of the CS231n neuron f(w, x) = σ(w0 x0 + w1 x1 + w2), value and
// gradient, by EvaluateBatch on all cores against the single-thread loop of span calls it replaces (the target:
// ≥ 1.8 × faster on 2 cores). EvaluateBatch on one thread shows what the batch itself costs.
[NoisyBoxJob, MemoryDiagnoser, Config(typeof(BatchCs231nConfig))]
public class BatchCs231n
{
    private const int Dim = 5, N = 100_000;
    private readonly double[] _points = new double[N * Dim];
    private readonly double[] _values = new double[N];
    private readonly double[] _gradients = new double[N * Dim];
    private Gradient _g = null!;

    [GlobalSetup]
    public void Setup()
    {
        _g = Grad.Of((double w0, double w1, double w2, double x0, double x1) => Fn.Sigmoid(w0 * x0 + w1 * x1 + w2));
        // The seed's point (2, -3, -3, -1, -2) moved a little at each row, so that no two rows are alike.
        var random = new Random(15);
        double[] seed = [2, -3, -3, -1, -2];
        for (var k = 0; k < _points.Length; k++)
            _points[k] = seed[k % Dim] + 0.1 * (random.NextDouble() - 0.5);

        var expected = new double[N];
        var gradient = new double[Dim];
        for (var i = 0; i < N; i++)
            expected[i] = SeedNeuron.HandGrad(_points[Dim * i], _points[Dim * i + 1], _points[Dim * i + 2], _points[Dim * i + 3], _points[Dim * i + 4], gradient);
        _g.EvaluateBatch(_points, _values, _gradients);
        Check.Close("batch", expected[..16], _values[..16]);
        Check.Close("batch", expected[^16..], _values[^16..]);
    }

    [Benchmark(Baseline = true)]
    public double SingleThreadLoop()
    {
        for (var i = 0; i < N; i++)
            _values[i] = _g.Evaluate(_points.AsSpan(Dim * i, Dim), _gradients.AsSpan(Dim * i, Dim));
        return _values[N - 1];
    }

    [Benchmark]
    public double EvaluateBatchOneThread()
    {
        _g.EvaluateBatch(_points, _values, _gradients, maxDegreeOfParallelism: 1);
        return _values[N - 1];
    }

    [Benchmark]
    public double EvaluateBatchAllCores()
    {
        _g.EvaluateBatch(_points, _values, _gradients);
        return _values[N - 1];
    }
}

// The median ratio to the single-thread loop, beside BenchmarkDotNet's ratio of means.
public sealed class BatchCs231nConfig : ManualConfig
{
    public BatchCs231nConfig() => AddColumn(new MedianRatioColumn(nameof(BatchCs231n.SingleThreadLoop)));
}
