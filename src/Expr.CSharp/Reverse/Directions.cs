using ExprGrad.Staging;

namespace ExprGrad.Reverse;

/// <summary>
/// A Hessian-vector product's first sweep does not scatter the gradients of array parameters read at indices known only
/// at the call: it dots them with the direction v as it goes. Each such read's adjoint times v's element at the same
/// index adds to the adjoint of <see cref="Sink"/>, a node no stage reads, and a loop's pullback delivers its body's part
/// as one more output. ∇f·v is then staged values, which the second sweep differentiates like any other.
/// </summary>
/// <param name="direction">The direction's parameter for each parameter of the point.</param>
internal sealed class Directions(Func<int, int> direction)
{
    /// <summary>The node whose adjoint collects the products: a key of the sweep's adjoints, never staged.</summary>
    public Node Sink { get; } = new(-1, Op.Input, [], null) { Param = -2 };

    /// <summary>v's element at the index <paramref name="read"/> reads, staged in the region being built.</summary>
    public Node Element(GraphBuilder b, Node read) => b.Read(direction(read.Param), null, read.Args, read.IndexText!, direction: true);

    /// <summary>The same directions for a loop body's sweep, with a sink of its own.</summary>
    public Directions ForBody() => new(direction);
}
