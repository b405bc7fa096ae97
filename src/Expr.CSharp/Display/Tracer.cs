using ExprGrad.Rules;
using ExprGrad.Staging;

namespace ExprGrad.Display;

/// <summary>
/// Builds a <see cref="Trace"/>: the forward stages that run at a point (a conditional replaced by the stages of the
/// branch taken), each with its value and its adjoint.
/// </summary>
/// <remarks>
/// Adjoints of root stages are the sums, in order, of the contributions the root's backward pass logs for them
/// (<see cref="StagedGraph.Backprop"/>), which is what the compiled code adds up; the inputs' adjoints are the
/// graph's gradient nodes themselves, so they equal the compiled gradient bit for bit. Stages inside a branch get
/// no log line (their backward pass is a branch of its own), so the taken branch is swept here on numbers, by the
/// same rules: each rule builds its contributions in a small scratch graph whose inputs stand for the stage's
/// arguments and adjoint, and the scratch graph is evaluated.
/// </remarks>
internal sealed class Tracer
{
    private readonly StagedGraph _graph;
    private readonly GraphEvaluator _eval;
    private readonly Dictionary<Node, double> _adjoints = [];
    private readonly Dictionary<Node, List<Node>> _projections = []; // of each conditional that ran

    private readonly double[] _gradient;
    private readonly List<TraceNode> _elements = []; // array elements a loop reads, drawn just before its gate
    private readonly Dictionary<int, TraceNode> _elementNodes = [];
    private readonly double[] _point;

    private Tracer(StagedGraph graph, double[] point)
    {
        _graph = graph;
        _point = point;
        _gradient = new double[point.Length];
        _eval = GraphEvaluator.ForGraph(graph, point, _gradient);
    }

    public static Trace Run(StagedGraph graph, double[] point)
    {
        ArgumentNullException.ThrowIfNull(point);
        if (graph.NoFlatLayout is { } why)
            throw new NotSupportedException($"a trace takes a point in the flat layout, and {why}");
        if (point.Length < graph.Dimension)
            throw new ArgumentException($"the point has {point.Length} values but the function reads {graph.Dimension}", nameof(point));
        // The last parameter, if it is an array of any length, is the rest of the point.
        var copy = graph.EndsDynamic ? (double[])point.Clone() : point[..graph.Dimension];
        return new Tracer(graph, copy).Build(copy);
    }

    private Trace Build(double[] point)
    {
        var tape = Executed();
        foreach (var n in tape)
            if (n.Op is not (Op.Input or Op.Captured or Op.Project or Op.Loop or Op.Length or Op.Read) && n.Function is null && !RuleTable.Operations.Contains(n.Op))
                throw GraphEvaluator.Untraceable(n);
        foreach (var n in tape)
            _eval.Value(n);

        Gradient();
        foreach (var step in _graph.Backprop)
        {
            var c = _eval.Value(step.Contribution);
            _adjoints[step.Target] = step.First ? c : _adjoints[step.Target] + c;
        }
        foreach (var input in _graph.Builder.Inputs)
            if (_graph.Adjoints[_graph.Slot(input)] is not null)
                _adjoints[input] = _gradient[_graph.Slot(input)];
        foreach (var n in _graph.Root.Nodes.Take(_graph.ForwardCount))
            if (n.Op == Op.Condition)
                SweepTaken(n, _adjoints);

        var traced = new Dictionary<Node, TraceNode>();
        var nodes = new List<TraceNode>(tape.Count);
        foreach (var n in tape)
        {
            if (traced.ContainsKey(n))
                continue; // an input a loop read first, listed before the loop
            var made = traced[n] = Make(n, traced);
            nodes.AddRange(_elements);
            _elements.Clear();
            nodes.Add(made);
        }
        var output = traced.GetValueOrDefault(_graph.Output) ?? Make(_graph.Output, traced);
        var names = _graph.Parameters.SelectMany(p => Enumerable.Range(0, p.IsDynamic && p == _graph.Parameters[^1] ? point.Length - p.Offset : p.Extent).Select(p.SlotName));
        return new Trace([.. nodes], output, _gradient, names.ToArray(), point);
    }

    /// <summary>
    /// The gradient as the compiled code writes it: a slot is its adjoint's value; the slots of an array of any length
    /// start at 0 and are added to, by the adjoints of its elements read outside loops and by the loops' scatters, in the
    /// order of the root's stages. The compiled code adds the same values in its schedule's order (a fused sum scatters
    /// while it runs forwards; a read's adjoint is stored as soon as it can be), which changes the last bit where three or
    /// more values meet in one element.
    /// </summary>
    private void Gradient()
    {
        var stores = new Dictionary<Node, List<int>>();
        for (var slot = 0; slot < _graph.Adjoints.Length; slot++)
        {
            var adjoint = _graph.Adjoints[slot];
            if (adjoint is null or { Op: Op.Constant })
                Store(slot, adjoint?.Value ?? 0.0); // written first, as the compiled code does
            else if (!stores.TryGetValue(adjoint, out var slots))
                stores[adjoint] = [slot];
            else
                slots.Add(slot);
        }
        foreach (var n in _graph.Root.Nodes)
        {
            _eval.RunEffects(n);
            if (stores.Remove(n, out var slots))
                foreach (var slot in slots)
                    Store(slot, _eval.Value(n));
        }
        foreach (var (adjoint, slots) in stores.OrderBy(s => s.Key.Id)) // not a root stage (a branch's, say)
            foreach (var slot in slots)
                Store(slot, _eval.Value(adjoint));
    }

    private void Store(int slot, double value)
    {
        if (_graph.EndsDynamic && slot >= _graph.Parameters[^1].Offset)
            _gradient[slot] += value;
        else
            _gradient[slot] = value;
    }

    /// <summary>The forward stages that run, in order: each conditional replaced by the stages of its branch taken (nested ones too).</summary>
    private List<Node> Executed()
    {
        var tape = new List<Node>();
        var regions = new Stack<IEnumerator<Node>>();
        regions.Push(_graph.Root.Nodes.Take(_graph.ForwardCount).GetEnumerator());
        while (regions.TryPeek(out var stages))
        {
            if (!stages.MoveNext())
                regions.Pop();
            else if (stages.Current.Op == Op.Condition)
                regions.Push(_eval.Taken(stages.Current).Nodes.GetEnumerator()); // its projections follow it in the list
            else
            {
                tape.Add(stages.Current);
                if (stages.Current.Op == Op.Project)
                {
                    var condition = stages.Current.Args[0];
                    if (!_projections.TryGetValue(condition, out var outputs))
                        _projections[condition] = outputs = [];
                    outputs.Add(stages.Current);
                }
            }
        }
        return tape;
    }

    /// <summary>
    /// Sweeps the branch a conditional took, on numbers, from the adjoints its outputs got in <paramref name="outer"/>,
    /// as <c>ReverseSweep.SweepBranch</c> does symbolically; records the adjoints of the branch's own stages and returns
    /// the adjoints of the outer nodes the branch reads (its exports).
    /// </summary>
    private Dictionary<Node, double> SweepTaken(Node condition, Dictionary<Node, double> outer)
    {
        var branch = _eval.Taken(condition);
        var adjoints = new Dictionary<Node, double>();
        var seeded = false;
        foreach (var n in _projections.GetValueOrDefault(condition) ?? [])
            if (outer.TryGetValue(n, out var yBar))
            {
                Accumulate(adjoints, branch.Results[n.Param], yBar);
                seeded = true;
            }
        if (!seeded)
            return adjoints;

        for (var i = branch.Nodes.Count - 1; i >= 0; i--)
        {
            var y = branch.Nodes[i];
            if (y.IsPassive || y.Op is Op.Input or Op.Project)
                continue;
            if (y.Op == Op.Condition)
            {
                var exports = StackGuard.Run(() => SweepTaken(y, adjoints));
                foreach (var (x, xBar) in exports.OrderBy(e => e.Key.Id))
                    Accumulate(adjoints, x, xBar);
                continue;
            }
            if (adjoints.TryGetValue(y, out var bar))
            {
                var xBars = y.Op == Op.Loop ? PullLoop(y, bar) : Pull(y, bar);
                for (var k = 0; k < xBars.Length; k++)
                    if (xBars[k] is { } xBar)
                        Accumulate(adjoints, y.Args[k], xBar);
            }
        }

        var outside = new Dictionary<Node, double>();
        foreach (var (x, xBar) in adjoints)
            if (branch.Encloses(x))
                _adjoints[x] = xBar;
            else
                outside[x] = xBar;
        return outside;
    }

    private static void Accumulate(Dictionary<Node, double> adjoints, Node x, double contribution)
    {
        if (!x.IsPassive)
            adjoints[x] = adjoints.TryGetValue(x, out var sum) ? sum + contribution : contribution;
    }

    /// <summary>
    /// Pulls <paramref name="yBar"/> back through stage <paramref name="y"/> with its rule, on numbers: the rule builds its
    /// contributions in a scratch graph whose inputs stand for y's arguments and adjoint; null where it builds none.
    /// </summary>
    private double?[] Pull(Node y, double yBar)
    {
        var b = new GraphBuilder();
        var values = new double[y.Args.Length + 1];
        var args = new Node[y.Args.Length];
        for (var k = 0; k < args.Length; k++)
        {
            values[k] = _eval.Value(y.Args[k]);
            args[k] = y.Args[k].IsPassive ? b.Constant(values[k]) : b.Input(k, -1); // a passive argument gets no contribution
        }
        values[^1] = yBar;
        var bar = b.Input(args.Length, -1);
        // Built directly, not through the builder, so that no identity rewrites it (x·c with a captured c of 1, say).
        var local = new Node(-1, y.Op, args, b.Root) { Function = y.Function };
        var xBars = new Node?[args.Length];
        RuleTable.Of(y).Pullback!(b, local, bar, xBars);

        var scratch = new GraphEvaluator(n => values[n.Param]);
        scratch.Set(local, _eval.Value(y));
        return Array.ConvertAll(xBars, x => x is null ? (double?)null : scratch.Value(x));
    }

    // A loop's adjoints on numbers, per argument (its scatters are the gradient's already: the graph's own pullback wrote them).
    private double?[] PullLoop(Node loop, double bar)
    {
        var outputs = _eval.Pullback(loop, bar, scatter: false);
        var xBars = new double?[loop.Args.Length];
        var pullback = loop.Loop!.Pullback;
        if (loop.Loop.Kind == LoopKind.Fold)
            xBars[2] = outputs[2];
        for (var j = 0; j < pullback.Invariants.Length; j++)
            if (pullback.Invariants[j] is not null)
                xBars[LoopBody.FirstInvariant + j] = outputs[LoopBody.FirstInvariant + j];
        return xBars;
    }

    private TraceNode Make(Node n, Dictionary<Node, TraceNode> traced)
    {
        TraceNode Input(Node a) => traced.TryGetValue(a, out var t) ? t : traced[a] = Make(a, traced);

        var value = _eval.Value(n);
        switch (n.Op)
        {
            case Op.Constant:
                var text = n.IsBool ? (n.Value != 0 ? "true" : "false") : TraceNode.Number(n.Value);
                return new(n.Id, TraceNodeKind.Constant, text, "constant", text, [], value, null);
            case Op.Input:
                var name = _graph.InputName(n);
                return new(n.Id, TraceNodeKind.Input, name, "input", name, [], value, _adjoints.GetValueOrDefault(n));
            case Op.Captured:
                var captured = StagedCode.CapturedName(n.Live!);
                return new(n.Id, TraceNodeKind.Captured, captured, "captured", captured, [], value, null);
            case Op.Project:
                var condition = n.Args[0];
                var result = _eval.Taken(condition).Results[n.Param];
                TraceNode[] reads = [Input(condition.Args[0]), Input(result)];
                var label = result.Op == Op.Constant ? $"if:{TraceNode.Number(result.Value)}" : "if";
                return new(n.Id, TraceNodeKind.Branch, $"v{n.Id}", "if", label, reads, value, Adjoint(n));
        }
        if (n.Op == Op.Length)
        {
            var length = _graph.Parameters[n.Param].Name + ".Length";
            return new(n.Id, TraceNodeKind.Captured, length, "length", length, [], value, null);
        }
        if (n.Op == Op.Loop)
            return Loop(n, traced, Input, value);
        if (n.Op == Op.Read)
        {
            // An element at an index known at the call (a[a.Length - 1]): an input, by the index it had, with its gradient.
            var p = _graph.Parameters[n.Param];
            var index = (int)_eval.Value(n.Args[0]);
            var element = p.SlotName(index);
            return new(n.Id, TraceNodeKind.Input, element, "input", element, [], value, _gradient[p.Offset + index]);
        }
        var rule = RuleTable.Of(n);
        var inputs = Array.ConvertAll(n.Args, Input);
        var kind = rule.IsBool ? TraceNodeKind.Test : TraceNodeKind.Gate;
        return new(n.Id, kind, $"v{n.Id}", rule.Symbol, GateLabel.Of(n.Op, rule, n.Args), inputs, value, Adjoint(n));
    }

    /// <summary>
    /// A loop as one gate, labelled <c>Σ i</c>, <c>fold k</c>, <c>max i</c> or <c>min i</c>: it reads its range, a fold's
    /// seed and what its body reads from outside, then the array elements it read, each an input with its gradient.
    /// </summary>
    private TraceNode Loop(Node loop, Dictionary<Node, TraceNode> traced, Func<Node, TraceNode> input, double value)
    {
        var body = loop.Loop!;
        var args = loop.Args.Where((a, k) => k != 2 || body.Kind == LoopKind.Fold).Select(input).ToList();
        var byslot = new Dictionary<int, Node>();
        foreach (var i in _graph.Builder.Inputs)
            byslot[_graph.Slot(i)] = i;
        foreach (var slot in _eval.Loops!.Reads.GetValueOrDefault(loop) ?? [])
        {
            if (byslot.TryGetValue(slot, out var read))
            {
                if (!traced.ContainsKey(read))
                    _elements.Add(input(read)); // its own stage comes later in the root's list
                args.Add(input(read));
                continue;
            }
            // An element read only in loops has no stage of its own: its id is past the graph's stages.
            if (!_elementNodes.TryGetValue(slot, out var element))
            {
                var name = SlotName(slot);
                _elementNodes[slot] = element = new TraceNode(_graph.Builder.Count + slot, TraceNodeKind.Input, name, "input", name, [],
                    _point[slot], _gradient[slot]);
                _elements.Add(element);
            }
            args.Add(element);
        }
        var operation = body.Kind switch { LoopKind.Sum => "Σ", LoopKind.Fold => "fold", LoopKind.Max => "max", _ => "min" };
        return new(loop.Id, TraceNodeKind.Gate, $"v{loop.Id}", operation, $"{operation} {body.Variable}", [.. args], value, Adjoint(loop));
    }

    private string SlotName(int slot)
    {
        var p = _graph.Parameters.Last(p => p.Offset <= slot);
        return p.SlotName(slot - p.Offset);
    }

    private double? Adjoint(Node n) => n.IsPassive ? null : _adjoints.GetValueOrDefault(n);
}
