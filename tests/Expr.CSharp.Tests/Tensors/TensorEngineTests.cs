using System.Linq.Expressions;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Double;

namespace ExprGrad.Tests.Tensors;

/// <summary>
/// How the engine handles vectors and matrices: what it emits, what it hands out, and what it does with the inputs
/// users really pass (sparse matrices, a minibatch whose width changes, many threads, a deep Map body).
/// </summary>
public class TensorEngineTests
{
    private static Matrix<double> Random(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        return Matrix<double>.Build.Dense(rows, columns, (_, _) => random.NextDouble() * 2 - 1);
    }

    private static Vector<double> RandomVector(int length, int seed)
    {
        var random = new Random(seed);
        return Vector<double>.Build.Dense(length, _ => random.NextDouble() * 2 - 1);
    }

    // Central differences on every element of m: the ground truth.
    private static Matrix<double> Numeric(Func<Matrix<double>, double> f, Matrix<double> m, double h = 1e-6) =>
        Matrix<double>.Build.Dense(m.RowCount, m.ColumnCount, (i, j) =>
        {
            var (plus, minus) = (m.Clone(), m.Clone());
            plus[i, j] += h;
            minus[i, j] -= h;
            return (f(plus) - f(minus)) / (2 * h);
        });

    private static void Close(Matrix<double> expected, Matrix<double> actual, double tolerance = 1e-8)
    {
        Assert.Equal(expected.RowCount, actual.RowCount);
        Assert.Equal(expected.ColumnCount, actual.ColumnCount);
        var error = (expected - actual).Enumerate().Max(Math.Abs);
        Assert.True(error <= tolerance * (1 + expected.Enumerate().Max(Math.Abs)), $"max error {error}\nexpected\n{expected}\nactual\n{actual}");
    }

    [Fact]
    public void A_two_layer_net_gradient_transposes_nothing_it_multiplies()
    {
        var x = Random(4, 3, 1);
        var g = Grad.Of((Matrix<double> w1, Matrix<double> w2) => (w2 * (w1 * x).Map(Fn.Relu)).ColumnSums().Sum());
        var listing = g.ToListing();
        Assert.DoesNotMatch(@"= \w+ᵀ  #", listing); // no Transpose stage: W̄ = D̄·Xᵀ is TransposeAndMultiply
        Assert.Contains("ᵀ ·", listing);          // W2ᵀ·D̄ as a product flag
        Assert.Contains("· v", listing);

        var (w1, w2) = (Random(5, 4, 2), Random(2, 5, 3));
        var (_, d1, d2) = g.Evaluate(w1, w2);
        Close(Numeric(m => (w2 * (m * x).Map(Fn.Relu)).ColumnSums().Sum(), w1), d1);
        Close(Numeric(m => (m * (w1 * x).Map(Fn.Relu)).ColumnSums().Sum(), w2), d2);
    }

    [Fact]
    public void The_listing_names_operations_as_the_formulas_do()
    {
        // Not ‖‖(v1), ² v11 and map λ(v3): the norm, the square and the method group by their formulas' names.
        var (x, y) = (Random(4, 3, 1), Random(2, 3, 2));
        var g = Grad.Of((Matrix<double> W1, Matrix<double> W2) =>
            Fn.CrossEntropy(W2 * (W1 * x).Map(Fn.Relu), y) + 0.05 * (W1.FrobeniusNorm() * W1.FrobeniusNorm() + W2.FrobeniusNorm() * W2.FrobeniusNorm()));
        var listing = g.ToListing();
        Assert.Matches(@"(?m)^v\d+ = map relu\(v\d+\)  # ", listing);
        Assert.Matches(@"(?m)^v\d+ = map relu'\(", listing);
        Assert.Matches(@"(?m)^v\d+ = ‖v1‖_F  # scalar$", listing);
        Assert.Matches(@"(?m)^v\d+ = v\d+²$", listing);
        Assert.DoesNotContain("‖‖", listing, StringComparison.Ordinal);
        Assert.DoesNotContain("λ", listing, StringComparison.Ordinal);
        Assert.DoesNotContain("² ", listing, StringComparison.Ordinal);
        // A lambda that is more than one operation is still a λ.
        Assert.Contains("map λ(", Grad.Of((Matrix<double> W) => W.Map(t => Math.Tanh(2 * t)).ColumnSums().Sum()).ToListing(), StringComparison.Ordinal);
        Assert.Contains("map tanh(", Grad.Of((Matrix<double> W) => W.Map(t => Math.Tanh(t)).ColumnSums().Sum()).ToListing(), StringComparison.Ordinal);
    }

    [Fact]
    public void Gradients_are_the_callers_own_objects()
    {
        // d(u·v)/du is v itself, and both sums' adjoints are one matrix of ones: each is handed out as a copy.
        var (u, v) = (RandomVector(3, 1), RandomVector(3, 2));
        var (_, du, dv) = Grad.Of((Vector<double> a, Vector<double> b) => a * b).Evaluate(u, v);
        Assert.NotSame(v, du);
        Assert.NotSame(u, dv);
        Assert.Equal(v, du);
        du[0] = 42;
        Assert.NotEqual(42, v[0]);

        var (a, b) = (Random(2, 2, 3), Random(2, 2, 4));
        var (_, da, db) = Grad.Of((Matrix<double> p, Matrix<double> q) => p.ColumnSums().Sum() + q.ColumnSums().Sum()).Evaluate(a, b);
        Assert.NotSame(da, db);
        da[0, 0] = 7;
        Assert.Equal(1, db[0, 0]);
    }

    [Fact]
    public void A_parameter_the_function_ignores_gets_zeros_of_its_shape()
    {
        var (_, dw, dv) = Grad.Of((Matrix<double> w, Vector<double> v) => v.Sum()).Evaluate(Random(3, 2, 1), RandomVector(4, 2));
        Assert.Equal(Matrix<double>.Build.Dense(3, 2), dw);
        Assert.Equal(Vector<double>.Build.Dense(4, 1.0), dv);
    }

    [Fact]
    public void A_Map_reads_scalar_parameters_and_captured_values_from_outside()
    {
        var c = 1.5;
        var g = Grad.Of((Vector<double> v, double a) => v.Map(t => Math.Exp(a * t) * c).Sum());
        var x = RandomVector(4, 1);
        var (value, dv, da) = g.Evaluate(x, 0.7);
        Assert.Equal(x.Sum(t => Math.Exp(0.7 * t) * c), value, 12);
        for (var i = 0; i < 4; i++)
            Assert.Equal(0.7 * Math.Exp(0.7 * x[i]) * c, dv[i], 12);
        Assert.Equal(x.Sum(t => t * Math.Exp(0.7 * t) * c), da, 12);

        c = -2; // read live
        Assert.Equal(x.Sum(t => Math.Exp(0.7 * t) * c), g.Evaluate(x, 0.7).Value, 12);
    }

    [Fact]
    public void Map2_differentiates_both_matrices_and_a_branch_in_its_body()
    {
        var g = Grad.Of((Matrix<double> p, Matrix<double> q) => p.Map2((s, t) => s > t ? s * t : Math.Sin(s) - t, q).ColumnSums().Sum());
        var (a, b) = (Random(3, 2, 5), Random(3, 2, 6));
        double F(Matrix<double> x, Matrix<double> y) => x.Map2((s, t) => s > t ? s * t : Math.Sin(s) - t, y).ColumnSums().Sum();
        var (value, da, db) = g.Evaluate(a, b);
        Assert.Equal(F(a, b), value, 12);
        Close(Numeric(m => F(m, b), a), da);
        Close(Numeric(m => F(a, m), b), db);
    }

    [Fact]
    public void A_conditional_may_choose_between_numbers_made_from_vectors()
    {
        var g = Grad.Of((Vector<double> v, double s) => s > 0 ? v.Sum() * s : v * v);
        var x = RandomVector(3, 7);
        var (up, dvUp, dsUp) = g.Evaluate(x, 2);
        Assert.Equal(2 * x.Sum(), up, 12);
        Assert.Equal(Vector<double>.Build.Dense(3, 2.0), dvUp);
        Assert.Equal(x.Sum(), dsUp, 12);
        var (down, dvDown, dsDown) = g.Evaluate(x, -1);
        Assert.Equal(x * x, down, 12);
        Assert.Equal(2 * x, dvDown);
        Assert.Equal(0, dsDown);
    }

    [Fact]
    public void A_conditional_between_matrices_is_refused_with_the_reason()
    {
        var error = Assert.Throws<ExprGradException>(() => Grad.Of((Matrix<double> w, double s) => (s > 0 ? w : -w).ColumnSums().Sum()));
        Assert.Contains("conditional choosing between vectors or matrices", error.Message);
    }

    [Fact]
    public void A_captured_minibatch_may_change_its_width_between_calls()
    {
        var x = Random(4, 3, 1);
        var g = Grad.Of((Matrix<double> w) => Fn.SquaredError(w * x, Matrix<double>.Build.Dense(2, x.ColumnCount)));
        var w = Random(2, 4, 2);
        Close(Numeric(m => Fn.SquaredError(m * x, Matrix<double>.Build.Dense(2, x.ColumnCount)), w), g.Evaluate(w).D1);
        x = Random(4, 7, 3);
        Close(Numeric(m => Fn.SquaredError(m * x, Matrix<double>.Build.Dense(2, x.ColumnCount)), w), g.Evaluate(w).D1);
    }

    [Fact]
    public void A_shape_error_names_the_operation_and_both_shapes_at_the_call()
    {
        var x = Random(4, 3, 1);
        var g = Grad.Of((Matrix<double> w) => (w * x).ColumnSums().Sum());
        var error = Assert.Throws<ExprGradException>(() => g.Evaluate(Random(2, 5, 2)));
        Assert.Contains("(w * x)", error.Message);
        Assert.Contains("2×5 matrix", error.Message);
        Assert.Contains("4×3 matrix", error.Message);

        var pointwise = Grad.Of((Matrix<double> a, Matrix<double> b) => a.PointwiseMultiply(b).ColumnSums().Sum());
        error = Assert.Throws<ExprGradException>(() => pointwise.Evaluate(Random(2, 2, 1), Random(2, 3, 2)));
        Assert.Contains("2×2 matrix", error.Message);
        Assert.Contains("2×3 matrix", error.Message);
        Assert.Contains("one shape", error.Message);

        Assert.Equal("w", Assert.Throws<ArgumentNullException>(() => g.Evaluate(null!)).ParamName);
    }

    [Fact]
    public void Sparse_and_diagonal_arguments_are_read_densely()
    {
        var g = Grad.Of((Matrix<double> a) => a.PointwiseExp().ColumnSums().Sum());
        var sparse = SparseMatrix.OfArray(new double[,] { { 0, 1 }, { 0, 0 } });
        var (value, d) = g.Evaluate(sparse);
        Assert.Equal(3 + Math.E, value, 12);
        Assert.Equal(DenseMatrix.OfArray(new double[,] { { 1, Math.E }, { 1, 1 } }), d);
        Assert.Equal(2 + 2 * Math.E, g.Evaluate(DiagonalMatrix.CreateIdentity(2)).Value, 12);
    }

    [Fact]
    public void A_function_of_matrices_has_no_flat_layout()
    {
        var g = Grad.Of((Matrix<double> a) => a.FrobeniusNorm());
        Assert.Throws<NotSupportedException>(() => g.Evaluate(new double[1], new double[1]));
        var w = Expression.Parameter(typeof(Matrix<double>), "w");
        var untyped = Expression.Lambda(Expression.Call(w, typeof(Matrix<double>).GetMethod(nameof(Matrix<double>.FrobeniusNorm))!), w);
        Assert.Contains("typed lambda", Assert.Throws<ExprGradException>(() => Grad.Of(untyped)).Message);
        Assert.Throws<NotSupportedException>(() => g.ToCode());
        Assert.Throws<NotSupportedException>(() => g.Formulas);
        // A scalar parameter with a captured matrix still has a flat layout, but no circuit.
        var m = Random(2, 2, 1);
        var scaled = Grad.Of((double a) => (m * a).ColumnSums().Sum());
        Assert.Equal(m.ColumnSums().Sum(), scaled.Evaluate(2).D1, 12);
        Assert.Contains("vectors or matrices", Assert.Throws<NotSupportedException>(() => scaled.Trace(2)).Message);
    }

    [Fact]
    public void Norms_have_the_subgradient_zero_at_zero()
    {
        var (value, d) = Grad.Of((Vector<double> v) => v.L2Norm()).Evaluate(Vector<double>.Build.Dense(3));
        Assert.Equal(0, value);
        Assert.Equal(Vector<double>.Build.Dense(3), d);
    }

    [Fact]
    public void Parallel_calls_agree_bit_for_bit_with_sequential_ones()
    {
        var x = Random(6, 5, 1);
        var g = Grad.Of((Matrix<double> w) => Fn.LogSumExp(Fn.Softmax(w * x).ColumnSums()));
        var inputs = Enumerable.Range(0, 64).Select(i => Random(3, 6, 100 + i)).ToArray();
        var sequential = inputs.Select(w => g.Evaluate(w)).ToArray();
        var parallel = new ValueAndGradient<Matrix<double>>[inputs.Length];
        Parallel.For(0, inputs.Length, i => parallel[i] = g.Evaluate(inputs[i]));
        for (var i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(sequential[i].Value, parallel[i].Value);
            Assert.Equal(sequential[i].D1, parallel[i].D1);
        }
    }

    [Fact]
    public void A_100000_deep_Map_body_differentiates_on_a_1_MiB_stack()
    {
        // m.Map(t => t + (t + (... + t))): the body is a graph of its own, imported, differentiated and emitted without recursion.
        const int Depth = 100_000;
        var t = Expression.Parameter(typeof(double), "t");
        Expression body = t;
        for (var i = 0; i < Depth; i++)
            body = Expression.Add(t, body);
        var m = Expression.Parameter(typeof(Vector<double>), "m");
        var map = typeof(Vector<double>).GetMethods().Single(x => x.Name == "Map" && x.GetParameters().Length == 2).MakeGenericMethod(typeof(double));
        var f = Expression.Lambda<Func<Vector<double>, double>>(
            Expression.Call(Expression.Call(m, map, Expression.Lambda<Func<double, double>>(body, t), Expression.Constant(MathNet.Numerics.LinearAlgebra.Zeros.AllowSkip)),
                typeof(Vector<double>).GetMethod(nameof(Vector<double>.Sum))!), m);

        ValueAndGradient<Vector<double>> result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { result = Grad.Of(f).Evaluate(Vector<double>.Build.Dense([0.5, 1])); }
            catch (Exception e) { error = e; }
        }, 1024 * 1024);
        thread.Start();
        thread.Join();

        Assert.Null(error);
        Assert.Equal((Depth + 1) * 1.5, result.Value);
        Assert.Equal(Vector<double>.Build.Dense(2, Depth + 1), result.D1);
    }

    [Fact]
    public void Elements_at_constant_indices_are_read_and_checked_against_the_shape_at_every_call()
    {
        var g = Grad.Of((Vector<double> v, Matrix<double> m) => v[0] * m[1, 2] + Math.Sin(m.At(0, 0)));
        var (v, m) = (RandomVector(2, 1), Random(2, 3, 2));
        var (value, dv, dm) = g.Evaluate(v, m);
        Assert.Equal(v[0] * m[1, 2] + Math.Sin(m[0, 0]), value, 12);
        Assert.Equal(Vector<double>.Build.DenseOfArray([m[1, 2], 0]), dv);
        var expected = Matrix<double>.Build.Dense(2, 3);
        expected[1, 2] = v[0];
        expected[0, 0] = Math.Cos(m[0, 0]);
        Close(expected, dm, 1e-14);

        var error = Assert.Throws<ExprGradException>(() => g.Evaluate(v, Random(2, 2, 3)));
        Assert.Contains("index 2 is outside a dimension of size 2", error.Message);
        Assert.Contains("m.get_Item(1, 2)", error.Message);
        // One check per dimension, at its largest index: m's rows (1), m's columns (2), v's length (0).
        Assert.Equal(3, g.Graph.Builder.Dims.Bounds.Count());
        var repeated = Grad.Of((Vector<double> v) => v[0] * v[0] + v[0] * v[1] + v[1]);
        Assert.Equal(1, Assert.Single(repeated.Graph.Builder.Dims.Bounds).Index);
        Assert.Contains("not a constant", Assert.Throws<ExprGradException>(() =>
        {
            var i = 1;
            Grad.Of((Vector<double> u) => u[i]);
        }).Message);
    }
}
