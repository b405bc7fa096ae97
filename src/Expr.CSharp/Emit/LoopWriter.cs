using System.Linq.Expressions;
using ExprGrad.Display;
using ExprGrad.Rules;
using ExprGrad.Staging;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Emit;

/// <summary>Where a loop is written: the method's top level, or the body of an enclosing loop.</summary>
internal interface ILoopScope
{
    Frame Frame { get; }

    StagedGraph Graph { get; }

    /// <summary>The value of a node of the enclosing graph, computed before the loop.</summary>
    Expression Read(Node outer);

    /// <summary>A new variable of the enclosing block.</summary>
    ParameterExpression Variable(Type type, string name);

    /// <summary>What a forward loop leaves for its backward loop: a fold's tape, the index a max or min picked.</summary>
    Dictionary<Node, ParameterExpression> States { get; }
}

/// <summary>
/// Writes loops over data (<see cref="Op.Loop"/>, <see cref="Op.LoopAdjoint"/>) as the loops a person writes: the
/// forward loop, the backward loop (backwards, over the fold's tape, for a fold), or for a sum whose adjoint is known
/// before it runs, one loop doing both. The body is written once, inline, whatever the number of iterations.
/// </summary>
/// <remarks>
/// Every array index is checked against the array's length before the element is read: an index affine in the loop
/// variable (<c>a[i + 1]</c>, <c>x[2 * i]</c>) once before the loop, at the first and last iteration, others where
/// they are read. The forward loop reads every element the backward loop writes at, so an index out of range throws
/// before any gradient is written.
/// </remarks>
internal static class LoopWriter
{
    /// <summary>
    /// The forward loop of <paramref name="loop"/>, as an expression whose value is the loop's. With
    /// <paramref name="fused"/> (the loop's adjoint, for a sum), the pullback runs in the same pass and its outputs
    /// are added to <paramref name="homes"/>.
    /// </summary>
    public static Expression Forward(ILoopScope scope, Node loop, bool keepState, Node? fused = null, ParameterExpression?[]? homes = null,
        bool clearsFirst = false)
    {
        var body = loop.Loop!;
        var w = new Writer(scope, loop);
        // Decided before the body is written: it makes some scatters stores.
        var firstWrites = clearsFirst ? FirstWrites(scope, w) : [];
        var value = Expression.Variable(typeof(double), "loopValue");
        w.Locals.Add(value);
        var i = w.I;
        var statements = new List<Expression>();
        var iteration = new List<Expression>();
        var after = new List<Expression>();

        switch (body.Kind)
        {
            case LoopKind.Sum:
            {
                statements.Add(Expression.Assign(value, Expression.Constant(0.0)));
                var roots = new List<Node> { body.Output };
                if (fused is not null)
                {
                    w.Seed = Seed(w, scope.Read(fused.Args[1]));
                    roots.AddRange(PullbackRoots(body));
                }
                var body1 = w.Body(roots);
                iteration.AddRange(body1.Statements);
                iteration.Add(Expression.AddAssign(value, body1.Read(body.Output)));
                if (fused is not null)
                    Accumulate(w, fused, homes!, body1, iteration, add: true, statements);
                else if (keepState)
                    KeepInnerSums(scope, w, body1, statements, iteration);
                break;
            }
            case LoopKind.Fold:
            {
                statements.Add(Expression.Assign(value, scope.Read(loop.Args[2])));
                w.Accumulator = value;
                // A second accumulator (a fold's tangent carries the fold's own) is a local beside it, with a tape of its own.
                var second = body.SecondOutput is null ? null : w.Local(typeof(double), "second", scope.Read(loop.Args[body.SecondInit]));
                w.SecondAccumulator = second;
                ParameterExpression? tape = null, secondTape = null;
                if (keepState)
                {
                    // count + 1 accumulators: the one entering each iteration, and the last, each iteration's value.
                    tape = Tape(scope, w, "tape", statements, iteration, value);
                    scope.States[loop] = tape;
                    if (second is not null)
                        scope.States[SecondTapeKey(body)] = secondTape = Tape(scope, w, "secondTape", statements, iteration, second);
                }
                var next = w.Body(second is null ? [body.Output] : [body.Output, body.SecondOutput!]);
                iteration.AddRange(next.Statements);
                if (tape is not null)
                {
                    KeepInnerSums(scope, w, next, statements, iteration);
                    after.Add(Expression.Assign(Expression.ArrayAccess(tape, w.Count), value));
                    if (secondTape is not null)
                        after.Add(Expression.Assign(Expression.ArrayAccess(secondTape, w.Count), second!));
                }
                if (second is null)
                    iteration.Add(Expression.Assign(value, next.Read(body.Output)));
                else
                {
                    // Both next values are read before either accumulator changes: either may be the other's input.
                    var nextSecond = w.Local(typeof(double), "nextSecond");
                    iteration.Add(Expression.Assign(nextSecond, next.Read(body.SecondOutput!)));
                    iteration.Add(Expression.Assign(value, next.Read(body.Output)));
                    iteration.Add(Expression.Assign(second, nextSecond));
                }
                break;
            }
            default:
            {
                // The first value, and after it each one that beats it, with NaN as LINQ orders it: Min takes the first NaN
                // and stops; Max ranks NaN below every number, so a NaN is kept only until a number comes (all NaN: the last).
                var best = scope.Variable(typeof(int), "best");
                if (keepState)
                    scope.States[loop] = best;
                statements.Add(Expression.IfThen(Expression.Equal(w.Count, Expression.Constant(0)),
                    Expression.Throw(Expression.Call(typeof(LoopRuntime), nameof(LoopRuntime.Empty), null, Expression.Constant(body.Text)))));
                var next = w.Body([body.Output]);
                iteration.AddRange(next.Statements);
                var v = w.Local(typeof(double), "candidate");
                iteration.Add(Expression.Assign(v, next.Read(body.Output)));
                var isNaN = Expression.Call(typeof(double), nameof(double.IsNaN), null, v);
                var take = body.Kind == LoopKind.Max
                    ? Expression.OrElse(Expression.GreaterThan(v, value), Expression.Call(typeof(double), nameof(double.IsNaN), null, value))
                    : Expression.OrElse(Expression.LessThan(v, value), isNaN);
                Expression picked = Expression.Block(Expression.Assign(value, v), Expression.Assign(best, i));
                if (body.Kind == LoopKind.Min)
                    picked = Expression.Block(picked, Expression.IfThen(isNaN, Expression.Break(w.Done)));
                iteration.Add(Expression.IfThen(Expression.OrElse(Expression.Equal(i, w.Start), take), picked));
                if (body.PicksIndex)
                    after.Add(Expression.Assign(value, Expression.Convert(best, typeof(double))));
                break;
            }
        }

        // The preheader checks every affine index; a fused loop writes nothing before them.
        var whole = new List<Expression>(w.Preheader());
        whole.AddRange(firstWrites);
        whole.AddRange(statements);
        whole.Add(w.Loop(iteration, backwards: false));
        whole.AddRange(after);
        whole.Add(value);
        return Expression.Block(typeof(double), w.Locals, whole);
    }

    // True if more than one backward loop reads the loop's state: a second sweep crossed the loop again.
    private static bool PulledBackTwice(Node loop)
    {
        var root = loop.Owner!;
        while (root.Parent is { } parent)
            root = parent;
        return DeadStages.Regions(root).SelectMany(r => r.Nodes).Count(n => n.Op == Op.LoopAdjoint && n.Args[0] == loop) > 1;
    }

    // The key of a fold's second tape in its scope's states: the loop itself keys the first, and a loop node of the body a
    // nested sum's tape, so the body's input for the second accumulator, which is neither.
    private static Node SecondTapeKey(LoopBody body) => body.Builder.Input(LoopBody.SecondAccumulatorInput, -1);

    // A fold's tape of count + 1 accumulators, rented before the loop, written at the start of each iteration.
    private static ParameterExpression Tape(ILoopScope scope, Writer w, string name, List<Expression> before, List<Expression> iteration,
        ParameterExpression accumulator)
    {
        var tape = scope.Variable(typeof(double[]), name);
        before.Add(Expression.Assign(tape, Expression.Call(typeof(LoopRuntime), nameof(LoopRuntime.RentTape), null,
            Expression.Add(w.Count, Expression.Constant(1)))));
        iteration.Add(Expression.Assign(Expression.ArrayAccess(tape, Expression.Subtract(w.I, w.Start)), accumulator));
        return tape;
    }

    // A sum's seed: a constant stays one (the JIT folds 100 · 1 into 100), anything else is read once into a local.
    private static Expression Seed(Writer w, Expression seed) =>
        seed is ConstantExpression ? seed : w.Local(typeof(double), "seed", seed);

    /// <summary>
    /// The gradient of the array of any length, cleared before the loop that writes it first. Where each iteration's
    /// scatters are <c>a[i + c]</c> at constant offsets, in no branch, the one at the largest offset is the first write of
    /// its element (the loop runs upwards): it is a store, not an addition, and only the elements before the first it
    /// stores and past the last need clearing, as a hand-written loop does (<c>d[i + 1] = 200 t</c>), instead of clearing
    /// the whole array in a pass of its own.
    /// </summary>
    private static IEnumerable<Expression> FirstWrites(ILoopScope scope, Writer w)
    {
        var param = scope.Graph.DynamicParameter;
        if (FirstStore(w.Body0, param) is not { } store)
            return scope.Frame.ClearDynamic;
        w.Stores.Add(store.Scatter);
        var first = Expression.Add(w.Start, Expression.Constant(store.Offset));
        return [scope.Frame.ClearRange(param, Expression.Constant(0), first)!,
            scope.Frame.ClearRange(param, Expression.Add(w.End, Expression.Constant(store.Offset)), null)!];
    }

    /// <summary>
    /// The scatter into array parameter <paramref name="param"/> that is the first write of its element in each
    /// iteration of an upward loop, and its offset c (an index i + c): the one at the largest constant offset, where every
    /// scatter into that array is at a constant offset, in no branch, and no loop is nested in the body. Null otherwise.
    /// </summary>
    public static (Node Scatter, int Offset)? FirstStore(LoopBody body, int param)
    {
        var scatters = DeadStages.Regions(body.Builder.Root).SelectMany(r => r.Nodes).Where(n => n.Op == Op.ScatterAdd && n.Param == param).ToList();
        var offsets = scatters.ConvertAll(n => n.Owner == body.Builder.Root && n.Args.Length == 2 ? Offset(n.Args[1]) : null);
        var nested = DeadStages.Regions(body.Builder.Root).Any(r => r.Nodes.Exists(n => n.Op == Op.Loop));
        if (scatters.Count == 0 || nested || offsets.Contains(null) || offsets.Count(o => o == offsets.Max()) > 1)
            return null;
        var last = offsets.Max()!.Value;
        return (scatters[offsets.IndexOf(last)], last);

        // c in an index i + c (or c + i, i − c, i).
        static int? Offset(Node index) => index.Op switch
        {
            Op.Index => 0,
            Op.Add when index.Args[0].Op == Op.Index && index.Args[1].Op == Op.Constant => (int)index.Args[1].Value,
            Op.Add when index.Args[1].Op == Op.Index && index.Args[0].Op == Op.Constant => (int)index.Args[0].Value,
            Op.Subtract when index.Args[0].Op == Op.Index && index.Args[1].Op == Op.Constant => -(int)index.Args[1].Value,
            _ => null,
        };
    }

    /// <summary>
    /// The sums nested in a body that its pullback reads: the forward loop keeps each iteration's value on a tape of
    /// their own, so that the backward loop reads it instead of running the nested loop again (a logistic regression's
    /// dot product is then computed once per point, as by hand). A nested sum's backward loop needs nothing else of
    /// its forward loop.
    /// </summary>
    private static void KeepInnerSums(ILoopScope scope, Writer w, BodyCode forward, List<Expression> before, List<Expression> iteration)
    {
        var body = w.Body0;
        var pulledBack = Writer.NeededBy(PullbackRoots(body));
        foreach (var inner in body.Builder.Root.Nodes)
        {
            if (inner.Op != Op.Loop || inner.Loop!.Kind != LoopKind.Sum || !forward.Needed.Contains(inner) || !pulledBack.Contains(inner))
                continue;
            var tape = scope.Variable(typeof(double[]), "sums");
            scope.States[inner] = tape;
            before.Add(Expression.Assign(tape, Expression.Call(typeof(LoopRuntime), nameof(LoopRuntime.RentTape), null, w.Count)));
            iteration.Add(Expression.Assign(Expression.ArrayAccess(tape, Expression.Subtract(w.I, w.Start)), forward.Read(inner)));
        }
    }

    // In a backward loop: the nested sums the forward loop kept are read from their tapes, which go back after the loop.
    // (Not returned where another backward loop of the same loop may read them still, see PulledBackTwice.)
    private static void ReadInnerSums(ILoopScope scope, Writer w, Node loop, List<Expression> after)
    {
        var shared = PulledBackTwice(loop);
        foreach (var inner in w.Body0.Builder.Root.Nodes)
        {
            if (inner.Op != Op.Loop || !scope.States.TryGetValue(inner, out var tape))
                continue;
            w.Known[inner] = Expression.ArrayIndex(tape, Expression.Subtract(w.I, w.Start));
            if (!shared)
                after.Add(Expression.Call(typeof(LoopRuntime), nameof(LoopRuntime.ReturnTape), null, tape));
        }
    }

    /// <summary>The backward loop of <paramref name="adjoint"/>: its outputs are written to <paramref name="homes"/> (by projection).</summary>
    public static Expression Backward(ILoopScope scope, Node adjoint, ParameterExpression?[] homes)
    {
        var loop = adjoint.Args[0];
        var body = loop.Loop!;
        var w = new Writer(scope, loop);
        var statements = new List<Expression>();
        var iteration = new List<Expression>();
        var after = new List<Expression>();
        var roots = PullbackRoots(body);
        var pullback = body.Pullback;

        switch (body.Kind)
        {
            case LoopKind.Sum:
            {
                w.Seed = Seed(w, scope.Read(adjoint.Args[1]));
                ReadInnerSums(scope, w, loop, after);
                var written = w.Body(roots);
                iteration.AddRange(written.Statements);
                Accumulate(w, adjoint, homes, written, iteration, add: true, statements);
                break;
            }
            case LoopKind.Fold:
            {
                // Backwards over the tape: the accumulator's adjoint passes from each iteration to the one before.
                var tape = scope.States[loop];
                var bar = w.Local(typeof(double), "accumulatorBar", scope.Read(adjoint.Args[1]));
                w.Seed = bar;
                w.Accumulator = w.Local(typeof(double), "accumulator");
                iteration.Add(Expression.Assign(w.Accumulator, At(tape, w, 0)));
                // The iteration's value is the next accumulator, on the tape: a rule that reads its own output (σ' = σ(1 − σ))
                // reads it there instead of computing it again.
                // (Not a nested fold, max or min: its own backward loop needs its forward loop to run again.)
                if (body.Output.Op != Op.Loop || body.Output.Loop!.Kind == LoopKind.Sum)
                    w.Known[body.Output] = At(tape, w, 1);
                // A second accumulator's adjoint starts at 0: the loop's value is the first's.
                ParameterExpression? secondBar = null, secondTape = null;
                if (body.SecondOutput is { } secondOutput)
                {
                    secondTape = scope.States[SecondTapeKey(body)];
                    secondBar = w.Local(typeof(double), "secondBar", Expression.Constant(0.0));
                    w.SecondSeed = secondBar;
                    w.SecondAccumulator = w.Local(typeof(double), "second");
                    iteration.Add(Expression.Assign(w.SecondAccumulator, At(secondTape, w, 0)));
                    if (secondOutput.Op != Op.Loop)
                        w.Known[secondOutput] = At(secondTape, w, 1);
                }
                ReadInnerSums(scope, w, loop, after);
                var written = w.Body(roots);
                iteration.AddRange(written.Statements);
                Accumulate(w, adjoint, homes, written, iteration, add: true, statements);
                if (secondBar is null)
                    iteration.Add(Expression.Assign(bar, pullback.Accumulator is { } a ? written.Read(a) : Expression.Constant(0.0)));
                else
                {
                    // Both adjoints are read before either changes: either may be the other's.
                    var nextBar = w.Local(typeof(double), "nextBar");
                    iteration.Add(Expression.Assign(nextBar, pullback.Accumulator is { } a ? written.Read(a) : Expression.Constant(0.0)));
                    iteration.Add(Expression.Assign(secondBar, pullback.SecondAccumulator is { } a2 ? written.Read(a2) : Expression.Constant(0.0)));
                    iteration.Add(Expression.Assign(bar, nextBar));
                }
                var projections = Projections(adjoint);
                var init = Array.FindIndex(projections, p => p?.Param == 2);
                var whole = new List<Expression>(w.Preheader());
                whole.AddRange(statements);
                whole.Add(w.Loop(iteration, backwards: true));
                if (init >= 0 && homes[init] is { } initHome)
                    whole.Add(Expression.Assign(initHome, bar));
                if (secondBar is not null && Array.FindIndex(projections, p => p?.Param == body.SecondInit) is var secondInit and >= 0
                    && homes[secondInit] is { } secondHome)
                    whole.Add(Expression.Assign(secondHome, secondBar));
                // A fold pulled back twice (a second sweep crosses it again) leaves its tapes to the collector: the other
                // backward loop may still read them.
                if (!PulledBackTwice(loop))
                {
                    whole.Add(Expression.Call(typeof(LoopRuntime), nameof(LoopRuntime.ReturnTape), null, tape));
                    if (secondTape is not null)
                        whole.Add(Expression.Call(typeof(LoopRuntime), nameof(LoopRuntime.ReturnTape), null, secondTape));
                }
                whole.AddRange(after);
                return Expression.Block(typeof(void), w.Locals, whole);
            }
            default:
            {
                // Only the iteration that was picked has a gradient.
                var best = scope.States[loop];
                w.Seed = Seed(w, scope.Read(adjoint.Args[1]));
                var written = w.Body(roots);
                var once = new List<Expression> { Expression.Assign(w.I, best) };
                once.AddRange(written.Statements);
                Accumulate(w, adjoint, homes, written, once, add: false, statements);
                var whole = new List<Expression>(w.Preheader(checkAffine: false));
                whole.AddRange(statements);
                whole.AddRange(once);
                whole.Add(Expression.Empty());
                return Expression.Block(typeof(void), w.Locals, whole);
            }
        }

        var all = new List<Expression>(w.Preheader());
        all.AddRange(statements);
        all.Add(w.Loop(iteration, backwards: false));
        all.AddRange(after);
        all.Add(Expression.Empty());
        return Expression.Block(typeof(void), w.Locals, all);
    }

    // A fold's accumulator entering the iteration (offset 0), or leaving it (1), on its tape.
    private static Expression At(ParameterExpression tape, Writer w, int offset) =>
        Expression.ArrayIndex(tape, Expression.Add(Expression.Subtract(w.I, w.Start), Expression.Constant(offset)));

    /// <summary>
    /// True if a sum's forward and backward loops can be one: its adjoint is known before it runs (the caller checks that)
    /// and every index is checked before the loop, so that nothing is written before an index out of range is found.
    /// </summary>
    public static bool CanFuse(Node loop) =>
        loop.Loop!.Kind == LoopKind.Sum && Writer.AllChecksBeforeLoop(loop.Loop);

    // What a body's pullback must compute: the adjoints of the accumulator and invariants, and every scatter.
    private static List<Node> PullbackRoots(LoopBody body)
    {
        var p = body.Pullback;
        var roots = new List<Node>();
        if (p.Accumulator is { } a)
            roots.Add(a);
        if (p.SecondAccumulator is { } a2)
            roots.Add(a2);
        roots.AddRange(p.Invariants.OfType<Node>());
        if (p.Directions is { } directions)
            roots.Add(directions);
        foreach (var region in DeadStages.Regions(body.Builder.Root))
            roots.AddRange(region.Nodes.Where(n => n.HasEffects));
        return roots;
    }

    /// <summary>The projections of a loop's adjoint, by output, as the builder staged them right after it; null where pruned.</summary>
    public static Node?[] Projections(Node adjoint)
    {
        var owner = adjoint.Owner!.Nodes;
        var at = owner.IndexOf(adjoint);
        var result = new List<Node?>();
        for (var k = at + 1; k < owner.Count && owner[k].Op == Op.Project && owner[k].Args[0] == adjoint; k++)
            result.Add(owner[k]);
        return [.. result];
    }

    // Per projection of the adjoint: its home starts at 0, and each iteration adds its invariant's adjoint.
    private static void Accumulate(Writer w, Node adjoint, ParameterExpression?[] homes, BodyCode written, List<Expression> iteration, bool add,
        List<Expression> before)
    {
        var pullback = adjoint.Loop!.Pullback;
        var projections = Projections(adjoint);
        for (var k = 0; k < projections.Length; k++)
        {
            if (projections[k] is not { } projection || homes[k] is not { } home || projection.Param == 2
                || (adjoint.Loop.SecondOutput is not null && projection.Param == adjoint.Loop.SecondInit))
                continue;
            var contribution = projection.Param == LoopBody.DirectionsOutput ? pullback.Directions! : pullback.Invariants[projection.Param - LoopBody.FirstInvariant]!;
            if (add)
            {
                before.Add(Expression.Assign(home, Expression.Constant(0.0)));
                iteration.Add(Expression.AddAssign(home, written.Read(contribution)));
            }
            else
                iteration.Add(Expression.Assign(home, written.Read(contribution)));
        }
    }

    /// <summary>The statements of one iteration, and how to read the body's values after them.</summary>
    internal sealed record BodyCode(List<Expression> Statements, Func<Node, Expression> Read, HashSet<Node> Needed);

    /// <summary>One loop being written: its counter, range, invariants, and the body's code.</summary>
    private sealed class Writer : ILoopScope
    {
        private readonly ILoopScope _outer;
        private readonly Node _loop;
        private readonly LoopBody _body;
        private readonly ParameterExpression[] _invariants;
        private readonly Dictionary<int, ParameterExpression> _intInvariants = [];
        private readonly Dictionary<int, ParameterExpression> _lengths = [];
        private readonly Dictionary<Expression, ParameterExpression> _captured = [];
        private readonly List<(Node Read, Expression[] Lengths)> _affine = [];
        private readonly Dictionary<Node, Expression> _values = [];
        private readonly List<Expression> _hoisted = [];

        public Writer(ILoopScope outer, Node loop)
        {
            _outer = outer;
            _loop = loop;
            _body = loop.Loop!;
            I = Expression.Variable(typeof(int), _body.Variable);
            Start = Expression.Variable(typeof(int), "start");
            Count = Expression.Variable(typeof(int), "count");
            End = Expression.Variable(typeof(int), "end");
            Locals.AddRange([I, Start, Count, End]);
            _invariants = new ParameterExpression[_body.InvariantCount];
            for (var j = 0; j < _invariants.Length; j++)
            {
                var value = outer.Read(loop.Args[LoopBody.FirstInvariant + j]);
                _invariants[j] = Local(value.Type, $"invariant{j}", value);
            }
        }

        public List<ParameterExpression> Locals { get; } = [];

        public ParameterExpression I { get; }

        public ParameterExpression Start { get; }

        public ParameterExpression Count { get; }

        public ParameterExpression End { get; }

        public LabelTarget Done { get; } = Expression.Label("done");

        public Expression? Seed { get; set; }

        /// <summary>Scatters that are the first write of their element (see <see cref="FirstWrites"/>): stores.</summary>
        public HashSet<Node> Stores { get; } = [];

        /// <summary>Body values known without computing them (a fold's value, from its tape).</summary>
        public Dictionary<Node, Expression> Known { get; } = [];

        public Expression? Accumulator { get; set; }

        /// <summary>A fold's second accumulator (<see cref="LoopBody.SecondOutput"/>), and in its pullback, its adjoint.</summary>
        public Expression? SecondAccumulator { get; set; }

        public Expression? SecondSeed { get; set; }

        public Frame Frame => _outer.Frame;

        public StagedGraph Graph => _outer.Graph;

        public Dictionary<Node, ParameterExpression> States { get; } = [];

        // A nested loop reads this loop's body values; they are written before it in the same iteration.
        public Expression Read(Node outer) =>
            _values.TryGetValue(outer, out var v) ? v : Known.TryGetValue(outer, out var known) ? known : ReadInput(outer);

        public ParameterExpression Variable(Type type, string name)
        {
            var v = Expression.Variable(type, name);
            Locals.Add(v);
            return v;
        }

        public ParameterExpression Local(Type type, string name, Expression? value = null)
        {
            var v = Variable(type, name);
            if (value is not null)
                _hoisted.Add(Expression.Assign(v, value));
            return v;
        }

        /// <summary>Range, invariants, arrays and lengths, then the checks of affine indices at the first and last iteration.</summary>
        public IEnumerable<Expression> Preheader(bool checkAffine = true)
        {
            var start = _outer.Read(_loop.Args[0]);
            var count = _outer.Read(_loop.Args[1]);
            yield return Expression.Assign(Start, AsInt(start));
            yield return Expression.Assign(Count, Expression.Call(typeof(LoopRuntime), nameof(LoopRuntime.Count), null, AsInt(count), Expression.Constant(_body.Text)));
            yield return Expression.Assign(End, Expression.Add(Start, Count));
            foreach (var statement in _hoisted)
                yield return statement;
            if (!checkAffine || _affine.Count == 0)
                yield break;
            var checks = new List<Expression>();
            foreach (var at in new Expression[] { Start, Expression.Subtract(End, Expression.Constant(1)) })
                foreach (var (read, lengths) in _affine)
                    for (var d = 0; d < lengths.Length; d++)
                        checks.Add(Check(IntOf(read.Args[d], at), lengths[d], read));
            yield return Expression.IfThen(Expression.GreaterThan(Count, Expression.Constant(0)), Expression.Block(typeof(void), checks));
        }

        public Expression Loop(List<Expression> iteration, bool backwards)
        {
            if (backwards)
            {
                return Expression.Block(
                    Expression.Assign(I, Expression.Subtract(End, Expression.Constant(1))),
                    Expression.Loop(Expression.IfThenElse(Expression.GreaterThanOrEqual(I, Start),
                        Expression.Block(typeof(void), iteration.Append(Expression.PostDecrementAssign(I))), Expression.Break(Done)), Done));
            }
            return Expression.Block(
                Expression.Assign(I, Start),
                Expression.Loop(Expression.IfThenElse(Expression.LessThan(I, End),
                    Expression.Block(typeof(void), iteration.Append(Expression.PreIncrementAssign(I))), Expression.Break(Done)), Done));
        }

        /// <summary>Writes the body stages that <paramref name="roots"/> need, in order, for one iteration.</summary>
        public BodyCode Body(IReadOnlyList<Node> roots)
        {
            var needed = Needed(roots, Known);
            CollectUses(needed, roots);
            var statements = new List<Expression>();
            StackGuard.Run(() => WriteRegion(_body.Builder.Root, needed, statements));
            return new BodyCode(statements, Read, needed);
        }

        // By body stage of the root region: the position of the last root-region stage that reads it (a conditional
        // reads what its branches read). Its variable is free for another stage after that, so a long body stays within
        // the JIT's locals. What is read after the body's statements (the roots, nested loops' values) is never freed.
        private readonly Dictionary<Node, int> _lastUse = [];
        private readonly Dictionary<Type, Stack<ParameterExpression>> _free = [];

        private void CollectUses(HashSet<Node> needed, IReadOnlyList<Node> roots)
        {
            var root = _body.Builder.Root;
            for (var at = 0; at < root.Nodes.Count; at++)
            {
                var n = root.Nodes[at];
                if (!needed.Contains(n))
                    continue;
                foreach (var arg in Reads(n))
                    _lastUse[arg] = at;
                if (n.Op != Op.Condition)
                    continue;
                foreach (var region in DeadStages.Regions(n.Then!).Concat(DeadStages.Regions(n.Else!)))
                {
                    foreach (var value in region.Results.Concat(region.Nodes.SelectMany(Reads)))
                        if (value.Owner == root)
                            _lastUse[value] = at;
                }
            }
            foreach (var kept in roots.Concat(root.Nodes.Where(n => n.Op == Op.Loop)))
                _lastUse[kept] = int.MaxValue;
        }

        // What a stage reads as values: its arguments, but for an index only the stages it reads as values.
        private static IEnumerable<Node> Reads(Node n) => n.Op switch
        {
            Op.Read => n.Args.SelectMany(IndexLeaves),
            Op.ScatterAdd => n.Args.Skip(1).SelectMany(IndexLeaves).Prepend(n.Args[0]),
            _ => n.Args,
        };

        // After root-region stage k has read its arguments, those it read last free their variables.
        private void ReleaseDead(Node n, int k)
        {
            foreach (var arg in Reads(n).Distinct())
                if (arg.Owner == _body.Builder.Root && _lastUse.GetValueOrDefault(arg, -1) == k
                    && _values.Remove(arg, out var value) && value is ParameterExpression variable)
                    (_free.TryGetValue(variable.Type, out var pool) ? pool : _free[variable.Type] = new()).Push(variable);
        }

        /// <summary>The body stages <paramref name="roots"/> read, transitively.</summary>
        public static HashSet<Node> NeededBy(IEnumerable<Node> roots) => Needed(roots, []);

        /// <summary>The body being written.</summary>
        public LoopBody Body0 => _body;

        // What the roots read, transitively; a stage inside a branch brings its conditional, an index its leaves.
        private static HashSet<Node> Needed(IEnumerable<Node> roots, Dictionary<Node, Expression> known)
        {
            var needed = new HashSet<Node>();
            var pending = new Stack<Node>(roots);
            while (pending.TryPop(out var n))
            {
                if (n.Op == Op.Constant || known.ContainsKey(n) || !needed.Add(n))
                    continue;
                var indexArgs = n.Op switch { Op.Read => n.Args.Length, Op.ScatterAdd => n.Args.Length - 1, _ => 0 };
                var first = n.Op == Op.ScatterAdd ? 1 : 0;
                for (var k = 0; k < n.Args.Length; k++)
                {
                    if (k >= first && k < first + indexArgs)
                        foreach (var leaf in IndexLeaves(n.Args[k]))
                            pending.Push(leaf);
                    else
                        pending.Push(n.Args[k]);
                }
                if (n.Owner?.Host is { } host)
                    pending.Push(host);
                if (n.Op == Op.Condition)
                    foreach (var result in n.Then!.Results.Concat(n.Else!.Results))
                        pending.Push(result);
                if (n.Op == Op.Project)
                    pending.Push(n.Args[0]);
            }
            return needed;
        }

        // The stages an index reads as values: what is not integer arithmetic on the loop variable, constants and invariants.
        private static IEnumerable<Node> IndexLeaves(Node index)
        {
            var pending = new Stack<Node>([index]);
            while (pending.TryPop(out var n))
            {
                if (IsIntegerArithmetic(n))
                    foreach (var arg in n.Args)
                        pending.Push(arg);
                else if (n.Op is not (Op.Constant or Op.Index or Op.Input))
                    yield return n;
            }
        }

        private static bool IsIntegerArithmetic(Node n) => n.Op is Op.Add or Op.Subtract or Op.Multiply or Op.Negate or Op.IntegerDivide or Op.Remainder;

        private void WriteRegion(Region region, HashSet<Node> needed, List<Expression> statements)
        {
            var top = region == _body.Builder.Root;
            for (var k = 0; k < region.Nodes.Count; k++)
            {
                var n = region.Nodes[k];
                if (!needed.Contains(n) || n.Op is Op.Input or Op.Index or Op.Project)
                    continue;
                WriteStage(region, needed, statements, k, n);
                if (top)
                    ReleaseDead(n, k);
            }
        }

        private void WriteStage(Region region, HashSet<Node> needed, List<Expression> statements, int k, Node n)
        {
            {
                switch (n.Op)
                {
                    case Op.Condition:
                        WriteCondition(n, region.Nodes.Skip(k + 1).TakeWhile(p => p.Op == Op.Project && p.Args[0] == n).Where(needed.Contains).ToList(), needed, statements);
                        return;
                    case Op.ScatterAdd:
                        statements.Add(Scatter(n));
                        return;
                    case Op.LoopAdjoint:
                    {
                        var projections = Projections(n);
                        var homes = Array.ConvertAll(projections, p => p is not null && needed.Contains(p) ? Define(p) : null);
                        statements.Add(Backward(this, n, homes));
                        return;
                    }
                    case Op.Loop:
                    {
                        // Its backward loop, if this pass runs it, may be in a backward branch of a conditional of the body.
                        var value = Forward(this, n, keepState: needed.Any(a => a.Op == Op.LoopAdjoint && a.Args[0] == n));
                        statements.Add(Expression.Assign(Define(n), value));
                        return;
                    }
                }
                var expression = n.Op switch
                {
                    Op.Captured => n.Live!,
                    Op.Read => ReadElement(n, region == _body.Builder.Root),
                    _ => RuleTable.Of(n).Emit(Array.ConvertAll(n.Args, Read)),
                };
                statements.Add(Expression.Assign(Define(n), expression));
            }
        }

        private void WriteCondition(Node condition, List<Node> outputs, HashSet<Node> needed, List<Expression> statements)
        {
            var homes = outputs.ConvertAll(Define);
            Expression Branch(Region region)
            {
                var branch = new List<Expression>();
                StackGuard.Run(() => WriteRegion(region, needed, branch));
                for (var k = 0; k < outputs.Count; k++)
                    branch.Add(Expression.Assign(homes[k], Read(region.Results[outputs[k].Param])));
                branch.Add(Expression.Empty());
                return Expression.Block(typeof(void), branch);
            }
            statements.Add(Expression.IfThenElse(Read(condition.Args[0]), Branch(condition.Then!), Branch(condition.Else!)));
        }

        private ParameterExpression Define(Node n)
        {
            var type = n.IsBool ? typeof(bool) : typeof(double);
            var v = _free.TryGetValue(type, out var pool) && pool.TryPop(out var reused) ? reused : Variable(type, $"b{n.Id}");
            _values[n] = v;
            return v;
        }

        private Expression ReadInput(Node n)
        {
            if (n.Op == Op.Constant)
                return n.IsBool ? Expression.Constant(n.Value != 0) : Expression.Constant(n.Value);
            if (n.Op == Op.Index)
                return Expression.Convert(I, typeof(double));
            if (n.Op == Op.Input && n.Owner == _body.Builder.Root)
                return n.Param switch
                {
                    -1 => Seed ?? throw new InvalidOperationException("internal error: a loop body's seed is read outside its pullback"),
                    0 => Accumulator ?? throw new InvalidOperationException("internal error: the accumulator is read outside a fold"),
                    LoopBody.SecondAccumulatorInput => SecondAccumulator ?? throw new InvalidOperationException("internal error: a second accumulator is read outside its fold"),
                    LoopBody.SecondSeedInput => SecondSeed ?? throw new InvalidOperationException("internal error: a second accumulator's adjoint is read outside its pullback"),
                    _ => _invariants[n.Param - 1],
                };
            throw new InvalidOperationException($"internal error: body stage {n} is read before it is computed");
        }

        // An index as an int: integer arithmetic on the loop variable (or, for the checks, its value at), constants and invariants.
        private Expression IntOf(Node n, Expression? at = null)
        {
            switch (n.Op)
            {
                case Op.Constant:
                    return Expression.Constant((int)n.Value);
                case Op.Index:
                    return at ?? I;
                case Op.Add:
                    return Expression.Add(IntOf(n.Args[0], at), IntOf(n.Args[1], at));
                case Op.Subtract:
                    return Expression.Subtract(IntOf(n.Args[0], at), IntOf(n.Args[1], at));
                case Op.Multiply:
                    return Expression.Multiply(IntOf(n.Args[0], at), IntOf(n.Args[1], at));
                case Op.Negate:
                    return Expression.Negate(IntOf(n.Args[0], at));
                case Op.IntegerDivide:
                    return Expression.Divide(IntOf(n.Args[0], at), IntOf(n.Args[1], at));
                case Op.Remainder:
                    return Expression.Modulo(IntOf(n.Args[0], at), IntOf(n.Args[1], at));
                case Op.Input when n.Param >= 1 && n.Owner == _body.Builder.Root:
                    var j = n.Param - 1;
                    if (!_intInvariants.TryGetValue(j, out var local))
                        _intInvariants[j] = local = Local(typeof(int), $"invariant{j}Index", AsInt(_invariants[j]));
                    return local;
                default:
                    return AsInt(Read(n));
            }
        }

        private static Expression AsInt(Expression value) =>
            value is ConstantExpression { Value: double d } ? Expression.Constant((int)d) : Expression.Convert(value, typeof(int));

        // Affine in the loop variable, with coefficients fixed for the loop: checked at the first and last iteration.
        private static bool IsAffine(Node n) => !DependsOnIndex(n) || n.Op switch
        {
            Op.Index => true,
            Op.Add or Op.Subtract => IsAffine(n.Args[0]) && IsAffine(n.Args[1]),
            Op.Negate => IsAffine(n.Args[0]),
            Op.Multiply => (!DependsOnIndex(n.Args[0]) && IsAffine(n.Args[1])) || (!DependsOnIndex(n.Args[1]) && IsAffine(n.Args[0])),
            _ => false,
        };

        // Through any stage, not only integer arithmetic: the builder stages i * i as Square(i), which reads i too.
        private static bool DependsOnIndex(Node n) => n.Op == Op.Index || n.Args.Any(DependsOnIndex);

        /// <summary>True if every index the body reads is affine and read in every iteration, and no loop is nested in it.</summary>
        public static bool AllChecksBeforeLoop(LoopBody body)
        {
            foreach (var region in DeadStages.Regions(body.Builder.Root))
                foreach (var n in region.Nodes)
                    if (n.Op == Op.Loop || (n.Op == Op.Read && (region != body.Builder.Root || !n.Args.All(IsAffine))))
                        return false;
            return true;
        }

        // An element: its indices checked (before the loop if affine and always read, else here), then read.
        private Expression ReadElement(Node read, bool always)
        {
            var (array, lengths) = ArrayOf(read);
            var affine = always && read.Args.All(IsAffine);
            if (affine && !_affine.Exists(a => a.Read == read))
                _affine.Add((read, lengths));
            var indices = new ParameterExpression[read.Args.Length];
            var statements = new List<Expression>();
            for (var d = 0; d < indices.Length; d++)
            {
                indices[d] = Expression.Variable(typeof(int), $"index{d}");
                statements.Add(Expression.Assign(indices[d], IntOf(read.Args[d])));
                if (!affine)
                    statements.Add(Check(indices[d], lengths[d], read));
            }
            statements.Add(Element(read, array, indices));
            return Expression.Block(typeof(double), indices, statements);
        }

        private Expression Check(Expression index, Expression length, Node read) =>
            Expression.Call(typeof(LoopRuntime), nameof(LoopRuntime.Index), null, index, length,
                Expression.Constant(ArrayName(read)), Expression.Constant(read.IndexText ?? "?"));

        private string ArrayName(Node read) => read.Live is { } live ? DataText.Of(live) : Graph.Parameters[read.Param].Name;

        // The array (a parameter's, or a captured one held in a local) and its lengths, read once before the loop.
        private (Expression? Array, Expression[] Lengths) ArrayOf(Node read)
        {
            if (read.Live is null)
            {
                if (!_lengths.TryGetValue(read.Param, out var length))
                    _lengths[read.Param] = length = Local(typeof(int), $"length{read.Param}", Frame.ArrayLength(read.Param));
                return (null, [length]);
            }
            if (!_captured.TryGetValue(read.Live, out var array))
                _captured[read.Live] = array = Local(read.Live.Type, "data", read.Live);
            Expression[] lengths = read.Live.Type == typeof(double[]) ? [Expression.ArrayLength(array)]
                : read.Live.Type == typeof(double[,]) ? [Expression.Call(array, "GetLength", null, Expression.Constant(0)), Expression.Call(array, "GetLength", null, Expression.Constant(1))]
                : read.Live.Type == typeof(Vector<double>) ? [Expression.Property(array, nameof(Vector<double>.Count))]
                : [Expression.Property(array, nameof(Matrix<double>.RowCount)), Expression.Property(array, nameof(Matrix<double>.ColumnCount))];
            return (array, lengths);
        }

        private Expression Element(Node read, Expression? array, ParameterExpression[] indices) =>
            array is null ? Frame.ArrayRead(read.Param, indices[0])
            : array.Type.IsArray ? Expression.ArrayAccess(array, indices)
            : Expression.Call(array, "At", null, indices);

        private Expression Scatter(Node scatter)
        {
            // The element was read (and checked) by the forward stages of this iteration, at the same index.
            var index = IntOf(scatter.Args[1]);
            return Stores.Contains(scatter)
                ? Frame.ArrayStore(scatter.Param, index, Read(scatter.Args[0]))
                : Frame.ArrayScatter(scatter.Param, index, Read(scatter.Args[0]));
        }
    }
}
