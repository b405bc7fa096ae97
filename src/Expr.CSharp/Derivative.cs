using System.Linq.Expressions;
using ExprGrad.Symbolic;

namespace ExprGrad;

/// <summary>
/// One partial derivative of a <see cref="Gradient"/>, for reading: the staged graph inlined into one formula and
/// simplified by the symbolic module. Display only: what <see cref="Gradient.Evaluate(ReadOnlySpan{double}, Span{double})"/>
/// runs is the staged code, which computes each shared value once.
/// </summary>
public sealed class Derivative
{
    internal Derivative(string variable, Formula? formula, long writtenSize)
    {
        Variable = variable;
        Formula = formula;
        WrittenSize = writtenSize;
    }

    /// <summary>
    /// The variable: a parameter's name (<c>x</c>), or an array element (<c>w[0]</c>); for an array of any length, its
    /// element at a free index (<c>a[k]</c>), the formula then holding for every k.
    /// </summary>
    public string Variable { get; }

    /// <summary>
    /// The simplified formula, or null when the inlined formula would exceed <see cref="Gradient.MaxFormulaSize"/>
    /// nodes (a staged graph shares values a formula must write out, so it can be exponentially larger).
    /// </summary>
    public Formula? Formula { get; }

    /// <summary>The number of nodes of the formula written out before simplification.</summary>
    public long WrittenSize { get; }

    /// <summary>The formula as infix text, e.g. <c>sin(x) + x*cos(x)</c>.</summary>
    public string Infix => Formula is null ? TooLarge : Symbolic.Infix.Format(Formula);

    /// <summary>The formula as LaTeX, e.g. <c>\sin\left(x\right) + x \cos\left(x\right)</c>.</summary>
    public string Latex => Formula is null ? $"\\text{{{TooLarge}}}" : Symbolic.Latex.Format(Formula);

    /// <summary>The simplified formula as a Linq expression over <paramref name="variables"/> (by name), for compiling and checking.</summary>
    /// <exception cref="InvalidOperationException">The formula is too large to display.</exception>
    /// <exception cref="NotSupportedException">The formula has a sum over a range or an element at a computed index
    /// (a function with loops over data): <c>FormulaModule.Evaluate</c> evaluates it instead.</exception>
    public Expression ToExpression(IReadOnlyDictionary<string, Expression> variables) =>
        Formula is null
            ? throw new InvalidOperationException($"∂f/∂{Variable}: {TooLarge}")
            : Symbolic.Linq.ToExpression(Fn.Library, variables, Formula);

    /// <summary>The partial derivative as LaTeX with its header: <c>\frac{\partial f}{\partial x} = y</c>.</summary>
    public string ToLatex() => Formula is null
        ? $"\\frac{{\\partial f}}{{\\partial {Variable}}} = \\text{{{TooLarge}}}"
        : Symbolic.Latex.Partial("f", Variable, Formula);

    /// <summary>The partial derivative as text: <c>∂f/∂x = y</c>.</summary>
    public override string ToString() => $"∂f/∂{Variable} = {Infix}";

    private string TooLarge => $"too large to display ({WrittenSize:N0} nodes written out; see Gradient.ToCode())";
}
