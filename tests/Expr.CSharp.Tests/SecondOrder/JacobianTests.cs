using System.Linq.Expressions;
using MathNet.Numerics;
using MathNet.Numerics.LinearAlgebra;
using Xunit;

namespace ExprGrad.Tests.SecondOrder;

/// <summary>Jacobians of functions with several results, their products, and what they refuse.</summary>
public sealed class JacobianTests
{
    [Fact]
    public void Polar_to_cartesian_as_a_tuple_of_doubles()
    {
        var j = Grad.Jacobian((double r, double t) => ValueTuple.Create(r * Math.Cos(t), r * Math.Sin(t)));
        var (r, t) = (2.0, 0.3);
        Assert.Equal((2, 2), (j.OutputCount, j.Dimension));
        var m = j.Evaluate(r, t);
        Assert.Equal(Math.Cos(t), m[0, 0]);
        Assert.Equal(-r * Math.Sin(t), m[0, 1]);
        Assert.Equal(Math.Sin(t), m[1, 0]);
        Assert.Equal(r * Math.Cos(t), m[1, 1]);
        Assert.Equal([r * Math.Cos(t), r * Math.Sin(t)], j.Values(r, t));
    }

    [Fact]
    public void Array_function_from_the_issue_returns_m_by_d()
    {
        var j = Grad.Jacobian(a => new[] { a[0] * a[1], Math.Sin(a[0]), a[2] / a[1] });
        var a = new[] { 0.5, 2.0, -3.0 };
        var m = j.Evaluate(a);
        var expected = new double[,]
        {
            { a[1], a[0], 0 },
            { Math.Cos(a[0]), 0, 0 },
            { 0, -a[2] / (a[1] * a[1]), 1 / a[1] },
        };
        Assert.Equal(expected, m);
    }

    [Fact]
    public void Vector_result_built_from_components()
    {
        var j = Grad.Jacobian(a => Vector<double>.Build.Dense(new[] { a[0] * a[0], a[0] + a[1] }));
        Assert.Equal(new double[,] { { 6, 0 }, { 1, 1 } }, j.Evaluate(3, 4));
    }

    [Fact]
    public void More_results_than_inputs_goes_column_by_column_and_agrees()
    {
        // f: R → R⁴ (forward mode, by transposing reverse mode), against the derivatives by hand.
        var j = Grad.Jacobian((double x) => new[] { x, x * x, x * x * x, Math.Sin(x) * Math.Exp(x) });
        var x = 0.7;
        var m = j.Evaluate(x);
        Assert.Equal(1, m[0, 0]);
        Assert.Equal(2 * x, m[1, 0]);
        Assert.Equal(3 * x * x, m[2, 0], 1e-15);
        Assert.Equal((Math.Cos(x) + Math.Sin(x)) * Math.Exp(x), m[3, 0], 1e-15);
    }

    [Fact]
    public void A_rule_differentiated_once_falls_back_from_columns_to_rows()
    {
        // Three results of one input would go column by column, which differentiates the [Derivative] rule's partial
        // (SoftplusDerivative) again; it has no rule, so the Jacobian is staged by rows, which need first derivatives
        // only. J·v follows.
        var j = Grad.Jacobian((double x) => new[] { MyMath.Softplus(x), x * x, Math.Exp(x) });
        var x = 1.5;
        var m = j.Evaluate(x);
        Assert.Equal(MyMath.SoftplusDerivative(x), m[0, 0], 1e-15);
        Assert.Equal(2 * x, m[1, 0]);
        Assert.Equal(Math.Exp(x), m[2, 0]);
        var jv = new double[3];
        j.JacobianVectorProduct([x], [2.0], jv);
        Assert.Equal([2 * m[0, 0], 2 * m[1, 0], 2 * m[2, 0]], jv);
    }

    [Fact]
    public void Products_agree_with_the_dense_Jacobian()
    {
        var j = Grad.Jacobian((double[] a) => new[]
        {
            a[0] * a[1] * a[2], Math.Exp(a[0] - a[3]), Fn.Sigmoid(a[1] + a[2]), a[3] > 0 ? Math.Log(a[3]) : a[0], Math.Atan2(a[1], a[2]),
        });
        var a = new[] { 0.3, -1.2, 0.8, 2.5 };
        var dense = j.Evaluate(a);
        var u = new[] { 1.0, -2.0, 0.5, 3.0, -1.5 };
        var v = new[] { 0.25, 1.0, -0.75, 2.0 };
        var uJ = new double[4];
        j.VectorJacobianProduct(a, u, uJ);
        var jv = new double[5];
        j.JacobianVectorProduct(a, v, jv);
        for (var c = 0; c < 4; c++)
            Assert.Equal(Enumerable.Range(0, 5).Sum(k => u[k] * dense[k, c]), uJ[c], 1e-13);
        for (var k = 0; k < 5; k++)
            Assert.Equal(Enumerable.Range(0, 4).Sum(c => dense[k, c] * v[c]), jv[k], 1e-13);
    }

    [Fact]
    public void Gradient_of_a_sum_is_the_row_of_its_Jacobian()
    {
        // The Jacobian's row k is the gradient of result k: the same staged rules, the same bits.
        Expression<Func<double, double, double>> f = (x, y) => Math.Sin(x * y) / (1 + y * y);
        var g = Grad.Of(f);
        var j = Grad.Jacobian((double x, double y) => new[] { Math.Sin(x * y) / (1 + y * y) });
        var (_, dx, dy) = g.Evaluate(0.4, -1.3);
        var m = j.Evaluate(0.4, -1.3);
        Assert.Equal(dx, m[0, 0]);
        Assert.Equal(dy, m[0, 1]);
    }

    [Fact]
    public void Result_not_written_out_is_refused_with_the_forms()
    {
        var e = Assert.Throws<ExprGradException>(() => Grad.Jacobian(a => a.Select(v => v * v).ToArray()));
        Assert.Contains("new[] { e1, e2, ... }", e.Message);
    }

    [Fact]
    public void Results_of_loops_over_an_array_of_any_length_have_as_many_columns_as_the_point()
    {
        // Rows are vector-Jacobian products (the array's gradient is scattered by the loop), J·v comes from the rows.
        var j = Grad.Jacobian(a => new[] { a.Sum(v => v * v), a.Select((v, i) => v * i).Sum(), a[0] * a[1] });
        Assert.Equal(new[,] { { 2.0, 4.0, -2.0 }, { 0.0, 1.0, 2.0 }, { 2.0, 1.0, 0.0 } }, j.Evaluate(1.0, 2.0, -1.0));
        Assert.Equal(new[,] { { 2.0, 4.0, 6.0, 8.0 }, { 0.0, 1.0, 2.0, 3.0 }, { 2.0, 1.0, 0.0, 0.0 } }, j.Evaluate(1.0, 2.0, 3.0, 4.0));
        Assert.Equal([30.0, 20.0, 2.0], j.Values(1.0, 2.0, 3.0, 4.0));
        var uj = new double[4];
        j.VectorJacobianProduct([1.0, 2.0, 3.0, 4.0], [1.0, -1.0, 2.0], uj);
        Assert.Equal([6.0, 5.0, 4.0, 5.0], uj);
        var jv = new double[3];
        j.JacobianVectorProduct([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 0.0, 1.0], jv);
        Assert.Equal([10.0, 3.0, 2.0], jv);
        Assert.Throws<ArgumentException>(() => j.JacobianVectorProduct([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 0.0], jv));
    }

    [Fact]
    public void Span_lengths_are_checked()
    {
        var j = Grad.Jacobian((double x, double y) => Tuple.Create(x * y, x - y, x + y));
        var e = Assert.Throws<ArgumentException>(() => j.Evaluate([1.0, 2.0], new double[5]));
        Assert.Contains("Jacobian has 5 values but the function needs 6", e.Message);
        Assert.Throws<ArgumentException>(() => j.Evaluate(1.0));
        Assert.Throws<ArgumentException>(() => j.VectorJacobianProduct([1.0, 2.0], [1.0, 1.0], new double[2]));
        Assert.Throws<ArgumentException>(() => j.JacobianVectorProduct([1.0, 2.0], [1.0, 1.0], new double[2]));
    }

    [Fact]
    public void A_Jacobian_through_a_captured_matrix_crosses_its_Map_and_norm()
    {
        // (p, q) ↦ (Σ tanh(X·p + q), p·q·‖X‖): the tensor rules are swept again for J·v, as for a Hessian.
        var x = Matrix<double>.Build.Random(3, 4, seed: 7);
        var jacobian = Grad.Jacobian((double p, double q) => ValueTuple.Create(x.Map(t => Math.Tanh(t * p + q)).ColumnSums().Sum(), q * p * x.FrobeniusNorm()));
        var j = jacobian.Evaluate(0.4, -0.3);

        var sech2 = x.Map(t => 1 / (Math.Cosh(0.4 * t - 0.3) * Math.Cosh(0.4 * t - 0.3)));
        Assert.Equal(sech2.PointwiseMultiply(x).Enumerate().Sum(), j[0, 0], 1e-13);
        Assert.Equal(sech2.Enumerate().Sum(), j[0, 1], 1e-13);
        Assert.Equal(-0.3 * x.FrobeniusNorm(), j[1, 0], 1e-14);
        Assert.Equal(0.4 * x.FrobeniusNorm(), j[1, 1], 1e-14);
        var jv = new double[2];
        jacobian.JacobianVectorProduct([0.4, -0.3], [1.0, 2.0], jv);
        Assert.Equal(j[0, 0] + 2 * j[0, 1], jv[0], 1e-12);
        Assert.Equal(j[1, 0] + 2 * j[1, 1], jv[1], 1e-12);
    }
}
