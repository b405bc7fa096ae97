using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Tests.Tensors;

/// <summary>
/// CS231n, "gradients for vectorized operations": D = W·X with W 5 × 10, X 10 × 3 and a random upstream gradient
/// D̄ (5 × 3, the shape of D). Contracting D with D̄, f = Σᵢⱼ Dᵢⱼ D̄ᵢⱼ, makes D̄ exactly ∂f/∂D, so ExprGrad's gradients
/// of f are the notes' <c>dW = dD.dot(X.T)</c> and <c>dX = W.T.dot(dD)</c>: dW = D̄·Xᵀ (5 × 10, like W),
/// dX = Wᵀ·D̄ (10 × 3, like X), the only products of D̄ with X and W that have those shapes.
/// </summary>
public sealed class Cs231nTests
{
    // f is bilinear, so the differences are exact up to rounding; both analytic routes agree to rounding.
    private const double NumericTolerance = 1e-8;
    private const double AnalyticTolerance = 1e-12;

    private readonly Matrix<double> _w, _x, _dBar;

    public Cs231nTests()
    {
        var rng = new Random(231);
        _w = Data.Matrix(rng, 5, 10);
        _x = Data.Matrix(rng, 10, 3);
        _dBar = Data.Matrix(rng, 5, 3);
    }

    private static double F(Matrix<double> w, Matrix<double> x, Matrix<double> dBar) =>
        (w * x).PointwiseMultiply(dBar).ColumnSums().Sum();

    [Fact]
    public void The_notes_gradients_agree_with_central_differences()
    {
        TensorAssert.Close(Numeric.Gradient(w => F(w, _x, _dBar), _w), _dBar.TransposeAndMultiply(_x), NumericTolerance, "dW = D̄·Xᵀ");
        TensorAssert.Close(Numeric.Gradient(x => F(_w, x, _dBar), _x), _w.TransposeThisAndMultiply(_dBar), NumericTolerance, "dX = Wᵀ·D̄");
    }

    [Fact]
    public void ExprGrad_gives_dW_is_Dbar_Xt_and_dX_is_Wt_Dbar()
    {
        var dBar = _dBar;
        var g = Grad.Of((Matrix<double> W, Matrix<double> X) => (W * X).PointwiseMultiply(dBar).ColumnSums().Sum());
        var (f, dW, dX) = g.Evaluate(_w, _x);

        TensorAssert.Close(F(_w, _x, _dBar), f, AnalyticTolerance, "f");
        Assert.Equal((5, 10), (dW.RowCount, dW.ColumnCount));
        Assert.Equal((10, 3), (dX.RowCount, dX.ColumnCount));
        TensorAssert.Close(_dBar * _x.Transpose(), dW, AnalyticTolerance, "dW = D̄·Xᵀ");
        TensorAssert.Close(_w.Transpose() * _dBar, dX, AnalyticTolerance, "dX = Wᵀ·D̄");
    }

    [Fact]
    public void Summing_rows_instead_of_columns_gives_the_same_gradients()
    {
        var dBar = _dBar;
        var (_, dW, dX) = Grad.Of((Matrix<double> W, Matrix<double> X) => (W * X).PointwiseMultiply(dBar).RowSums().Sum()).Evaluate(_w, _x);
        TensorAssert.Close(_dBar * _x.Transpose(), dW, AnalyticTolerance, "dW = D̄·Xᵀ");
        TensorAssert.Close(_w.Transpose() * _dBar, dX, AnalyticTolerance, "dX = Wᵀ·D̄");
    }

    [Fact]
    public void Product_with_a_transposed_factor_follows_the_same_dimension_analysis()
    {
        // D = W·Xtᵀ written with TransposeAndMultiply (Xt is 3 × 10): dW = D̄·Xt, dXt = D̄ᵀ·W.
        // D = Wtᵀ·X written with TransposeThisAndMultiply (Wt is 10 × 5): dWt = X·D̄ᵀ, dX = Wt·D̄.
        var dBar = _dBar;
        var (xt, wt) = (_x.Transpose(), _w.Transpose());

        var (_, dW, dXt) = Grad.Of((Matrix<double> W, Matrix<double> Xt) => W.TransposeAndMultiply(Xt).PointwiseMultiply(dBar).ColumnSums().Sum()).Evaluate(_w, xt);
        TensorAssert.Close(_dBar * xt, dW, AnalyticTolerance, "dW = D̄·Xt");
        TensorAssert.Close(_dBar.Transpose() * _w, dXt, AnalyticTolerance, "dXt = D̄ᵀ·W");

        var (_, dWt, dX) = Grad.Of((Matrix<double> Wt, Matrix<double> X) => Wt.TransposeThisAndMultiply(X).PointwiseMultiply(dBar).ColumnSums().Sum()).Evaluate(wt, _x);
        TensorAssert.Close(_x * _dBar.Transpose(), dWt, AnalyticTolerance, "dWt = X·D̄ᵀ");
        TensorAssert.Close(wt * _dBar, dX, AnalyticTolerance, "dX = Wt·D̄");
    }

    [Fact]
    public void Matrix_vector_and_vector_matrix_products()
    {
        // d = W·x (x one column of X): dW = d̄ xᵀ, dx = Wᵀ d̄. e = uᵀ·W (u ∈ ℝ⁵, MathNet's u * W): du = W ē, dW = u ēᵀ.
        var rng = new Random(232);
        var (x0, dBar, u0, eBar) = (_x.Column(0), Data.Vector(rng, 5), Data.Vector(rng, 5), Data.Vector(rng, 10));

        var (_, dW, dx) = Grad.Of((Matrix<double> W, Vector<double> x) => (W * x).DotProduct(dBar)).Evaluate(_w, x0);
        TensorAssert.Close(dBar.OuterProduct(x0), dW, AnalyticTolerance, "dW = d̄ xᵀ");
        TensorAssert.Close(_w.Transpose() * dBar, dx, AnalyticTolerance, "dx = Wᵀ d̄");
        TensorAssert.Close(Numeric.Gradient(v => (_w * v).DotProduct(dBar), x0), dx, NumericTolerance, "dx (numeric)");

        var (_, du, dW2) = Grad.Of((Vector<double> u, Matrix<double> W) => (u * W) * eBar).Evaluate(u0, _w);
        TensorAssert.Close(_w * eBar, du, AnalyticTolerance, "du = W ē");
        TensorAssert.Close(u0.OuterProduct(eBar), dW2, AnalyticTolerance, "dW = u ēᵀ");
        TensorAssert.Close(Numeric.Gradient(w => (u0 * w) * eBar, _w), dW2, NumericTolerance, "dW (numeric)");
    }
}
