using System.Linq.Expressions;

namespace ExprGrad.Staging;

/// <summary>Where one lambda parameter lives in the flat layout of a point.</summary>
/// <param name="Name">The parameter's name.</param>
/// <param name="IsArray">True for a <c>double[]</c> parameter.</param>
/// <param name="Offset">Its first slot.</param>
/// <param name="Extent">Its number of slots: 1 for a scalar, the highest index read plus one for an array, 1 for a
/// vector or matrix (whose gradient is one value of its type).</param>
/// <param name="Kind">Scalar (a double or a double[]), vector or matrix.</param>
/// <param name="IsDynamic">True for an array whose length is read at the call (a loop runs over it, or its
/// <c>Length</c> is read): its gradient is cleared first and every contribution added to it, and in the flat layout it
/// must be the last parameter, taking every slot from <paramref name="Offset"/> on (<paramref name="Extent"/> is then
/// the fewest it must have).</param>
/// <param name="IsDirection">True for a parameter read after the point, never differentiated: a Hessian-vector product's
/// direction (a copy of each parameter of the point, laid out as the point) or a vector-Jacobian product's weights. Its
/// slots are at the point's length past its offset from the first such parameter's.</param>
internal sealed record ParameterLayout(string Name, bool IsArray, int Offset, int Extent, Kind Kind = Kind.Scalar, bool IsDynamic = false,
    bool IsDirection = false)
{
    /// <summary>The name of the parameter's slot <paramref name="k"/> as the user writes it: <c>x</c>, or <c>w[k]</c> for an array.</summary>
    public string SlotName(int k) => IsArray ? $"{Name}[{k}]" : Name;
}

/// <summary>
/// One line of the root's backward pass as the seeds write it: the pullback of <paramref name="From"/> (whose adjoint
/// was <paramref name="FromBar"/>) adds <paramref name="Contribution"/> to the adjoint of <paramref name="Target"/>.
/// </summary>
/// <param name="Target">The node whose adjoint grows.</param>
/// <param name="Contribution">The value added.</param>
/// <param name="From">The stage being pulled back; null for the seed and for a conditional's exports.</param>
/// <param name="FromBar">That stage's adjoint.</param>
/// <param name="First">True for the first contribution (<c>=</c>), false at a fork (<c>+=</c>).</param>
internal readonly record struct BackpropStep(Node Target, Node Contribution, Node? From, Node? FromBar, bool First);

/// <summary>
/// The staged graph of one function: the forward stages from Import and, once the reverse sweep has run,
/// the backward stages after them in the same regions, with one adjoint per flat input slot.
/// </summary>
internal sealed class StagedGraph(LambdaExpression source, GraphBuilder builder, Node output, ParameterLayout[] parameters)
{
    public LambdaExpression Source { get; } = source;

    public GraphBuilder Builder { get; } = builder;

    public Region Root => Builder.Root;

    public Node Output { get; } = output;

    public ParameterLayout[] Parameters { get; } = parameters;

    /// <summary>True if a parameter is a vector or matrix: such a function is evaluated through its typed delegate only.</summary>
    public bool HasTensorParameters { get; } = Array.Exists(parameters, p => p.Kind != Kind.Scalar);

    public int Dimension => Parameters.Length == 0 ? 0 : Parameters[^1].Offset + Parameters[^1].Extent;

    /// <summary>True if the last parameter is an array whose length is read at the call: a point is then at least <see cref="Dimension"/> long.</summary>
    public bool EndsDynamic => DynamicParameter >= 0;

    /// <summary>
    /// The parameter whose length is read at the call, or −1: the last of the point's (a direction laid out after the
    /// point copies it, see <see cref="ParameterLayout.IsDirection"/>).
    /// </summary>
    public int DynamicParameter => Array.FindLastIndex(Parameters, p => !p.IsDirection) is var k && k >= 0 && Parameters[k].IsDynamic ? k : -1;

    /// <summary>
    /// Why the function has no flat (span) layout, or null if it has one: vectors and matrices have none, and an array
    /// whose length is read at the call has one only as the last parameter.
    /// </summary>
    public string? NoFlatLayout =>
        HasTensorParameters ? "this function has Vector<double> or Matrix<double> parameters, which have no flat layout: call the typed Evaluate(...)"
        : Array.FindIndex(Parameters, p => p.IsDynamic) is var k && k >= 0 && k != DynamicParameter
            ? $"parameter '{Parameters[k].Name}' is an array whose length is read at the call, and only the last parameter can be: call the typed Evaluate(...), or make '{Parameters[k].Name}' the last parameter"
            : null;

    /// <summary>
    /// True if the graph has a loop over data anywhere, or reads an array at an index or a length known only at the call: such a
    /// graph is compiled as one method, and its straight-line stages are not re-rolled.
    /// </summary>
    public bool HasLoops => DeadStages.Regions(Root).Any(r => r.Nodes.Exists(n => n.Op is Op.Loop or Op.Read or Op.Length));

    /// <summary>The number of root stages that belong to the forward pass (the rest are backward).</summary>
    public int ForwardCount { get; set; }

    /// <summary>For each flat slot, its adjoint (null: the function does not depend on it).</summary>
    public Node?[] Adjoints { get; set; } = [];

    /// <summary>The root's backward pass in sweep order, for display (<see cref="Display.StagedCode"/>).</summary>
    public List<BackpropStep> Backprop { get; } = [];

    /// <summary>The number of stages (constants excluded).</summary>
    public int StageCount { get; set; }

    /// <summary>
    /// True if the caller clears the output span before each call, so a slot with no adjoint (or the constant 0) is not
    /// written: a derivative kernel writing a few entries of a large dense matrix.
    /// </summary>
    public bool OutputsCleared { get; init; }

    /// <summary>
    /// True (the default) if the outputs are laid out as the point: a gradient, H·v, uᵀJ, where an array of any length is
    /// cleared and added to. False for outputs of their own (a function's values, a Jacobian's entries, J·v), which
    /// are written slot by slot whatever the point's layout.
    /// </summary>
    public bool OutputsFollowPoint { get; init; } = true;

    /// <summary>The name of each flat slot, in order: <c>x</c> for a scalar parameter, <c>w[0]</c>, <c>w[1]</c>, ... for an array.</summary>
    public IEnumerable<string> SlotNames => Parameters.SelectMany(p => Enumerable.Range(0, p.Extent).Select(p.SlotName));

    /// <summary>The names of the slots of a point of <paramref name="length"/> values: past the fixed slots, the last (dynamic) array's elements.</summary>
    public IEnumerable<string> SlotNamesOf(int length) =>
        EndsDynamic ? SlotNames.Concat(Enumerable.Range(Dimension, Math.Max(0, length - Dimension)).Select(k => Parameters[^1].SlotName(k - Parameters[^1].Offset)))
        : SlotNames;

    /// <summary>The name of an <see cref="Op.Input"/> node as the user writes it: <c>x</c> or <c>w[2]</c>.</summary>
    public string InputName(Node input) => Parameters[input.Param].SlotName(Math.Max(input.Element, 0));

    /// <summary>The flat slot of an <see cref="Op.Input"/> node.</summary>
    public int Slot(Node input) => Parameters[input.Param].Offset + Math.Max(input.Element, 0);
}
