using System.Linq.Expressions;

namespace ExprGrad.Staging;

/// <summary>
/// One stage of the staged graph (SSA): an operation applied to earlier nodes. Nodes are immutable once built
/// and are compared by reference; the builder hash-conses them, so equal operations on equal inputs in one
/// scope are one node.
/// </summary>
internal sealed class Node
{
    internal Node(int id, Op op, Node[] args, Region? owner)
    {
        Id = id;
        Op = op;
        Args = args;
        Owner = owner;
    }

    /// <summary>Dense, unique within a graph; creation order, hence a topological order.</summary>
    public int Id { get; }

    public Op Op { get; }

    public Node[] Args { get; }

    /// <summary>The region whose stage list holds this node; null for constants, which are inlined everywhere.</summary>
    public Region? Owner { get; }

    /// <summary>For <see cref="Op.Constant"/>: the value (booleans are 1 and 0).</summary>
    public double Value { get; init; }

    /// <summary>
    /// For a folded <see cref="Op.Constant"/>: an operation on constants that computes its value (the first fold that
    /// reached it), kept for display only (formulas show <c>1/exp(e)</c>, not <c>0.06598803584531254</c>). Never staged,
    /// never evaluated; null for a constant the user or a rule wrote.
    /// </summary>
    public Node? Origin { get; init; }

    /// <summary>
    /// For <see cref="Op.Input"/>: the lambda parameter; for <see cref="Op.Project"/>: the output index; for
    /// <see cref="Op.MatMul"/>: which operands are transposed (1: the first, 2: the second); for <see cref="Op.Size"/>,
    /// <see cref="Op.RepeatRow"/> and <see cref="Op.RepeatColumn"/>: a dimension.
    /// </summary>
    public int Param { get; init; }

    /// <summary>For <see cref="Op.Input"/> of an array parameter: the element index; −1 for a scalar parameter.</summary>
    public int Element { get; init; } = -1;

    /// <summary>For <see cref="Op.Captured"/>: the parameter-free expression read live at every call.</summary>
    public Expression? Live { get; init; }

    /// <summary>For <see cref="Op.Condition"/>: the branch taken when the test (Args[0]) holds, and the other.</summary>
    public Region? Then { get; init; }

    /// <summary>For <see cref="Op.Condition"/>: the branch taken when the test fails.</summary>
    public Region? Else { get; init; }

    /// <summary>A number, or a vector or matrix with its dimensions. Set once, when the node is built.</summary>
    public Shape Shape { get; set; } = Shape.Scalar;

    /// <summary>For <see cref="Op.Call"/>: the rule of the user's method (its evaluation, emission and pullback).</summary>
    public Rules.Rule? Function { get; init; }

    /// <summary>For <see cref="Op.Map"/>: the scalar function applied element by element.</summary>
    public MapBody? Body { get; init; }

    /// <summary>For <see cref="Op.Loop"/> and <see cref="Op.LoopAdjoint"/>: the loop's body and kind.</summary>
    public LoopBody? Loop { get; init; }

    /// <summary>For <see cref="Op.Read"/> and <see cref="Op.ScatterAdd"/>: the user's index expression, for messages and display.</summary>
    public string? IndexText { get; init; }

    /// <summary>For <see cref="Op.Read"/>: an element of a Hessian-vector product's direction, which no sweep differentiates.</summary>
    public bool IsDirection { get; init; }

    /// <summary>True for comparisons, logical operators and boolean constants: values that carry no adjoint.</summary>
    public bool IsBool { get; init; }

    /// <summary>True if no gradient can flow into this node (constants, captured values, sizes, booleans).</summary>
    public bool IsPassive => Op is Op.Constant or Op.Captured or Op.Size or Op.Index or Op.Length || (Op == Op.Read && (Live is not null || IsDirection)) || IsBool;

    /// <summary>True for stages that write array gradients: a scatter, or a loop's pullback that scatters.</summary>
    public bool HasEffects => Op == Op.ScatterAdd || (Op == Op.LoopAdjoint && Loop!.Pullback.HasEffects);

    public override string ToString() => GraphPrinter.Name(this);
}

/// <summary>
/// An ordered list of stages evaluated together: the root of a graph, or one branch of a conditional.
/// A branch may read nodes of enclosing regions but nothing outside reads into it, except the backward
/// branch of the same conditional, which runs under the same test.
/// </summary>
internal sealed class Region
{
    internal Region(Region? parent)
    {
        Parent = parent;
        Depth = parent is null ? 0 : parent.Depth + 1;
    }

    public Region? Parent { get; }

    public int Depth { get; }

    public List<Node> Nodes { get; } = [];

    /// <summary>The values the region delivers: one for a forward branch, one per exported adjoint for a backward branch.</summary>
    public Node[] Results { get; set; } = [];

    /// <summary>The conditional this region is a branch of; null for the root.</summary>
    public Node? Host { get; set; }

    /// <summary>True if <paramref name="node"/> is staged in this region or in one nested inside it.</summary>
    public bool Encloses(Node node)
    {
        for (var r = node.Owner; r is not null && r.Depth >= Depth; r = r.Parent)
            if (r == this)
                return true;
        return false;
    }
}
