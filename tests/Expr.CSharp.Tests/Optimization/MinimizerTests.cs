using ExprGrad.Optimization;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;
using Xunit.Abstractions;

namespace ExprGrad.Tests.Optimization;

/// <summary>
/// MathNet's minimizers run on ExprGrad gradients through <see cref="Objective"/>: the chained Rosenbrock function
/// (minimum 0 at all ones) by L-BFGS, BFGS, conjugate gradients and Newton's method, and an exponential decay fitted
/// by Levenberg–Marquardt.
/// </summary>
public class MinimizerTests(ITestOutputHelper output)
{
    // f(x) = Σ 100 (x[i+1] - x[i]²)² + (1 - x[i])², over any length: its minimum is 0, at all ones.
    private static readonly Gradient Rosenbrock = Grad.Of((double[] x) =>
        Enumerable.Range(0, x.Length - 1).Sum(i => 100 * Fn.Square(x[i + 1] - x[i] * x[i]) + Fn.Square(1 - x[i])));

    // The same function written out for n elements (no loop), whose second derivatives ExprGrad computes.
    private static Gradient WrittenOut(int n) => Grad.Of(SecondOrder.Rosenbrock.Tree(n));

    // The classic start, (-1.2, 1, -1.2, 1, ...).
    private static Vector<double> Start(int n) => Vector<double>.Build.Dense(n, i => i % 2 == 0 ? -1.2 : 1.0);

    private static double DistanceToOnes(Vector<double> x) => (x - 1.0).InfinityNorm();

    // The Rosenbrock Hessian in closed form (tridiagonal): an oracle for Gradient.Hessian, and a Hessian of the caller's own.
    internal static double[,] RosenbrockHessian(double[] x)
    {
        var n = x.Length;
        var h = new double[n, n];
        for (var i = 0; i < n - 1; i++)
        {
            h[i, i] += 1200 * x[i] * x[i] - 400 * x[i + 1] + 2;
            h[i + 1, i + 1] += 200;
            h[i, i + 1] = h[i + 1, i] = -400 * x[i];
        }
        return h;
    }

    private void Show(string name, MinimizationResult result) =>
        output.WriteLine($"{name}: {result.Iterations} iterations, {result.ReasonForExit}, f = {result.FunctionInfoAtMinimum.Value:R}, " +
            $"|x - 1|∞ = {DistanceToOnes(result.MinimizingPoint):R}, |∇f| = {result.FunctionInfoAtMinimum.Gradient.L2Norm():R}");

    [Fact]
    public void Lbfgs_minimizes_Rosenbrock_in_100_dimensions_to_1e_8()
    {
        var result = new LimitedMemoryBfgsMinimizer(1e-12, 1e-15, 1e-15, memory: 10, maximumIterations: 10_000)
            .FindMinimum(Rosenbrock.ToObjectiveFunction(), Start(100));
        Show("L-BFGS", result);

        // Distance to the minimizer, all ones, in the largest coordinate.
        Assert.True(DistanceToOnes(result.MinimizingPoint) < 1e-8, $"|x - 1|∞ = {DistanceToOnes(result.MinimizingPoint):R}");
        Assert.True(result.FunctionInfoAtMinimum.Value < 1e-14, $"f = {result.FunctionInfoAtMinimum.Value:R}");
    }

    [Fact]
    public void Newton_with_the_exact_Hessian_needs_fewer_iterations_than_Bfgs_from_the_same_start()
    {
        // The textbook case, (-1.2, 1): Newton's full steps (no line search) take 7 iterations, BFGS 38.
        var start = Start(2);
        var newton = new NewtonMinimizer(1e-10, 1_000, useLineSearch: false)
            .FindMinimum(WrittenOut(2).ToObjectiveFunction(), start); // ExprGrad's exact Hessian
        var bfgs = new BfgsMinimizer(1e-10, 1e-15, 1e-15, 1_000)
            .FindMinimum(Rosenbrock.ToObjectiveFunction(), start);
        Show("Newton", newton);
        Show("BFGS", bfgs);

        Assert.True(DistanceToOnes(newton.MinimizingPoint) < 1e-8, $"Newton: |x - 1|∞ = {DistanceToOnes(newton.MinimizingPoint):R}");
        Assert.True(DistanceToOnes(bfgs.MinimizingPoint) < 1e-6, $"BFGS: |x - 1|∞ = {DistanceToOnes(bfgs.MinimizingPoint):R}");
        Assert.True(newton.Iterations < bfgs.Iterations, $"Newton {newton.Iterations} iterations, BFGS {bfgs.Iterations}");
    }

    [Fact]
    public void A_Hessian_as_a_matrix_function_takes_Newton_the_same_way()
    {
        var start = Start(10);
        var asArray = new NewtonMinimizer(1e-10, 1_000, useLineSearch: true)
            .FindMinimum(Rosenbrock.ToObjectiveFunction(RosenbrockHessian), start);
        var asMatrix = new NewtonMinimizer(1e-10, 1_000, useLineSearch: true)
            .FindMinimum(Rosenbrock.ToObjectiveFunction((Vector<double> x) => Matrix<double>.Build.DenseOfArray(RosenbrockHessian(x.ToArray()))), start);

        Assert.Equal(asArray.Iterations, asMatrix.Iterations);
        Assert.Equal(asArray.MinimizingPoint.ToArray(), asMatrix.MinimizingPoint.ToArray());
    }

    [Fact]
    public void ExprGrads_Hessian_takes_Newton_where_the_closed_form_does()
    {
        var start = Start(10);
        var tree = WrittenOut(10);
        var exact = new NewtonMinimizer(1e-10, 1_000, useLineSearch: true).FindMinimum(tree.ToObjectiveFunction(), start);
        var closed = new NewtonMinimizer(1e-10, 1_000, useLineSearch: true).FindMinimum(tree.ToObjectiveFunction(RosenbrockHessian), start);
        Assert.Equal(closed.Iterations, exact.Iterations);
        Assert.True(DistanceToOnes(exact.MinimizingPoint) < 1e-8, $"|x - 1|∞ = {DistanceToOnes(exact.MinimizingPoint):R}");
        var h = tree.Hessian(start.ToArray());
        var expected = RosenbrockHessian(start.ToArray());
        for (var i = 0; i < 10; i++)
            for (var j = 0; j < 10; j++)
                Assert.Equal(expected[i, j], h[i, j], 1e-12);
    }

    [Fact]
    public void The_closed_form_Hessian_agrees_with_differences_of_the_gradient()
    {
        double[] x = [-1.2, 1, 0.3, -0.7, 2];
        var h = RosenbrockHessian(x);
        const double step = 1e-6;
        for (var j = 0; j < x.Length; j++)
        {
            var plus = (double[])x.Clone();
            var minus = (double[])x.Clone();
            plus[j] += step;
            minus[j] -= step;
            var (gp, gm) = (new double[x.Length], new double[x.Length]);
            Rosenbrock.Evaluate(plus, gp);
            Rosenbrock.Evaluate(minus, gm);
            for (var i = 0; i < x.Length; i++)
                Assert.Equal(h[i, j], (gp[i] - gm[i]) / (2 * step), 1e-4 * Math.Max(1, Math.Abs(h[i, j])));
        }
    }

    [Fact]
    public void Conjugate_gradients_run_too()
    {
        var result = new ConjugateGradientMinimizer(1e-8, 100_000)
            .FindMinimum(Rosenbrock.ToObjectiveFunction(), Start(2));
        Show("CG", result);
        Assert.True(DistanceToOnes(result.MinimizingPoint) < 1e-6, $"|x - 1|∞ = {DistanceToOnes(result.MinimizingPoint):R}");
    }

    [Fact]
    public void A_typed_gradient_of_doubles_is_an_objective_function_too()
    {
        // Two doubles, flat layout (x, y): the same minimum.
        var g = Grad.Of((double x, double y) => 100 * Fn.Square(y - x * x) + Fn.Square(1 - x));
        var result = new LimitedMemoryBfgsMinimizer(1e-12, 1e-15, 1e-15, memory: 5)
            .FindMinimum(g.ToObjectiveFunction(), Vector<double>.Build.Dense([-1.2, 1.0]));
        Assert.True(DistanceToOnes(result.MinimizingPoint) < 1e-8, $"|x - 1|∞ = {DistanceToOnes(result.MinimizingPoint):R}");
    }

    // y = a e^(-k x), a = 5, k = 0.7, at x = 0, 0.5, ..., 9.5.
    private const double Amplitude = 5, Rate = 0.7;

    private static Vector<double> DecayX => Vector<double>.Build.Dense(20, i => 0.5 * i);

    [Fact]
    public void Levenberg_Marquardt_recovers_an_exponential_decay_from_exact_data()
    {
        var x = DecayX;
        var y = x.Map(v => Amplitude * Math.Exp(-Rate * v));
        var model = Objective.NonlinearModel((p, t) => p[0] * Math.Exp(-p[1] * t), x, y);

        var fit = new LevenbergMarquardtMinimizer().FindMinimum(model, Vector<double>.Build.Dense([1.0, 1.0]));
        output.WriteLine($"LM: {fit.Iterations} iterations, {fit.ReasonForExit}, p = {fit.MinimizingPoint}");

        Assert.Equal(Amplitude, fit.MinimizingPoint[0], 1e-8);
        Assert.Equal(Rate, fit.MinimizingPoint[1], 1e-8);
    }

    [Fact]
    public void Levenberg_Marquardt_fits_noisy_data_within_its_standard_errors()
    {
        // Fixed-seed Gaussian noise (Box–Muller), σ = 0.05: the fit is within four standard errors of the truth.
        const int seed = 15;
        var random = new Random(seed);
        var x = DecayX;
        var y = x.Map(v => Amplitude * Math.Exp(-Rate * v)
            + 0.05 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        var model = Objective.NonlinearModel((p, t) => p[0] * Math.Exp(-p[1] * t), x, y);

        var fit = new LevenbergMarquardtMinimizer().FindMinimum(model, Vector<double>.Build.Dense([1.0, 1.0]));
        output.WriteLine($"LM (noise seed {seed}): p = {fit.MinimizingPoint}, standard errors {fit.StandardErrors}");

        Assert.InRange(fit.MinimizingPoint[0], Amplitude - 4 * fit.StandardErrors[0], Amplitude + 4 * fit.StandardErrors[0]);
        Assert.InRange(fit.MinimizingPoint[1], Rate - 4 * fit.StandardErrors[1], Rate + 4 * fit.StandardErrors[1]);
        Assert.InRange(fit.StandardErrors[0], 1e-3, 0.1); // the noise shows: not an exact fit
    }

    [Fact]
    public void A_nonlinear_model_checks_its_parameters_and_data()
    {
        var x = DecayX;
        var e = Assert.Throws<ArgumentException>(() => Objective.NonlinearModel((p, t) => p[0] * t, x, Vector<double>.Build.Dense(3)));
        Assert.Equal("observedY", e.ParamName);

        e = Assert.Throws<ArgumentException>(() => Objective.NonlinearModel((p, t) => p.Sum() * t, x, x));
        Assert.Equal("model", e.ParamName);
        Assert.Contains("p.Length or loops over p", e.Message, StringComparison.Ordinal);

        // Three parameters read, two given.
        var model = Objective.NonlinearModel((p, t) => p[0] + p[1] * t + p[2] * t * t, x, x);
        var wrong = Assert.Throws<ArgumentException>(() => new LevenbergMarquardtMinimizer().FindMinimum(model, Vector<double>.Build.Dense([1.0, 1.0])));
        Assert.Contains("p[0] to p[2], so it has 3 parameters, but the parameter vector has 2", wrong.Message, StringComparison.Ordinal);
    }
}
