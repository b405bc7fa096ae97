using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Tests.Tensors;

/// <summary>
/// Shapes are only known once values arrive (parameters at a call, captured values whenever they are read), so a
/// mismatch is reported at the first call that sees it, as an <see cref="ExprGradException"/> naming the operation
/// and both shapes, never as MathNet's own exception from deep inside the compiled code, and never as a wrong number.
/// </summary>
public sealed class ShapeErrorTests
{
    // Per test (xunit makes an instance per test), so each test's values are the same whatever order tests run in.
    private readonly Random _rng = new(4);

    private Matrix<double> M(int rows, int columns) => Data.Matrix(_rng, rows, columns);

    private Vector<double> V(int length) => Data.Vector(_rng, length);

    // Thrown by Grad.Of or by the call: either is "at the first call" for the user, who does both at once.
    private static ExprGradException Throws(Action differentiateAndCall) => Assert.Throws<ExprGradException>(differentiateAndCall);

    private static void Names(ExprGradException e, string[] operation, params string[] shapes)
    {
        Assert.True(operation.Any(e.Message.Contains), $"the message should name the operation ({string.Join(" or ", operation)}): {e.Message}");
        foreach (var shape in shapes)
            Assert.True(e.Message.Contains(shape, StringComparison.Ordinal), $"the message should name the shape {shape}: {e.Message}");
    }

    // A vector's shape is its length, however the message words it: the number standing alone.
    private static void NamesLength(ExprGradException e, int length) =>
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(e.Message, $@"(?<![\d×]){length}(?![\d×])"),
            $"the message should name the vector length {length}: {e.Message}");

    private static readonly string[] MatrixProduct = ["*", "Multiply", "product"];

    [Fact]
    public void Matrix_product_with_mismatched_inner_dimensions()
    {
        var X = M(250, 64);
        var e = Throws(() => Grad.Of((Matrix<double> W1) => (W1 * X).FrobeniusNorm()).Evaluate(M(10, 256)));
        Names(e, MatrixProduct, "10×256", "250×64");
    }

    [Fact]
    public void The_READMEs_perceptron_names_the_product_and_spells_its_operand_as_CSharp()
    {
        // The README's promise: (W2 * h), with h written as the user wrote it, never Linq's CreateDelegate and Convert.
        var (X, Y) = (M(250, 64), Data.OneHot(_rng, 10, 64));
        var lambda = 0.1;
        var loss = Grad.Of((Matrix<double> W1, Matrix<double> W2) =>
            Fn.CrossEntropy(W2 * (W1 * X).Map(Fn.Relu), Y) + lambda / 2 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()));
        var e = Throws(() => loss.Evaluate(M(256, 250), M(10, 250)));
        Assert.StartsWith("(W2 * h) where h = (W1 * X).Map(Fn.Relu): a 10×250 matrix and a 256×64 matrix do not fit: "
            + "a matrix product needs the first's columns to match the second's rows", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pointwise_multiply_of_different_shapes()
    {
        var e = Throws(() => Grad.Of((Matrix<double> A, Matrix<double> B) => A.PointwiseMultiply(B).FrobeniusNorm()).Evaluate(M(2, 3), M(3, 2)));
        Names(e, ["PointwiseMultiply"], "2×3", "3×2");
    }

    [Fact]
    public void Sum_of_different_shapes()
    {
        var e = Throws(() => Grad.Of((Matrix<double> A, Matrix<double> B) => (A + B).FrobeniusNorm()).Evaluate(M(2, 3), M(2, 2)));
        Names(e, ["+", "Add"], "2×3", "2×2");
    }

    [Fact]
    public void Mismatch_between_two_captured_values()
    {
        var (X, Z) = (M(4, 5), M(5, 4));
        var e = Throws(() => Grad.Of((Matrix<double> W) => (W * (X + Z)).FrobeniusNorm()).Evaluate(M(3, 4)));
        Names(e, ["+", "Add"], "4×5", "5×4");
    }

    [Fact]
    public void Loss_of_logits_and_captured_targets_of_different_shapes()
    {
        var (X, Y) = (M(4, 5), Data.OneHot(_rng, 3, 6));
        var e = Throws(() => Grad.Of((Matrix<double> W) => Fn.CrossEntropy(W * X, Y)).Evaluate(M(3, 4)));
        Names(e, ["CrossEntropy"], "3×5", "3×6");
    }

    [Fact]
    public void Matrix_vector_product_with_a_vector_of_the_wrong_length()
    {
        var e = Throws(() => Grad.Of((Matrix<double> W, Vector<double> x) => (W * x).Sum()).Evaluate(M(3, 4), V(5)));
        Names(e, MatrixProduct, "3×4");
        NamesLength(e, 5);
    }

    [Fact]
    public void Dot_product_of_vectors_of_different_lengths()
    {
        var e = Throws(() => Grad.Of((Vector<double> u, Vector<double> v) => u.DotProduct(v)).Evaluate(V(3), V(4)));
        Names(e, ["DotProduct"]);
        NamesLength(e, 3);
        NamesLength(e, 4);
    }

    [Fact]
    public void A_captured_value_that_changes_shape_is_caught_at_the_next_call()
    {
        // X is read at every call: a later minibatch of the wrong height must be refused at that call, and the
        // gradient must keep working once X is right again (no state poisoned by the failed call).
        var X = M(5, 8);
        var g = Grad.Of((Matrix<double> W) => (W * X).FrobeniusNorm());
        var w = M(3, 5);
        var before = g.Evaluate(w);

        X = M(7, 8);
        var e = Assert.Throws<ExprGradException>(() => g.Evaluate(w));
        Names(e, MatrixProduct, "3×5", "7×8");

        X = M(5, 2);
        var (value, dW) = g.Evaluate(w);
        TensorAssert.Close((w * X).FrobeniusNorm(), value, 1e-12, "value after the failed call");
        TensorAssert.Close(Numeric.Gradient(m => (m * X).FrobeniusNorm(), w), dW, 1e-8, "dW after the failed call");
        Assert.NotEqual(before.Value, value);
    }

    [Fact]
    public void A_parameter_of_another_shape_at_a_later_call_is_checked_again()
    {
        var X = M(5, 8);
        var g = Grad.Of((Matrix<double> W) => (W * X).FrobeniusNorm());
        g.Evaluate(M(3, 5));
        var e = Assert.Throws<ExprGradException>(() => g.Evaluate(M(3, 6)));
        Names(e, MatrixProduct, "3×6", "5×8");
    }

    [Fact]
    public void Null_matrix_argument_names_the_parameter()
    {
        var X = M(4, 2);
        var g = Grad.Of((Matrix<double> W1, Matrix<double> W2) => (W2 * (W1 * X)).FrobeniusNorm());
        Assert.Equal("W1", Assert.Throws<ArgumentNullException>(() => g.Evaluate(null!, M(2, 3))).ParamName);
        Assert.Equal("W2", Assert.Throws<ArgumentNullException>(() => g.Evaluate(M(3, 4), null!)).ParamName);
    }

    [Fact]
    public void Null_vector_argument_names_the_parameter()
    {
        var g = Grad.Of((Matrix<double> W, Vector<double> x) => (W * x).Sum());
        Assert.Equal("x", Assert.Throws<ArgumentNullException>(() => g.Evaluate(M(2, 3), null!)).ParamName);
    }
}
