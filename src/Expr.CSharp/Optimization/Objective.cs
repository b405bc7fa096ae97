using System.Linq.Expressions;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace ExprGrad.Optimization;

/// <summary>
/// ExprGrad gradients handed to MathNet.Numerics.Optimization: <see cref="ToObjectiveFunction(Gradient)"/> for
/// <see cref="LimitedMemoryBfgsMinimizer"/>, <see cref="BfgsMinimizer"/>, <see cref="ConjugateGradientMinimizer"/>
/// and <see cref="NewtonMinimizer"/> (with ExprGrad's exact Hessian, or one of the caller's); <see cref="NonlinearModel"/> for
/// <see cref="LevenbergMarquardtMinimizer"/>.
/// </summary>
/// <example>
/// <code>
/// var rosenbrock = Grad.Of((double x, double y) =&gt; 100 * Fn.Square(y - x * x) + Fn.Square(1 - x));
/// var result = new LimitedMemoryBfgsMinimizer(1e-10, 1e-10, 1e-10, memory: 5)
///     .FindMinimum(rosenbrock.ToObjectiveFunction(), Vector&lt;double&gt;.Build.Dense([-1.2, 1.0]));
/// // result.MinimizingPoint ≈ (1, 1)
/// </code>
/// </example>
public static class Objective
{
    /// <summary>
    /// The function and its gradient as MathNet's <see cref="IObjectiveFunction"/>, for the gradient-based minimizers
    /// (<see cref="LimitedMemoryBfgsMinimizer"/>, <see cref="BfgsMinimizer"/>, <see cref="ConjugateGradientMinimizer"/>).
    /// A point is a vector in the gradient's flat layout (<see cref="Gradient.Dimension"/> values; any length from
    /// that up when <see cref="Gradient.HasVariableLength"/>).
    /// </summary>
    /// <param name="gradient">The compiled gradient, from <see cref="Grad"/>.</param>
    /// <returns>An objective function that evaluates value and gradient in one call of
    /// <see cref="Gradient.Evaluate(ReadOnlySpan{double}, Span{double})"/>, reading a dense point in place. Its
    /// <c>Gradient</c> vector is its own, overwritten by its next <c>EvaluateAt</c>: <c>Fork()</c> it (as MathNet's
    /// minimizers do) to keep an evaluation. It has the exact Hessian too (<see cref="Gradient.Hessian(double[])"/>,
    /// through loops over data as well, compiled when first read, then once per point a minimizer reads it), so
    /// <see cref="NewtonMinimizer"/> runs on it.</returns>
    /// <exception cref="NotSupportedException">The function has no flat layout (a vector or matrix parameter, or an
    /// array of any length that is not the last parameter).</exception>
    public static IObjectiveFunction ToObjectiveFunction(this Gradient gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        return Create(gradient, point => ExactHessian(gradient, point));
    }

    // ExprGrad's own Hessian, written straight into the matrix's storage: it is symmetric, so its row-major layout is
    // MathNet's column-major one. (As long as the point when it ends with an array of any length.)
    private static Matrix<double> ExactHessian(Gradient gradient, Vector<double> point)
    {
        var d = gradient.HasVariableLength ? point.Count : gradient.Dimension;
        var hessian = Matrix<double>.Build.Dense(d, d);
        gradient.Hessian(point.AsArray() ?? point.ToArray(), hessian.AsColumnMajorArray());
        return hessian;
    }

    /// <summary>
    /// The function, its gradient and its Hessian as MathNet's <see cref="IObjectiveFunction"/>, for
    /// <see cref="NewtonMinimizer"/> as well as the gradient-based minimizers. The Hessian is computed only when a
    /// minimizer reads it, once per evaluated point.
    /// </summary>
    /// <param name="gradient">The compiled gradient, from <see cref="Grad"/>.</param>
    /// <param name="hessian">The Hessian at a point (flat layout): a d × d matrix.</param>
    /// <exception cref="NotSupportedException">The function has no flat layout.</exception>
    public static IObjectiveFunction ToObjectiveFunction(this Gradient gradient, Func<Vector<double>, Matrix<double>> hessian)
    {
        ArgumentNullException.ThrowIfNull(hessian);
        return Create(gradient, hessian);
    }

    /// <summary>
    /// The function, its gradient and its Hessian as MathNet's <see cref="IObjectiveFunction"/>, the Hessian given as
    /// a function of a point's array returning a dense d × d array: the shape of a method
    /// <c>double[,] Hessian(params double[] point)</c>, passed as a method group.
    /// </summary>
    /// <param name="gradient">The compiled gradient, from <see cref="Grad"/>.</param>
    /// <param name="hessian">The Hessian at a point (flat layout; the array is a copy the function may keep).</param>
    /// <exception cref="NotSupportedException">The function has no flat layout.</exception>
    public static IObjectiveFunction ToObjectiveFunction(this Gradient gradient, Func<double[], double[,]> hessian)
    {
        ArgumentNullException.ThrowIfNull(hessian);
        return Create(gradient, point => Matrix<double>.Build.DenseOfArray(hessian(point.ToArray())));
    }

    private static GradientObjectiveFunction Create(Gradient gradient, Func<Vector<double>, Matrix<double>>? hessian)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        if (!gradient.HasFlatLayout)
            throw new NotSupportedException("this function has no flat layout, so no point vector: a minimizer needs a function of doubles " +
                "and double[] (an array of any length only as the last parameter)");
        return new GradientObjectiveFunction(gradient, hessian);
    }

    /// <summary>
    /// A nonlinear least-squares problem for <see cref="LevenbergMarquardtMinimizer"/>: fit the parameters
    /// <c>p</c> of <paramref name="model"/> so that <c>model(p, x[i])</c> ≈ <c>y[i]</c>. The model is differentiated
    /// with respect to <c>p</c>; the Jacobian's row i is its gradient at <c>x[i]</c>, evaluated for all the data
    /// points at once (<see cref="Gradient.EvaluateBatch(ReadOnlySpan{double}, Span{double}, Span{double}, int)"/>).
    /// </summary>
    /// <param name="model">The model, e.g. <c>(p, x) =&gt; p[0] * Math.Exp(-p[1] * x)</c>: it reads the parameters at
    /// constant indices, <c>p[0]</c> to <c>p[k - 1]</c>, and the parameter vector has those k values.</param>
    /// <param name="observedX">The data's x.</param>
    /// <param name="observedY">The data's y, one per x.</param>
    /// <param name="weights">Optional weights, one per data point (as MathNet's <see cref="ObjectiveFunction.NonlinearModel(Func{Vector{double}, Vector{double}, Vector{double}}, Func{Vector{double}, Vector{double}, Matrix{double}}, Vector{double}, Vector{double}, Vector{double})"/> takes them).</param>
    /// <returns>MathNet's objective model, for <see cref="LevenbergMarquardtMinimizer.FindMinimum(IObjectiveModel, Vector{double}, Vector{double}, Vector{double}, Vector{double}, List{bool})"/>.</returns>
    /// <example>
    /// <code>
    /// var decay = Objective.NonlinearModel((p, x) =&gt; p[0] * Math.Exp(-p[1] * x), xs, ys);
    /// var fit = new LevenbergMarquardtMinimizer().FindMinimum(decay, Vector&lt;double&gt;.Build.Dense([1.0, 1.0]));
    /// // fit.MinimizingPoint: the amplitude and the rate
    /// </code>
    /// </example>
    /// <exception cref="ArgumentException"><paramref name="observedX"/> and <paramref name="observedY"/> differ in
    /// length, or the model reads <c>p.Length</c> or loops over <c>p</c> (its parameters must be at constant indices).</exception>
    /// <exception cref="ExprGradException">The model uses something outside the catalogue.</exception>
    public static IObjectiveModel NonlinearModel(Expression<Func<double[], double, double>> model,
        Vector<double> observedX, Vector<double> observedY, Vector<double>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(observedX);
        ArgumentNullException.ThrowIfNull(observedY);
        if (observedX.Count != observedY.Count)
            throw new ArgumentException($"observedY has {observedY.Count} values but observedX has {observedX.Count}", nameof(observedY));
        var gradient = Grad.Of(model);
        var p = model.Parameters[0].Name ?? "p";
        if (!gradient.HasFlatLayout)
            throw new ArgumentException($"the model reads {p}.Length or loops over {p}: read the parameters at constant indices ({p}[0], {p}[1], ...)", nameof(model));
        var fit = new ModelFit(gradient, p);
        return ObjectiveFunction.NonlinearModel(fit.Values, fit.Jacobian, observedX, observedY, weights);
    }

    // The model at every x for the parameters p, and its gradients with respect to p: one batch of rows
    // [p0, ..., p(k-1), x_i], whose gradients' first k columns are the Jacobian's rows. Allocates per call (the
    // Jacobian MathNet asks for is new each time anyway), so a forked model is safe on another thread.
    private sealed class ModelFit(Gradient model, string parameterName)
    {
        // The flat layout is p's slots, then x.
        private readonly int _k = model.Dimension - 1;

        public Vector<double> Values(Vector<double> p, Vector<double> x)
        {
            var (values, _) = Evaluate(p, x);
            return Vector<double>.Build.Dense(values);
        }

        public Matrix<double> Jacobian(Vector<double> p, Vector<double> x)
        {
            var (_, gradients) = Evaluate(p, x);
            var d = _k + 1;
            return Matrix<double>.Build.Dense(x.Count, _k, (i, j) => gradients[i * d + j]);
        }

        private (double[] Values, double[] Gradients) Evaluate(Vector<double> p, Vector<double> x)
        {
            if (p.Count != _k)
                throw new ArgumentException($"the model reads {parameterName}[0] to {parameterName}[{_k - 1}], so it has {_k} parameters, but the parameter vector has {p.Count}", nameof(p));
            var d = _k + 1;
            var n = x.Count;
            var rows = new double[n * d];
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < _k; j++)
                    rows[i * d + j] = p[j];
                rows[i * d + _k] = x[i];
            }
            var values = new double[n];
            var gradients = new double[n * d];
            model.EvaluateBatch(rows, values, gradients);
            return (values, gradients);
        }
    }
}
