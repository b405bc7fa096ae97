using System.Linq.Expressions;

namespace ExprGrad;

/// <summary>
/// Thrown when a function cannot be differentiated: an operation outside the catalogue, an unsupported
/// parameter or result type, or a point of the wrong size. The message names the operation and shows the
/// offending sub-expression.
/// </summary>
public sealed class ExprGradException : Exception
{
    /// <summary>Creates the exception with a message and, where known, the sub-expression at fault.</summary>
    public ExprGradException(string message, Expression? subExpression = null)
        : base(message) => SubExpression = subExpression;

    /// <summary>The sub-expression of the user's lambda that caused the failure, when there is one.</summary>
    public Expression? SubExpression { get; }
}
