using ExprGrad.Staging;

namespace ExprGrad.Reverse;

/// <summary>
/// Second derivatives through loops over data. A sum's pullback (its <see cref="Op.LoopAdjoint"/>) delivers, per
/// invariant j, p_j = Σ over iterations of the body's pullback for j. Swept again, with adjoints w_j for the p_j, it is
/// the sum loop Σ_j w_j·p_j: its body is the loop's body with its pullback, copied into a body of its own, and the loop
/// machinery pulls that sum back like any other (per iteration, into the invariants, the first sweep's adjoint and the
/// array elements the body reads). A Max or Min pulls back through the one iteration it picked: swept again, that is the
/// same sum over that iteration only, found by the loop again (<see cref="LoopBody.PicksIndex"/>).
/// </summary>
/// <remarks>
/// A body whose pullback was built from a constant adjoint (a sum whose adjoint is 1) cannot be pulled back with another
/// one: such a loop is swept again through a copy of its forward stages (<see cref="Fresh"/>).
/// </remarks>
internal static class LoopSecondOrder
{
    /// <summary>
    /// The sum loop whose pullback is <paramref name="adjoint"/>'s (a sum's <see cref="Op.LoopAdjoint"/>), given the
    /// adjoints of its projections (<paramref name="bars"/>, by the loop argument each one projects: 3 + j for invariant
    /// j, <see cref="LoopBody.DirectionsOutput"/> for the dot products with a direction). Its invariants are the loop's, then the first sweep's adjoint of the loop, then the weights; the caller pulls
    /// it back with adjoint 1 into the arguments before <c>Differentiable</c> (the weights are adjoints of this sweep, not
    /// values it differentiates).
    /// </summary>
    public static (Node Loop, int Differentiable) Sum(GraphBuilder b, Node adjoint, List<(int Param, Node Bar)> bars)
    {
        var loop = adjoint.Args[0];
        var body = loop.Loop!;
        var pullback = body.Pullback;
        var invariants = body.InvariantCount;
        var to = new GraphBuilder();
        // The body reads invariant j as input 1 + j: the first sweep's seed becomes invariant J, weight m invariant J + 1 + m.
        var copy = new BodyCopy(to, body.Builder.Root, n => n.Param == -1 ? to.Input(1 + invariants, -1) : to.Input(n.Param, n.Element), _ => true);
        Node? value = null;
        for (var m = 0; m < bars.Count; m++)
        {
            var output = bars[m].Param == LoopBody.DirectionsOutput ? pullback.Directions! : pullback.Invariants[bars[m].Param - LoopBody.FirstInvariant]!;
            var term = to.Multiply(to.Input(2 + invariants + m, -1), copy[output]);
            value = value is null ? term : to.Add(value, term);
        }
        var sum = new LoopBody(LoopKind.Sum, to, to.LoopIndex(), value!, invariants + 1 + bars.Count, body.Variable) { Text = body.Text, Again = true };
        var args = loop.Args;
        // A Max or Min pulls back through the one iteration it picked: the sum runs over that iteration only.
        var (start, count) = body.Kind == LoopKind.Sum ? (args[0], args[1])
            : (b.Loop(new LoopBody(body.Kind, body.Builder, body.Index, body.Output, invariants, body.Variable) { Text = body.Text, PicksIndex = true },
                args[0], args[1], args[2], args[LoopBody.FirstInvariant..]), b.Constant(1));
        var weighted = b.Loop(sum, start, count, b.Constant(0), [.. args[LoopBody.FirstInvariant..], adjoint.Args[1], .. bars.Select(x => x.Bar)]);
        return (weighted, LoopBody.FirstInvariant + invariants + 1);
    }

    /// <summary>
    /// The fold whose pullback is <paramref name="adjoint"/>'s (a fold's <see cref="Op.LoopAdjoint"/>), given the adjoints
    /// of its projections (<paramref name="bars"/>, as for <see cref="Sum"/>; argument 2 is the seed's). A fold's pullback is
    /// linear in its adjoint ā: each output is ā times a derivative of the fold's value a_K, so with the weights w its
    /// weighted sum is ā·t_K, where t_K is the derivative of a_K along the weights, the fold's tangent: t_0 is the seed's
    /// weight, t_{k+1} = ∂F/∂a·t_k + Σ_j w_j ∂F/∂inv_j (+ the direction's weight times the body's dot products with v), the
    /// partial derivatives being the body's pullback from 1 at a_k. That is a fold of two accumulators, t and a (the fold's
    /// own, <see cref="LoopBody.SecondOutput"/>), whose value is t_K: the caller adds t_K to ā's adjoint and pulls the
    /// tangent back with ā (its own pullback crosses the body's pullback again, as for a sum). Only the invariants and the
    /// fold's seed are differentiated: the weights are adjoints of this sweep.
    /// </summary>
    public static (Node Tangent, Func<int, bool> Differentiable) Fold(GraphBuilder b, Node adjoint, List<(int Param, Node Bar)> bars)
    {
        var loop = adjoint.Args[0];
        var body = loop.Loop!;
        if (body.SecondOutput is not null)
            throw new ExprGradException($"derivatives past the second are not computed through Aggregate ({body.Text})");
        var pullback = body.Pullback;
        var invariants = body.InvariantCount;
        var to = new GraphBuilder();
        // The partial derivatives are the pullback's outputs from the seed 1; the fold's accumulator is the tangent's second one.
        var copy = new BodyCopy(to, body.Builder.Root, n => n.Param switch
        {
            -1 => to.Constant(1),
            0 => to.Input(LoopBody.SecondAccumulatorInput, -1),
            _ => to.Input(n.Param, n.Element),
        }, _ => true);
        var t = to.Input(0, -1);
        // (Staged even where the body never reads its accumulator: the emitter keys the second tape by it.)
        to.Input(LoopBody.SecondAccumulatorInput, -1);
        var tangent = pullback.Accumulator is { } da ? to.Multiply(copy[da], t) : to.Constant(0);
        var init = b.Constant(0);
        var weights = new List<Node>();
        foreach (var (param, bar) in bars)
        {
            if (param == 2)
            {
                init = bar;
                continue;
            }
            var partial = param == LoopBody.DirectionsOutput ? pullback.Directions! : pullback.Invariants[param - LoopBody.FirstInvariant]!;
            tangent = to.Add(tangent, to.Multiply(to.Input(1 + invariants + weights.Count, -1), copy[partial]));
            weights.Add(bar);
        }
        var fold = new LoopBody(LoopKind.Fold, to, to.LoopIndex(), tangent, invariants + weights.Count, body.Variable)
        {
            Text = body.Text,
            Again = true,
            SecondOutput = copy[body.Output],
        };
        var args = loop.Args;
        var node = b.Loop(fold, args[0], args[1], init, [.. args[LoopBody.FirstInvariant..], .. weights, args[2]]);
        return (node, k => (k >= LoopBody.FirstInvariant && k < LoopBody.FirstInvariant + invariants) || k == fold.SecondInit);
    }

    /// <summary>
    /// <paramref name="loop"/> again, over a copy of its body's forward stages, whose pullback is not built yet: the same
    /// value, with the same arguments.
    /// </summary>
    public static Node Fresh(GraphBuilder b, Node loop)
    {
        var body = loop.Loop!;
        var to = new GraphBuilder();
        var copy = new BodyCopy(to, body.Builder.Root, n => to.Input(n.Param, n.Element), body.IsForward);
        var fresh = new LoopBody(body.Kind, to, to.LoopIndex(), copy[body.Output], body.InvariantCount, body.Variable) { Text = body.Text, Again = body.Again };
        return b.Loop(fresh, loop.Args[0], loop.Args[1], loop.Args[2], loop.Args[LoopBody.FirstInvariant..]);
    }

    /// <summary>
    /// A body's stages staged again, in order, through another builder's API (so hash-consed and simplified there). The
    /// first sweep's scatters are left out: they write a gradient, and are no value of the body.
    /// </summary>
    private sealed class BodyCopy
    {
        private readonly GraphBuilder _to;
        private readonly Func<Node, Node> _input;
        private readonly Func<Node, bool> _keep;
        private readonly Dictionary<Node, Node> _map = [];
        private readonly Dictionary<Node, Node[]> _outputs = [];

        public BodyCopy(GraphBuilder to, Region root, Func<Node, Node> input, Func<Node, bool> keep)
        {
            _to = to;
            _input = input;
            _keep = keep;
            Copy(root);
        }

        /// <summary>The copy of <paramref name="n"/>.</summary>
        public Node this[Node n] => n.Op == Op.Constant ? (n.IsBool ? _to.Boolean(n.Value != 0) : _to.Constant(n.Value)) : _map[n];

        private void Copy(Region region)
        {
            foreach (var n in region.Nodes)
                if (_keep(n))
                    Copy(n);
        }

        private Node[] Args(Node n) => Array.ConvertAll(n.Args, a => this[a]);

        private Region Branch(Region branch)
        {
            _to.BeginRegion();
            StackGuard.Run(() => Copy(branch));
            return _to.EndRegion(Array.ConvertAll(branch.Results, r => this[r]));
        }

        private void Copy(Node n)
        {
            switch (n.Op)
            {
                case Op.ScatterAdd:
                    return;
                case Op.Condition:
                    var then = Branch(n.Then!);
                    var @else = Branch(n.Else!);
                    _outputs[n] = _to.Condition(this[n.Args[0]], then, @else);
                    return;
                case Op.Loop:
                    // A nested loop keeps its body: a body's pullback takes its adjoint as an input, and one built from a
                    // constant or dotting with a direction is copied again where a sweep needs another (ReverseSweep).
                    _map[n] = _to.Loop(n.Loop!, this[n.Args[0]], this[n.Args[1]], this[n.Args[2]], Array.ConvertAll(n.Args[LoopBody.FirstInvariant..], a => this[a]));
                    return;
                case Op.LoopAdjoint:
                    var projections = Emit.LoopWriter.Projections(n);
                    _outputs[n] = _to.LoopAdjoint(this[n.Args[0]], this[n.Args[1]], Array.ConvertAll(projections, p => p!.Param));
                    return;
            }
            _map[n] = n.Op switch
            {
                Op.Input => _input(n),
                Op.Project when n.Args[0].Op == Op.LoopAdjoint => _outputs[n.Args[0]][Array.IndexOf(Emit.LoopWriter.Projections(n.Args[0]), n)],
                Op.Project => _outputs[n.Args[0]][n.Param],
                Op.Index => _to.LoopIndex(),
                Op.Captured => _to.Captured(n.Live!, n, "copy"),
                Op.Length => _to.Length(n.Param),
                Op.Read => _to.Read(n.Param, n.Live, Args(n), n.IndexText!, n.IsDirection),
                Op.Call => _to.Call(n.Function!, Args(n)),
                _ => _to.Apply(n.Op, Args(n), n.Param),
            };
        }
    }
}
