using ExprGrad.Optimization;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace ExprGrad.Tests.Optimization;

/// <summary>The adapter itself: what MathNet reads from it, what it copies, what it refuses.</summary>
public class ObjectiveFunctionTests
{
    // (x + y) * z at (-2, 5, -4) → -12; ∇ = (-4, -4, 3).
    private static readonly Gradient AddMul = Grad.Of((double x, double y, double z) => (x + y) * z);

    [Fact]
    public void An_evaluation_gives_the_worked_example()
    {
        var f = AddMul.ToObjectiveFunction();
        var point = Vector<double>.Build.Dense([-2.0, 5, -4]);
        f.EvaluateAt(point);
        Assert.Same(point, f.Point);
        Assert.Equal(-12, f.Value);
        Assert.Equal([-4.0, -4, 3], f.Gradient.ToArray());
        Assert.True(f.IsGradientSupported);
        // ExprGrad's own Hessian: ∂²/∂x∂z = ∂²/∂y∂z = 1.
        Assert.True(f.IsHessianSupported);
        Assert.Equal(new double[,] { { 0, 0, 1 }, { 0, 0, 1 }, { 1, 1, 0 } }, f.Hessian.ToArray());
    }

    [Fact]
    public void A_fold_has_its_Hessian_and_Newton_minimizes_it_in_one_step()
    {
        // Σ_k 0.5^(n−1−k) a_k² as a fold: a quadratic with Hessian diag(2·0.5^(n−1−k)), so Newton lands on 0 at once.
        var f = Grad.Of((double[] a) => a.Aggregate(0.0, (s, v) => s * 0.5 + v * v)).ToObjectiveFunction();
        Assert.True(f.IsHessianSupported);
        f.EvaluateAt(Vector<double>.Build.Dense([1.0, 2.0]));
        Assert.Equal(Matrix<double>.Build.DenseOfArray(new[,] { { 1.0, 0 }, { 0, 2.0 } }), f.Hessian);

        var result = new NewtonMinimizer(1e-8, 10, useLineSearch: false).FindMinimum(f, Vector<double>.Build.Dense([1.0, 2.0]));
        Assert.Equal(0, result.MinimizingPoint.L2Norm(), 15);
        Assert.True(result.Iterations <= 2, $"{result.Iterations} iterations");
    }

    [Fact]
    public void A_sparse_point_is_read_as_well_as_a_dense_one()
    {
        var f = AddMul.ToObjectiveFunction();
        f.EvaluateAt(Vector<double>.Build.SparseOfArray([-2.0, 5, -4]));
        Assert.Equal(-12, f.Value);
        Assert.Equal([-4.0, -4, 3], f.Gradient.ToArray());
    }

    [Fact]
    public void A_fork_keeps_its_evaluation_when_the_original_moves_on()
    {
        var f = AddMul.ToObjectiveFunction();
        f.EvaluateAt(Vector<double>.Build.Dense([-2.0, 5, -4]));
        var fork = f.Fork();
        var fresh = f.CreateNew();
        f.EvaluateAt(Vector<double>.Build.Dense([1.0, 2, 3]));

        Assert.Equal(9, f.Value);
        Assert.Equal([3.0, 3, 3], f.Gradient.ToArray());
        Assert.Equal(-12, fork.Value);
        Assert.Equal([-4.0, -4, 3], fork.Gradient.ToArray());
        Assert.Throws<InvalidOperationException>(() => fresh.Value);
    }

    [Fact]
    public void The_Hessian_is_computed_once_per_point_and_only_when_read()
    {
        var calls = 0;
        var f = AddMul.ToObjectiveFunction((Vector<double> _) =>
        {
            calls++;
            return Matrix<double>.Build.DenseOfArray(new double[,] { { 0, 0, 1 }, { 0, 0, 1 }, { 1, 1, 0 } });
        });
        Assert.True(f.IsHessianSupported);
        f.EvaluateAt(Vector<double>.Build.Dense([-2.0, 5, -4]));
        Assert.Equal(0, calls);
        Assert.Equal(1, f.Hessian[0, 2]);
        Assert.Same(f.Hessian, f.Hessian);
        Assert.Equal(1, calls);
        f.EvaluateAt(Vector<double>.Build.Dense([1.0, 2, 3]));
        _ = f.Hessian;
        Assert.Equal(2, calls);
    }

    [Fact]
    public void A_Hessian_of_the_wrong_shape_is_refused()
    {
        var f = AddMul.ToObjectiveFunction((Vector<double> _) => Matrix<double>.Build.Dense(2, 2));
        f.EvaluateAt(Vector<double>.Build.Dense(3));
        var e = Assert.Throws<InvalidOperationException>(() => f.Hessian);
        Assert.Contains("2 × 2 matrix at a point of 3 values", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluating_allocates_nothing()
    {
        var f = AddMul.ToObjectiveFunction();
        var point = Vector<double>.Build.Dense([-2.0, 5, -4]);
        f.EvaluateAt(point);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
            f.EvaluateAt(point);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Wrong_points_and_functions_are_refused()
    {
        var f = AddMul.ToObjectiveFunction();
        var e = Assert.Throws<ArgumentException>(() => f.EvaluateAt(Vector<double>.Build.Dense(4)));
        Assert.Equal("point", e.ParamName);
        Assert.Contains("the point has 4 values but the function takes 3", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => f.Gradient);

        // No flat layout: two arrays of any length.
        var g = Grad.Of((double[] a, double[] b) => a.Sum() * b.Sum());
        Assert.Throws<NotSupportedException>(() => g.ToObjectiveFunction());

    }
}
