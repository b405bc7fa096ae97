using System.Linq.Expressions;
using Xunit;

namespace ExprGrad.Tests.SecondOrder;

/// <summary>Hessians and Hessian-vector products against closed forms, and what they refuse.</summary>
public sealed class HessianTests
{
    [Fact]
    public void Hessian_of_a_polynomial_with_a_sine_matches_its_closed_form()
    {
        // f = x²y + sin(x)·y³: f_xx = 2y − sin(x)·y³, f_xy = 2x + 3y²·cos(x), f_yy = 6y·sin(x).
        var g = Grad.Of((double x, double y) => x * x * y + Math.Sin(x) * y * y * y);
        var (x, y) = (1.0, 2.0);
        var h = g.Hessian(x, y);
        Assert.Equal(2 * y - Math.Sin(x) * y * y * y, h[0, 0], 1e-14);
        Assert.Equal(2 * x + 3 * y * y * Math.Cos(x), h[0, 1], 1e-14);
        Assert.Equal(h[0, 1], h[1, 0]);
        Assert.Equal(6 * y * Math.Sin(x), h[1, 1], 1e-14);
    }

    [Fact]
    public void Hessian_of_the_seed_circuit_is_exact()
    {
        // f = (x + y)·z: the only second derivatives are ∂²f/∂x∂z = ∂²f/∂y∂z = 1.
        var h = Grad.Of((double x, double y, double z) => (x + y) * z).Hessian(-2, 5, -4);
        Assert.Equal(new double[,] { { 0, 0, 1 }, { 0, 0, 1 }, { 1, 1, 0 } }, h);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(100)]
    public void Rosenbrock_Hessian_is_its_tridiagonal_closed_form(int n)
    {
        var g = Grad.Of(Rosenbrock.Tree(n));
        var a = Rosenbrock.Point(n);
        var h = g.Hessian(a);
        var expected = Rosenbrock.Hessian(a);
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++)
                Assert.True(Math.Abs(h[i, j] - expected[i, j]) <= 1e-12 * Math.Max(1, Math.Abs(expected[i, j])),
                    $"H[{i}, {j}] = {h[i, j]:R}, closed form {expected[i, j]:R}");
    }

    [Fact]
    public void Hessian_vector_product_of_Rosenbrock_in_1000_dimensions_is_one_method_with_a_loop()
    {
        // Its second sweep builds the terms last to first; scheduled in element order they repeat, and re-roll into one
        // loop like the gradient's, instead of 16 methods of straight-line code (4.8 × one gradient, against 1.6 ×).
        const int n = 1000;
        var kernel = ExprGrad.SecondOrder.DerivativeGraphs.HessianVectorProduct(
            Grad.Import(Rosenbrock.Tree(n)));
        Assert.Equal(1, kernel.MethodCount);
        Assert.InRange(kernel.LoopCount, 1, 3);

        var a = Rosenbrock.Point(n);
        var v = Enumerable.Range(0, n).Select(k => Math.Cos(k + 0.5)).ToArray();
        var hv = new double[n];
        kernel.Run([.. a, .. v], hv);
        var h = Rosenbrock.Hessian(a);
        for (var i = 0; i < n; i++)
        {
            var expected = Enumerable.Range(Math.Max(0, i - 1), Math.Min(n, i + 2) - Math.Max(0, i - 1)).Sum(j => h[i, j] * v[j]);
            Assert.True(Math.Abs(hv[i] - expected) <= 1e-11 * Math.Max(1, Math.Abs(expected)), $"(Hv)[{i}] = {hv[i]:R}, expected {expected:R}");
        }
    }

    [Fact]
    public void Hessian_vector_product_is_the_Hessian_times_the_vector()
    {
        const int n = 30;
        var g = Grad.Of(Rosenbrock.Tree(n));
        var a = Rosenbrock.Point(n);
        var v = Enumerable.Range(0, n).Select(k => Math.Cos(k + 0.5)).ToArray();
        var hv = new double[n];
        g.HessianVectorProduct(a, v, hv);
        var h = Rosenbrock.Hessian(a);
        for (var i = 0; i < n; i++)
        {
            var expected = Enumerable.Range(0, n).Sum(j => h[i, j] * v[j]);
            Assert.True(Math.Abs(hv[i] - expected) <= 1e-11 * Math.Max(1, Math.Abs(expected)), $"(Hv)[{i}] = {hv[i]:R}, expected {expected:R}");
        }
    }

    [Fact]
    public void Hessian_is_symmetric_bit_for_bit()
    {
        var g = Grad.Of((double x, double y, double z) => Math.Exp(x * y) * Math.Sin(y + z) / (1 + z * z) + Fn.Sigmoid(x * z));
        var h = g.Hessian(0.3, -0.7, 1.1);
        for (var i = 0; i < 3; i++)
            for (var j = 0; j < 3; j++)
                Assert.Equal(BitConverter.DoubleToInt64Bits(h[i, j]), BitConverter.DoubleToInt64Bits(h[j, i]));
    }

    [Fact]
    public void Untaken_branch_does_not_poison_the_Hessian()
    {
        // At x = 2 the taken branch is x³ (f'' = 6x = 12); the other branch's sqrt(−x) is NaN there.
        var g = Grad.Of((double x) => x > 0 ? x * x * x : Math.Sqrt(-x));
        Assert.Equal(12, g.Hessian(2)[0, 0]);
        var hv = new double[1];
        g.HessianVectorProduct([2.0], [0.5], hv);
        Assert.Equal(6, hv[0]);
        // And on the other side: f = √(−x), f'' = −¼(−x)^(−3/2) = −1/32 at x = −4.
        Assert.Equal(-1.0 / 32, g.Hessian(-4)[0, 0], 1e-15);
    }

    [Fact]
    public void Array_and_scalar_parameters_share_one_flat_layout()
    {
        // (w, b) ↦ (w0·w1 + b)²: slots w[0], w[1], b.
        var g = Grad.Of((double[] w, double b) => Fn.Square(w[0] * w[1] + b));
        var (w0, w1, b) = (1.5, -2.0, 0.5);
        var s = w0 * w1 + b;
        var h = g.Hessian(w0, w1, b);
        var expected = new double[,]
        {
            { 2 * w1 * w1, 2 * (w0 * w1 + s), 2 * w1 },
            { 2 * (w0 * w1 + s), 2 * w0 * w0, 2 * w0 },
            { 2 * w1, 2 * w0, 2 },
        };
        for (var i = 0; i < 3; i++)
            for (var j = 0; j < 3; j++)
                Assert.Equal(expected[i, j], h[i, j], 1e-14);
    }

    [Fact]
    public void Hessian_of_a_function_that_ignores_a_slot_has_zeros_there()
    {
        var g = Grad.Of((double x, double y) => x * x * x + 0 * y);
        Assert.Equal(new double[,] { { 6 * 2.0, 0 }, { 0, 0 } }, g.Hessian(2, 7));
    }

    [Fact]
    public void Span_Hessian_writes_row_major_and_checks_lengths()
    {
        var g = Grad.Of((double x, double y) => x * x * y);
        var h = new double[4];
        g.Hessian([3.0, 5.0], h);
        Assert.Equal([10.0, 6.0, 6.0, 0.0], h);
        var e = Assert.Throws<ArgumentException>(() => g.Hessian([3.0, 5.0], new double[3]));
        Assert.Contains("2 × 2", e.Message);
        Assert.Throws<ArgumentException>(() => g.Hessian(3.0));
        Assert.Throws<ArgumentException>(() => g.HessianVectorProduct([3.0, 5.0], [1.0], new double[2]));
    }

    [Fact]
    public void A_sum_over_an_array_of_any_length_has_a_Hessian_as_long_as_the_point()
    {
        var g = Grad.Of((double[] a) => a.Sum(v => v * v * v));
        Assert.Equal(new[,] { { 6.0, 0 }, { 0, 12.0 } }, g.Hessian(1.0, 2.0));
        Assert.Equal(new[,] { { -6.0, 0, 0 }, { 0, 3.0, 0 }, { 0, 0, 18.0 } }, g.Hessian(-1.0, 0.5, 3.0));
        var hv = new double[3];
        g.HessianVectorProduct([-1.0, 0.5, 3.0], [1.0, 2.0, -1.0], hv);
        Assert.Equal([-6.0, 6.0, -18.0], hv);
        Assert.Throws<ArgumentException>(() => g.HessianVectorProduct([-1.0, 0.5, 3.0], [1.0, 2.0], hv));
    }

    [Fact]
    public void Large_Hessian_falls_back_to_products_and_agrees()
    {
        // Past the symbolic limit the Hessian is H e_j column by column; the two routes agree entry by entry.
        const int n = 60;
        var g = Grad.Of(Rosenbrock.Tree(n));
        var a = Rosenbrock.Point(n);
        var symbolic = g.Hessian(a);
        var columns = new double[n * n];
        var unit = new double[n];
        var column = new double[n];
        for (var j = 0; j < n; j++)
        {
            unit[j] = 1;
            g.HessianVectorProduct(a, unit, column);
            unit[j] = 0;
            for (var i = 0; i < n; i++)
                Assert.True(Math.Abs(column[i] - symbolic[i, j]) <= 1e-12 * Math.Max(1, Math.Abs(symbolic[i, j])), $"H[{i}, {j}]");
        }
    }
}

/// <summary>Rosenbrock's function Σ 100 (a[i+1] − a[i]²)² + (1 − a[i])² as a written-out tree, and its closed-form Hessian.</summary>
internal static class Rosenbrock
{
    public static Expression<Func<double[], double>> Tree(int n)
    {
        var a = Expression.Parameter(typeof(double[]), "a");
        Expression Element(int i) => Expression.ArrayIndex(a, Expression.Constant(i));
        Expression? sum = null;
        for (var i = 0; i < n - 1; i++)
        {
            var t = Expression.Subtract(Element(i + 1), Expression.Multiply(Element(i), Element(i)));
            var u = Expression.Subtract(Expression.Constant(1.0), Element(i));
            var term = Expression.Add(Expression.Multiply(Expression.Constant(100.0), Expression.Multiply(t, t)), Expression.Multiply(u, u));
            sum = sum is null ? term : Expression.Add(sum, term);
        }
        return Expression.Lambda<Func<double[], double>>(sum!, a);
    }

    public static double[] Point(int n) => Enumerable.Range(0, n).Select(k => 0.5 + 0.9 * Math.Sin(1.7 * k)).ToArray();

    public static double[,] Hessian(double[] a)
    {
        var n = a.Length;
        var h = new double[n, n];
        for (var i = 0; i < n - 1; i++)
        {
            h[i, i] += 1200 * a[i] * a[i] - 400 * a[i + 1] + 2;
            h[i, i + 1] += -400 * a[i];
            h[i + 1, i] += -400 * a[i];
            h[i + 1, i + 1] += 200;
        }
        return h;
    }
}
