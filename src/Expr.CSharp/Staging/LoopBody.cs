using ExprGrad.Reverse;

namespace ExprGrad.Staging;

/// <summary>What a loop does with its body's value in each iteration.</summary>
internal enum LoopKind
{
    /// <summary>Adds them up: <c>Sum</c>. An empty loop is 0.</summary>
    Sum,

    /// <summary>Carries an accumulator: <c>Aggregate(seed, (acc, i) =&gt; ...)</c>. An empty loop is the seed.</summary>
    Fold,

    /// <summary>Keeps the largest: <c>Max</c>. The gradient goes to the first iteration that attains it.</summary>
    Max,

    /// <summary>Keeps the smallest: <c>Min</c>. The gradient goes to the first iteration that attains it.</summary>
    Min,
}

/// <summary>
/// The body of a loop over data: a small staged graph of its own, built and differentiated once, whatever the number
/// of iterations. It reads the loop's variable (<see cref="Index"/>, whose value is <c>start + k</c> in iteration k),
/// for a fold the accumulator (<c>Input(0)</c>), and what it needs from outside as invariants (<c>Input(1 + j)</c>, the
/// Loop node's argument <c>3 + j</c>). Array elements are <see cref="Op.Read"/> stages at indices computed from the
/// loop's variable; an array parameter's element pulls back by a <see cref="Op.ScatterAdd"/> into its gradient.
/// </summary>
/// <remarks>A Loop node's arguments are <c>[start, count, init, invariant 0, invariant 1, ...]</c>; init is 0 unless it folds.</remarks>
internal sealed class LoopBody
{
    private LoopPullback? _pullback;

    public LoopBody(LoopKind kind, GraphBuilder builder, Node index, Node output, int invariants, string variable)
    {
        Kind = kind;
        Builder = builder;
        Index = index;
        Output = output;
        InvariantCount = invariants;
        Variable = variable;
    }

    /// <summary>The number of Loop node arguments before the invariants.</summary>
    public const int FirstInvariant = 3;

    /// <summary>
    /// The <see cref="Op.Project"/> parameter of a loop adjoint's output that is its body's dot products with a direction
    /// (<see cref="LoopPullback.Directions"/>): argument 1 of a loop is its count, which has no adjoint of its own.
    /// </summary>
    public const int DirectionsOutput = 1;

    public LoopKind Kind { get; }

    public GraphBuilder Builder { get; }

    /// <summary>The loop variable: the iteration's index into the range (an integer, carried as a double).</summary>
    public Node Index { get; }

    /// <summary>The body's value in one iteration (for a fold, the next accumulator).</summary>
    public Node Output { get; }

    public int InvariantCount { get; }

    /// <summary>The loop variable's name as the user wrote it (or <c>i</c>), for display.</summary>
    public string Variable { get; }

    /// <summary>The loop as the user wrote it, shortened (<c>a.Zip(b, ...).Sum()</c>), for messages and display.</summary>
    public string Text { get; init; } = "the loop";

    /// <summary>
    /// True for a body that holds an earlier sweep's stages (a copy of a body with its pullback, see
    /// <see cref="LoopSecondOrder"/>): its own pullback sweeps them again (<see cref="ReverseSweep.Pullback"/>).
    /// </summary>
    public bool Again { get; init; }

    /// <summary>
    /// For a Max or Min: the loop's value is the index of the iteration it picks (the loop variable's value there), not
    /// the body's value. The second sweep crosses a Max's pullback as a sum over that one iteration.
    /// </summary>
    public bool PicksIndex { get; init; }

    /// <summary>The accumulator of a fold: the body's input 0.</summary>
    public Node Accumulator => Builder.Input(0, -1);

    /// <summary>The body input of a fold's second accumulator (<see cref="SecondOutput"/>).</summary>
    public const int SecondAccumulatorInput = -3;

    /// <summary>The body input standing for the adjoint of a fold's second accumulator, in its pullback.</summary>
    public const int SecondSeedInput = -4;

    /// <summary>
    /// For a fold that carries a second accumulator (body input <see cref="SecondAccumulatorInput"/>), its next value; null
    /// for one accumulator. The loop's value is the first accumulator's; the second's initial value is the Loop node's
    /// argument after the invariants. Only the second sweep builds such folds (<see cref="LoopSecondOrder.Fold"/>): a
    /// fold's tangent, whose second accumulator is the fold's own.
    /// </summary>
    public Node? SecondOutput { get; init; }

    /// <summary>The Loop node argument of the second accumulator's initial value.</summary>
    public int SecondInit => FirstInvariant + InvariantCount;

    /// <summary>Invariant <paramref name="j"/> as the body reads it.</summary>
    public Node Invariant(int j) => Builder.Input(1 + j, -1);

    /// <summary>
    /// The body's reverse sweep, built on first use into the same graph: from <see cref="LoopPullback.Seed"/> (the
    /// adjoint of the body's value), the adjoints of the accumulator and of each invariant, and the scatters of array
    /// elements. The engine builds a graph on one thread, so no lock is needed.
    /// </summary>
    public LoopPullback Pullback => _pullback ??= BuildPullback(null, null);

    /// <summary>
    /// The pullback for a loop whose adjoint is <paramref name="bar"/>: when that is a number and every iteration's seed
    /// is that number (a sum, a max or a min, not a fold), the body's sweep is built from the number itself, so its
    /// constant factors fold (100 · 2r is 200r, as a person writes it). The first call decides; the reverse sweep makes it.
    /// </summary>
    /// <remarks>With <paramref name="directions"/>, the sweep dots array gradients with a direction instead of scattering them.</remarks>
    public LoopPullback PullbackFor(Node bar, Directions? directions = null) =>
        _pullback ??= BuildPullback(Kind != LoopKind.Fold && bar.Op == Op.Constant && !bar.IsBool ? Builder.Constant(bar.Value) : null, directions?.ForBody());

    /// <summary>The pullback if it has been built, else null: display reads a graph without adding stages to it.</summary>
    public LoopPullback? BuiltPullback => _pullback;

    /// <summary>
    /// The body's forward stages: those staged before the pullback's seed (all of them while there is no pullback).
    /// The pullback is built after them into the same graph, so its stages are the rest.
    /// </summary>
    public bool IsForward(Node n) => _pullback is not { } p || n.Id < p.FirstBackwardId;

    private LoopPullback BuildPullback(Node? constantSeed, Directions? directions)
    {
        var first = Builder.Count;
        var seed = constantSeed ?? Builder.Input(-1, -1);
        var second = SecondOutput is { } output ? (output, Builder.Input(SecondSeedInput, -1)) : ((Node, Node)?)null;
        var adjoints = ReverseSweep.Pullback(Builder, Output, seed, Again, directions, second);
        var invariants = new Node?[InvariantCount];
        for (var j = 0; j < invariants.Length; j++)
            invariants[j] = adjoints.GetValueOrDefault(Invariant(j));
        var accumulator = Kind == LoopKind.Fold ? adjoints.GetValueOrDefault(Accumulator) : null;
        var secondAccumulator = second is null ? null : adjoints.GetValueOrDefault(Builder.Input(SecondAccumulatorInput, -1));
        var effects = DeadStages.Regions(Builder.Root).Any(r => r.Nodes.Any(n => n.HasEffects));
        return new LoopPullback(seed, first, accumulator, invariants, effects, directions is null ? null : adjoints.GetValueOrDefault(directions.Sink))
        {
            SecondAccumulator = secondAccumulator,
        };
    }
}

/// <summary>The reverse sweep of a loop body (see <see cref="LoopBody.Pullback"/>).</summary>
/// <param name="Seed">The body input standing for the adjoint of the body's value, or that adjoint itself when it is a number.</param>
/// <param name="FirstBackwardId">The id of the sweep's first stage: the body's stages from it on are backward.</param>
/// <param name="Accumulator">For a fold: the adjoint of the accumulator the iteration read; null if none.</param>
/// <param name="Invariants">Per invariant, its adjoint from one iteration; null where there is none.</param>
/// <param name="HasEffects">True if the sweep adds to array gradients (directly or in a nested loop).</param>
/// <param name="Directions">For a sweep that dots array gradients with a direction (<see cref="Directions"/>): one
/// iteration's dot products; null if none.</param>
internal sealed record LoopPullback(Node Seed, int FirstBackwardId, Node? Accumulator, Node?[] Invariants, bool HasEffects, Node? Directions = null)
{
    /// <summary>For a fold with a second accumulator: that accumulator's adjoint; null if none.</summary>
    public Node? SecondAccumulator { get; init; }
}
