using System.Globalization;
using System.Text;
using ExprGrad.Display;
using ExprGrad.Notebook;

namespace ExprGrad;

/// <summary>
/// The staged graph of a <see cref="Gradient"/> evaluated at one point, made by <see cref="Gradient.Trace"/>: every
/// operation of the forward pass with its inputs, its value and its adjoint, as the CS231n notes draw a circuit
/// (values forward in green above each wire, gradients backward in red below it).
/// </summary>
/// <remarks>
/// A conditional shows the branch taken: its stages appear among the nodes, and a <see cref="TraceNodeKind.Branch"/>
/// node reads the test and the taken branch's result. The untaken branch is neither evaluated nor shown. A loop over
/// data is one gate with its total value and adjoint, whatever its number of iterations; its inputs are its range, what
/// its body reads from outside, and the array elements it read, each an input with its gradient.
/// </remarks>
[TypeFormatterSource(typeof(TraceFormatterSource), PreferredMimeTypes = ["text/html", "text/plain"])]
public sealed class Trace
{
    /// <summary>
    /// Circuits with more drawn nodes (inputs, captured values and stages; constants are folded into gate labels)
    /// are not drawn: <see cref="ToSvg"/> and <see cref="ToMermaid"/> show a summary (the inputs with their values
    /// and gradients, and the value) and say why, <see cref="ToString"/> lists the inputs and the output only.
    /// <see cref="ToDot"/> always writes the whole graph: Graphviz lays out large graphs.
    /// </summary>
    public const int MaxDrawnNodes = 60;

    private readonly TraceNode[] _nodes;
    private readonly TraceNode[] _inputs;
    private readonly double[] _gradient;
    private readonly string[] _slotNames;
    private readonly double[] _point;

    internal Trace(TraceNode[] nodes, TraceNode output, double[] gradient, string[] slotNames, double[] point)
    {
        _nodes = nodes;
        Output = output;
        _inputs = Array.FindAll(nodes, n => n.Kind == TraceNodeKind.Input);
        _gradient = gradient;
        _slotNames = slotNames;
        _point = point;
    }

    /// <summary>
    /// Every node of the forward pass that ran, in evaluation order (inputs and captured values first where they are
    /// first read, each stage after its inputs). Constants are not listed: they appear among the <see cref="TraceNode.Inputs"/> of the gates that read them.
    /// </summary>
    public IReadOnlyList<TraceNode> Nodes => _nodes;

    /// <summary>The inputs the function reads, in evaluation order.</summary>
    public IReadOnlyList<TraceNode> Inputs => _inputs;

    /// <summary>The node whose value is the function's value (its adjoint is 1).</summary>
    public TraceNode Output { get; }

    /// <summary>The function's value at the point.</summary>
    public double Value => Output.Value;

    /// <summary>
    /// The gradient in the flat layout, as the compiled gradient computes it, bit for bit (0 for slots the function does
    /// not read). One exception: an element of an array of any length that gets three or more values (from reads outside
    /// loops and from several loops) has them added in the graph's order, which the compiled code may change, so the last
    /// bit may differ.
    /// </summary>
    public IReadOnlyList<double> Gradient => _gradient;

    /// <summary>The number of nodes a circuit draws: inputs, captured values and stages (constants are folded into gate labels).</summary>
    public int DrawnCount => _nodes.Length;

    /// <summary>True if the circuit is small enough to draw (at most <see cref="MaxDrawnNodes"/> drawn nodes).</summary>
    public bool IsDrawable => DrawnCount <= MaxDrawnNodes;

    /// <summary>The point, as <c>x = -2, y = 5, z = -4</c>.</summary>
    internal string Point => string.Join(", ", _slotNames.Select((name, k) => $"{name} = {Exact(_point[k])}"));

    /// <summary>
    /// The circuit as a self-contained SVG document in the CS231n style: inputs on the left, gates as labelled circles in
    /// layers by their longest path from the inputs, each node's value (green) above its output wire and its gradient
    /// (red) below, and a legend. No script, fonts or external references, so it renders offline. A circuit of more
    /// than <see cref="MaxDrawnNodes"/> nodes is summarized instead.
    /// </summary>
    public string ToSvg() => CircuitSvg.Render(this);

    /// <summary>
    /// The circuit as a Graphviz DOT digraph (left to right; each wire labelled with its source's value and gradient),
    /// for <c>dot -Tsvg</c>. Always the whole graph, however large.
    /// </summary>
    public string ToDot() => CircuitText.Dot(this);

    /// <summary>
    /// The circuit as a Mermaid flowchart (left to right; each wire labelled with its source's value and gradient), for
    /// Markdown viewers that render Mermaid. A circuit of more than <see cref="MaxDrawnNodes"/> nodes is summarized instead.
    /// </summary>
    public string ToMermaid() => CircuitText.Mermaid(this);

    /// <summary>A table: the point, then one line per node with its value and gradient (inputs and output only for a large trace).</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append("trace at ").Append(Point).Append(": f = ").AppendLine(Exact(Value));
        var shown = IsDrawable ? _nodes : _inputs.Append(Output).Distinct().ToArray();
        foreach (var node in shown)
        {
            text.Append("  ").Append(node);
            if (node == Output)
                text.Append("  (f)");
            text.AppendLine();
        }
        if (!IsDrawable)
            text.Append("  (").Append(DrawnCount - shown.Length).AppendLine(" stages not listed: see Nodes)");
        return text.ToString();
    }

    /// <summary>The operation applied to the node's inputs, by name: <c>x + y</c>, <c>exp v3</c>, <c>if v4 then v6</c>.</summary>
    internal static string Describe(TraceNode n)
    {
        var args = n.Inputs.Select(a => a.Name).ToArray();
        if (n.Kind == TraceNodeKind.Branch)
            return $"if {args[0]} then {args[1]}";
        if (args.Length == 1 && n.Operation is "²" or "-" or "!")
            return n.Operation == "²" ? args[0] + "²" : n.Operation + args[0];
        return args.Length == 2 && n.Operation.Length <= 2 && !char.IsLetter(n.Operation[0])
            ? $"{args[0]} {n.Operation} {args[1]}"
            : $"{n.Operation} {string.Join(" ", args)}";
    }

    internal static string Exact(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
