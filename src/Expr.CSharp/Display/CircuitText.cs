using System.Text;

namespace ExprGrad.Display;

/// <summary>
/// A trace as text for other tools: a Graphviz DOT digraph and a Mermaid flowchart, both left to right, gates as
/// circles, every wire labelled with the value and gradient of the node it leaves.
/// </summary>
internal static class CircuitText
{
    public static string Dot(Trace trace)
    {
        var text = new StringBuilder();
        text.AppendLine("digraph circuit {");
        text.AppendLine($"  // f = {Trace.Exact(trace.Value)} at {trace.Point}; {trace.DrawnCount} nodes");
        text.AppendLine("  rankdir=LR;");
        text.AppendLine("  node [shape=circle, fontname=\"sans-serif\", width=0.5, fixedsize=false];");
        text.AppendLine("  edge [fontname=\"sans-serif\", fontsize=10];");
        foreach (var n in trace.Nodes)
        {
            var leaf = n.Kind is TraceNodeKind.Input or TraceNodeKind.Captured;
            var style = leaf ? ", shape=plaintext" : n.Kind == TraceNodeKind.Test ? ", style=dashed" : "";
            text.AppendLine($"  {Id(n)} [label=\"{DotEscape(n.Label)}\"{style}];");
            foreach (var a in CircuitLayout.Wires(n))
                text.AppendLine($"  {Id(a)} -> {Id(n)} [label=<{Wire(a, html: true)}>{(a.Kind == TraceNodeKind.Test ? ", style=dashed" : "")}];");
        }
        if (trace.Output.Kind != TraceNodeKind.Constant)
        {
            text.AppendLine("  f [shape=plaintext];");
            text.AppendLine($"  {Id(trace.Output)} -> f [label=<{Wire(trace.Output, html: true)}>];");
        }
        text.AppendLine("}");
        return text.ToString();
    }

    public static string Mermaid(Trace trace)
    {
        var text = new StringBuilder();
        text.AppendLine("flowchart LR");
        if (!trace.IsDrawable)
        {
            // A summary: the inputs, one box standing for every stage, and f.
            text.AppendLine($"  stages[\"{trace.DrawnCount - trace.Inputs.Count:N0} more nodes: too many to draw (more than {Trace.MaxDrawnNodes}); ToDot() has the whole graph\"]");
            foreach (var input in trace.Inputs)
            {
                text.AppendLine($"  {Id(input)}[\"{MermaidEscape(input.Name)}\"]");
                text.AppendLine($"  {Id(input)} -->|\"{Wire(input, html: false)}\"| stages");
            }
            text.AppendLine($"  stages -->|\"value {CircuitSvg.Short(trace.Value)}\"| f[\"f\"]");
            return text.ToString();
        }
        foreach (var n in trace.Nodes)
        {
            var label = MermaidEscape(n.Label);
            text.AppendLine(n.Kind is TraceNodeKind.Input or TraceNodeKind.Captured
                ? $"  {Id(n)}[\"{label}\"]"
                : $"  {Id(n)}((\"{label}\"))");
            foreach (var a in CircuitLayout.Wires(n))
                text.AppendLine($"  {Id(a)} -->|\"{Wire(a, html: false)}\"| {Id(n)}");
        }
        if (trace.Output.Kind != TraceNodeKind.Constant)
            text.AppendLine($"  {Id(trace.Output)} -->|\"{Wire(trace.Output, html: false)}\"| f[\"f\"]");
        return text.ToString();
    }

    // Ids are the staged node ids: unique, and never a DOT or Mermaid keyword.
    private static string Id(TraceNode n) => $"n{n.Id}";

    // The value (and gradient) a wire carries, as the SVG prints them.
    private static string Wire(TraceNode n, bool html)
    {
        var value = n.Kind == TraceNodeKind.Test ? (n.Value != 0 ? "true" : "false") : CircuitSvg.Short(n.Value);
        if (html)
            return n.Adjoint is { } a
                ? $"<font color=\"#1a7f37\">{value}</font><br/><font color=\"#c62828\">{CircuitSvg.Short(a)}</font>"
                : $"<font color=\"#1a7f37\">{value}</font>";
        return n.Adjoint is { } adjoint ? $"{value} / grad {CircuitSvg.Short(adjoint)}" : value;
    }

    private static string DotEscape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

    private static string MermaidEscape(string s) => s
        .Replace("\"", "#quot;", StringComparison.Ordinal)
        .Replace("<", "#lt;", StringComparison.Ordinal)
        .Replace(">", "#gt;", StringComparison.Ordinal);
}
