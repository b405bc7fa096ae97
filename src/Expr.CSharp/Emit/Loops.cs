using ExprGrad.Staging;

namespace ExprGrad.Emit;

/// <summary>How a stage of a rolled loop's body reads one argument in iteration k.</summary>
internal enum ArgSource
{
    /// <summary>A constant, the same in every iteration.</summary>
    Constant,

    /// <summary>Body stage <c>Stage</c> of the same iteration.</summary>
    Local,

    /// <summary>Body stage <c>Stage</c> of the previous iteration; iteration 0 reads the loop's init value instead.</summary>
    Carried,

    /// <summary>A stage computed before the loop, the same in every iteration.</summary>
    Invariant,

    /// <summary>
    /// An array element staged outside this iteration (before the loop, or in an iteration two or more back), read
    /// again from the array: element <c>Node.Element + Stride·k</c>.
    /// </summary>
    Element,
}

/// <summary>One argument of a body stage: where it comes from, the body stage or node it names, and for an element its stride.</summary>
internal readonly record struct BodyArg(ArgSource Source, int Stage, Node? Node, int Stride = 0);

/// <summary>
/// A run of the schedule that repeats: <see cref="Count"/> iterations of the same <see cref="Period"/> stages, which
/// differ only in the array elements they read and the gradient slots they write, both affine in the iteration.
/// Emitted as one loop instead of straight-line code. A loss that is a sum of like terms, written out by a loop of
/// <c>Expression</c> factories or by hand, differentiates into such runs: forward and backward stages of each term
/// follow each other in the schedule, and a term passes on only the running sum and its elements' partial adjoints.
/// </summary>
internal sealed class RolledLoop
{
    private readonly List<Node> _order;

    internal RolledLoop(List<Node> order, int start, int period, int count)
    {
        _order = order;
        Start = start;
        Period = period;
        Count = count;
        Args = new BodyArg[period][];
        InputStride = new int[period];
        StoreStride = new int[period][];
        Init = new Node?[period];
    }

    /// <summary>The schedule index of iteration 0's first stage.</summary>
    public int Start { get; }

    /// <summary>Stages per iteration.</summary>
    public int Period { get; }

    /// <summary>Iterations, at least <see cref="LoopFinder.MinIterations"/>.</summary>
    public int Count { get; }

    /// <summary>The schedule index one past the last iteration's last stage.</summary>
    public int End => Start + Period * Count;

    /// <summary>Per body stage: how each argument is read.</summary>
    public BodyArg[][] Args { get; }

    /// <summary>Per body stage that reads an array element (an input): how far the element moves per iteration.</summary>
    public int[] InputStride { get; }

    /// <summary>Per body stage, per gradient slot it writes: how far the slot moves per iteration.</summary>
    public int[][] StoreStride { get; }

    /// <summary>Per body stage read by the next iteration: what iteration 0 reads in its place; null if none does.</summary>
    public Node?[] Init { get; }

    /// <summary>Body stage <paramref name="j"/> of iteration <paramref name="k"/>.</summary>
    public Node At(int k, int j) => _order[Start + k * Period + j];
}

/// <summary>
/// Finds <see cref="RolledLoop"/>s in a schedule: straight-line code re-rolled into loops. Long unrolled sums
/// (Rosenbrock in 1,000 dimensions has 17,000 stages) otherwise compile to more machine code than the instruction
/// cache holds, and run at the speed of fetching it: about twice the time of the hand-written loop. A loop runs
/// exactly the stages the straight-line code would, in the same order, so its results are bit for bit the same.
/// </summary>
internal static class LoopFinder
{
    /// <summary>The longest iteration looked for, in stages.</summary>
    internal const int MaxPeriod = 256;

    /// <summary>The fewest iterations worth a loop.</summary>
    internal const int MinIterations = 4;

    /// <summary>The fewest stages (iterations × period) worth a loop.</summary>
    internal const int MinStages = 64;

    /// <summary>
    /// The loops in <paramref name="order"/>, none overlapping, largest first.
    /// </summary>
    /// <param name="order">The schedule: top-level stages in emission order.</param>
    /// <param name="lastReader">By node id: the schedule index of the node's last reader (past the end for the output).</param>
    /// <param name="stores">The gradient slots each node is written to.</param>
    /// <param name="graph">The graph, for its parameter layout.</param>
    public static List<RolledLoop> Find(List<Node> order, int[] lastReader, IReadOnlyDictionary<Node, List<int>> stores, StagedGraph graph)
    {
        var n = order.Count;
        var index = new int[graph.Builder.Count];
        Array.Fill(index, -1);
        for (var i = 0; i < n; i++)
            index[order[i].Id] = i;
        var key = new long[n];
        for (var i = 0; i < n; i++)
            key[i] = Key(order[i], i, stores);

        // Runs of i where stage i + p repeats stage i, for every period p.
        var candidates = new List<(int Start, int Period, int Count)>();
        for (var p = 1; p <= Math.Min(MaxPeriod, n / MinIterations); p++)
        {
            var run = 0;
            for (var i = 0; i + p < n; i++)
            {
                if (key[i] == key[i + p] && Repeats(order[i], order[i + p], p, index))
                {
                    run++;
                    continue;
                }
                Consider(i - run, run, p);
                run = 0;
            }
            Consider(n - p - run, run, p);
        }

        void Consider(int start, int run, int p)
        {
            var count = (run + p) / p;
            if (count >= MinIterations && count * p >= MinStages)
                candidates.Add((start, p, count));
        }

        var loops = new List<RolledLoop>();
        var taken = new bool[n];
        foreach (var (start, period, count) in candidates.OrderByDescending(c => c.Period * c.Count).ThenBy(c => c.Period))
        {
            if (taken[start] || taken[start + period * count - 1])
                continue;
            if (Validate(order, index, lastReader, stores, graph, start, period, count) is not { } loop
                || Enumerable.Range(loop.Start, loop.End - loop.Start).Any(i => taken[i]))
                continue;
            for (var i = loop.Start; i < loop.End; i++)
                taken[i] = true;
            loops.Add(loop);
        }
        return loops;
    }

    // A cheap fingerprint: stages with different keys never repeat each other. Conditionals, their projections
    // and captured values (each reads its own expression) get a key of their own.
    private static long Key(Node node, int i, IReadOnlyDictionary<Node, List<int>> stores)
    {
        if (node.Op is Op.Condition or Op.Project or Op.Captured || node.Shape.IsTensor)
            return -1 - i;
        var hash = new HashCode();
        hash.Add(node.Op);
        hash.Add(node.Param);
        hash.Add(node.IsBool);
        hash.Add(node.Args.Length);
        hash.Add(stores.TryGetValue(node, out var slots) ? slots.Count : 0);
        foreach (var arg in node.Args)
            hash.Add(arg.Op == Op.Constant ? BitConverter.DoubleToInt64Bits(arg.Value) : 1);
        return (uint)hash.ToHashCode();
    }

    // Stage b (one period after a) does what a does: the same operation on constants that are equal, on stages
    // one period later, or on the same stage.
    private static bool Repeats(Node a, Node b, int period, int[] index)
    {
        if (!SameOperation(a, b))
            return false;
        for (var i = 0; i < a.Args.Length; i++)
        {
            var (x, y) = (a.Args[i], b.Args[i]);
            if (x.Op == Op.Constant || y.Op == Op.Constant)
            {
                if (x.Op != y.Op || !SameConstant(x, y))
                    return false;
                continue;
            }
            if (x != y && (index[x.Id] < 0 || index[y.Id] != index[x.Id] + period) && !(IsElement(x) && IsElement(y) && x.Param == y.Param))
                return false;
        }
        return true;
    }

    // The same operation (and parameter, kind and arity): the first test of two stages being one body's iterations.
    private static bool SameOperation(Node a, Node b) =>
        a.Op == b.Op && a.Param == b.Param && a.IsBool == b.IsBool && a.Args.Length == b.Args.Length;

    // The same constant, bit for bit (0.0 and -0.0 differ).
    private static bool SameConstant(Node a, Node b) =>
        BitConverter.DoubleToInt64Bits(a.Value) == BitConverter.DoubleToInt64Bits(b.Value) && a.IsBool == b.IsBool;

    // Checks a candidate stage by stage and works out how each body stage reads its arguments. Iterations that
    // break the pattern, and iterations whose values are read after the next one, are cut off the end.
    private static RolledLoop? Validate(
        List<Node> order, int[] index, int[] lastReader, IReadOnlyDictionary<Node, List<int>> stores, StagedGraph graph,
        int start, int period, int count)
    {
        Node At(int k, int j) => order[start + k * period + j];
        IReadOnlyList<int> Slots(Node node) => stores.TryGetValue(node, out var s) ? s : [];

        // The pattern, read off iterations 0 and 1.
        var args = new BodyArg[period][];
        var inputStride = new int[period];
        var storeStride = new int[period][];
        for (var j = 0; j < period; j++)
        {
            var (first, second) = (At(0, j), At(1, j));
            if (first.Op == Op.Input)
            {
                if (first.Element < 0 || second.Element < 0)
                    return null;
                inputStride[j] = second.Element - first.Element;
            }
            var (slots0, slots1) = (Slots(first), Slots(second));
            if (slots0.Count != slots1.Count)
                return null;
            storeStride[j] = [.. slots0.Zip(slots1, (s0, s1) => s1 - s0)];
            args[j] = new BodyArg[second.Args.Length];
            for (var i = 0; i < second.Args.Length; i++)
            {
                var arg = second.Args[i];
                var q = arg.Op == Op.Constant ? -1 : index[arg.Id];
                if (arg.Op == Op.Constant)
                    args[j][i] = new BodyArg(ArgSource.Constant, -1, arg);
                else if (q >= start + period && q < start + 2 * period && q - start - period < j)
                    args[j][i] = new BodyArg(ArgSource.Local, q - start - period, null);
                else if (q >= start && q < start + period)
                    args[j][i] = new BodyArg(ArgSource.Carried, q - start, null);
                else if (IsElement(arg) && first.Args[i] is var before && IsElement(before) && before.Param == arg.Param && before != arg)
                    args[j][i] = new BodyArg(ArgSource.Element, -1, before, arg.Element - before.Element);
                else if (q < start)
                    args[j][i] = new BodyArg(ArgSource.Invariant, -1, arg);
                else
                    return null;
            }
        }

        // Every iteration against the pattern.
        var init = new Node?[period];
        for (var k = 0; k < count; k++)
        {
            for (var j = 0; j < period; j++)
            {
                var (node, first) = (At(k, j), At(0, j));
                if (!Follows(node, first, k, j))
                {
                    count = k;
                    break;
                }
            }
            if (count == k)
                break;
        }

        bool Follows(Node node, Node first, int k, int j)
        {
            if (!SameOperation(node, first))
                return false;
            if (node.Op == Op.Input && (node.Element != first.Element + k * inputStride[j]))
                return false;
            var (slots, slots0) = (Slots(node), Slots(first));
            if (slots.Count != slots0.Count)
                return false;
            for (var s = 0; s < slots.Count; s++)
                if (slots[s] != slots0[s] + k * storeStride[j][s] || ParameterOf(graph, slots[s]) != ParameterOf(graph, slots0[s]))
                    return false;
            for (var i = 0; i < node.Args.Length; i++)
            {
                var (arg, how) = (node.Args[i], args[j][i]);
                var ok = how.Source switch
                {
                    ArgSource.Constant => arg.Op == Op.Constant && SameConstant(arg, how.Node!),
                    ArgSource.Local => arg == At(k, how.Stage),
                    ArgSource.Carried when k > 0 => arg == At(k - 1, how.Stage),
                    ArgSource.Carried => (arg.Op == Op.Constant || index[arg.Id] < start) && (init[how.Stage] ??= arg) == arg,
                    ArgSource.Element => IsElement(arg) && arg.Param == how.Node!.Param && arg.Element == how.Node.Element + k * how.Stride,
                    _ => arg == how.Node,
                };
                if (!ok)
                    return false;
            }
            return true;
        }

        // A value of iteration k may be read by iteration k + 1 at the latest; only the last iteration's values
        // live on after the loop (its body variables still hold them). Array elements are read again from the array.
        for (var k = 0; k < count - 1; k++)
        {
            var limit = start + (k + 2) * period - 1;
            var escapes = false;
            for (var j = 0; j < period && !escapes; j++)
                escapes = At(k, j) is var node && node.Op != Op.Input && (lastReader[node.Id] > limit || node == graph.Output);
            if (escapes)
            {
                count = k + 1;
                break;
            }
        }
        if (count < MinIterations || count * period < MinStages)
            return null;

        var loop = new RolledLoop(order, start, period, count);
        for (var j = 0; j < period; j++)
        {
            loop.Args[j] = args[j];
            loop.InputStride[j] = inputStride[j];
            loop.StoreStride[j] = storeStride[j];
            loop.Init[j] = init[j];
        }
        return loop;
    }

    // An element of an array parameter: a stage that can be read again from the array at any time.
    private static bool IsElement(Node node) => node.Op == Op.Input && node.Element >= 0;

    private static int ParameterOf(StagedGraph graph, int slot) =>
        Array.FindIndex(graph.Parameters, p => slot >= p.Offset && slot < p.Offset + p.Extent);
}
