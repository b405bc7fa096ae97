using System.ComponentModel;
using System.Linq.Expressions;
using System.Reflection;
using ExprGrad.Import;

namespace ExprGrad;

/// <summary>
/// Derivative rules for your own static methods: register a method's partial derivatives once, as lambdas, and every
/// gradient that calls the method uses them (<see cref="Grad"/>, formulas, staged code, traces). The partials are
/// imported like any lambda, so they become ordinary staged operations: they can call Math, Fn, MathNet's special
/// functions and other methods with rules, and a second derivative (a Hessian) differentiates them in turn.
/// </summary>
/// <remarks>
/// Registration is safe from many threads and happens once per method: a method keeps the first rule it is given
/// (a second registration, or one for a method that has a <see cref="DerivativeAttribute"/>, is refused). Each
/// partial takes the function's arguments, and may take the function's value after them, which the gradient reuses
/// from the forward pass instead of calling the method again (Γ′(x) = Γ(x)·ψ(x) written <c>(x, y) =&gt; y * ψ(x)</c>).
/// </remarks>
/// <example>
/// <code>
/// DerivativeRules.Register((double x) => MyMath.Softplus(x), x => Fn.Sigmoid(x));
/// var g = Grad.Of((double x, double y) => MyMath.Softplus(x * y));
/// </code>
/// </example>
public static class DerivativeRules
{
    /// <summary>Registers the derivative of a one-argument method.</summary>
    /// <param name="function">The method applied to the lambda's parameter: <c>(double x) =&gt; MyMath.F(x)</c>.</param>
    /// <param name="derivative">f′(x), as a lambda of the same argument.</param>
    /// <exception cref="ArgumentException">The function is not a static method call on its parameters, or the
    /// derivative cannot be differentiated (the message names the method).</exception>
    /// <exception cref="InvalidOperationException">The method already has a rule.</exception>
    public static void Register(Expression<Func<double, double>> function, Expression<Func<double, double>> derivative) =>
        Register(MethodOf(function), derivative);

    /// <summary>Registers the partial derivatives of a two-argument method.</summary>
    /// <param name="function">The method applied to the lambda's parameters: <c>(double x, double y) =&gt; MyMath.F(x, y)</c>.</param>
    /// <param name="dx">∂f/∂x, as a lambda of the same arguments.</param>
    /// <param name="dy">∂f/∂y, as a lambda of the same arguments.</param>
    /// <exception cref="ArgumentException">The function is not a static method call on its parameters, or a partial
    /// cannot be differentiated (the message names the method).</exception>
    /// <exception cref="InvalidOperationException">The method already has a rule.</exception>
    public static void Register(Expression<Func<double, double, double>> function,
        Expression<Func<double, double, double>> dx, Expression<Func<double, double, double>> dy) =>
        Register(MethodOf(function), dx, dy);

    /// <summary>
    /// Registers the partial derivatives of a static method taking doubles and returning a double: one lambda per
    /// argument, in argument order, each taking the method's arguments and, optionally, the method's value after them.
    /// </summary>
    /// <param name="method">The method (static, all parameters double, returning double).</param>
    /// <param name="partials">∂f/∂xᵢ for each argument i, as lambdas of the arguments (and optionally the value).</param>
    /// <exception cref="ArgumentException">The method or a partial has the wrong shape, or a partial cannot be
    /// differentiated (the message names the method and the partial).</exception>
    /// <exception cref="InvalidOperationException">The method already has a rule.</exception>
    public static void Register(MethodInfo method, params LambdaExpression[] partials)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(partials);
        CustomRules.Register(method, partials);
    }

    /// <summary>
    /// Called by code the ExprGrad source generator writes, once, when the assembly loads: gives a
    /// <see cref="DifferentiableAttribute"/> method the rule its generated gradient implies, so that <see cref="Grad"/>
    /// lambdas can call it. A rule you register or give by a <see cref="DerivativeAttribute"/> takes precedence, and
    /// registering this one again does nothing.
    /// </summary>
    /// <param name="method">The <c>[Differentiable]</c> method (static, all parameters double, returning double).</param>
    /// <param name="partials">∂f/∂xᵢ for each argument i: each a call of a generated method that returns one component of the generated gradient.</param>
    /// <exception cref="ArgumentException">The method is not a static <c>[Differentiable]</c> method of doubles, or the partials do not match it.</exception>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void RegisterGenerated(MethodInfo method, params LambdaExpression[] partials)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(partials);
        CustomRules.RegisterGenerated(method, partials);
    }

    /// <summary>True if calls of <paramref name="method"/> can be differentiated: a built-in operation, a registered
    /// rule, or a <see cref="DerivativeAttribute"/>.</summary>
    /// <param name="method">Any method.</param>
    public static bool HasRule(MethodInfo method)
    {
        ArgumentNullException.ThrowIfNull(method);
        return CustomRules.HasRule(method);
    }

    private static MethodInfo MethodOf(LambdaExpression function)
    {
        ArgumentNullException.ThrowIfNull(function);
        if (function.Body is MethodCallExpression { Object: null } call
            && call.Arguments.Count == function.Parameters.Count
            && call.Arguments.Select((a, i) => a == function.Parameters[i]).All(same => same))
            return call.Method;
        throw new ArgumentException(
            $"the function {function} must call a static method on the lambda's parameters, in order, and nothing else " +
            "(like (double x) => MyMath.Softplus(x))", nameof(function));
    }
}
