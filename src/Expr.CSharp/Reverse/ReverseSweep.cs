using ExprGrad.Rules;
using ExprGrad.Staging;

namespace ExprGrad.Reverse;

/// <summary>
/// The reverse sweep: walks the stages backwards and, for each one whose adjoint is not a symbolic zero, applies
/// its rule and adds the contributions to its inputs' adjoints (the <c>+=</c> at forks). The backward stages are
/// ordinary nodes appended after the forward ones, so the gradient is itself a staged graph.
/// </summary>
internal static class ReverseSweep
{
    public static void Run(StagedGraph graph)
    {
        var b = graph.Builder;
        graph.ForwardCount = graph.Root.Nodes.Count;
        var adjoints = new Dictionary<Node, Node>();
        if (!graph.Output.IsPassive && graph.Output.Op != Op.Constant)
        {
            adjoints[graph.Output] = b.Constant(1);
            graph.Backprop.Add(new(graph.Output, adjoints[graph.Output], null, null, First: true));
        }
        Sweep(b, graph.Root, adjoints, graph.ForwardCount, graph.Backprop, again: false, directions: null);

        graph.Adjoints = new Node?[graph.Dimension];
        foreach (var input in b.Inputs)
            graph.Adjoints[graph.Slot(input)] = adjoints.GetValueOrDefault(input);
        DeadStages.Prune(graph);
        graph.StageCount = DeadStages.Regions(graph.Root).Sum(r => r.Nodes.Count);
    }

    /// <summary>
    /// The adjoints of every stage of <paramref name="b"/>'s root that <paramref name="output"/> depends on, given
    /// <paramref name="seed"/> as the output's adjoint: the sweep run on a <see cref="MapBody"/>'s own small graph.
    /// With <c>again</c> the stages include an earlier sweep's (a second derivative): a backward branch then reads its
    /// forward branch's stages, whose adjoints that branch's own sweep must take up.
    /// </summary>
    /// <remarks>
    /// With <paramref name="directions"/>, array parameters' elements read at indices known only at the call are not
    /// scattered: their adjoints dotted with the direction are the adjoint of <see cref="Directions.Sink"/>.
    /// </remarks>
    /// <remarks>
    /// <paramref name="second"/> is a second output and its adjoint, swept together with the first: a fold's body with two
    /// accumulators (<see cref="LoopBody.SecondOutput"/>).
    /// </remarks>
    public static Dictionary<Node, Node> Pullback(GraphBuilder b, Node output, Node seed, bool again = false, Directions? directions = null,
        (Node Output, Node Seed)? second = null)
    {
        var adjoints = new Dictionary<Node, Node>();
        if (!output.IsPassive && output.Op != Op.Constant)
            adjoints[output] = seed;
        if (second is { Output: var y2, Seed: var seed2 } && y2.Op != Op.Constant)
            Accumulate(b, adjoints, y2, seed2);
        if (adjoints.Count > 0)
            Sweep(b, b.Root, adjoints, b.Root.Nodes.Count, log: null, again, directions);
        return adjoints;
    }

    /// <summary>
    /// Sweeps the first <paramref name="count"/> stages of <paramref name="region"/> backwards. Adjoints of nodes
    /// outside the region accumulate in <paramref name="adjoints"/> too: for a branch, they are what it exports.
    /// The root's sweep writes each contribution to <paramref name="log"/>, for display.
    /// </summary>
    private static void Sweep(GraphBuilder b, Region region, Dictionary<Node, Node> adjoints, int count, List<BackpropStep>? log, bool again,
        Directions? directions)
    {
        Dictionary<Node, Node?[]>? outputAdjoints = null;
        Dictionary<Node, List<(int Param, Node Bar)>>? loopBars = null;
        for (var i = count - 1; i >= 0; i--)
        {
            var y = region.Nodes[i];
            if (y.IsPassive || y.Op == Op.Input)
                continue;
            if (y.Op == Op.Read)
            {
                // An array parameter's element: its adjoint is added to the array's gradient where it is known.
                if (!adjoints.TryGetValue(y, out var readBar))
                    continue;
                if (directions is null)
                    b.ScatterAdd(y, readBar);
                else
                    Accumulate(b, adjoints, directions.Sink, b.Multiply(readBar, directions.Element(b, y)));
                continue;
            }
            if (y.Op == Op.Loop)
            {
                // A body swept from a constant adjoint, or dotting with a direction, is swept again, for another adjoint and
                // scattering, through a copy (LoopSecondOrder.Fresh).
                if (adjoints.TryGetValue(y, out var loopBar))
                    PullbackLoop(b, again && y.Loop!.BuiltPullback is { } built && (built.Seed.Op == Op.Constant || built.Directions is not null)
                        ? LoopSecondOrder.Fresh(b, y) : y, loopBar, adjoints, log, directions);
                continue;
            }
            if (y.Op == Op.LoopAdjoint)
            {
                // Reached only by a sweep across an earlier sweep's stages: the pullback of a sum's pullback is a sum.
                if (loopBars?.GetValueOrDefault(y) is { } bars)
                {
                    if (y.Loop!.Kind == LoopKind.Fold)
                    {
                        // The pullback of a fold's pullback is bar·t, t the fold's tangent (LoopSecondOrder.Fold).
                        var (tangent, differentiable) = LoopSecondOrder.Fold(b, y, bars);
                        Accumulate(b, adjoints, y.Args[1], tangent, log);
                        PullbackLoop(b, tangent, y.Args[1], adjoints, log, directions, differentiable);
                    }
                    else
                    {
                        var (weighted, differentiable) = LoopSecondOrder.Sum(b, y, bars);
                        PullbackLoop(b, weighted, b.Constant(1), adjoints, log, directions, k => k < differentiable);
                    }
                }
                continue;
            }
            if (y.Op == Op.Condition)
            {
                // (Without adjoints of its results, a conditional is still swept if a stage inside it has one: in a
                // second sweep, a gradient's backward branch hands adjoints to the forward branch it reads.)
                var yBars = outputAdjoints?.GetValueOrDefault(y);
                if (yBars is not null || (again && EnclosesAdjoint(y, adjoints)))
                    PullbackCondition(b, y, yBars ?? new Node?[y.Then!.Results.Length], adjoints, log, again, directions);
                continue;
            }
            if (!adjoints.TryGetValue(y, out var yBar))
                continue;
            if (y.Op == Op.Project && y.Args[0].Op == Op.LoopAdjoint)
            {
                // Gathered per loop adjoint, which pulls them back (LoopSecondOrder.Sum).
                loopBars ??= [];
                if (!loopBars.TryGetValue(y.Args[0], out var list))
                    loopBars[y.Args[0]] = list = [];
                list.Add((y.Param, yBar));
                continue;
            }
            if (y.Op == Op.Project)
            {
                // Gathered per conditional; the conditional's own stage (just before its projections) pulls them back.
                outputAdjoints ??= [];
                var condition = y.Args[0];
                if (!outputAdjoints.TryGetValue(condition, out var slots))
                    outputAdjoints[condition] = slots = new Node?[condition.Then!.Results.Length];
                slots[y.Param] = yBar;
                continue;
            }

            var rule = RuleTable.Of(y);
            var xBars = new Node?[y.Args.Length];
            rule.Pullback!(b, y, yBar, xBars);
            for (var k = 0; k < xBars.Length; k++)
                if (xBars[k] is { } xBar)
                    Accumulate(b, adjoints, y.Args[k], xBar, log, y, yBar);
        }
    }

    private static void Accumulate(GraphBuilder b, Dictionary<Node, Node> adjoints, Node x, Node contribution,
        List<BackpropStep>? log = null, Node? from = null, Node? fromBar = null)
    {
        if (x.IsPassive)
            return;
        var first = !adjoints.TryGetValue(x, out var sum);
        adjoints[x] = first ? contribution : b.Add(sum!, contribution);
        log?.Add(new(x, contribution, from, fromBar, first));
    }

    /// <summary>
    /// A conditional pulls back through the branch that was taken: its backward stage is again a conditional on the
    /// same test, whose branches sweep the forward branches and deliver one adjoint per outer node they reach.
    /// </summary>
    private static void PullbackCondition(GraphBuilder b, Node condition, Node?[] yBars, Dictionary<Node, Node> adjoints, List<BackpropStep>? log, bool again,
        Directions? directions)
    {
        var (thenRegion, thenExports) = SweepBranch(b, condition.Then!, yBars, adjoints, again, directions);
        var (elseRegion, elseExports) = SweepBranch(b, condition.Else!, yBars, adjoints, again, directions);

        var reached = thenExports.Keys.Union(elseExports.Keys).OrderBy(n => n.Id).ToArray();
        if (reached.Length == 0 && !HasEffects(thenRegion) && !HasEffects(elseRegion))
            return;
        thenRegion.Results = Array.ConvertAll(reached, x => thenExports.GetValueOrDefault(x) ?? Zero(b, x));
        elseRegion.Results = Array.ConvertAll(reached, x => elseExports.GetValueOrDefault(x) ?? Zero(b, x));
        var outputs = b.Condition(condition.Args[0], thenRegion, elseRegion);
        for (var k = 0; k < reached.Length; k++)
            Accumulate(b, adjoints, reached[k], outputs[k], log);
    }

    /// <summary>
    /// A loop pulls back through a loop: its body's pullback, run per iteration (backwards for a fold), adds each
    /// iteration's contributions to the invariants' adjoints and scatters into array gradients.
    /// </summary>
    /// <remarks>Only the loop's arguments <paramref name="differentiable"/> accepts (by position; all if null) get adjoints.</remarks>
    private static void PullbackLoop(GraphBuilder b, Node loop, Node bar, Dictionary<Node, Node> adjoints, List<BackpropStep>? log,
        Directions? directions, Func<int, bool>? differentiable = null)
    {
        var body = loop.Loop!;
        var pullback = body.PullbackFor(bar, directions);
        var outputs = new List<int>();
        bool Differentiable(int k) => !loop.Args[k].IsPassive && (differentiable?.Invoke(k) ?? true);
        // With directions, the body's dot products with the direction are one more output (LoopBody.DirectionsOutput).
        if (pullback.Directions is not null)
            outputs.Add(LoopBody.DirectionsOutput);
        // A fold hands its adjoint back to the seed through every iteration (all of it, when there are none).
        if (body.Kind == LoopKind.Fold && Differentiable(2))
            outputs.Add(2);
        if (body.SecondOutput is not null && Differentiable(body.SecondInit))
            outputs.Add(body.SecondInit);
        for (var j = 0; j < body.InvariantCount; j++)
            if (pullback.Invariants[j] is not null && Differentiable(LoopBody.FirstInvariant + j))
                outputs.Add(LoopBody.FirstInvariant + j);
        if (outputs.Count == 0 && !pullback.HasEffects)
            return;
        var projections = b.LoopAdjoint(loop, bar, [.. outputs]);
        for (var k = 0; k < outputs.Count; k++)
            Accumulate(b, adjoints, outputs[k] == LoopBody.DirectionsOutput ? directions!.Sink : loop.Args[outputs[k]], projections[k], log, loop, bar);
    }

    private static bool EnclosesAdjoint(Node condition, Dictionary<Node, Node> adjoints) =>
        DeadStages.Regions(condition.Then!).Concat(DeadStages.Regions(condition.Else!)).Any(r => r.Nodes.Exists(adjoints.ContainsKey));

    // True if a region (or one nested in it) writes array gradients: its conditional must run though it exports nothing.
    private static bool HasEffects(Region region) =>
        DeadStages.Regions(region).Any(r => r.Nodes.Any(n => n.HasEffects));

    // The adjoint a branch delivers for a node it does not reach: 0, or a vector or matrix of zeros.
    private static Node Zero(GraphBuilder b, Node x) => x.Shape.IsTensor ? b.Fill(b.Constant(0), x.Shape) : b.Constant(0);

    /// <summary>
    /// Sweeps a forward branch into a backward one. Besides its results' adjoints, a stage inside the branch may already
    /// have an adjoint from outside it (a gradient's backward branch reads the forward branch's stages, so a second
    /// sweep reaches them from there): with <paramref name="again"/>, those are taken from <paramref name="outer"/> and swept
    /// with the rest. (A first sweep has none, and skips the walk.)
    /// </summary>
    private static (Region Backward, Dictionary<Node, Node> Exports) SweepBranch(GraphBuilder b, Region branch, Node?[] yBars, Dictionary<Node, Node> outer, bool again,
        Directions? directions)
    {
        b.BeginRegion();
        var adjoints = new Dictionary<Node, Node>();
        if (again)
            foreach (var region in DeadStages.Regions(branch))
                foreach (var node in region.Nodes)
                    if (outer.Remove(node, out var bar))
                        adjoints[node] = bar;
        for (var k = 0; k < yBars.Length; k++)
            if (yBars[k] is { } yBar)
                Accumulate(b, adjoints, branch.Results[k], yBar);
        StackGuard.Run(() => Sweep(b, branch, adjoints, branch.Nodes.Count, log: null, again, directions));
        var backward = b.EndRegion([]);

        var exports = new Dictionary<Node, Node>();
        foreach (var (x, xBar) in adjoints)
            if (!branch.Encloses(x))
                exports[x] = xBar;
        return (backward, exports);
    }
}
