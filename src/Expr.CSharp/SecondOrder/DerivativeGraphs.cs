using System.Linq.Expressions;
using ExprGrad.Emit;
using ExprGrad.Reverse;
using ExprGrad.Rules;
using ExprGrad.Staging;

namespace ExprGrad.SecondOrder;

/// <summary>
/// Derivatives past the gradient, built on the staged graph: the reverse sweep's output is again staged nodes, so
/// sweeping it once more (reverse over reverse) gives Hessian rows, Hessian-vector products and, for a function with
/// several outputs, Jacobian rows and columns. Each result is a list of output nodes compiled like a gradient, with
/// the output nodes in place of the adjoints (<see cref="OutputKernel"/>).
/// </summary>
/// <remarks>
/// Nodes are never removed between sweeps (each sweep only appends), so hash-consing shares what two rows have in
/// common, and dead-stage elimination runs once, on the final list of outputs.
/// </remarks>
internal static class DerivativeGraphs
{
    /// <summary>
    /// Above this many sweep steps (rows × stages) a dense Hessian or Jacobian is not staged entry by entry: the
    /// build would take seconds. It is then evaluated column by column from the compiled product instead.
    /// </summary>
    internal const long MaxSymbolicWork = 20_000_000;

    /// <summary>
    /// The Hessian-vector product Hv of the function's Hessian at x: inputs x then v (laid out as x, after it), outputs
    /// Hv. ∇f·v is staged as the first sweep goes: an array parameter's gradient, scattered at indices known only at the
    /// call, is dotted with v instead (<see cref="Directions"/>); its part of Hv is then scattered by the second sweep.
    /// </summary>
    public static OutputKernel HessianVectorProduct(StagedGraph graph)
    {
        var b = graph.Builder;
        var forward = b.Root.Nodes.Count;
        var hv = Sweep(b, Inputs(graph), GradientAlongDirection(graph), again: true);
        // What a call returns is not read: returning ∇f·v would keep the whole gradient, which H·v does not need.
        return OutputKernel.Compile(graph.Source, b, WithDirection(graph, _ => "v"), b.Constant(0), hv, forward);
    }

    /// <summary>
    /// The Hessian-vector product of a typed lambda, compiled as a <paramref name="kernelType"/>
    /// (a <see cref="HessianVectorKernel{T1}"/> of its arity): <c>(a1, ..., an, v1, ..., vn, out h1, ..., out hn)</c>, each
    /// hᵢ shaped like aᵢ. It works for every parameter type a typed gradient takes, vectors and matrices included: the
    /// first sweep's adjoint of a vector or matrix parameter is one staged tensor, dotted with vᵢ (its shape checked to be
    /// aᵢ's at each call), and the second sweep crosses the tensor rules' pullbacks, which are built from the same operations.
    /// </summary>
    public static Delegate TypedHessianVectorProduct(LambdaExpression f, Type kernelType)
    {
        var graph = Grad.Import(f);
        var b = graph.Builder;
        var forward = b.Root.Nodes.Count;
        var inputs = Inputs(graph);
        var hv = Sweep(b, inputs, GradientAlongDirection(graph), again: true);
        var v = f.Parameters.Select(p => Expression.Parameter(p.Type, "v" + p.Name));
        var source = Expression.Lambda(Expression.Constant(0.0), [.. f.Parameters, .. v]);
        // What a call returns is not read, as for the flat product; a direction has no output (TypedFrame).
        var product = new StagedGraph(source, b, b.Constant(0), WithDirection(graph, p => "v" + p.Name)) { ForwardCount = forward, Adjoints = hv };
        DeadStages.Prune(product);
        Emitter.CompileTyped(product, kernelType, out var compiled, out _, singleMethod: true);
        return compiled!;
    }

    /// <summary>
    /// ∇f·v, staged as the first sweep goes, v being parameter n + p for parameter p of n (<see cref="WithDirection"/>):
    /// each slot's adjoint times its copy in v (a vector or matrix dotted with its copy), in slot order, then the dot
    /// products with v of array parameters read at indices known only at the call, whose gradient is not scattered
    /// (<see cref="Directions"/>): the second sweep scatters their part of H·v.
    /// </summary>
    private static Node GradientAlongDirection(StagedGraph graph)
    {
        var b = graph.Builder;
        var n = graph.Parameters.Length;
        var inputs = Inputs(graph);
        var directions = new Directions(p => n + p);
        var adjoints = ReverseSweep.Pullback(b, graph.Output, b.Constant(1), again: false, directions);
        EnsureDifferentiable(b);
        Node? gv = null;
        foreach (var x in inputs)
        {
            if (x is null || adjoints.GetValueOrDefault(x) is not { } bar)
                continue;
            var term = x.Shape.IsTensor
                ? b.Apply(Op.Dot, [bar, b.TensorInput(n + x.Param, x.Shape.Kind)])
                : b.Multiply(bar, b.Input(n + x.Param, x.Element));
            gv = gv is null ? term : b.Add(gv, term);
        }
        if (adjoints.GetValueOrDefault(directions.Sink) is { } arrays)
            gv = gv is null ? arrays : b.Add(gv, arrays);
        return gv ?? b.Constant(0);
    }

    /// <summary>
    /// The dense Hessian from its upper triangle (row ≤ column), entry by entry: the gradient's component i swept again
    /// gives row i. Only entries that are not symbolically zero are computed, each written at its place and its mirror,
    /// so the Hessian is symmetric bit for bit. Null if staging every row would take too long.
    /// </summary>
    public static SparseKernel? Hessian(StagedGraph graph)
    {
        // An array of any length has no fixed number of rows, and an array parameter read at indices known only at the call
        // has its gradient scattered, not as one node per slot: such a Hessian is built from products, column by column.
        if (graph.EndsDynamic || ReadsArrays(graph))
            return null;
        var (b, forward, inputs, gradient) = FirstSweep(graph);
        var d = graph.Dimension;
        if ((long)d * b.Root.Nodes.Count * 2 > MaxSymbolicWork)
            return null;
        var entries = new List<(int Row, int Column, Node Value)>();
        for (var i = 0; i < d; i++)
        {
            if (gradient[i] is not { } gi)
                continue;
            var row = Sweep(b, inputs, gi, again: true);
            for (var j = i; j < d; j++)
                if (row[j] is { } h)
                    entries.Add((i, j, h));
        }
        return SparseKernel.Compile(graph, graph.Parameters, entries, forward, d, d, mirror: true);
    }

    /// <summary>
    /// The dense Jacobian of <paramref name="outputs"/> (m of them) with respect to the point, entry by entry. By rows,
    /// row k is output k swept back (reverse mode). By columns, column j comes from the vector-Jacobian product w = uᵀJ
    /// staged with symbolic weights u: w_j is linear in u, and swept back to u it gives column j (forward mode, by
    /// transposing reverse mode; it sweeps the first sweep's stages again, so it needs their rules' derivatives too); u
    /// then reads as zeros. Null if staging it would take too long.
    /// </summary>
    public static SparseKernel? Jacobian(StagedGraph graph, Node[] outputs, bool byColumns)
    {
        // (An array parameter's gradient scattered in a loop is no node per slot: its rows are vector-Jacobian products.)
        if (graph.EndsDynamic || ReadsArrays(graph))
            return null;
        var b = graph.Builder;
        var (m, d) = (outputs.Length, graph.Dimension);
        var forward = b.Root.Nodes.Count;
        var inputs = Inputs(graph);
        var entries = new List<(int Row, int Column, Node Value)>();
        if (!byColumns)
        {
            if ((long)m * forward * 2 > MaxSymbolicWork)
                return null;
            for (var k = 0; k < m; k++)
            {
                var row = Sweep(b, inputs, outputs[k]);
                for (var j = 0; j < d; j++)
                    if (row[j] is { } entry)
                        entries.Add((k, j, entry));
            }
            EnsureDifferentiable(b);
            return SparseKernel.Compile(graph, graph.Parameters, entries, forward, m, d, mirror: false);
        }

        if ((long)d * forward * 3 > MaxSymbolicWork)
            return null;
        var (u, parameters) = Extra(graph, graph.Parameters, "u", m);
        var w = Sweep(b, inputs, Dot(b, outputs, u));
        EnsureDifferentiable(b);
        for (var j = 0; j < d; j++)
        {
            if (w[j] is not { } wj)
                continue;
            var column = Sweep(b, u, wj, again: true);
            for (var k = 0; k < m; k++)
                if (column[k] is { } entry)
                    entries.Add((k, j, entry));
        }
        return SparseKernel.Compile(graph, parameters, entries, forward, m, d, mirror: false);
    }

    /// <summary>The values of <paramref name="outputs"/>, compiled as they are.</summary>
    public static OutputKernel Values(StagedGraph graph, Node[] outputs) =>
        OutputKernel.Compile(graph.Source, graph.Builder, graph.Parameters, graph.Output, outputs, graph.Builder.Root.Nodes.Count, followsPoint: false);

    /// <summary>
    /// The vector-Jacobian product uᵀJ of <paramref name="outputs"/>: inputs x then u (m, read after the point), outputs
    /// d (and, for an array of any length, its gradient scattered).
    /// </summary>
    public static OutputKernel VectorJacobianProduct(StagedGraph graph, Node[] outputs)
    {
        var b = graph.Builder;
        var forward = b.Root.Nodes.Count;
        var (u, withU) = Extra(graph, graph.Parameters, "u", outputs.Length);
        var parameters = graph.EndsDynamic ? [.. withU[..^1], withU[^1] with { IsDirection = true }] : withU;
        var s = Dot(b, outputs, u);
        var w = Sweep(b, Inputs(graph), s);
        EnsureDifferentiable(b);
        return OutputKernel.Compile(graph.Source, b, parameters, s, w, forward);
    }

    /// <summary>
    /// The Jacobian-vector product Jv of <paramref name="outputs"/>: inputs x, u (m, read as zeros: Jv does not depend
    /// on them) then v (d), outputs m. It is the gradient with respect to u of (uᵀJ)·v, which is linear in u.
    /// </summary>
    public static OutputKernel JacobianVectorProduct(StagedGraph graph, Node[] outputs)
    {
        var b = graph.Builder;
        var forward = b.Root.Nodes.Count;
        var (u, withU) = Extra(graph, graph.Parameters, "u", outputs.Length);
        var w = Sweep(b, Inputs(graph), Dot(b, outputs, u));
        EnsureDifferentiable(b);
        var (v, withV) = Extra(graph, withU, "v", graph.Dimension);
        var wv = Dot(b, w, v);
        return OutputKernel.Compile(graph.Source, b, withV, wv, Sweep(b, u, wv, again: true), forward, followsPoint: false);
    }

    /// <summary>
    /// The parameters of a Hessian-vector product: the point's, then the direction, a copy of each laid out as the point
    /// after it (<see cref="ParameterLayout.IsDirection"/>), named by <paramref name="name"/>.
    /// </summary>
    private static ParameterLayout[] WithDirection(StagedGraph graph, Func<ParameterLayout, string> name) =>
        [.. graph.Parameters, .. graph.Parameters.Select(p => p with { Name = name(p), Offset = graph.Dimension + p.Offset, IsDynamic = false, IsDirection = true })];

    /// <summary>True if an array parameter's element is read at an index known only at the call (in a loop, or not).</summary>
    public static bool ReadsArrays(StagedGraph graph) =>
        Stages(graph.Root).Any(n => n.Op == Op.Read && !n.IsPassive);

    // Every stage, in loop bodies too.
    private static IEnumerable<Node> Stages(Region root) =>
        DeadStages.Regions(root).SelectMany(r => r.Nodes).SelectMany(n => n.Op == Op.Loop ? Stages(n.Loop!.Builder.Root).Prepend(n) : [n]);

    /// <summary>
    /// A new array parameter of <paramref name="extent"/> slots after <paramref name="parameters"/>, and its input nodes.
    /// </summary>
    private static (Node?[] Inputs, ParameterLayout[] Parameters) Extra(StagedGraph graph, ParameterLayout[] parameters, string name, int extent)
    {
        var offset = parameters.Length == 0 ? 0 : parameters[^1].Offset + parameters[^1].Extent;
        var param = parameters.Length;
        var nodes = new Node?[extent];
        for (var k = 0; k < extent; k++)
            nodes[k] = graph.Builder.Input(param, k);
        return (nodes, [.. parameters, new ParameterLayout(name, IsArray: true, Offset: offset, Extent: extent)]);
    }

    /// <summary>
    /// The first sweep, kept as staged nodes: the builder, the number of forward stages, each slot's input node and
    /// each slot's gradient node (null: a symbolic zero), checked to be differentiable again.
    /// </summary>
    private static (GraphBuilder Builder, int Forward, Node?[] Inputs, Node?[] Gradient) FirstSweep(StagedGraph graph)
    {
        var b = graph.Builder;
        var forward = b.Root.Nodes.Count;
        var inputs = Inputs(graph);
        var gradient = Sweep(b, inputs, graph.Output);
        EnsureDifferentiable(b);
        return (b, forward, inputs, gradient);
    }

    /// <summary>
    /// The adjoints of every input slot when <paramref name="output"/>'s adjoint is 1: null where it is a symbolic
    /// zero. A node with no adjoint (a constant, or data) gives all nulls. <paramref name="again"/>: the sweep crosses an
    /// earlier sweep's stages (see <see cref="ReverseSweep.Pullback"/>).
    /// </summary>
    public static Node?[] Sweep(GraphBuilder b, Node?[] inputs, Node output, bool again = false)
    {
        var adjoints = ReverseSweep.Pullback(b, output, b.Constant(1), again);
        return Array.ConvertAll(inputs, x => x is null ? null : adjoints.GetValueOrDefault(x));
    }

    /// <summary>Σ a_k·b_k over the k where a_k is not a symbolic zero; the constant 0 if there is none.</summary>
    public static Node Dot(GraphBuilder b, Node?[] a, Node?[] v)
    {
        Node? sum = null;
        for (var k = 0; k < a.Length; k++)
            if (a[k] is { } ak && v[k] is { } vk)
            {
                var term = b.Multiply(ak, vk);
                sum = sum is null ? term : b.Add(sum, term);
            }
        return sum ?? b.Constant(0);
    }

    /// <summary>The input node of each flat slot (null: the function never reads it).</summary>
    public static Node?[] Inputs(StagedGraph graph)
    {
        var inputs = new Node?[graph.Dimension];
        foreach (var input in graph.Builder.Inputs)
            if (input.Param < graph.Parameters.Length)
                inputs[graph.Slot(input)] = input;
        return inputs;
    }

    // Every stage the first sweep builds has a rule whose pullback builds staged nodes; a rule without one is boolean.
    // A loop's body is checked too: the second sweep crosses its pullback.
    public static void EnsureDifferentiable(GraphBuilder b)
    {
        foreach (var region in DeadStages.Regions(b.Root))
            foreach (var node in region.Nodes)
            {
                if (node.Op == Op.Loop)
                    EnsureDifferentiable(node.Loop!.Builder);
                else if (node.Op is not (Op.Input or Op.Constant or Op.Captured or Op.Condition or Op.Project or Op.LoopAdjoint or Op.Index
                             or Op.Read or Op.ScatterAdd or Op.Length) && !node.IsPassive
                         && RuleTable.Of(node).Pullback is null)
                    throw new ExprGradException($"the second derivative needs a rule for '{RuleTable.Of(node).Symbol}', which has none");
            }
    }
}
