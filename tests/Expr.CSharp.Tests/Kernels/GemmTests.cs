using System.Globalization;
using ExprGrad.Kernels;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Double;
using Xunit.Abstractions;

namespace ExprGrad.Tests.Kernels;

/// <summary>
/// <see cref="Gemm"/> against MathNet's managed products, element by element to 1e-12 of Σ_p |a_ip|·|b_pj| (the scale
/// of the rounding any order of the k-sum makes), and against itself across thread counts, bit for bit.
/// </summary>
public sealed class GemmTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-12;

    // (m, k, n): single rows and columns, primes, shapes that cut every block of the kernel (8 × 6 tiles, 64-row
    // blocks, 256-deep k-blocks), and empty ones.
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 1, 37, 1 }, { 1, 300, 17 }, { 17, 300, 1 }, { 7, 13, 11 }, { 13, 7, 5 }, { 97, 31, 53 },
        { 8, 256, 6 }, { 9, 257, 7 }, { 64, 512, 48 }, { 65, 513, 49 }, { 131, 601, 67 }, { 256, 784, 64 },
        { 0, 5, 3 }, { 3, 5, 0 }, { 4, 0, 6 }, { 0, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Products_agree_with_MathNet_in_every_transpose(int m, int k, int n)
    {
        var random = new Random(m * 1_000_003 + k * 1009 + n);
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
            CheckProduct(random, m, k, n, ta, tb, $"{m}×{k}×{n}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matrix_vector_products_agree_with_MathNet(int m, int k, int _)
    {
        var random = new Random(m * 7919 + k);
        foreach (var ta in new[] { false, true })
        {
            var a = Random(random, ta ? k : m, ta ? m : k);
            var x = Vector<double>.Build.Dense(k, _ => random.NextDouble() * 2 - 1);
            var expected = ta ? a.TransposeThisAndMultiply(x) : a * x;
            var actual = Gemm.Multiply(a, x, ta);
            var scale = (ta ? a.Transpose() : a).PointwiseAbs() * x.PointwiseAbs();
            Assert.Equal(m, actual.Count);
            for (var i = 0; i < m; i++)
                Assert.True(Math.Abs(actual[i] - expected[i]) <= Tolerance * scale[i],
                    $"{(ta ? "Aᵀ" : "A")}·x, {m}×{k}: y[{i}] = {actual[i]:R}, MathNet {expected[i]:R}");
        }
    }

    [Fact]
    public void Random_shapes_agree_with_MathNet()
    {
        var seed = SeedFromEnvironment("EXPRGRAD_GEMM_SEED");
        output.WriteLine($"seed {seed} (replay: EXPRGRAD_GEMM_SEED={seed})");
        var random = new Random(seed);
        for (var trial = 0; trial < 40; trial++)
        {
            var (m, k, n) = (random.Next(0, 150), random.Next(0, 700), random.Next(0, 90));
            var (ta, tb) = (random.Next(2) == 1, random.Next(2) == 1);
            CheckProduct(random, m, k, n, ta, tb, $"seed {seed} (replay: EXPRGRAD_GEMM_SEED={seed}), trial {trial}, {m}×{k}×{n}");
        }
    }

    // Bands of rows (n ≤ m), bands of columns (n > m), bands cut mid-block and more threads than tiles.
    [Theory]
    [InlineData(256, 784, 64)]
    [InlineData(256, 64, 784)]
    [InlineData(300, 1000, 70)]
    [InlineData(70, 1000, 301)]
    [InlineData(9, 3000, 200)]
    public void The_bits_are_the_same_at_every_thread_count(int m, int k, int n)
    {
        var random = new Random(m + k + n);
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var a = ta ? Random(random, k, m) : Random(random, m, k);
            var b = tb ? Random(random, n, k) : Random(random, k, n);
            double[] Run(int threads, bool fma)
            {
                var c = new double[m * n];
                Array.Fill(c, double.NaN);
                Gemm.Product(Values(a), a.RowCount, ta, Values(b), b.RowCount, tb, c, m, n, k, threads, fma);
                return c;
            }
            foreach (var fma in new[] { true, false })
            {
                var one = Run(1, fma);
                foreach (var threads in new[] { 2, 3, 7, 64 })
                    Assert.True(one.AsSpan().SequenceEqual(Run(threads, fma)), $"{m}×{k}×{n}, transposes ({ta}, {tb}): {threads} threads (fma {fma}) differ from 1 thread");
            }
        }
    }

    [Theory]
    [InlineData(256, 784, 64, 2, 2, true)] // W1·X: op(B) is the smaller operand, so rows are shared out
    [InlineData(256, 64, 784, 2, 2, false)] // ∂Z·Xᵀ: op(A) is, so columns are
    [InlineData(10, 256, 64, 2, 1, true)] // too small to share
    [InlineData(9, 3000, 200, 64, 34, false)] // at most one part per column of micro-tiles
    [InlineData(256, 784, 64, 1, 1, true)]
    public void Products_are_shared_out_along_the_cheaper_side(int m, int k, int n, int threads, int parts, bool byRows) =>
        Assert.Equal((parts, byRows), Gemm.Split(m, n, k, threads));

    [Fact]
    public void The_scalar_kernel_agrees_with_MathNet()
    {
        var random = new Random(17);
        foreach (var (m, k, n) in new[] { (9, 257, 7), (70, 300, 13), (1, 5, 1) })
        {
            var (a, b) = (Random(random, m, k), Random(random, k, n));
            var c = new double[m * n];
            Gemm.Product(Values(a), m, false, Values(b), k, false, c, m, n, k, 1, fma: false);
            AssertClose(a, b, a * b, new DenseMatrix(m, n, c), $"scalar kernel {m}×{k}×{n}");
        }
    }

    [Fact]
    public void Concurrent_products_on_many_threads_agree()
    {
        var random = new Random(5);
        var (a, b) = (Random(random, 200, 300), Random(random, 300, 40));
        var expected = Values(Gemm.Multiply(a, b));
        Parallel.For(0, 32, _ => Assert.True(expected.AsSpan().SequenceEqual(Values(Gemm.Multiply(a, b)))));
    }

    [Fact]
    public void A_product_into_a_kept_matrix_overwrites_it_with_the_same_bits()
    {
        var random = new Random(11);
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var a = ta ? Random(random, 784, 70) : Random(random, 70, 784);
            var b = tb ? Random(random, 45, 784) : Random(random, 784, 45);
            var result = DenseMatrix.Create(70, 45, (_, _) => double.NaN);
            Gemm.Multiply(a, b, result, ta, tb);
            Assert.True(Values(Gemm.Multiply(a, b, ta, tb)).AsSpan().SequenceEqual(Values(result)), $"transposes ({ta}, {tb})");
        }
    }

    [Fact]
    public void A_product_into_a_matrix_of_another_shape_or_an_operand_is_refused()
    {
        var (a, b) = (new DenseMatrix(3, 3), new DenseMatrix(3, 2));
        Assert.Contains("dense 3×2", Assert.Throws<ArgumentException>(() => Gemm.Multiply(a, b, new DenseMatrix(2, 3))).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(a, b, SparseMatrix.Create(3, 2, 0.0)));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(a, a, a));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(a, new DenseMatrix(4, 2), new DenseMatrix(3, 2)));
    }

    [Fact]
    public void Mismatched_shapes_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => Gemm.Multiply(new DenseMatrix(2, 3), new DenseMatrix(4, 2)));
        Assert.Contains("3 columns", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(new DenseMatrix(2, 3), new DenseVector(2)));
    }

    [Fact]
    public void Sparse_operands_are_multiplied_through_a_dense_copy()
    {
        var a = SparseMatrix.OfArray(new double[,] { { 1, 0 }, { 0, 2 } });
        var b = DenseMatrix.OfArray(new double[,] { { 3, 4 }, { 5, 6 } });
        Assert.Equal(a * b, Gemm.Multiply(a, b));
    }

    private void CheckProduct(Random random, int m, int k, int n, bool ta, bool tb, string what)
    {
        var a = ta ? Random(random, k, m) : Random(random, m, k);
        var b = tb ? Random(random, n, k) : Random(random, k, n);
        var (opA, opB) = (ta ? a.Transpose() : a, tb ? b.Transpose() : b);
        var actual = Gemm.Multiply(a, b, ta, tb);
        Assert.Equal((m, n), (actual.RowCount, actual.ColumnCount));
        AssertClose(opA, opB, opA * opB, actual, $"{what}, transposes ({ta}, {tb})");
    }

    private static void AssertClose(Matrix<double> a, Matrix<double> b, Matrix<double> expected, Matrix<double> actual, string what)
    {
        var scale = a.PointwiseAbs() * b.PointwiseAbs();
        for (var j = 0; j < expected.ColumnCount; j++)
            for (var i = 0; i < expected.RowCount; i++)
                Assert.True(Math.Abs(actual[i, j] - expected[i, j]) <= Tolerance * scale[i, j],
                    $"{what}: C[{i},{j}] = {actual[i, j]:R}, MathNet {expected[i, j]:R}");
    }

    private static int SeedFromEnvironment(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed)
            ? seed : Environment.TickCount & int.MaxValue;

    private static Matrix<double> Random(Random random, int rows, int columns) =>
        DenseMatrix.Create(rows, columns, (_, _) => random.NextDouble() * 2 - 1);

    private static double[] Values(Matrix<double> m) => ((DenseMatrix)m).Values;
}
