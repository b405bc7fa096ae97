using ExprGrad.Tests.Tensors;
using MathNet.Numerics.LinearAlgebra;
using Xunit;

namespace ExprGrad.Tests.SecondOrder;

/// <summary>
/// The typed Hessian-vector product on functions whose Hessian has a closed form: least squares in a weight matrix
/// (H·V = V·X·Xᵀ/n), a quadratic form in a vector, a weight-decay term, a scalar scaling a matrix, the MLP of the D2L seed
/// against differences of its gradient; and the API's checks of the direction.
/// </summary>
public sealed class TensorHessianVectorTests
{
    private static readonly Random Rng = new(20261203);

    private static Matrix<double> Matrix(int rows, int columns) => Data.Matrix(Rng, rows, columns);

    private static Vector<double> Vector(int length) => Data.Vector(Rng, length);

    [Fact]
    public void Least_squares_in_a_weight_matrix_has_H_V_equal_to_V_X_Xt_over_n()
    {
        // f(W) = ½‖W·X − T‖²/n over n columns: ∇f = (W·X − T)·Xᵀ/n, so H·V = V·X·Xᵀ/n, whatever W.
        var (x, t) = (Matrix(4, 7), Matrix(3, 7));
        var g = Grad.Of((Matrix<double> W) => Fn.SquaredError(W * x, t));
        var (w, v) = (Matrix(3, 4), Matrix(3, 4));

        var hv = g.HessianVectorProduct(w, v);

        TensorAssert.Close(v * x * x.Transpose() / 7, hv, 1e-13, "H·V");
        Assert.NotSame(v, hv);
    }

    [Fact]
    public void A_quadratic_form_in_a_vector_has_the_symmetric_part_as_its_Hessian()
    {
        // f(w) = wᵀ·A·w + sin(c·w): H = A + Aᵀ − sin(c·w)·c·cᵀ.
        var (a, c) = (Matrix(5, 5), Vector(5));
        var g = Grad.Of((Vector<double> w) => w.DotProduct(a * w) + Math.Sin(c.DotProduct(w)));
        var (w, v) = (Vector(5), Vector(5));

        var hv = g.HessianVectorProduct(w, v);

        var expected = (a + a.Transpose()) * v - Math.Sin(c.DotProduct(w)) * c.DotProduct(v) * c;
        TensorAssert.Close(expected, hv, 1e-13, "H·v");
    }

    [Fact]
    public void A_scalar_scaling_a_matrix_couples_the_two_blocks()
    {
        // f(W, s) = s²‖W‖²/2: H·(V, t) = (s²V + 2st·W, 2s⟨W, V⟩ + t‖W‖²).
        var g = Grad.Of((Matrix<double> W, double s) => s * s * W.FrobeniusNorm() * W.FrobeniusNorm() / 2);
        var (w, v) = (Matrix(3, 2), Matrix(3, 2));
        var (s, t) = (0.7, -1.3);

        var (hw, hs) = g.HessianVectorProduct(w, s, v, t);

        TensorAssert.Close(s * s * v + 2 * s * t * w, hw, 1e-13, "H·v in W");
        var inner = w.PointwiseMultiply(v).Enumerate().Sum();
        Assert.Equal(2 * s * inner + t * w.FrobeniusNorm() * w.FrobeniusNorm(), hs, 12);
    }

    [Fact]
    public void The_D2L_MLP_has_H_v_equal_to_differences_of_its_gradient_and_weight_decay_adds_lambda_v()
    {
        // The seed's network: softmax cross-entropy of W2·relu(W1·X) plus λ/2 (‖W1‖² + ‖W2‖²).
        const double lambda = 0.01;
        var x = Matrix(6, 10);
        var y = Data.OneHot(Rng, 4, 10);
        var g = Grad.Of((Matrix<double> W1, Matrix<double> W2) =>
            Fn.CrossEntropy(W2 * (W1 * x).Map(Fn.Relu), y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()));
        var data = Grad.Of((Matrix<double> W1, Matrix<double> W2) => Fn.CrossEntropy(W2 * (W1 * x).Map(Fn.Relu), y));
        var (w1, w2, v1, v2) = (Matrix(5, 6), Matrix(4, 5), Matrix(5, 6), Matrix(4, 5));

        var (h1, h2) = g.HessianVectorProduct(w1, w2, v1, v2);

        // relu is piecewise linear: along v, the gradient changes linearly until an activation crosses 0, far past h.
        const double h = 1e-6;
        var (_, p1, p2) = g.Evaluate(w1 + h * v1, w2 + h * v2);
        var (_, m1, m2) = g.Evaluate(w1 - h * v1, w2 - h * v2);
        TensorAssert.Close((p1 - m1) / (2 * h), h1, 1e-7, "H·v in W1");
        TensorAssert.Close((p2 - m2) / (2 * h), h2, 1e-7, "H·v in W2");
        var (d1, d2) = data.HessianVectorProduct(w1, w2, v1, v2);
        TensorAssert.Close(d1 + lambda * v1, h1, 1e-14, "weight decay in W1");
        TensorAssert.Close(d2 + lambda * v2, h2, 1e-14, "weight decay in W2");
    }

    [Fact]
    public void Typed_products_agree_with_the_flat_product_on_doubles_and_arrays()
    {
        // A sum over an array of any length, read at indices known only at the call: its gradient is dotted with v.
        var g = Grad.Of((double c, double[] w) => Enumerable.Range(0, w.Length - 1).Sum(i => c * (w[i + 1] - w[i] * w[i]) * (w[i + 1] - w[i] * w[i])));
        double[] w = [0.3, -0.2, 0.9, 1.4, 0.1];
        double[] v = [0.1, 0.5, -0.3, 0.2, 0.7];

        var (hc, hw) = g.HessianVectorProduct(1.3, w, -0.4, v);

        var flat = new double[6];
        g.HessianVectorProduct([1.3, .. w], [-0.4, .. v], flat);
        Assert.Equal(flat[0], hc);
        Assert.Equal(flat[1..], hw);
    }

    [Fact]
    public void An_array_of_any_length_need_not_be_last_for_the_typed_product()
    {
        // The flat layout has no place for it (a NotSupportedException there); the typed product takes it as it is.
        var g = Grad.Of((double[] w, double c) => w.Sum(t => c * t * t * t));
        Assert.Throws<NotSupportedException>(() => g.HessianVectorProduct([1.0, 2.0, 3.0], [1.0, 0, 0], new double[3]));

        var (hw, hc) = g.HessianVectorProduct([1.0, 2.0], 0.5, [1.0, -1.0], 2.0);

        // ∂²/∂w_i² = 6c·w_i, ∂²/∂w_i∂c = 3w_i², ∂²/∂c² = 0.
        Assert.Equal([6 * 0.5 * 1 * 1 + 3 * 1 * 2.0, 6 * 0.5 * 2 * -1 + 3 * 4 * 2.0], hw);
        Assert.Equal(3 * 1 * 1.0 + 3 * 4 * -1.0, hc);
    }

    [Fact]
    public void A_direction_shaped_unlike_the_point_is_refused_by_name()
    {
        var g = Grad.Of((Matrix<double> W, Vector<double> b) => (W * b).Sum());
        var e = Assert.Throws<ArgumentException>(() => g.HessianVectorProduct(Matrix(2, 3), Vector(3), Matrix(3, 2), Vector(3)));
        Assert.Equal("v1", e.ParamName);
        Assert.StartsWith("the direction's part v1 is 3 × 2 but parameter 'W' is 2 × 3", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<ArgumentException>(() => g.HessianVectorProduct(Matrix(2, 3), Vector(3), Matrix(2, 3), Vector(4)));
        Assert.StartsWith("the direction's part v2 is 4 long but parameter 'b' is 3 long", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>("v2", () => g.HessianVectorProduct(Matrix(2, 3), Vector(3), Matrix(2, 3), null!));
    }

    [Fact]
    public void A_fold_over_matrix_invariants_has_its_H_v_from_its_tangent()
    {
        // a_{k+1} = tanh(a_k·Σ(W·b) + ‖W‖·x_k): a fold whose invariants are computed from a matrix and a vector.
        double[] xs = [0.3, -1.1, 0.8, 0.2];
        var g = Grad.Of((Matrix<double> W, Vector<double> b) =>
            Enumerable.Range(0, xs.Length).Aggregate(0.5, (a, k) => Math.Tanh(a * (W * b).Sum() + W.FrobeniusNorm() * xs[k])));
        var (w, b, vw, vb) = (Matrix(3, 2), Vector(2), Matrix(3, 2), Vector(2));

        var (hw, hb) = g.HessianVectorProduct(w, b, vw, vb);

        const double h = 1e-6;
        var (_, pw, pb) = g.Evaluate(w + h * vw, b + h * vb);
        var (_, mw, mb) = g.Evaluate(w - h * vw, b - h * vb);
        TensorAssert.Close((pw - mw) / (2 * h), hw, 1e-7, "H·v in W");
        TensorAssert.Close((pb - mb) / (2 * h), hb, 1e-7, "H·v in b");
    }

    [Fact]
    public void Matrix_parameters_have_no_flat_Hessian_and_are_sent_to_the_typed_product()
    {
        var g = Grad.Of((Matrix<double> W) => W.FrobeniusNorm());
        var e = Assert.Throws<NotSupportedException>(() => g.Hessian(1.0));
        Assert.EndsWith("call the typed Evaluate(...); for second derivatives, the typed HessianVectorProduct(a1, ..., v1, ...)", e.Message, StringComparison.Ordinal);
    }
}
