using System.Globalization;

namespace ExprGrad;

/// <summary>What a <see cref="TraceNode"/> is in the circuit.</summary>
public enum TraceNodeKind
{
    /// <summary>A slot of the point: a <c>double</c> parameter or one element of a <c>double[]</c> parameter.</summary>
    Input,

    /// <summary>A captured variable, or an array parameter's <c>Length</c>: data read live and never differentiated.</summary>
    Captured,

    /// <summary>A constant; circuits fold it into the label of the gate that reads it (<c>*2</c>, <c>1/x</c>).</summary>
    Constant,

    /// <summary>
    /// An operation of the catalogue: <c>+</c>, <c>*</c>, <c>exp</c>, <c>σ</c>, <c>max</c>, ...; or a whole loop over data,
    /// labelled <c>Σ i</c>, <c>fold k</c>, <c>max i</c> or <c>min i</c>, whose inputs end with the array elements it read.
    /// </summary>
    Gate,

    /// <summary>The test of a conditional (a comparison, <c>&amp;&amp;</c>, <c>||</c>, <c>!</c>): true (1) or false (0), no gradient.</summary>
    Test,

    /// <summary>The result of a conditional <c>c ? a : b</c>: its inputs are the test and the result of the branch taken.</summary>
    Branch,
}

/// <summary>
/// One node of a <see cref="Trace"/>: an operation of the staged graph's forward pass with its inputs, its value at the
/// traced point, and its adjoint (the gradient of the function's value with respect to this node's value).
/// </summary>
public sealed class TraceNode
{
    private readonly TraceNode[] _inputs;

    internal TraceNode(int id, TraceNodeKind kind, string name, string operation, string label, TraceNode[] inputs, double value, double? adjoint)
    {
        Id = id;
        Kind = kind;
        Name = name;
        Operation = operation;
        Label = label;
        _inputs = inputs;
        Value = value;
        Adjoint = adjoint;
    }

    /// <summary>
    /// The id of the staged node: stage <c>v7</c> of <see cref="Gradient.ToListing"/> has id 7. An array element read
    /// only inside loops has no stage of its own: its id is the graph's number of nodes plus its slot, unique in the trace.
    /// </summary>
    public int Id { get; }

    /// <summary>What the node is: an input, a gate, a constant, ...</summary>
    public TraceNodeKind Kind { get; }

    /// <summary>
    /// The node's name: <c>x</c> or <c>w[0]</c> for an input, the variable (<c>data.y</c>) for a captured value, the
    /// number for a constant, <c>v7</c> for a stage (as in <see cref="Gradient.ToListing"/>).
    /// </summary>
    public string Name { get; }

    /// <summary>
    /// The operation: the gate's symbol (<c>+</c>, <c>*</c>, <c>exp</c>, <c>σ</c>, <c>&gt;</c>), <c>if</c> for a
    /// conditional's result, or <c>input</c>, <c>captured</c>, <c>constant</c> for leaves.
    /// </summary>
    public string Operation { get; }

    /// <summary>
    /// The text of the node in a circuit: the operation with constant operands folded in, as the CS231n notes draw
    /// gates (<c>*2</c>, <c>+1</c>, <c>1/x</c>, <c>x²</c>, <c>max(x,0)</c>); the name for leaves.
    /// </summary>
    public string Label { get; }

    /// <summary>The nodes this one reads, in argument order (constants included). A branch reads its test, then the result of the branch taken.</summary>
    public IReadOnlyList<TraceNode> Inputs => _inputs;

    /// <summary>The forward value at the traced point (a test is 1 for true, 0 for false).</summary>
    public double Value { get; }

    /// <summary>
    /// The adjoint ∂f/∂(this node) computed by the backward pass: the sum of the contributions of every gate that reads
    /// this node (0 where none flows). Null for nodes no gradient flows into: constants, captured values and tests.
    /// </summary>
    public double? Adjoint { get; }

    /// <summary>One line: <c>v4 = v3 * z: value -12, gradient 1</c>.</summary>
    public override string ToString()
    {
        var head = Kind is TraceNodeKind.Input or TraceNodeKind.Captured or TraceNodeKind.Constant
            ? Name
            : $"{Name} = {Trace.Describe(this)}";
        var value = Kind == TraceNodeKind.Test ? (Value != 0 ? "true" : "false") : Trace.Exact(Value);
        return Adjoint is { } adjoint
            ? $"{head}: value {value}, gradient {Trace.Exact(adjoint)}"
            : $"{head}: value {value}";
    }

    internal static string Number(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
}
