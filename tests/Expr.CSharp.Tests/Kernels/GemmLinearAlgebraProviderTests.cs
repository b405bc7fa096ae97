using ExprGrad.Kernels;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Providers.LinearAlgebra;
using Xunit;

namespace ExprGrad.Tests.Kernels;

/// <summary>The test that installs the provider for the whole process runs alone: MathNet's provider is global.</summary>
[CollectionDefinition(nameof(GlobalProvider), DisableParallelization = true)]
public sealed class GlobalProvider;

/// <summary>
/// <see cref="GemmLinearAlgebraProvider"/>: products (every transpose, with and without scaling and update, small and
/// large, into an operand) against MathNet's managed provider to 1e-12 relative; what it does not override is the managed
/// provider's; and <c>Use()</c> makes a user's own MathNet products run on it.
/// </summary>
[Collection(nameof(GlobalProvider))]
public sealed class GemmLinearAlgebraProviderTests
{
    private static double[] Random(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.NextDouble() * 2 - 1).ToArray();
    }

    [Theory]
    [InlineData(3, 4, 5, false, false, 1.0, 0.0)]
    [InlineData(1, 7, 1, true, true, 2.0, 0.5)]
    [InlineData(67, 131, 29, false, false, 1.0, 0.0)]
    [InlineData(67, 131, 29, true, false, 1.0, 0.0)]
    [InlineData(67, 131, 29, false, true, 1.0, 0.0)]
    [InlineData(67, 131, 29, true, true, 1.0, 0.0)]
    [InlineData(64, 97, 53, false, true, -0.5, 2.0)]
    [InlineData(64, 97, 53, true, false, 3.0, 0.0)]
    [InlineData(200, 150, 120, false, false, 1.0, 1.0)]
    public void Products_agree_with_the_managed_provider(int m, int n, int k, bool transposeA, bool transposeB, double alpha, double beta)
    {
        var (rowsA, columnsA) = transposeA ? (k, m) : (m, k);
        var (rowsB, columnsB) = transposeB ? (n, k) : (k, n);
        var (a, b) = (Random(rowsA * columnsA, 1), Random(rowsB * columnsB, 2));
        var expected = Random(m * n, 3);
        var actual = (double[])expected.Clone();
        var (ta, tb) = (transposeA ? Transpose.Transpose : Transpose.DontTranspose, transposeB ? Transpose.Transpose : Transpose.DontTranspose);
        new ManagedLinearAlgebraProvider().MatrixMultiplyWithUpdate(ta, tb, alpha, a, rowsA, columnsA, b, rowsB, columnsB, beta, expected);
        new GemmLinearAlgebraProvider().MatrixMultiplyWithUpdate(ta, tb, alpha, a, rowsA, columnsA, b, rowsB, columnsB, beta, actual);
        var scale = expected.Max(Math.Abs);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * scale, $"element {i}: {actual[i]:R}, managed {expected[i]:R}");
    }

    [Fact]
    public void A_product_into_its_own_operand_reads_the_operand_first()
    {
        const int n = 40;
        var a = Random(n * n, 4);
        var expected = new double[n * n];
        new ManagedLinearAlgebraProvider().MatrixMultiply(a, n, n, a, n, n, expected);
        new GemmLinearAlgebraProvider().MatrixMultiply(a, n, n, a, n, n, a);
        for (var i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], a[i], 1e-12);
    }

    [Fact]
    public void Mismatched_inner_dimensions_are_refused_with_both()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            new GemmLinearAlgebraProvider().MatrixMultiply(new double[40 * 30], 40, 30, new double[31 * 40], 31, 40, new double[40 * 40]));
        Assert.Contains("30 columns to match op(B)'s 31 rows", e.Message);
    }

    [Fact]
    public void Use_makes_MathNet_products_run_on_the_kernel_and_the_rest_stays_managed()
    {
        var previous = LinearAlgebraControl.Provider;
        try
        {
            GemmLinearAlgebraProvider.Use();
            Assert.IsType<GemmLinearAlgebraProvider>(LinearAlgebraControl.Provider);
            var a = Matrix<double>.Build.Dense(50, 60, (i, j) => Math.Sin(i + 2 * j));
            var b = Matrix<double>.Build.Dense(60, 70, (i, j) => Math.Cos(3 * i - j));
            var product = a * b;
            var expected = Gemm.Multiply(a, b);
            Assert.Equal(expected.ToColumnMajorArray(), product.ToColumnMajorArray());
            // A factorization is the managed provider's: it solves as before.
            var square = Matrix<double>.Build.DenseIdentity(5) * 3;
            Assert.Equal(Vector<double>.Build.Dense(5, 1.0), square.Solve(Vector<double>.Build.Dense(5, 3.0)));
        }
        finally
        {
            LinearAlgebraControl.Provider = previous;
        }
    }
}
