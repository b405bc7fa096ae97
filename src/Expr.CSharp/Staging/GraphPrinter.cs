using System.Globalization;
using System.Text;
using ExprGrad.Rules;

namespace ExprGrad.Staging;

/// <summary>
/// Prints a staged graph one stage per line, like a jaxpr: <c>v3 = v1 * v2</c>, <c>v5 = exp v4</c>, forward stages,
/// then backward ones, then the gradient slots. A failing test shows the program, not an object dump.
/// </summary>
internal static class GraphPrinter
{
    public static string Name(Node n) => n.Op switch
    {
        Op.Constant when n.IsBool => n.Value != 0 ? "true" : "false",
        Op.Constant => n.Value.ToString("R", CultureInfo.InvariantCulture),
        _ => $"v{n.Id}",
    };

    public static string Print(StagedGraph graph)
    {
        var text = new StringBuilder();
        var root = graph.Root.Nodes;
        for (var i = 0; i < root.Count; i++)
        {
            if (i == graph.ForwardCount && i > 0)
                text.AppendLine("# backward");
            StackGuard.Run(() => Stage(graph, root[i], text, ""));
        }
        text.Append("value = ").AppendLine(Name(graph.Output));
        foreach (var p in graph.Parameters)
            for (var k = 0; k < p.Extent; k++)
            {
                var adjoint = graph.Adjoints.Length > 0 ? graph.Adjoints[p.Offset + k] : null;
                text.Append('d').Append(p.SlotName(k)).Append(" = ")
                    .AppendLine(adjoint is null ? "0" : Name(adjoint));
            }
        return text.ToString();
    }

    private static void Stage(StagedGraph graph, Node n, StringBuilder text, string indent)
    {
        switch (n.Op)
        {
            case Op.Project:
                return; // printed with its conditional
            case Op.Input:
                text.Append(indent).Append(Name(n)).Append(" = ").AppendLine(graph.InputName(n));
                return;
            case Op.Captured:
                text.Append(indent).Append(Name(n)).Append(" = captured ").AppendLine(Display.StagedCode.CapturedName(n.Live!));
                return;
            case Op.Condition:
                var outputs = string.Join(", ", Enumerable.Range(0, n.Then!.Results.Length).Select(k => $"v{n.Id + 1 + k}"));
                text.Append(indent).Append(outputs).Append(" = if ").AppendLine(Name(n.Args[0]));
                Branch(graph, n.Then, text, indent);
                text.Append(indent).AppendLine("else");
                Branch(graph, n.Else!, text, indent);
                return;
        }
        var rule = RuleTable.Get(n.Op);
        text.Append(indent).Append(Name(n)).Append(" = ");
        if (Tensor(n, graph.Builder.Dims) is { } tensor)
            text.Append(tensor).Append("  # ").AppendLine(Describe(n.Shape, graph.Builder.Dims));
        else if (rule.Arity == 2 && rule.Method is null)
            text.Append(Name(n.Args[0])).Append(' ').Append(rule.Symbol).Append(' ').AppendLine(Name(n.Args[1]));
        else
            text.Append(rule.Symbol).Append(' ').AppendLine(string.Join(" ", n.Args.Select(Name)));
    }

    // Vector and matrix stages, with their transposes, bodies and dimensions spelled out; dimensions that must be equal
    // print as one name.
    private static string? Tensor(Node n, Dimensions dims)
    {
        string T(int k) => Name(n.Args[k]) + ((n.Param >> k & 1) != 0 ? "ᵀ" : "");
        var args = string.Join(", ", n.Args.Select(Name));
        return n.Op switch
        {
            Op.MatMul => $"{T(0)} · {T(1)}",
            Op.Map => $"map {MapName(n.Body!)}({args})",
            Op.Element => $"{args}[{(n.Element < 0 ? $"{n.Param}" : $"{n.Param}, {n.Element}")}]",
            Op.Scatter => $"onehot[{(n.Element < 0 ? $"{n.Param}" : $"{n.Param}, {n.Element}")}]({args})",
            Op.Size => $"size n{dims.Find(n.Param)}",
            Op.RepeatRow or Op.RepeatColumn => $"{RuleTable.Get(n.Op).Symbol} n{dims.Find(n.Param)} of {args}",
            _ when n.Shape.IsTensor || Array.Exists(n.Args, a => a.Shape.IsTensor) => $"{RuleTable.Get(n.Op).Symbol}({args})",
            _ => null,
        };
    }

    // An element-wise operation by its symbol (+, exp), a user's lambda as λ and a backward body as λ'.
    private static string MapName(MapBody body) => body.Name ?? (body.Cached is null ? "λ" : "λ'");

    private static string Describe(Shape shape, Dimensions dims) => shape.Kind switch
    {
        Kind.Matrix => $"n{dims.Find(shape.Rows)}×n{dims.Find(shape.Columns)}",
        Kind.Vector => $"n{dims.Find(shape.Rows)}",
        _ => "scalar",
    };

    private static void Branch(StagedGraph graph, Region region, StringBuilder text, string indent)
    {
        foreach (var n in region.Nodes)
            StackGuard.Run(() => Stage(graph, n, text, indent + "    "));
        text.Append(indent).Append("    => ").AppendLine(string.Join(", ", region.Results.Select(Name)));
    }
}
