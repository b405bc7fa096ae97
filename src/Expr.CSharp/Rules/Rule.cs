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

    /// <summary>The number of arguments; −1 for any number (<see cref="Op.Map"/>).</summary>
    public required int Arity { get; init; }

    /// <summary>Evaluates a scalar operation on numbers (booleans are 1 and 0).</summary>
    public Func<double[], double> Evaluate { get; init; } = _ => throw new InvalidOperationException("a vector or matrix operation is not evaluated on numbers");

    /// <summary>Builds the Linq expression computing a scalar operation from its (already staged) arguments.</summary>
    public Func<Expression[], Expression> Emit { get; init; } = _ => throw new InvalidOperationException("a vector or matrix operation is emitted by EmitTensor");

    /// <summary>
    /// For a vector or matrix operation: the shape of its result from its arguments (and <see cref="Node.Param"/>),
    /// relating the dimensions it needs equal. Null for a scalar operation, which applied to vectors or matrices
    /// becomes a <see cref="Op.Map"/>.
    /// </summary>
    public Func<GraphBuilder, Node[], int, Shape>? Infer { get; init; }

    /// <summary>For a vector or matrix operation: the Linq expression computing it, usually a call of a MathNet kernel.</summary>
    public Func<EmitContext, Node, Expression[], Expression>? EmitTensor { get; init; }

    /// <summary>Null for boolean operations, which carry no adjoint.</summary>
    public Pullback? Pullback { get; init; }

    /// <summary>True if the arguments may be swapped without changing any result bit (used to canonicalize for hash-consing).</summary>
    public bool Commutative { get; init; }

    public bool IsBool { get; init; }

    /// <summary>The .NET method this operation is when the emitted code calls one (Math.Exp, Fn.Sigmoid, ...).</summary>
    public MethodInfo? Method { get; init; }

    /// <summary>
    /// For a user's method known only by its C# (the source generator's view of a <c>[Derivative]</c> method, which has
    /// no run-time <see cref="MethodInfo"/>): the qualified name printed calls use. Such a rule is printed, never
    /// evaluated or emitted.
    /// </summary>
    public string? CallText { get; init; }
}

/// <summary>What a vector or matrix operation's emission may ask of the method being written.</summary>
internal abstract class EmitContext
{
    /// <summary>The size of a dimension at the call (an <c>int</c>, read once on entry).</summary>
    public abstract Expression Dim(int dimension);

    /// <summary>True if <paramref name="reader"/> is the last to read the vector or matrix <paramref name="value"/>, which
    /// nothing else shares: its storage may then receive the reader's result.</summary>
    public abstract bool IsLastRead(Node value, Node reader);
}
