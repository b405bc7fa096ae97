using ExprGrad.Reverse;

namespace ExprGrad.Staging;

/// <summary>
/// The scalar function an <see cref="Op.Map"/> applies element by element: a small staged graph of its own whose
/// input k (<c>Input(k)</c>) is element i of the Map's argument k (or argument k itself, where that is a scalar).
/// The scalar engine differentiates it, so <c>Map(t =&gt; Math.Tanh(t))</c> gets its derivative from the tanh rule,
/// not from a special case.
/// </summary>
internal sealed class MapBody
{
    private MapBody?[]? _derivatives;

    /// <param name="builder">The body's own graph.</param>
    /// <param name="arity">The number of arguments the Map passes.</param>
    /// <param name="output">The value of one element.</param>
    /// <param name="name">The name of a built-in element-wise operation (<c>+</c>, <c>exp</c>, <c>softmax'</c>): equal
    /// names (and operations) on equal arguments are one node. Null for a user's lambda and for a derivative.</param>
    /// <param name="cached">A node of the body whose value is not computed but read from argument
    /// <paramref name="cachedArg"/>: the forward output, in a backward Map.</param>
    /// <param name="cachedArg">The argument holding <paramref name="cached"/>'s values.</param>
    /// <param name="operation">The scalar operation a built-in element-wise Map applies, if it is one.</param>
    public MapBody(GraphBuilder builder, int arity, Node output, string? name, Node? cached = null, int cachedArg = -1, Op? operation = null)
    {
        Builder = builder;
        Arity = arity;
        Output = output;
        Name = name;
        Cached = cached;
        CachedArg = cachedArg;
        Operation = operation;
    }

    public GraphBuilder Builder { get; }

    public int Arity { get; }

    public Node Output { get; }

    public string? Name { get; }

    public Node? Cached { get; }

    public int CachedArg { get; }

    /// <summary>The scalar operation of a built-in element-wise Map (<see cref="Name"/> is its symbol); null otherwise.</summary>
    public Op? Operation { get; }

    /// <summary>A body of built-in operations on its inputs: <paramref name="build"/> gets one input node per argument.</summary>
    public static MapBody Of(string name, int arity, Func<GraphBuilder, Node[], Node> build) => Of(name, new Node?[arity], build);

    /// <summary>
    /// A body of built-in operations on the Map's arguments <paramref name="args"/>: a constant argument is built in,
    /// so the body simplifies (1·x is x, and that Map is no stage at all).
    /// </summary>
    public static MapBody Of(string name, Node?[] args, Func<GraphBuilder, Node[], Node> build, Op? operation = null)
    {
        var b = new GraphBuilder();
        var inputs = new Node[args.Length];
        for (var k = 0; k < args.Length; k++)
            inputs[k] = args[k] is { Op: Op.Constant, IsBool: false } c ? b.Constant(c.Value) : b.Input(k, -1);
        return new MapBody(b, args.Length, build(b, inputs), name, operation: operation);
    }

    /// <summary>
    /// The backward body for argument <paramref name="k"/>: the contribution ȳ·∂f/∂a_k of one element, a function of
    /// the arguments, the cached forward value (argument <see cref="Arity"/>) and the output adjoint (argument
    /// <see cref="Arity"/> + 1). Null where the derivative is a symbolic zero. The backward pass reads σ from the forward
    /// pass instead of computing it again, as the seeds' "cache the forward variables" says.
    /// </summary>
    public MapBody? Derivative(int k)
    {
        if (_derivatives is null)
        {
            var derivatives = new MapBody?[Arity];
            var seed = Builder.Input(Arity + 1, -1);
            var adjoints = ReverseSweep.Pullback(Builder, Output, seed);
            for (var i = 0; i < Arity; i++)
                if (adjoints.TryGetValue(Builder.Input(i, -1), out var d))
                    derivatives[i] = new MapBody(Builder, Arity + 2, d, name: null, cached: Output, cachedArg: Arity);
            _derivatives = derivatives;
        }
        return _derivatives[k];
    }
}
