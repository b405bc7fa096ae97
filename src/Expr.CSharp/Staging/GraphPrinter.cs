using System.Globalization;
using System.Text;
using ExprGrad.Rules;

namespace ExprGrad.Staging;

/// <summary>
/// Prints a staged graph one stage per line, like a jaxpr: <c>v3 = v1 * v2</c>, <c>v5 = exp v4</c>, forward stages,
/// then backward ones, then the gradient slots. A failing test shows the program, not an object dump.
/// </summary>
/// <remarks>
/// A loop over data is one stage (<c>v6 = sum i in range(0, v4):</c>) followed by its body, listed once and indented,
/// whatever the number of iterations: its stages are named <c>b0</c>, <c>b1</c>, ... (<c>c0</c>, ... in a loop nested
/// in it), as the body is a graph of its own. The loop's pullback lists the body's backward stages the same way, with
/// its scatters into array gradients (<c>da[i + 1] += b17</c>).
/// </remarks>
internal sealed class GraphPrinter
{
    /// <summary>The stage's name in a listing whose user names spell no stage's (<c>v7</c>), or its constant.</summary>
    public static string Name(Node n) => Name(n, "v", "");

    // A stage of a loop body is named with its body's prefix: its ids are its own graph's. The separator is empty
    // unless the user named something like a stage (a parameter v1), then as many _ as keep every stage's name free.
    private static string Name(Node n, string prefix, string separator) => n.Op switch
    {
        Op.Constant when n.IsBool => n.Value != 0 ? "true" : "false",
        Op.Constant => n.Value.ToString("R", CultureInfo.InvariantCulture),
        _ => $"{prefix}{separator}{n.Id}",
    };

    private readonly string _separator;
    private readonly string[] _gradients;

    private GraphPrinter(StagedGraph graph)
    {
        var names = Display.StagedCode.UserNames(graph);
        var prefixes = Prefixes(graph);
        _separator = "";
        while (names.Any(name => prefixes.Any(p => name.Length > p.Length + _separator.Length
            && name.StartsWith(p + _separator, StringComparison.Ordinal)
            && name.AsSpan(p.Length + _separator.Length).IndexOfAnyExceptInRange('0', '9') < 0)))
            _separator += "_";
        _gradients = Display.StagedCode.GradientNames(graph);
    }

    // The prefixes the listing's stages are named with: v, and one more for each depth of nested loops.
    private static HashSet<string> Prefixes(StagedGraph graph)
    {
        var prefixes = new HashSet<string>();
        var pending = new Stack<(Region Region, string Prefix)>();
        pending.Push((graph.Root, "v"));
        while (pending.TryPop(out var at))
        {
            prefixes.Add(at.Prefix);
            foreach (var n in at.Region.Nodes)
            {
                if (n.Op == Op.Condition)
                {
                    pending.Push((n.Then!, at.Prefix));
                    pending.Push((n.Else!, at.Prefix));
                }
                if (n.Op == Op.Loop)
                    pending.Push((n.Loop!.Builder.Root, Inner(at.Prefix)));
            }
        }
        return prefixes;
    }

    private string StageName(Node n, string prefix) => Name(n, prefix, _separator);

    private string StageName(Node n) => Name(n, "v", _separator);

    // The prefix of the stages of a body nested one level deeper than those named with prefix.
    private static string Inner(string prefix) => prefix.Length == 1 && prefix[0] < 'z' ? ((char)(prefix[0] == 'v' ? 'b' : prefix[0] + 1)).ToString() : prefix + "_";

    public static string Print(StagedGraph graph) => new GraphPrinter(graph).List(graph);

    private string List(StagedGraph graph)
    {
        var text = new StringBuilder();
        var root = graph.Root.Nodes;
        for (var i = 0; i < root.Count; i++)
        {
            if (i == graph.ForwardCount && i > 0)
                text.AppendLine("# backward");
            StackGuard.Run(() => Stage(graph, root[i], text, "", "v"));
        }
        text.Append("value = ").AppendLine(StageName(graph.Output));
        for (var i = 0; i < graph.Parameters.Length; i++)
        {
            var p = graph.Parameters[i];
            for (var k = 0; k < p.Extent; k++)
            {
                var adjoint = graph.Adjoints.Length > 0 ? graph.Adjoints[p.Offset + k] : null;
                text.Append(_gradients[i]).Append(p.IsArray ? $"[{k}]" : "").Append(p.IsDynamic ? " += " : " = ")
                    .AppendLine(adjoint is null ? "0" : StageName(adjoint));
            }
            if (p.IsDynamic)
                text.Append(_gradients[i]).AppendLine(": any length, cleared, then added to by the loops' scatters");
        }
        return text.ToString();
    }

    private void Stage(StagedGraph graph, Node n, StringBuilder text, string indent, string prefix)
    {
        string N(Node a) => StageName(a, prefix);
        switch (n.Op)
        {
            case Op.Project:
                return; // printed with its conditional or loop pullback
            case Op.Input when n.Owner != graph.Root:
                text.Append(indent).Append(N(n)).Append(" = ").AppendLine(BodyInput(n));
                return;
            case Op.Input:
                text.Append(indent).Append(N(n)).Append(" = ").AppendLine(graph.InputName(n));
                return;
            case Op.Captured:
                text.Append(indent).Append(N(n)).Append(" = captured ").AppendLine(Display.StagedCode.CapturedName(n.Live!));
                return;
            case Op.Condition:
                var outputs = string.Join(", ", Enumerable.Range(0, n.Then!.Results.Length).Select(k => $"{prefix}{_separator}{n.Id + 1 + k}"));
                text.Append(indent).Append(outputs).Append(" = if ").AppendLine(N(n.Args[0]));
                Branch(graph, n.Then, text, indent, prefix);
                text.Append(indent).AppendLine("else");
                Branch(graph, n.Else!, text, indent, prefix);
                return;
            case Op.Length:
                text.Append(indent).Append(N(n)).Append(" = length ").AppendLine(graph.Parameters[n.Param].Name);
                return;
            case Op.Index:
                text.Append(indent).Append(N(n)).AppendLine(" = index");
                return;
            case Op.Read:
                text.Append(indent).Append(N(n)).Append(" = ").Append(ArrayName(graph, n)).Append('[').Append(IndexText(n, 0, N)).AppendLine("]");
                return;
            case Op.ScatterAdd:
                text.Append(indent).Append(_gradients[n.Param]).Append('[').Append(IndexText(n, 1, N))
                    .Append("] += ").AppendLine(N(n.Args[0]));
                return;
            case Op.Loop:
                Loop(graph, n, text, indent, prefix);
                return;
            case Op.LoopAdjoint:
                LoopAdjoint(graph, n, text, indent, prefix);
                return;
        }
        var rule = RuleTable.Of(n);
        text.Append(indent).Append(N(n)).Append(" = ");
        if (AsFormula(n, N) is { } formula)
            text.Append(formula).AppendLine(n.Args[0].Shape.IsTensor ? "  # " + Describe(n.Shape, graph.Builder.Dims) : "");
        else if (Tensor(n, graph.Builder.Dims) is { } tensor)
            text.Append(tensor).Append("  # ").AppendLine(Describe(n.Shape, graph.Builder.Dims));
        else if (n.Op == Op.Select)
            text.Append(N(n.Args[0])).Append(" ? ").Append(N(n.Args[1])).Append(" : ").AppendLine(N(n.Args[2]));
        else if (rule.Arity == 2 && rule.Method is null)
            text.Append(N(n.Args[0])).Append(' ').Append(rule.Symbol).Append(' ').AppendLine(N(n.Args[1]));
        else
            text.Append(rule.Symbol).Append(' ').AppendLine(string.Join(" ", n.Args.Select(N)));
    }

    // A loop: its range (and a fold's seed), then its body's forward stages, indented, and the value of one iteration.
    private void Loop(StagedGraph graph, Node loop, StringBuilder text, string indent, string prefix)
    {
        var body = loop.Loop!;
        var kind = body.Kind.ToString().ToLowerInvariant();
        text.Append(indent).Append(StageName(loop, prefix)).Append(" = ").Append(kind).Append(' ').Append(body.Variable)
            .Append(" in range(").Append(StageName(loop.Args[0], prefix)).Append(", ").Append(StageName(loop.Args[1], prefix)).Append(')');
        if (body.Kind == LoopKind.Fold)
            text.Append(" from ").Append(StageName(loop.Args[2], prefix));
        text.Append(":  # ").AppendLine(body.Text);
        var inner = Inner(prefix);
        foreach (var n in body.Builder.Root.Nodes)
        {
            if (!body.IsForward(n))
                continue;
            if (n.Op == Op.Index)
                text.Append(indent).Append("    ").Append(StageName(n, inner)).Append(" = ").AppendLine(body.Variable);
            else if (n.Op == Op.Input)
                text.Append(indent).Append("    ").Append(StageName(n, inner)).Append(" = ").AppendLine(n.Param == 0 ? "accumulator" : StageName(loop.Args[LoopBody.FirstInvariant + n.Param - 1], prefix));
            else
                StackGuard.Run(() => Stage(graph, n, text, indent + "    ", inner));
        }
        text.Append(indent).Append("    => ").AppendLine(StageName(body.Output, inner));
    }

    // A loop's pullback: its outputs (the adjoints of a fold's seed and of the invariants, summed over the iterations),
    // then the body's backward stages, indented, and what one iteration contributes to each output.
    private void LoopAdjoint(StagedGraph graph, Node adjoint, StringBuilder text, string indent, string prefix)
    {
        var loop = adjoint.Args[0];
        var body = loop.Loop!;
        var pullback = body.BuiltPullback!; // a pullback is staged from it
        var projections = Projections(adjoint);
        text.Append(indent);
        if (projections.Count > 0)
            text.Append(string.Join(", ", projections.Select(p => StageName(p, prefix)))).Append(" = ");
        text.Append("pullback ").Append(StageName(loop, prefix)).Append(" with ").Append(StageName(adjoint.Args[1], prefix));
        if (projections.Count > 0)
            text.Append(" for ").Append(string.Join(", ", projections.Select(p => "d" + StageName(loop.Args[p.Param], prefix))));
        text.AppendLine(body.Kind == LoopKind.Fold ? ", backwards:" : body.Kind == LoopKind.Sum ? ":" : ", at the iteration picked:");
        var inner = Inner(prefix);
        if (pullback.Seed.Op != Op.Constant)
            text.Append(indent).Append("    ").Append(StageName(pullback.Seed, inner)).AppendLine(body.Kind == LoopKind.Fold ? " = adjoint of the accumulator" : " = seed");
        foreach (var n in body.Builder.Root.Nodes)
            if (n.Id > pullback.FirstBackwardId || (n.Id == pullback.FirstBackwardId && n != pullback.Seed))
                StackGuard.Run(() => Stage(graph, n, text, indent + "    ", inner));
        var results = projections.Select(p => p.Param == 2
            ? (pullback.Accumulator is { } a ? StageName(a, inner) : "0") + " (to the previous iteration)"
            : pullback.Invariants[p.Param - LoopBody.FirstInvariant] is { } c ? StageName(c, inner) : "0");
        if (projections.Count > 0)
            text.Append(indent).Append("    => ").AppendLine(string.Join(", ", results));
    }

    private static string BodyInput(Node n) => n.Param switch
    {
        -1 => "seed",
        0 => "accumulator",
        _ => $"invariant {n.Param - 1}",
    };

    private static string ArrayName(StagedGraph graph, Node read) =>
        read.Live is { } live ? Display.DataText.Of(live) : graph.Parameters[read.Param].Name;

    private static string IndexText(Node n, int first, Func<Node, string> name) =>
        n.IndexText ?? string.Join(", ", n.Args.Skip(first).Select(name));

    /// <summary>The projections of a loop's pullback, as the builder staged them right after it (a pruned one is missing).</summary>
    private static List<Node> Projections(Node adjoint)
    {
        var owner = adjoint.Owner!.Nodes;
        var result = new List<Node>();
        for (var k = owner.IndexOf(adjoint) + 1; k < owner.Count && owner[k].Op == Op.Project && owner[k].Args[0] == adjoint; k++)
            result.Add(owner[k]);
        return result;
    }

    // Vector and matrix stages, with their transposes, bodies and dimensions spelled out; dimensions that must be equal
    // print as one name.
    private string? Tensor(Node n, Dimensions dims)
    {
        string T(int k) => StageName(n.Args[k]) + ((n.Param >> k & 1) != 0 ? "ᵀ" : "");
        var args = string.Join(", ", n.Args.Select(StageName));
        return n.Op switch
        {
            Op.MatMul => $"{T(0)} · {T(1)}",
            Op.Map => $"map {MapName(n)}({args})",
            Op.Element => $"{args}[{(n.Element < 0 ? $"{n.Param}" : $"{n.Param}, {n.Element}")}]",
            Op.Scatter => $"onehot[{(n.Element < 0 ? $"{n.Param}" : $"{n.Param}, {n.Element}")}]({args})",
            Op.Size => $"size n{dims.Find(n.Param)}",
            Op.RepeatRow or Op.RepeatColumn => $"{RuleTable.Of(n).Symbol} n{dims.Find(n.Param)} of {args}",
            _ when n.Shape.IsTensor || Array.Exists(n.Args, a => a.Shape.IsTensor) => $"{RuleTable.Of(n).Symbol}({args})",
            _ => null,
        };
    }

    // The operations the formulas write around their operand, written the same way: x², ‖W‖_F (a matrix's Frobenius
    // norm), ‖v‖ (a vector's), Wᵀ.
    private static string? AsFormula(Node n, Func<Node, string> name) => n.Op switch
    {
        Op.Square => name(n.Args[0]) + "²",
        Op.Norm => $"‖{name(n.Args[0])}‖{(n.Args[0].Shape.Kind == Kind.Matrix ? "_F" : "")}",
        Op.Transpose => name(n.Args[0]) + "ᵀ",
        _ => null,
    };

    // An element-wise operation by its symbol (+, exp); a user's lambda that applies one operation to its arguments
    // in order (Map(Fn.Relu), Map(t => Math.Tanh(t))) by that operation's name, and its backward body by the name
    // primed (relu'); any other lambda as λ, and its backward body as λ'.
    private static string MapName(Node map)
    {
        var body = map.Body!;
        if (body.Name is { } name)
            return name;
        if (body.Cached is null)
            return OperationOf(body) ?? "λ";
        var forward = map.Args[body.CachedArg];
        return forward is { Op: Op.Map, Body: { Name: null, Cached: null } f } && OperationOf(f) is { } op ? op + "'" : "λ'";
    }

    private static string? OperationOf(MapBody body) =>
        body.Output is { Op: not (Op.Input or Op.Constant or Op.Captured) } output
        && output.Args.Length == body.Arity && output.Args.Select((a, k) => a.Op == Op.Input && a.Param == k).All(x => x)
        && !output.IsBool && RuleTable.Of(output).Symbol is { Length: > 0 } symbol && char.IsLetter(symbol[0])
            ? symbol
            : null;

    private static string Describe(Shape shape, Dimensions dims) => shape.Kind switch
    {
        Kind.Matrix => $"n{dims.Find(shape.Rows)}×n{dims.Find(shape.Columns)}",
        Kind.Vector => $"n{dims.Find(shape.Rows)}",
        _ => "scalar",
    };

    private void Branch(StagedGraph graph, Region region, StringBuilder text, string indent, string prefix)
    {
        foreach (var n in region.Nodes)
            StackGuard.Run(() => Stage(graph, n, text, indent + "    ", prefix));
        text.Append(indent).Append("    => ").AppendLine(string.Join(", ", region.Results.Select(r => StageName(r, prefix))));
    }
}
