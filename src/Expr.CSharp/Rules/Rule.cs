using System.Linq.Expressions;
using System.Reflection;
using ExprGrad.Staging;

namespace ExprGrad.Rules;

/// <summary>
/// Pulls the output adjoint <paramref name="yBar"/> of <paramref name="y"/> back to its inputs: writes into
/// <paramref name="xBars"/>[i] the contribution to input i's adjoint, or leaves it null (a symbolic zero).
/// Rules build staged nodes, never Linq, so a gradient can itself be differentiated. The chain rule's sum
/// (the <c>+=</c> at forks) is the reverse sweep's job, never a rule's.
/// </summary>
internal delegate void Pullback(GraphBuilder b, Node y, Node yBar, Node?[] xBars);

/// <summary>
/// Everything about one operation in one place: how it prints, how it evaluates (for constant folding and the
/// reference interpreter), how it is emitted as Linq, and how it pulls an adjoint back.
/// </summary>
internal sealed class Rule
{
    public required Op Op { get; init; }

    /// <summary>The gate label of the operation in listings and circuits (<c>+</c>, <c>exp</c>, <c>σ</c>).</summary>
    public required string Symbol { get; init; }

    public required int Arity { get; init; }

    /// <summary>Evaluates the operation on numbers (booleans are 1 and 0).</summary>
    public required Func<double[], double> Evaluate { get; init; }

    /// <summary>Builds the Linq expression computing the operation from its (already staged) arguments.</summary>
    public required Func<Expression[], Expression> Emit { get; init; }

    /// <summary>Null for boolean operations, which carry no adjoint.</summary>
    public Pullback? Pullback { get; init; }

    /// <summary>True if the arguments may be swapped without changing any result bit (used to canonicalize for hash-consing).</summary>
    public bool Commutative { get; init; }

    public bool IsBool { get; init; }

    /// <summary>The .NET method this operation is when the emitted code calls one (Math.Exp, Fn.Sigmoid, ...).</summary>
    public MethodInfo? Method { get; init; }
}
