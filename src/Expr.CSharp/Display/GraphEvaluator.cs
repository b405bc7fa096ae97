using System.Linq.Expressions;
using ExprGrad.Emit;
using ExprGrad.Rules;
using ExprGrad.Staging;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Display;

/// <summary>
/// Evaluates staged nodes on numbers, on demand and memoized, through their arguments: any node, forward or backward,
/// live or pruned from its region's list (pruned nodes keep their arguments). A conditional's output evaluates its
/// test and then only the branch taken, as the compiled code does. Iterative, so a 100,000-deep chain is fine.
/// </summary>
/// <remarks>
/// A loop over data runs as the compiled loop runs: its body evaluated once per iteration by an evaluator of its own (a
/// fold's accumulators kept for its pullback, a max's or min's iteration picked); a loop's pullback runs the body's
/// backward stages per iteration in the compiled order (forwards for a sum, backwards over the kept accumulators for a
/// fold, once at the picked iteration for a max or min), so the sums it forms and its scatters into
/// <see cref="LoopData.Gradient"/> add up in the same order and give the same bits.
/// </remarks>
internal sealed class GraphEvaluator(Func<Node, double> leaf, LoopData? loops = null)
{
    // By reference: a scratch graph's nodes (see Tracer) may share ids with the graph's.
    private readonly Dictionary<Node, double> _values = new(ReferenceEqualityComparer.Instance);
    // Per loop's pullback: its outputs by the loop argument they are the adjoint of (2: a fold's seed, 3 + j: invariant j).
    private readonly Dictionary<Node, double[]> _outputs = [];
    // Per fold: the accumulator entering each iteration. Per max or min: the iteration picked.
    private readonly Dictionary<Node, double[]> _tapes = [];
    private readonly Dictionary<Node, int> _best = [];

    /// <summary>Evaluates leaves of a graph: its inputs from the point, its captured values read now; loops over the point's arrays.</summary>
    public static GraphEvaluator ForGraph(StagedGraph graph, double[] point, double[] gradient)
    {
        var loops = new LoopData(graph, point, gradient);
        return new(n => n.Op == Op.Input ? point[graph.Slot(n)] : loops.Captured(n.Live!), loops);
    }

    /// <summary>What loops read and write; null for an evaluator of a scratch graph, which has none.</summary>
    public LoopData? Loops => loops;

    /// <summary>Fixes a node's value (a scratch node standing for a stage whose value is known).</summary>
    public void Set(Node n, double value) => _values[n] = value;

    /// <summary>The value of <paramref name="root"/>, evaluating whatever it needs first.</summary>
    public double Value(Node root)
    {
        if (Known(root))
            return Read(root);
        var pending = new Stack<Node>();
        pending.Push(root);
        while (pending.TryPeek(out var n))
        {
            if (Known(n))
                pending.Pop();
            else if (Missing(n) is { } needed)
                pending.Push(needed);
            else
            {
                _values[n] = Compute(n);
                pending.Pop();
            }
        }
        return Read(root);
    }

    /// <summary>The branch a conditional takes at this point.</summary>
    public Region Taken(Node condition) => Value(condition.Args[0]) != 0 ? condition.Then! : condition.Else!;

    /// <summary>
    /// Runs the stages of <paramref name="region"/> that write array gradients (scatters, loop pullbacks that scatter, and
    /// conditionals whose branch taken does), in the region's order: the order the compiled code writes them in.
    /// </summary>
    public void RunEffects(Region region)
    {
        foreach (var n in region.Nodes)
            RunEffects(n);
    }

    /// <summary>Runs <paramref name="n"/> if it writes array gradients (see <see cref="RunEffects(Region)"/>).</summary>
    public void RunEffects(Node n)
    {
        if (n.HasEffects)
            Value(n);
        else if (n.Op == Op.Condition && HasEffects(n))
            StackGuard.Run(() => RunEffects(Taken(n)));
    }

    private static bool HasEffects(Node condition) =>
        DeadStages.Regions(condition.Then!).Concat(DeadStages.Regions(condition.Else!)).Any(r => r.Nodes.Exists(s => s.HasEffects));

    private bool Known(Node n) => n.Op == Op.Constant || _values.ContainsKey(n);

    private double Read(Node n) => n.Op == Op.Constant ? n.Value : _values[n];

    // The first node n reads that has no value yet; null when n can be computed.
    private Node? Missing(Node n)
    {
        switch (n.Op)
        {
            case Op.Input or Op.Captured or Op.Index or Op.Length:
                return null;
            case Op.Project when n.Args[0].Op == Op.LoopAdjoint:
                return Known(n.Args[0]) ? null : n.Args[0];
            case Op.Project:
                var test = n.Args[0].Args[0];
                if (!Known(test))
                    return test;
                var result = (Read(test) != 0 ? n.Args[0].Then! : n.Args[0].Else!).Results[n.Param];
                return Known(result) ? null : result;
            default:
                foreach (var arg in n.Args)
                    if (!Known(arg))
                        return arg;
                return null;
        }
    }

    private double Compute(Node n)
    {
        switch (n.Op)
        {
            case Op.Input or Op.Captured or Op.Index:
                return leaf(n);
            case Op.Condition:
                return Read(n.Args[0]); // a conditional's own value is its test
            case Op.Project when n.Args[0].Op == Op.LoopAdjoint:
                return _outputs[n.Args[0]][n.Param];
            case Op.Project:
                var condition = n.Args[0];
                return Read((Read(condition.Args[0]) != 0 ? condition.Then! : condition.Else!).Results[n.Param]);
            case Op.Length or Op.Read or Op.ScatterAdd or Op.Loop or Op.LoopAdjoint when loops is null:
                throw Untraceable(n);
            case Op.Length:
                return loops!.Length(n.Param);
            case Op.Read:
                return loops!.Element(n, Array.ConvertAll(n.Args, a => (int)Read(a)));
            case Op.ScatterAdd:
                loops!.Scatter(n.Param, (int)Read(n.Args[1]), Read(n.Args[0]));
                return 0;
            case Op.Loop:
                return StackGuard.Run(() => RunLoop(n));
            case Op.LoopAdjoint:
                _outputs[n] = StackGuard.Run(() => Pullback(n, Read(n.Args[1]), scatter: true));
                return 0;
        }
        if (n.Function is null && !RuleTable.Operations.Contains(n.Op))
            throw Untraceable(n);
        var args = new double[n.Args.Length];
        for (var i = 0; i < args.Length; i++)
            args[i] = Read(n.Args[i]);
        return RuleTable.Of(n).Evaluate(args);
    }

    // One iteration's evaluator: the body's variable, accumulator, invariants and seed are its leaves.
    private GraphEvaluator Iteration(int index, double[] invariants, double accumulator = 0, double seed = 0) =>
        new(n => n.Op switch
        {
            Op.Index => index,
            Op.Input => n.Param switch { -1 => seed, 0 => accumulator, _ => invariants[n.Param - 1] },
            _ => loops!.Captured(n.Live!),
        }, loops);

    private double[] Invariants(Node loop)
    {
        var invariants = new double[loop.Loop!.InvariantCount];
        for (var j = 0; j < invariants.Length; j++)
            invariants[j] = Read(loop.Args[LoopBody.FirstInvariant + j]);
        return invariants;
    }

    private (int Start, int Count) Range(Node loop) =>
        ((int)Read(loop.Args[0]), LoopRuntime.Count((int)Read(loop.Args[1]), loop.Loop!.Text));

    // The forward loop, as LoopWriter.Forward writes it.
    private double RunLoop(Node loop)
    {
        var body = loop.Loop!;
        var (start, count) = Range(loop);
        var invariants = Invariants(loop);
        using var reads = loops!.Reading(loop);
        switch (body.Kind)
        {
            case LoopKind.Sum:
            {
                var value = 0.0;
                for (var i = start; i < start + count; i++)
                    value += Iteration(i, invariants).Value(body.Output);
                return value;
            }
            case LoopKind.Fold:
            {
                var value = Read(loop.Args[2]);
                var tape = _tapes[loop] = new double[count];
                for (var i = start; i < start + count; i++)
                {
                    tape[i - start] = value;
                    value = Iteration(i, invariants, value).Value(body.Output);
                }
                return value;
            }
            default:
            {
                // The first value, and after it each one that beats it, with NaN as LINQ orders it (LoopWriter.Forward):
                // Min takes the first NaN and stops; Max ranks NaN below every number.
                if (count == 0)
                    throw LoopRuntime.Empty(body.Text);
                var value = 0.0;
                for (var i = start; i < start + count; i++)
                {
                    var v = Iteration(i, invariants).Value(body.Output);
                    var take = body.Kind == LoopKind.Max ? v > value || double.IsNaN(value) : v < value || double.IsNaN(v);
                    if (i == start || take)
                    {
                        value = v;
                        _best[loop] = i;
                        if (body.Kind == LoopKind.Min && double.IsNaN(v))
                            break;
                    }
                }
                return value;
            }
        }
    }

    /// <summary>
    /// The pullback of the loop <paramref name="adjoint"/> pulls back (a LoopAdjoint, or the Loop itself), given its
    /// adjoint <paramref name="bar"/>, as LoopWriter.Backward writes it: per loop argument, its adjoint (2: a fold's seed,
    /// 3 + j: invariant j; 0 where there is none); with <paramref name="scatter"/>, the scatters are added to the gradient.
    /// </summary>
    public double[] Pullback(Node adjoint, double bar, bool scatter)
    {
        var loop = adjoint.Op == Op.LoopAdjoint ? adjoint.Args[0] : adjoint;
        var body = loop.Loop!;
        var pullback = body.Pullback;
        Value(loop); // its tape or picked iteration
        var (start, count) = Range(loop);
        var invariants = Invariants(loop);
        var outputs = new double[LoopBody.FirstInvariant + body.InvariantCount];
        using var muted = scatter ? null : loops!.Muted();

        void Iterate(GraphEvaluator it, bool add)
        {
            it.RunEffects(body.Builder.Root);
            for (var j = 0; j < pullback.Invariants.Length; j++)
                if (pullback.Invariants[j] is { } contribution)
                    outputs[LoopBody.FirstInvariant + j] = add ? outputs[LoopBody.FirstInvariant + j] + it.Value(contribution) : it.Value(contribution);
        }

        switch (body.Kind)
        {
            case LoopKind.Sum:
                for (var i = start; i < start + count; i++)
                    Iterate(Iteration(i, invariants, seed: bar), add: true);
                break;
            case LoopKind.Fold:
                // Backwards over the tape: the accumulator's adjoint passes from each iteration to the one before.
                var tape = _tapes[loop];
                for (var i = start + count - 1; i >= start; i--)
                {
                    var it = Iteration(i, invariants, tape[i - start], bar);
                    Iterate(it, add: true);
                    bar = pullback.Accumulator is { } a ? it.Value(a) : 0.0;
                }
                outputs[2] = bar;
                break;
            default:
                Iterate(Iteration(_best[loop], invariants, seed: bar), add: false);
                break;
        }
        return outputs;
    }

    /// <summary>The error for an operation a trace cannot evaluate (anything but the scalar catalogue and loops over a point's arrays).</summary>
    public static NotSupportedException Untraceable(Node n) =>
        new($"cannot trace the operation '{n.Op}' (stage v{n.Id}): traces evaluate scalar graphs only; " +
            "Gradient.ToCode() and Gradient.Formulas still show this function");
}

/// <summary>
/// What loops read and write in a trace: the point's arrays, captured data read once, the gradient the loops' pullbacks
/// scatter into, and which slots each top-level loop read (the inputs its gate is drawn with).
/// </summary>
internal sealed class LoopData(StagedGraph graph, double[] point, double[] gradient)
{
    private readonly Dictionary<Expression, object?> _captured = new(ReferenceEqualityComparer.Instance);
    private SortedSet<int>? _reading;
    private bool _muted;

    /// <summary>The gradient in the flat layout, which scatters add to.</summary>
    public double[] Gradient => gradient;

    /// <summary>Per top-level loop, the slots of the point it (or a loop nested in it) read.</summary>
    public Dictionary<Node, SortedSet<int>> Reads { get; } = [];

    /// <summary>Records the slots read while evaluating <paramref name="loop"/>, unless an enclosing loop already does.</summary>
    public IDisposable? Reading(Node loop)
    {
        if (_reading is not null)
            return null;
        _reading = Reads[loop] = [];
        return new Scope(() => _reading = null);
    }

    /// <summary>Scatters are dropped until the scope ends (a pullback run only for its outputs).</summary>
    public IDisposable Muted()
    {
        var was = _muted;
        _muted = true;
        return new Scope(() => _muted = was);
    }

    /// <summary>The length of array parameter <paramref name="param"/>: the rest of the point for the last one, if dynamic.</summary>
    public int Length(int param)
    {
        var p = graph.Parameters[param];
        return p.IsDynamic && param == graph.Parameters.Length - 1 ? point.Length - p.Offset : p.Extent;
    }

    /// <summary>A captured value as the compiled code reads it: live (booleans are 1 and 0), once per trace.</summary>
    public double Captured(Expression live)
    {
        if (_captured.TryGetValue(live, out var known))
            return (double)known!;
        Expression body = live.Type == typeof(bool)
            ? Expression.Condition(live, Expression.Constant(1.0), Expression.Constant(0.0))
            : Expression.Convert(live, typeof(double));
        var value = Expression.Lambda<Func<double>>(body).Compile(preferInterpretation: true)();
        _captured[live] = value;
        return value;
    }

    private object? Data(Expression live)
    {
        if (!_captured.TryGetValue(live, out var value))
            _captured[live] = value = Expression.Lambda<Func<object?>>(Expression.Convert(live, typeof(object))).Compile(preferInterpretation: true)();
        return value;
    }

    /// <summary>An element of an array parameter or of captured data, its indices checked as the compiled loop checks them.</summary>
    public double Element(Node read, int[] index)
    {
        if (read.Live is null)
        {
            var length = Length(read.Param);
            LoopRuntime.Index(index[0], length, graph.Parameters[read.Param].Name, read.IndexText ?? "?");
            var slot = graph.Parameters[read.Param].Offset + index[0];
            _reading?.Add(slot);
            return point[slot];
        }
        var data = Data(read.Live);
        var name = DataText.Of(read.Live);
        int[] lengths = data switch
        {
            double[] a => [a.Length],
            double[,] m => [m.GetLength(0), m.GetLength(1)],
            Vector<double> v => [v.Count],
            Matrix<double> m => [m.RowCount, m.ColumnCount],
            _ => throw new NotSupportedException($"cannot trace a read of {name}: not an array, vector or matrix of doubles"),
        };
        for (var d = 0; d < index.Length; d++)
            LoopRuntime.Index(index[d], lengths[d], name, read.IndexText ?? "?");
        return data switch
        {
            double[] a => a[index[0]],
            double[,] m => m[index[0], index[1]],
            Vector<double> v => v[index[0]],
            _ => ((Matrix<double>)data!)[index[0], index[1]],
        };
    }

    /// <summary>Adds <paramref name="value"/> to the gradient of element <paramref name="index"/> of array parameter <paramref name="param"/>.</summary>
    public void Scatter(int param, int index, double value)
    {
        if (!_muted)
            gradient[graph.Parameters[param].Offset + index] += value;
    }

    private sealed class Scope(Action end) : IDisposable
    {
        public void Dispose() => end();
    }
}
