namespace ExprGrad;

/// <summary>
/// Gives ExprGrad the derivative of a static method from doubles to a double, so that lambdas passed to
/// <see cref="Grad"/>, <c>[Differentiable]</c> methods, formulas, staged code and traces can call it. Name one
/// partial-derivative method per argument, in argument order: each is a static method of the same type taking the
/// same arguments (and, optionally, the function's value after them, to reuse it) and returning that partial.
/// </summary>
/// <remarks>
/// ExprGrad cannot read a compiled method's body, so the partials are called as they are: the first derivative is
/// exact and fast, and a second derivative (a Hessian) needs the partial methods to have rules of their own. For
/// partials that are themselves differentiated, register them as lambdas with <see cref="DerivativeRules"/>.
/// </remarks>
/// <example>
/// <code>
/// [Derivative(nameof(SoftplusDerivative))]
/// public static double Softplus(double x) => Math.Log(1 + Math.Exp(x));
/// public static double SoftplusDerivative(double x) => 1 / (1 + Math.Exp(-x));
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class DerivativeAttribute : Attribute
{
    /// <summary>Names the partial-derivative methods, one per argument of the method this attribute marks.</summary>
    /// <param name="partials">The methods' names (use <c>nameof</c>), in argument order.</param>
    public DerivativeAttribute(params string[] partials) => Partials = partials;

    /// <summary>The partial-derivative methods' names, in argument order.</summary>
    public IReadOnlyList<string> Partials { get; }
}
