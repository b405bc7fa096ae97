using System.Linq.Expressions;

namespace ExprGrad.Tests.Import;

/// <summary>What the importer accepts beyond plain arithmetic: conditionals, captures, arrays, conversions.</summary>
public class CatalogueTests
{
    [Fact]
    public void The_untaken_branch_of_a_conditional_never_reaches_the_gradient()
    {
        // JAX, PyTorch and CasADi evaluate both branches and leak NaN from log(x) at x < 0 into the gradient.
        var g = Grad.Of((double x) => x > 0 ? Math.Log(x) : x * x);
        var (value, dx) = g.Evaluate(-3);
        Assert.Equal(9, value);
        Assert.Equal(-6, dx);
        (value, dx) = g.Evaluate(2);
        Assert.Equal(Math.Log(2), value);
        Assert.Equal(0.5, dx);
    }

    [Fact]
    public void Conditionals_nest_and_combine_tests_with_and_or_not()
    {
        var g = Grad.Of((double x, double y) =>
            x > 0 && !(y < 0) ? (x > y || x == 1 ? x * y : Math.Sqrt(y - x)) : Math.Sqrt(-x) + y);
        Assert.Equal((6.0, 2.0, 3.0), Tuple(g.Evaluate(3, 2)));
        var (v, dx, dy) = g.Evaluate(2, 6);
        Assert.Equal(2, v);
        Assert.Equal(-0.25, dx, 15);
        Assert.Equal(0.25, dy, 15);
        (v, dx, dy) = g.Evaluate(-4, -1);
        Assert.Equal(1, v);
        Assert.Equal(-0.25, dx, 15);
        Assert.Equal(1, dy);
    }

    [Fact]
    public void A_value_shared_between_a_branch_and_the_rest_accumulates_its_adjoint()
    {
        // s = sin(x) feeds both the conditional and the sum after it: its adjoint gets a += from each.
        var g = Grad.Of((double x) => Math.Sin(x) + (x > 1 ? Math.Sin(x) * Math.Sin(x) : Math.Exp(Math.Sin(x))));
        foreach (var x in new[] { 0.3, 2.0 })
        {
            var report = GradCheck.Check(g, [x]);
            Assert.True(report.Passed, report.ToString());
        }
    }

    [Fact]
    public void Captured_variables_are_read_live_at_every_call_and_not_differentiated()
    {
        double x = 0.5, y = 1.0;
        var g = Grad.Of((double w) => 0.5 * (y - Fn.Sigmoid(x * w)) * (y - Fn.Sigmoid(x * w)));
        static double Expected(double x, double y, double w)
        {
            var s = Fn.Sigmoid(x * w);
            return -(y - s) * s * (1 - s) * x;
        }
        Assert.Equal(Expected(0.5, 1.0, 2.0), g.Evaluate(2.0).D1, 15);
        x = -1.5;
        y = 0.25;
        Assert.Equal(Expected(-1.5, 0.25, 2.0), g.Evaluate(2.0).D1, 15);
        Assert.Equal(0.5 * Math.Pow(0.25 - Fn.Sigmoid(-3.0), 2), g.Evaluate(2.0).Value, 15);
    }

    [Fact]
    public void Captured_arrays_integers_and_static_fields_are_live_data()
    {
        var data = new[] { 1.0, 2.0, 3.0 };
        var n = 2;
        var g = Grad.Of((double w) => w * data[1] + n * w + Math.PI);
        Assert.Equal((2.0 * 2 + 2 * 2 + Math.PI, 4.0), (g.Evaluate(2).Value, g.Evaluate(2).D1));
        data[1] = 10;
        n = 5;
        Assert.Equal(15, g.Evaluate(2).D1);
    }

    [Fact]
    public void Captured_elements_at_different_indices_are_different_values()
    {
        // Each captured element is its own variable: w[0] and w[1] must not be taken for one value, nor w[k] of two
        // different objects whose index fields have the same name.
        var w = new[] { 2.0, 3.0 };
        var g = Grad.Of((double x) => x * w[0] + x * w[1]);
        Assert.Equal((5.0, 5.0), (g.Evaluate(1).Value, g.Evaluate(1).D1));

        var flags = new[] { true, false };
        var h = Grad.Of((double x) => (flags[0] ? x : 0) + (flags[1] ? 10 * x : 0));
        Assert.Equal(1.0, h.Evaluate(1).D1);
        flags[1] = true;
        Assert.Equal(11.0, h.Evaluate(1).D1);

        // Built with the factories, as a closure-free tree: the two index objects are two constants, same path.
        var x = Expression.Parameter(typeof(double), "x");
        var array = Expression.Constant(w);
        Expression Element(Index index) => Expression.ArrayIndex(array, Expression.Field(Expression.Constant(index), nameof(Index.K)));
        var k = Grad.Of(Expression.Lambda<Func<double, double>>(
            Expression.Add(Expression.Multiply(x, Element(new Index { K = 0 })), Expression.Multiply(x, Element(new Index { K = 1 }))), x));
        Assert.Equal(5.0, k.Evaluate(1).D1);
    }

    private sealed class Index
    {
        public int K;
    }

    [Fact]
    public void Array_parameters_get_gradients_shaped_like_them()
    {
        var g = Grad.Of((double[] a, double s) => a[0] * a[2] * s + a[2 * 2]);
        var (value, da, ds) = g.Evaluate([2, 100, 3, 100, 5, 100], 4);
        Assert.Equal(2 * 3 * 4 + 5, value);
        Assert.Equal([12, 0, 8, 0, 1, 0], da);
        Assert.Equal(6, ds);
        Assert.Equal(6, g.Dimension); // a[0..4] and s
    }

    [Fact]
    public void Seven_and_eight_parameters_mixing_scalars_and_arrays()
    {
        var g7 = Grad.Of((double a, double b, double c, double d, double e, double f, double g) => a * b + c * d + e * f * g);
        var (v7, da, db, dc, dd, de, df, dg) = g7.Evaluate(1, 2, 3, 4, 5, 6, 7);
        Assert.Equal((2 + 12 + 210.0, 2.0, 1.0, 4.0, 3.0, 42.0, 35.0, 30.0), (v7, da, db, dc, dd, de, df, dg));

        var g8 = Grad.Of((double[] p, double a, double b, double c, double d, double e, double f, double[] q) =>
            p[1] * a + b * c * d + e * f + q[0] * q[2]);
        var r = g8.Evaluate([9, 2], 3, 1, 2, 3, 4, 5, [6, 9, 7]);
        Assert.Equal(6 + 6 + 20 + 42, r.Value);
        Assert.Equal([0, 3], r.D1);
        Assert.Equal((2.0, 6.0, 3.0, 2.0, 5.0, 4.0), (r.D2, r.D3, r.D4, r.D5, r.D6, r.D7));
        Assert.Equal([7, 0, 6], r.D8);
        Assert.Equal(2 + 6 + 3, g8.Dimension);
    }

    [Fact]
    public void The_span_api_uses_the_flat_layout_and_allocates_nothing()
    {
        var g = Grad.Of((double[] a, double s) => a[0] * a[1] * s);
        double[] point = [2, 3, 4], gradient = new double[3];
        Assert.Equal(24, g.Evaluate(point.AsSpan(), gradient));
        Assert.Equal([12, 8, 6], gradient);

        g.Evaluate(point.AsSpan(), gradient); // warm
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
            g.Evaluate(point.AsSpan(), gradient);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void A_short_array_argument_is_named_in_the_error()
    {
        var g = Grad.Of((double[] a) => a[3]);
        var e = Assert.Throws<ArgumentException>(() => g.Evaluate([1.0, 2.0]));
        Assert.Contains("'a' has length 2 but the function reads a[3]", e.Message);
        Assert.Throws<ArgumentException>(() => g.Evaluate(new double[1].AsSpan(), new double[4]));
    }

    [Fact]
    public void Integer_conversions_and_sign_are_supported()
    {
        var g = Grad.Of((double x) => Math.Sign(x) * x + (double)3);
        Assert.Equal((5.0, 1.0), Tuple(g.Evaluate(2)));
        Assert.Equal((5.0, -1.0), Tuple(g.Evaluate(-2)));
    }

    [Fact]
    public void An_integer_conditional_converted_to_double_is_a_conditional()
    {
        // C# types x > 0 ? 1 : 0 as int and converts it: a step function times x.
        var g = Grad.Of((double x) => (x > 0 ? 1 : 0) * x * x);
        Assert.Equal((9.0, 6.0), Tuple(g.Evaluate(3)));
        Assert.Equal((0.0, 0.0), Tuple(g.Evaluate(-3)));
    }

    [Fact]
    public void Subgradient_conventions_at_kinks()
    {
        Assert.Equal(0, Grad.Of((double x) => Math.Abs(x)).Evaluate(0).D1);
        Assert.Equal(0, Grad.Of((double x) => Fn.Relu(x)).Evaluate(0).D1);
        Assert.Equal(1, Grad.Of((double x) => Fn.Relu(x)).Evaluate(2).D1);
        var max = Grad.Of((double x, double y) => Math.Max(x, y)).Evaluate(1, 1);
        Assert.Equal((0.5, 0.5), (max.D1, max.D2));
        var min = Grad.Of((double x, double y) => Math.Min(x, y)).Evaluate(1, 2);
        Assert.Equal((1.0, 0.0), (min.D1, min.D2));
        Assert.Equal(1, Grad.Of((double x) => Math.Max(x, x)).Evaluate(3).D1);
        Assert.Equal(0, Grad.Of((double x) => Math.Floor(x) + Math.Round(x) + Math.Ceiling(x) + Math.Truncate(x)).Evaluate(1.3).D1);
    }

    [Fact]
    public void Powers_have_no_spurious_nan_at_a_zero_base()
    {
        // ∂(u^p)/∂p = u^p·ln u is 0·(−∞) at u = 0; its limit is 0. And x⁰ = 1 has derivative 0 even at x = 0.
        var (value, du, dp) = Grad.Of((double u, double p) => Math.Pow(u, p)).Evaluate(0, 2);
        Assert.Equal((0.0, 0.0, 0.0), (value, du, dp));
        Assert.Equal(Math.Pow(2, 3) * Math.Log(2), Grad.Of((double u, double p) => Math.Pow(u, p)).Evaluate(2, 3).D2, 14);
        Assert.Equal(0, Grad.Of((double x) => Math.Pow(x, 0)).Evaluate(0).D1);
    }

    [Fact]
    public void Constants_fold_and_repeated_subexpressions_are_staged_once()
    {
        var g = Grad.Of((double x) => Math.Exp(x * 2) * Math.Exp(x * 2) + Math.Log(10) * 3);
        var listing = g.ToListing();
        Assert.Single(listing.Split('\n'), line => line.Contains("exp"));
        Assert.DoesNotContain("log", listing);
        Assert.Equal(2 * 2 * Math.Exp(4), g.Evaluate(1).D1, 12);
    }

    [Fact]
    public void A_constant_function_has_a_zero_gradient()
    {
        var (value, dx, dy) = Grad.Of((double x, double y) => 3.0).Evaluate(1, 2);
        Assert.Equal((3.0, 0.0, 0.0), (value, dx, dy));
        var (v2, d2) = Grad.Of((double x) => x).Evaluate(7);
        Assert.Equal((7.0, 1.0), (v2, d2));
    }

    [Theory]
    [InlineData(2.0, 3.0)]
    [InlineData(0.5, -1.25)]
    public void Every_math_method_agrees_with_numeric_differences(double x, double y)
    {
        var g = Grad.Of((double a, double b) =>
            Math.Exp(a) + Math.Log(a * a + 1) + Math.Log(a * a + 2, 3) + Math.Log10(b * b + 1) + Math.Log2(a * a + 1)
            + Math.Sqrt(a * a + 1) + Math.Cbrt(b) + Math.Pow(a * a + 1, b) + Math.Sin(a) + Math.Cos(b) + Math.Tan(a / 4)
            + Math.Asin(Math.Tanh(b) * 0.5) + Math.Acos(Math.Tanh(a) * 0.5) + Math.Atan(b) + Math.Atan2(a, b) + Math.Sinh(a)
            + Math.Cosh(b) + Math.Tanh(a) + Math.Asinh(b) + Math.Acosh(a * a + 2) + Math.Atanh(Math.Tanh(b) * 0.5)
            + Math.Abs(b) + Math.Max(a, b) + Math.Min(a, b) + Fn.Sigmoid(a) + Fn.Relu(b) + Fn.Softplus(a * b) + Fn.Square(a - b)
            + a / b - -a);
        var report = GradCheck.Check(g, [x, y]);
        Assert.True(report.Passed, report.ToString());
    }

    private static (double, double) Tuple(ValueAndGradient<double> r) => (r.Value, r.D1);

    private static (double, double, double) Tuple(ValueAndGradient<double, double> r) => (r.Value, r.D1, r.D2);
}
