using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;
using ExprGrad.Kernels;
using MathNet.Numerics.Providers.LinearAlgebra;

namespace ExprGrad.Benchmarks;

/// <summary>
/// A user's own MathNet product (what <c>a * b</c> runs) through MathNet's managed provider against
/// <see cref="GemmLinearAlgebraProvider"/> (issue 17's "offer it as an ILinearAlgebraProvider"), at a small, a middle and
/// the MLP's 256 × 784 × 64 shape, into a preallocated result.
/// </summary>
[NoisyBoxJob]
public class UserProduct
{
    private readonly ManagedLinearAlgebraProvider _managed = new();
    private readonly GemmLinearAlgebraProvider _gemm = new();
    private double[] _a = [], _b = [], _c = [];

    /// <summary>m × n × k.</summary>
    [Params("8x8x8", "64x64x64", "256x64x784")]
    public string Shape { get; set; } = "";

    private (int M, int N, int K) Dimensions => Shape.Split('x').Select(int.Parse).ToArray() is [var m, var n, var k] ? (m, n, k) : default;

    /// <summary>Random operands; both providers checked to agree.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var (m, n, k) = Dimensions;
        var random = new Random(17);
        _a = Enumerable.Range(0, m * k).Select(_ => random.NextDouble()).ToArray();
        _b = Enumerable.Range(0, k * n).Select(_ => random.NextDouble()).ToArray();
        _c = new double[m * n];
        var expected = new double[m * n];
        _managed.MatrixMultiply(_a, m, k, _b, k, n, expected);
        Gemm();
        Check.Close("product", expected, _c);
    }

    /// <summary>MathNet's managed provider: the baseline.</summary>
    [Benchmark(Baseline = true)]
    public void Managed()
    {
        var (m, n, k) = Dimensions;
        _managed.MatrixMultiply(_a, m, k, _b, k, n, _c);
    }

    /// <summary>The provider <see cref="GemmLinearAlgebraProvider.Use"/> installs.</summary>
    [Benchmark]
    public void Gemm()
    {
        var (m, n, k) = Dimensions;
        _gemm.MatrixMultiply(_a, m, k, _b, k, n, _c);
    }
}
