using ExprGrad.Optimization;
using Xunit;

namespace ExprGrad.Tests.SecondOrder;

/// <summary>
/// Second derivatives through sums over data (a sum's pullback swept again is a sum, LoopSecondOrder): closed forms of
/// least squares and logistic regression over captured data, and the loops still refused, each by name.
/// </summary>
public sealed class LoopHessianTests
{
    private static readonly double[] Xs = [0.5, -1.0, 2.0, 0.25, 1.5];
    private static readonly double[] Ys = [1.0, 0.0, 1.0, 0.0, 1.0];

    [Fact]
    public void Least_squares_over_data_has_the_Gram_matrix_as_Hessian()
    {
        // f(w, c) = Σ (w x + c − y)²: H = 2 [Σx², Σx; Σx, n], whatever the point.
        var g = Grad.Of((double w, double c) => Xs.Zip(Ys, (x, y) => (w * x + c - y) * (w * x + c - y)).Sum());
        var h = g.Hessian(0.7, -0.3);
        Assert.Equal(new[,] { { 15.125, 6.5 }, { 6.5, 10.0 } }, h);
        var hv = new double[2];
        g.HessianVectorProduct([0.7, -0.3], [1.0, 2.0], hv);
        Assert.Equal([28.125, 26.5], hv);
    }

    [Fact]
    public void Logistic_regression_Hessian_is_the_weighted_Gram_matrix()
    {
        // Negative log-likelihood Σ log(1 + exp(−s (w x + c))), s = ±1: H = Σ σ(1 − σ) [x², x; x, 1] with σ = σ(w x + c).
        var g = Grad.Of((double w, double c) => Xs.Zip(Ys, (x, y) => Math.Log(1 + Math.Exp(-(2 * y - 1) * (w * x + c)))).Sum());
        var (w0, c0) = (0.7, -0.3);
        var expected = new double[2, 2];
        foreach (var x in Xs)
        {
            var s = 1 / (1 + Math.Exp(-(w0 * x + c0)));
            var k = s * (1 - s);
            expected[0, 0] += k * x * x;
            expected[0, 1] += k * x;
            expected[1, 1] += k;
        }
        expected[1, 0] = expected[0, 1];
        var h = g.Hessian(w0, c0);
        for (var i = 0; i < 2; i++)
            for (var j = 0; j < 2; j++)
                Assert.Equal(expected[i, j], h[i, j], 1e-14);
        Assert.Equal(h[0, 1], h[1, 0]);
    }

    [Fact]
    public void A_sum_inside_a_function_and_a_branch_in_the_body_agree_with_differences()
    {
        // log Σ exp(...) reads the loop's value after the sum (the first sweep's adjoint of the loop is not constant), and
        // the body's branch is swept again inside the copy of the body.
        var g = Grad.Of((double w, double c) =>
            Math.Log(Xs.Sum(x => x > 0 ? Math.Exp(w * x * c) : Math.Sin(w + x) * c)) + w * w * Xs.Sum(x => Math.Tanh(c * x + w)));
        double[] point = [0.7, -0.3];
        var h = g.Hessian(point);
        var gradient = new double[2];
        for (var i = 0; i < 2; i++)
        {
            var component = i;
            var report = GradCheck.Check(x => { g.Evaluate(x, gradient); return gradient[component]; }, point, [h[i, 0], h[i, 1]]);
            Assert.True(report.Passed, $"row {i}: {report}");
        }
    }

    // Folds nested with sums, folds, branches and Max, each checked row by row against differences of its gradient.
    private static readonly double[] Data = [0.3, -1.2, 0.8, 2.0, -0.4, 1.1];

    public static TheoryData<string> NestedFolds => ["fold in sum", "sum in fold", "fold in fold", "fold in branch", "branch in fold", "fold in max", "fold over a parameter"];

    private static (Gradient G, double[] Point) NestedFold(string name) => name switch
    {
        "fold in sum" => (Grad.Of((double[] w) => Enumerable.Range(0, 3).Sum(j => Enumerable.Range(0, Data.Length).Aggregate(w[0], (a, k) => Math.Sin(a * w[1] + Data[k] * j)))), [0.9, -0.6]),
        "sum in fold" => (Grad.Of((double[] w) => Enumerable.Range(0, 4).Aggregate(w[0], (a, k) => Math.Tanh(a * Data.Sum(x => Math.Exp(x * w[1] * a))))), [0.3, 0.2]),
        "fold in fold" => (Grad.Of((double[] w) => Enumerable.Range(0, 3).Aggregate(w[0], (a, k) => Enumerable.Range(0, 3).Aggregate(a, (b, j) => b * w[1] + Math.Sin(a * j)))), [0.3, 0.7]),
        "fold in branch" => (Grad.Of((double[] w) => w[0] > 0 ? Enumerable.Range(0, 5).Aggregate(w[1], (a, k) => a * a * w[0] + 0.1) : w[1]), [0.3, 0.7]),
        "branch in fold" => (Grad.Of((double[] w) => Enumerable.Range(0, 5).Aggregate(w[1], (a, k) => a > 0.5 ? Math.Log(a + w[0]) : a * a * w[0] + 0.3)), [0.3, 0.7]),
        "fold in max" => (Grad.Of((double[] w) => Data.Max(x => Enumerable.Range(0, 3).Aggregate(x, (a, k) => a * w[0] + w[1] * a * a))), [0.3, 0.7]),
        _ => (Grad.Of((double c, double[] w) => Enumerable.Range(0, w.Length).Aggregate(c, (a, k) => Math.Sin(a) * w[k] + w[k] * w[k] * c)), [0.3, 0.7, -0.2, 1.1, 0.5]),
    };

    [Theory]
    [MemberData(nameof(NestedFolds))]
    public void Nested_folds_have_Hessians_equal_to_differences_of_their_gradients(string name)
    {
        var (g, point) = NestedFold(name);
        var h = g.Hessian(point);
        var (rows, _) = HessianRows.Check(g, point, h, what => new Xunit.Sdk.XunitException($"{name}: {what}"));
        Assert.Equal(point.Length, rows);
    }

    [Fact]
    public void A_fold_that_never_reads_its_accumulator_is_its_last_iteration()
    {
        var g = Grad.Of((double s, double[] w) => Enumerable.Range(0, w.Length).Aggregate(s * s, (a, i) => Math.Sin(w[i])));
        var h = g.Hessian(0.5, 1.0, 2.0);
        Assert.Equal(new[,] { { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, -Math.Sin(2.0) } }, h);
    }

    [Fact]
    public void An_empty_fold_is_its_seed()
    {
        var g = Grad.Of((double s) => Enumerable.Range(0, 0).Aggregate(s * s, (a, i) => a * 3));
        Assert.Equal(2, g.Hessian(0.5)[0, 0]);
    }

    [Fact]
    public void Horner_written_as_a_fold_has_the_polynomials_second_derivative()
    {
        // Σ x_k w^(n−1−k) by Horner's rule: its second derivative in w is Σ x_k (n−1−k)(n−2−k) w^(n−3−k).
        var g = Grad.Of((double w) => Xs.Aggregate(0.0, (acc, x) => acc * w + x));
        const double w = 0.5;
        var n = Xs.Length;
        var expected = Enumerable.Range(0, n - 2).Sum(k => Xs[k] * (n - 1 - k) * (n - 2 - k) * Math.Pow(w, n - 3 - k));

        Assert.Equal(expected, g.Hessian(w)[0, 0], 1e-13);
    }

    [Fact]
    public void A_fold_over_its_seed_and_a_rate_has_the_closed_form_Hessian()
    {
        // a_{k+1} = r·a_k over 3 steps from s²: f = s²r³, so H = [[2r³, 6sr²], [6sr², 6s²r]], through the seed and an invariant.
        var g = Grad.Of((double s, double r) => Enumerable.Range(0, 3).Aggregate(s * s, (acc, i) => acc * r));
        var h = g.Hessian(0.7, 1.3);

        Assert.Equal(2 * Math.Pow(1.3, 3), h[0, 0], 1e-13);
        Assert.Equal(6 * 0.7 * 1.3 * 1.3, h[0, 1], 1e-13);
        Assert.Equal(h[0, 1], h[1, 0]);
        Assert.Equal(6 * 0.7 * 0.7 * 1.3, h[1, 1], 1e-13);
    }

    [Fact]
    public void A_recurrent_net_over_an_array_of_any_length_has_H_v_equal_to_differences_of_its_gradient()
    {
        // a_{k+1} = tanh(w0·a_k + w_{k+1}·x_k): the fold reads the array w at k + 1, so H·v's second sweep scatters.
        var g = Grad.Of((double[] w) => Enumerable.Range(0, w.Length - 1).Aggregate(0.1, (a, k) => Math.Tanh(w[0] * a + w[k + 1] * Xs[k % Xs.Length])));
        double[] point = [0.9, 0.3, -0.7, 1.2, 0.4, -0.2];
        double[] v = [0.5, -1.0, 0.3, 0.2, -0.6, 0.8];
        var hv = new double[point.Length];
        g.HessianVectorProduct(point, v, hv);

        var report = GradCheck.Check(t =>
        {
            var gradient = new double[point.Length];
            g.Evaluate(point.Select((p, k) => p + t[0] * v[k]).ToArray(), gradient);
            return gradient.Zip(v, (a, b) => a * b).Sum();
        }, [0.0], [hv.Zip(v, (a, b) => a * b).Sum()]);
        Assert.True(report.Passed, report.ToString());
        var h = g.Hessian(point);
        for (var i = 0; i < point.Length; i++)
            Assert.Equal(Enumerable.Range(0, point.Length).Sum(j => h[i, j] * v[j]), hv[i], 1e-12);
    }

    [Fact]
    public void Log_sum_exp_with_the_max_subtracted_has_the_Hessian_of_log_sum_exp()
    {
        // m + log Σ exp(w x − m) with m = max w x is log Σ exp(w x): the second derivative is the variance of x under the
        // softmax weights p, Σ p x² − (Σ p x)², and m's terms cancel through Max's pullback swept again.
        var g = Grad.Of((double w) => Xs.Max(x => w * x) + Math.Log(Xs.Sum(x => Math.Exp(w * x - Xs.Max(z => w * z)))));
        const double w0 = 0.7;
        var z = Xs.Sum(x => Math.Exp(w0 * x));
        var (mean, square) = (Xs.Sum(x => Math.Exp(w0 * x) / z * x), Xs.Sum(x => Math.Exp(w0 * x) / z * x * x));
        Assert.Equal(square - mean * mean, g.Hessian(w0)[0, 0], 1e-13);
    }

    [Fact]
    public void Max_over_an_array_differentiates_the_element_it_picks_twice()
    {
        // max v³ at [1, −2, 1.5]: the picked element is a[2], whose second derivative is 6 · 1.5; the rest is 0.
        var g = Grad.Of((double[] a) => a.Max(v => v * v * v) + a.Min(v => v * v));
        Assert.Equal(new[,] { { 2.0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 9.0 } }, g.Hessian(1.0, -2.0, 1.5));
    }

    [Fact]
    public void A_sum_inside_a_sum_has_its_closed_form_Hessian()
    {
        // f = Σ_x Σ_y sin(w x y) + c Σ_x x² c: f_ww = −Σ Σ (x y)² sin(w x y), f_wc = 0, f_cc = 2 Σ x².
        var g = Grad.Of((double w, double c) => Xs.Sum(x => Ys.Sum(y => Math.Sin(w * x * y)) + c * x * x * c));
        var h = g.Hessian(0.7, -0.3);
        var (ww, cc) = (0.0, 0.0);
        foreach (var x in Xs)
        {
            foreach (var y in Ys)
                ww -= x * y * x * y * Math.Sin(0.7 * x * y);
            cc += 2 * x * x;
        }
        Assert.Equal(ww, h[0, 0], 1e-13);
        Assert.Equal(cc, h[1, 1], 1e-13);
        Assert.Equal(0.0, h[0, 1]);
    }

    [Fact]
    public void Rosenbrock_as_a_loop_has_its_tridiagonal_Hessian()
    {
        // Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])²: H[i, i] = 1200 x[i]² − 400 x[i+1] + 2 (+ 200 past the first), H[i, i+1] = −400 x[i].
        var g = Grad.Of((double[] x) => Enumerable.Range(0, x.Length - 1).Sum(i => 100 * (x[i + 1] - x[i] * x[i]) * (x[i + 1] - x[i] * x[i]) + (1 - x[i]) * (1 - x[i])));
        double[] point = [0.7, -0.3, 1.1, 0.4, -0.9, 1.3];
        var n = point.Length;
        var h = g.Hessian(point);
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++)
            {
                var expected = i == j ? (i < n - 1 ? 1200 * point[i] * point[i] - 400 * point[i + 1] + 2 : 0) + (i > 0 ? 200 : 0)
                    : j == i + 1 ? -400 * point[i] : i == j + 1 ? -400 * point[j] : 0;
                Assert.True(Math.Abs(h[i, j] - expected) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"H[{i}, {j}] = {h[i, j]:R}, expected {expected:R}");
            }
    }

    [Fact]
    public void Newton_fits_a_logistic_regression_over_data_with_the_exact_Hessian()
    {
        // Weights w (any length) over the features of captured points, with an L2 term: strictly convex, so Newton's full
        // steps converge in a few iterations to where the gradient vanishes.
        double[] features = [0.5, -1.0, 2.0, 0.25, 1.5, -0.5];
        double[] labels = [1, 0, 1, 0, 1, 1];
        var g = Grad.Of((double[] w) => Enumerable.Range(0, features.Length).Sum(k =>
            Math.Log(1 + Math.Exp(-(2 * labels[k] - 1) * (w[0] + w[1] * features[k])))) + 0.05 * w.Sum(v => v * v));
        var f = g.ToObjectiveFunction();
        Assert.True(f.IsHessianSupported);
        var result = new MathNet.Numerics.Optimization.NewtonMinimizer(1e-10, 50, useLineSearch: false)
            .FindMinimum(f, MathNet.Numerics.LinearAlgebra.Vector<double>.Build.Dense(2));
        Assert.True(result.Iterations <= 8, $"{result.Iterations} iterations");
        var gradient = new double[2];
        g.Evaluate(result.MinimizingPoint.ToArray(), gradient);
        Assert.True(Math.Abs(gradient[0]) < 1e-10 && Math.Abs(gradient[1]) < 1e-10, $"gradient at the minimum: {gradient[0]:R}, {gradient[1]:R}");
    }
}
