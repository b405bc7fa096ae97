using System.Linq.Expressions;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Tests.Tensors;

/// <summary>
/// The D2L seed (5.3): the one-hidden-layer MLP without biases,
/// <c>z = W1 x, h = φ(z), o = W2 h, J = l(o, y) + λ/2 (‖W1‖²_F + ‖W2‖²_F)</c>,
/// with d = 5 inputs, h = 4 hidden units, q = 3 outputs. ExprGrad's dJ/dW1 and dJ/dW2 must equal the seed's closed
/// forms, and the closed forms must equal central differences (so neither side is taken on trust).
/// </summary>
/// <remarks>
/// The two D2L seeds disagree on one transpose. The Russian notes (000) write ∂J/∂h = W2ᵀ ∂J/∂o; the English
/// summary (001) writes (∂L/∂o) W2ᵀ. Dimension analysis decides, as CS231n advises: ∂J/∂o has o's shape q and
/// ∂J/∂h must have h's shape (h), and W2 is q × h, so the only product of the two that conforms is the
/// (h × q)·(q) = W2ᵀ ∂J/∂o of the first seed. (With row vectors the second would conform, but the seeds' vectors are
/// columns: z = W1 x with W1 ∈ ℝ^{h×d}.) The closed forms below are written that way, and the central-difference
/// tests prove it.
/// </remarks>
public sealed class D2LTests
{
    private const int D = 5, H = 4, Q = 3, N = 6;

    // Large enough that a missing or doubled λW term is far outside every tolerance below.
    private const double Lambda = 0.1;

    // Two analytic gradients computed by different routes agree to rounding; 1e-10 relative per element (floored
    // at 1e-3 of the matrix's largest element, for entries that cancel to ~0) catches any real mistake.
    private const double AnalyticTolerance = 1e-10;

    // Five-point differences on these smooth, O(1) functions are good to ~1e-10; 1e-7 leaves margin and still
    // catches a wrong transpose, a missing λW or a missing 1/n.
    private const double NumericTolerance = 1e-7;

    public enum Activation { Relu, Tanh }

    public enum Loss { CrossEntropy, SquaredError }

    public static TheoryData<Activation, Loss> Cases => new()
    {
        { Activation.Relu, Loss.CrossEntropy },
        { Activation.Relu, Loss.SquaredError },
        { Activation.Tanh, Loss.CrossEntropy },
        { Activation.Tanh, Loss.SquaredError },
    };

    // ---- the closed forms, as the seed writes them ----

    /// <summary>One example: x ∈ ℝ^d, y ∈ ℝ^q (one-hot, or any target for the squared error).</summary>
    public static (double J, Matrix<double> DW1, Matrix<double> DW2) ClosedForm(
        Activation phi, Loss loss, Matrix<double> w1, Matrix<double> w2, Vector<double> x, Vector<double> y, double lambda)
    {
        // forward, caching z, h, o
        var z = w1 * x;
        var h = Phi(phi, z);
        var o = w2 * h;
        var l = loss == Loss.CrossEntropy ? Fn.CrossEntropy(o, y) : Fn.SquaredError(o, y);
        var s = lambda / 2 * (Sq(w1.FrobeniusNorm()) + Sq(w2.FrobeniusNorm()));

        // backward: ∂J/∂o is the loss's gradient in its first argument
        var dO = loss == Loss.CrossEntropy ? Fn.Softmax(o) * y.Sum() - y : o - y;
        var dW2 = dO.OuterProduct(h) + lambda * w2;              // ∂J/∂o hᵀ + λW2
        var dH = w2.TransposeThisAndMultiply(dO);                  // W2ᵀ ∂J/∂o (see the remarks)
        var dZ = dH.PointwiseMultiply(PhiPrime(phi, z));           // ∂J/∂h ⊙ φ'(z)
        var dW1 = dZ.OuterProduct(x) + lambda * w1;                // ∂J/∂z xᵀ + λW1
        return (l + s, dW1, dW2);
    }

    /// <summary>A minibatch: X ∈ ℝ^{d×n} (one example per column), Y ∈ ℝ^{q×n}; the loss is the mean over columns.</summary>
    public static (double J, Matrix<double> DW1, Matrix<double> DW2) ClosedForm(
        Activation phi, Loss loss, Matrix<double> w1, Matrix<double> w2, Matrix<double> x, Matrix<double> y, double lambda)
    {
        var n = x.ColumnCount;
        var z = w1 * x;
        var h = Phi(phi, z);
        var o = w2 * h;
        var l = loss == Loss.CrossEntropy ? Fn.CrossEntropy(o, y) : Fn.SquaredError(o, y);
        var s = lambda / 2 * (Sq(w1.FrobeniusNorm()) + Sq(w2.FrobeniusNorm()));

        // The 1/n of the mean sits in ∂J/∂O; every column of softmax(O) is scaled by its column's Σy.
        var dO = (loss == Loss.CrossEntropy
            ? Fn.Softmax(o) * Matrix<double>.Build.DenseOfDiagonalVector(y.ColumnSums()) - y
            : o - y) / n;
        var dW2 = dO.TransposeAndMultiply(h) + lambda * w2;        // ∂J/∂O Hᵀ + λW2
        var dH = w2.TransposeThisAndMultiply(dO);                  // W2ᵀ ∂J/∂O
        var dZ = dH.PointwiseMultiply(PhiPrime(phi, z));           // ∂J/∂H ⊙ φ'(Z)
        var dW1 = dZ.TransposeAndMultiply(x) + lambda * w1;        // ∂J/∂Z Xᵀ + λW1
        return (l + s, dW1, dW2);
    }

    private static Vector<double> Phi(Activation phi, Vector<double> z) => phi == Activation.Relu ? z.Map(Fn.Relu) : z.PointwiseTanh();
    private static Matrix<double> Phi(Activation phi, Matrix<double> z) => phi == Activation.Relu ? z.Map(Fn.Relu) : z.PointwiseTanh();

    private static Vector<double> PhiPrime(Activation phi, Vector<double> z) =>
        phi == Activation.Relu ? z.Map(t => t > 0 ? 1.0 : 0.0) : z.Map(t => 1 - Math.Tanh(t) * Math.Tanh(t));
    private static Matrix<double> PhiPrime(Activation phi, Matrix<double> z) =>
        phi == Activation.Relu ? z.Map(t => t > 0 ? 1.0 : 0.0) : z.Map(t => 1 - Math.Tanh(t) * Math.Tanh(t));

    private static double Sq(double v) => v * v;

    // ---- the same functions for ExprGrad, written as a user writes them ----

    public static Expression<Func<Matrix<double>, Matrix<double>, double>> OneExample(
        Activation phi, Loss loss, Vector<double> x, Vector<double> y, double lambda) => (phi, loss) switch
    {
        (Activation.Relu, Loss.CrossEntropy) => (W1, W2) =>
            Fn.CrossEntropy(W2 * (W1 * x).Map(Fn.Relu), y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()),
        (Activation.Relu, Loss.SquaredError) => (W1, W2) =>
            Fn.SquaredError(W2 * (W1 * x).Map(Fn.Relu), y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()),
        (Activation.Tanh, Loss.CrossEntropy) => (W1, W2) =>
            Fn.CrossEntropy(W2 * (W1 * x).Map(t => Math.Tanh(t)), y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()),
        (Activation.Tanh, Loss.SquaredError) => (W1, W2) =>
            Fn.SquaredError(W2 * (W1 * x).Map(t => Math.Tanh(t)), y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()),
        _ => throw new ArgumentOutOfRangeException(nameof(phi)),
    };

    public static Expression<Func<Matrix<double>, Matrix<double>, double>> Minibatch(
        Activation phi, Loss loss, Matrix<double> X, Matrix<double> Y, double lambda) => (phi, loss) switch
    {
        (Activation.Relu, Loss.CrossEntropy) => (W1, W2) =>
            Fn.CrossEntropy(W2 * (W1 * X).Map(Fn.Relu), Y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()),
        (Activation.Relu, Loss.SquaredError) => (W1, W2) =>
            Fn.SquaredError(W2 * (W1 * X).Map(Fn.Relu), Y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()),
        (Activation.Tanh, Loss.CrossEntropy) => (W1, W2) =>
            Fn.CrossEntropy(W2 * (W1 * X).Map(t => Math.Tanh(t)), Y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()),
        (Activation.Tanh, Loss.SquaredError) => (W1, W2) =>
            Fn.SquaredError(W2 * (W1 * X).Map(t => Math.Tanh(t)), Y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()),
        _ => throw new ArgumentOutOfRangeException(nameof(phi)),
    };

    // ---- data ----

    private sealed record Point(Matrix<double> W1, Matrix<double> W2, Matrix<double> X, Matrix<double> Y)
    {
        public Vector<double> X0 => X.Column(0);
        public Vector<double> Y0 => Y.Column(0);
    }

    // Seeded; squared-error targets are real-valued, cross-entropy targets one-hot. Relu's kink at 0 is where the
    // closed form (φ' = 0 there) and the differences (a one-sided mix) part ways, so the data keep clear of it.
    private static Point Sample(Loss loss, int seed)
    {
        var rng = new Random(seed);
        var w1 = Data.Matrix(rng, H, D);
        var w2 = Data.Matrix(rng, Q, H);
        var x = Data.Matrix(rng, D, N);
        var y = loss == Loss.CrossEntropy ? Data.OneHot(rng, Q, N) : Data.Matrix(rng, Q, N);
        var z = w1 * x;
        Assert.True(z.Enumerate().All(v => Math.Abs(v) > 1e-2), $"seed {seed}: some z = W1 x is within 1e-2 of relu's kink; pick another seed");
        return new Point(w1, w2, x, y);
    }

    // Chosen (with Seed + 1) so that every z = W1 x keeps at least 0.05 from relu's kink.
    private const int Seed = 25;

    // ---- the closed forms against central differences (no engine involved) ----

    [Theory]
    [MemberData(nameof(Cases))]
    public void Closed_form_for_one_example_agrees_with_central_differences(Activation phi, Loss loss)
    {
        var p = Sample(loss, Seed);
        var (_, dW1, dW2) = ClosedForm(phi, loss, p.W1, p.W2, p.X0, p.Y0, Lambda);
        TensorAssert.Close(Numeric.Gradient(w1 => ClosedForm(phi, loss, w1, p.W2, p.X0, p.Y0, Lambda).J, p.W1), dW1, NumericTolerance, "dJ/dW1");
        TensorAssert.Close(Numeric.Gradient(w2 => ClosedForm(phi, loss, p.W1, w2, p.X0, p.Y0, Lambda).J, p.W2), dW2, NumericTolerance, "dJ/dW2");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Closed_form_for_a_minibatch_agrees_with_central_differences(Activation phi, Loss loss)
    {
        var p = Sample(loss, Seed);
        var (_, dW1, dW2) = ClosedForm(phi, loss, p.W1, p.W2, p.X, p.Y, Lambda);
        TensorAssert.Close(Numeric.Gradient(w1 => ClosedForm(phi, loss, w1, p.W2, p.X, p.Y, Lambda).J, p.W1), dW1, NumericTolerance, "dJ/dW1");
        TensorAssert.Close(Numeric.Gradient(w2 => ClosedForm(phi, loss, p.W1, w2, p.X, p.Y, Lambda).J, p.W2), dW2, NumericTolerance, "dJ/dW2");
    }

    [Fact]
    public void The_other_seeds_transpose_does_not_conform()
    {
        // (∂L/∂o) W2ᵀ, read with column vectors: a q-vector times an h × q matrix. MathNet's v * M is vᵀM, which
        // needs v to have M's row count, h ≠ q here, so the product is undefined; dimension analysis rules it out.
        var p = Sample(Loss.CrossEntropy, Seed);
        var dO = Vector<double>.Build.Dense(Q, 1.0);
        Assert.NotEqual(H, Q);
        Assert.ThrowsAny<ArgumentException>(() => dO * p.W2.Transpose());
    }

    // ---- ExprGrad against the closed forms ----

    [Theory]
    [MemberData(nameof(Cases))]
    public void ExprGrad_equals_the_closed_form_for_one_example(Activation phi, Loss loss)
    {
        var p = Sample(loss, Seed);
        var (x, y) = (p.X0, p.Y0);
        var (j, dW1, dW2) = Grad.Of(OneExample(phi, loss, x, y, Lambda)).Evaluate(p.W1, p.W2);

        var expected = ClosedForm(phi, loss, p.W1, p.W2, x, y, Lambda);
        TensorAssert.Close(expected.J, j, AnalyticTolerance, "J");
        TensorAssert.Close(expected.DW1, dW1, AnalyticTolerance, "dJ/dW1");
        TensorAssert.Close(expected.DW2, dW2, AnalyticTolerance, "dJ/dW2");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ExprGrad_equals_the_closed_form_for_a_minibatch(Activation phi, Loss loss)
    {
        var p = Sample(loss, Seed);
        var (j, dW1, dW2) = Grad.Of(Minibatch(phi, loss, p.X, p.Y, Lambda)).Evaluate(p.W1, p.W2);

        var expected = ClosedForm(phi, loss, p.W1, p.W2, p.X, p.Y, Lambda);
        TensorAssert.Close(expected.J, j, AnalyticTolerance, "J");
        TensorAssert.Close(expected.DW1, dW1, AnalyticTolerance, "dJ/dW1");
        TensorAssert.Close(expected.DW2, dW2, AnalyticTolerance, "dJ/dW2");
    }

    [Fact]
    public void Gradients_are_fresh_matrices_shaped_like_the_parameters_and_the_inputs_are_untouched()
    {
        var p = Sample(Loss.CrossEntropy, Seed);
        var (w1, w2) = (p.W1.Clone(), p.W2.Clone());
        var g = Grad.Of(Minibatch(Activation.Relu, Loss.CrossEntropy, p.X, p.Y, Lambda));
        var first = g.Evaluate(p.W1, p.W2);
        var second = g.Evaluate(p.W1, p.W2);

        Assert.Equal((H, D), (first.D1.RowCount, first.D1.ColumnCount));
        Assert.Equal((Q, H), (first.D2.RowCount, first.D2.ColumnCount));
        Assert.NotSame(first.D1, second.D1);
        Assert.NotSame(first.D2, second.D2);
        Assert.NotSame(p.W1, first.D1);
        Assert.Equal(first.D1, second.D1);
        Assert.Equal(first.D2, second.D2);
        Assert.Equal(w1, p.W1);
        Assert.Equal(w2, p.W2);
    }

    [Fact]
    public void Minibatch_gradient_is_the_mean_of_the_one_example_gradients()
    {
        // The cross-entropy of a d × n minibatch is the mean over its columns, so its gradient is the mean of the n
        // one-example gradients (each with λ = 0; the regularizer is added once).
        var p = Sample(Loss.CrossEntropy, Seed);
        var (_, dW1, dW2) = Grad.Of(Minibatch(Activation.Tanh, Loss.CrossEntropy, p.X, p.Y, 0)).Evaluate(p.W1, p.W2);
        var (sum1, sum2) = (Matrix<double>.Build.Dense(H, D), Matrix<double>.Build.Dense(Q, H));
        for (var k = 0; k < N; k++)
        {
            var (_, d1, d2) = Grad.Of(OneExample(Activation.Tanh, Loss.CrossEntropy, p.X.Column(k), p.Y.Column(k), 0)).Evaluate(p.W1, p.W2);
            sum1 += d1;
            sum2 += d2;
        }
        TensorAssert.Close(sum1 / N, dW1, AnalyticTolerance, "dJ/dW1");
        TensorAssert.Close(sum2 / N, dW2, AnalyticTolerance, "dJ/dW2");
    }

    [Fact]
    public void Captured_data_and_lambda_are_read_at_every_call()
    {
        // The captured X, Y and λ are variables of this method: reassigning them between calls (a new minibatch, of
        // another size, and another λ) must change the gradient to the closed form at the new values.
        var p = Sample(Loss.CrossEntropy, Seed);
        var (X, Y, lambda) = (p.X, p.Y, Lambda);
        var g = Grad.Of((Matrix<double> W1, Matrix<double> W2) =>
            Fn.CrossEntropy(W2 * (W1 * X).Map(Fn.Relu), Y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()));
        var before = g.Evaluate(p.W1, p.W2);
        TensorAssert.Close(ClosedForm(Activation.Relu, Loss.CrossEntropy, p.W1, p.W2, X, Y, lambda).DW1, before.D1, AnalyticTolerance, "dJ/dW1 before");

        var next = Sample(Loss.CrossEntropy, Seed + 1);
        (X, Y, lambda) = (next.X.SubMatrix(0, D, 0, N - 2), next.Y.SubMatrix(0, Q, 0, N - 2), 2 * Lambda);
        var (j, dW1, dW2) = g.Evaluate(p.W1, p.W2);
        var expected = ClosedForm(Activation.Relu, Loss.CrossEntropy, p.W1, p.W2, X, Y, lambda);
        TensorAssert.Close(expected.J, j, AnalyticTolerance, "J after");
        TensorAssert.Close(expected.DW1, dW1, AnalyticTolerance, "dJ/dW1 after");
        TensorAssert.Close(expected.DW2, dW2, AnalyticTolerance, "dJ/dW2 after");
    }
}
