using System.Linq.Expressions;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Tests.Notebook;

/// <summary>
/// <c>ToString()</c> of results and gradients: a result by parameter name (the seed's numbers), the names carried
/// beside the positional parts without changing deconstruction or equality; a gradient of matrices as its listing.
/// </summary>
public sealed class ValueAndGradientTextTests
{
    [Fact]
    public void A_result_prints_its_parts_by_parameter_name()
    {
        // (x + y) * z at (-2, 5, -4) → -12; ∇ = (-4, -4, 3)
        var result = Grad.Of((double x, double y, double z) => (x + y) * z).Evaluate(-2, 5, -4);
        Assert.Equal("f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3", result.ToString());
        Assert.Equal(["x", "y", "z"], result.ParameterNames);
        Assert.Equal("f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3", $"{result}");
    }

    [Fact]
    public void Numbers_print_exactly_and_arrays_in_brackets()
    {
        var result = Grad.Of((double[] w, double b) => w[0] * w[1] + Math.Sin(b)).Evaluate([0.1, 3], 1);
        Assert.Equal($"f = {0.3 + Math.Sin(1):R}, ∂f/∂w = [3, 0.1], ∂f/∂b = {Math.Cos(1):R}", result.ToString());
    }

    [Fact]
    public void Long_arrays_and_large_matrices_print_their_first_elements_and_their_size()
    {
        var result = Grad.Of((Vector<double> w) => w.DotProduct(w)).Evaluate(Vector<double>.Build.Dense(30, k => k));
        Assert.EndsWith("∂f/∂w = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, … (30 in all)]", result.ToString(), StringComparison.Ordinal);

        var m = Matrix<double>.Build.DenseOfArray(new double[,] { { 0, 3 }, { 4, 0 } });
        var small = Grad.Of((Matrix<double> W) => W.FrobeniusNorm() * W.FrobeniusNorm()).Evaluate(m);
        Assert.Equal("f = 25, ∂f/∂W = 2×2 [[0, 6], [8, 0]]", small.ToString());
        var big = Grad.Of((Matrix<double> W) => W.FrobeniusNorm() * W.FrobeniusNorm()).Evaluate(Matrix<double>.Build.Dense(10, 10, 1));
        Assert.Contains("∂f/∂W = 10×10 [[2, 2, 2, 2, 2, 2, 2, 2, … (10 in all)], ", big.ToString(), StringComparison.Ordinal);
        Assert.EndsWith(", … (10 in all)]", big.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_result_built_by_hand_has_no_names_and_prints_its_properties()
    {
        var byHand = new ValueAndGradient<double[]>(2, [1, -1]);
        Assert.Null(byHand.ParameterNames);
        Assert.Equal("Value = 2, D1 = [1, -1]", byHand.ToString());
        Assert.Equal("f = 2, ∂f/∂u = [1, -1]", (byHand with { ParameterNames = ["u"] }).ToString());
        // Names that do not fit the parts are not guessed at.
        Assert.Equal("Value = 2, D1 = [1, -1]", (byHand with { ParameterNames = ["u", "v"] }).ToString());
    }

    [Fact]
    public void Names_change_neither_deconstruction_nor_equality()
    {
        var g = Grad.Of((double x, double y) => x * y);
        var (value, dx, dy) = g.Evaluate(4, -3);
        Assert.Equal((-12.0, -3.0, 4.0), (value, dx, dy));
        var evaluated = g.Evaluate(4, -3);
        var byHand = new ValueAndGradient<double, double>(-12, -3, 4);
        Assert.Equal(byHand, evaluated);
        Assert.True(byHand == evaluated);
        Assert.Equal(byHand.GetHashCode(), evaluated.GetHashCode());
        Assert.NotEqual(byHand, evaluated with { D2 = 5 });
        Assert.Equal(evaluated.ParameterNames, (evaluated with { D2 = 5 }).ParameterNames);
    }

    [Fact]
    public void Results_carry_their_names_as_a_number_so_a_result_of_doubles_holds_no_reference()
    {
        // A reference would cost every Evaluate a GC write barrier; a result of doubles stays free of references.
        Assert.False(System.Runtime.CompilerServices.RuntimeHelpers.IsReferenceOrContainsReferences<ValueAndGradient<double, double, double>>());
        Assert.Equal(4 * sizeof(double) + sizeof(double), System.Runtime.CompilerServices.Unsafe.SizeOf<ValueAndGradient<double, double, double>>());

        var g = Grad.Of((double x, double y) => x * y);
        Assert.Same(g.Evaluate(1, 2).ParameterNames, g.Evaluate(3, 4).ParameterNames);
        // Lists are interned by content: another gradient of (x, y) shares the list.
        Assert.Same(g.Evaluate(1, 2).ParameterNames, Grad.Of((double x, double y) => x + y).Evaluate(1, 2).ParameterNames);
        Assert.NotSame(g.Evaluate(1, 2).ParameterNames, Grad.Of((double y, double x) => x + y).Evaluate(1, 2).ParameterNames);
    }

    [Fact]
    public void A_result_through_the_split_kernel_is_named_too()
    {
        // sin(...sin(x)·y...)·y, 3,000 deep: too large for one method, so Evaluate runs the flat kernel.
        var x = Expression.Parameter(typeof(double), "x");
        var y = Expression.Parameter(typeof(double), "y");
        var sin = typeof(Math).GetMethod(nameof(Math.Sin), [typeof(double)])!;
        Expression body = x;
        for (var k = 0; k < 3_000; k++)
            body = Expression.Multiply(Expression.Call(sin, body), y);
        var g = Grad.Of(Expression.Lambda<Func<double, double, double>>(body, x, y));
        Assert.True(g.Expression.Parameters[0].IsByRef); // the flat form (ref x, ref g, tape)
        var result = g.Evaluate(1, 0.5);
        Assert.Equal(["x", "y"], result.ParameterNames);
        Assert.StartsWith("f = ", result.ToString(), StringComparison.Ordinal);
        Assert.Contains(", ∂f/∂y = ", result.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_gradient_of_matrices_prints_its_listing()
    {
        var g = Grad.Of((Matrix<double> w) => w.FrobeniusNorm());
        Assert.Equal(g.ToListing(), g.ToString());
        Assert.Contains("dw = ", g.ToString(), StringComparison.Ordinal);
        Assert.Equal("∂f/∂x = y\n∂f/∂y = x", Grad.Of((double x, double y) => x * y).ToString());
    }
}
