using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using ExprGrad.Benchmarks.Infrastructure;
using ExprGrad.Kernels;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Benchmarks;

// Issue 17: the MLP's large product, W1·X (256 × 784 times 784 × 64), and its backward partner ∂J/∂Z·Xᵀ
// (256 × 64 times (784 × 64)ᵀ), on ExprGrad's own kernel against MathNet's managed provider. Two jobs: one core
// (DOTNET_PROCESSOR_COUNT=1, so the kernel runs on one thread; the figure held against one core's FMA peak) and
// every core. GFLOP/s is 2·m·n·k over the median time. The `Into` rows write into a matrix kept from call to call, as
// the compiled gradients do (their products write into per-thread scratch): the product alone, as BLAS benchmarks time
// dgemm. The others allocate their result, 128 KB for W1·X and 1.5 MB for ∂Z·Xᵀ, both on the large-object heap, so
// they also pay for gen-2 collections and for fresh pages.
[NoisyBoxJob, NoisyBoxOneCoreJob, Config(typeof(Columns)), MemoryDiagnoser]
public class MatrixProduct
{
    public const int M = 256, K = 784, N = 64;

    private Matrix<double> _a = null!, _b = null!, _dz = null!, _z = null!, _dw = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(17);
        _a = Matrix<double>.Build.Dense(M, K, (_, _) => rng.NextDouble() - 0.5);
        _b = Matrix<double>.Build.Dense(K, N, (_, _) => rng.NextDouble());
        _dz = Matrix<double>.Build.Dense(M, N, (_, _) => rng.NextDouble() - 0.5);
        Check.Close("W1·X", _a * _b, Gemm.Multiply(_a, _b));
        Check.Close("∂Z·Xᵀ", _dz.TransposeAndMultiply(_b), Gemm.Multiply(_dz, _b, transposeB: true));
        (_z, _dw) = (Matrix<double>.Build.Dense(M, N), Matrix<double>.Build.Dense(M, K));
        Gemm.Multiply(_a, _b, _z);
        Check.Close("W1·X into", _a * _b, _z);
        Gemm.Multiply(_dz, _b, _dw, transposeB: true);
        Check.Close("∂Z·Xᵀ into", _dz.TransposeAndMultiply(_b), _dw);
    }

    [Benchmark(Baseline = true)]
    public Matrix<double> MathNetManaged() => _a * _b;

    [Benchmark]
    public Matrix<double> ExprGradGemm() => Gemm.Multiply(_a, _b);

    [Benchmark]
    public Matrix<double> ExprGradGemmInto()
    {
        Gemm.Multiply(_a, _b, _z);
        return _z;
    }

    [Benchmark]
    public Matrix<double> MathNetManagedABt() => _dz.TransposeAndMultiply(_b);

    [Benchmark]
    public Matrix<double> ExprGradGemmABt() => Gemm.Multiply(_dz, _b, transposeB: true);

    [Benchmark]
    public Matrix<double> ExprGradGemmABtInto()
    {
        Gemm.Multiply(_dz, _b, _dw, transposeB: true);
        return _dw;
    }

    private sealed class Columns : ManualConfig
    {
        public Columns() => AddColumn(new GigaflopsColumn(2.0 * M * N * K));
    }

    /// <summary>2·m·n·k floating-point operations over the median time, in GFLOP/s.</summary>
    private sealed class GigaflopsColumn(double flops) : IColumn
    {
        public string Id => nameof(GigaflopsColumn);

        public string ColumnName => "GFLOP/s";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => 0;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => "2·m·n·k over the median time (double precision)";

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
            summary[benchmarkCase]?.ResultStatistics?.Median is > 0 and var nanoseconds
                ? (flops / nanoseconds).ToString("0.0", style.CultureInfo)
                : "-";
    }
}
