using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using ExprGrad.Staging;

namespace ExprGrad.Emit;

/// <summary>How a compiled method receives its point and hands back its value and gradient.</summary>
internal abstract class Frame
{
    public abstract ParameterExpression[] Parameters { get; }

    /// <summary>The type the method returns: a double (flat) or the typed value-and-gradient record.</summary>
    public abstract Type ReturnType { get; }

    /// <summary>Reads input slot <paramref name="slot"/> of the flat layout.</summary>
    public abstract Expression Input(int slot);

    /// <summary>Writes <paramref name="value"/> as the gradient of slot <paramref name="slot"/>.</summary>
    public abstract Expression Store(int slot, Expression value);

    /// <summary>Reads input slot <c>slot + stride·k</c>: an array element read by a rolled loop's iteration <paramref name="k"/>.</summary>
    public abstract Expression Input(int slot, int stride, Expression k);

    /// <summary>Writes <paramref name="value"/> as the gradient of slot <c>slot + stride·k</c>, in a rolled loop's iteration <paramref name="k"/>.</summary>
    public abstract Expression Store(int slot, int stride, Expression k, Expression value);

    /// <summary>The length of array parameter <paramref name="param"/> at the call (an <c>int</c>).</summary>
    public abstract Expression ArrayLength(int param);

    /// <summary>Element <paramref name="index"/> (an <c>int</c>, already checked) of array parameter <paramref name="param"/>.</summary>
    public abstract Expression ArrayRead(int param, Expression index);

    /// <summary>Adds <paramref name="value"/> to the gradient of element <paramref name="index"/> of array parameter <paramref name="param"/>.</summary>
    public abstract Expression ArrayScatter(int param, Expression index, Expression value);

    /// <summary><c>start + stride·k</c>.</summary>
    protected static Expression Index(int start, int stride, Expression k)
    {
        var step = stride == 1 ? k : Expression.Multiply(Expression.Constant(stride), k);
        return start == 0 ? step : Expression.Add(Expression.Constant(start), step);
    }

    /// <summary>Variables the frame needs in the method's block.</summary>
    public virtual IEnumerable<ParameterExpression> Locals => [];

    /// <summary>Statements that run first.</summary>
    public virtual IEnumerable<Expression> Prologue => [];

    /// <summary>Clears the gradients of arrays whose length is read at the call, which are then added to; run before the first write.</summary>
    public virtual IEnumerable<Expression> ClearDynamic => [];

    /// <summary>
    /// Clears elements <c>[from, to)</c> (to the end where <paramref name="to"/> is null; both clamped to the array) of
    /// the gradient of array parameter <paramref name="param"/>, if it is one <see cref="ClearDynamic"/> clears; else null.
    /// </summary>
    public virtual Expression? ClearRange(int param, Expression from, Expression? to) => null;

    /// <summary>Sets the gradient of element <paramref name="index"/> of array parameter <paramref name="param"/> (its first write).</summary>
    public abstract Expression ArrayStore(int param, Expression index, Expression value);

    /// <summary>The method's final expression, given its value.</summary>
    public abstract Expression Result(Expression value);
}

/// <summary>
/// The flat layout, by reference: the point at <c>x</c> and the gradient at <c>g</c> (the first elements of the
/// caller's spans, read and written in place), and the tape for values passed between the methods of a split graph.
/// Serves the span API and graphs of any size.
/// </summary>
internal sealed class FlatFrame(StagedGraph graph) : Frame
{
    private static readonly MethodInfo ReadMethod = typeof(FlatFrame).GetMethod(nameof(Read), BindingFlags.NonPublic | BindingFlags.Static)!;
    private static readonly MethodInfo WriteMethod = typeof(FlatFrame).GetMethod(nameof(Write), BindingFlags.NonPublic | BindingFlags.Static)!;
    private static readonly MethodInfo AddMethod = typeof(FlatFrame).GetMethod(nameof(AddTo), BindingFlags.NonPublic | BindingFlags.Static)!;
    private static readonly MethodInfo ClearMethod = typeof(FlatFrame).GetMethod(nameof(Clear), BindingFlags.NonPublic | BindingFlags.Static)!;
    private static readonly MethodInfo ClearRangeMethod = typeof(FlatFrame).GetMethod(nameof(ClearRange), BindingFlags.NonPublic | BindingFlags.Static)!;

    public ParameterExpression X { get; } = Expression.Parameter(typeof(double).MakeByRefType(), "x");

    public ParameterExpression G { get; } = Expression.Parameter(typeof(double).MakeByRefType(), "g");

    public ParameterExpression Tape { get; } = Expression.Parameter(typeof(double[]), "tape");

    /// <summary>The point's length (and the gradient's): the last parameter, if its length is read at the call, has the rest.</summary>
    public ParameterExpression Length { get; } = Expression.Parameter(typeof(int), "length");

    public override ParameterExpression[] Parameters => [X, G, Tape, Length];

    public override Type ReturnType => typeof(double);

    public override Expression Input(int slot) => Expression.Call(ReadMethod, X, Position(slot));

    public override Expression Store(int slot, Expression value) =>
        Expression.Call(IsDynamic(slot) ? AddMethod : WriteMethod, G, Expression.Constant(slot), value);

    public override Expression Input(int slot, int stride, Expression k) =>
        Expression.Call(ReadMethod, X, slot >= DirectionFrom && graph.EndsDynamic ? Expression.Add(Length, Index(slot - DirectionFrom, stride, k)) : Index(slot, stride, k));

    // A direction's slots (ParameterLayout.IsDirection) follow the point: at the point's length past the slot they copy,
    // which is a constant unless the point ends with an array of any length.
    private int DirectionFrom => Array.Find(graph.Parameters, p => p.IsDirection)?.Offset ?? int.MaxValue;

    private Expression Position(int slot) =>
        slot >= DirectionFrom && graph.EndsDynamic ? Expression.Add(Length, Expression.Constant(slot - DirectionFrom)) : Expression.Constant(slot);

    public override Expression Store(int slot, int stride, Expression k, Expression value) =>
        Expression.Call(IsDynamic(slot) ? AddMethod : WriteMethod, G, Index(slot, stride, k), value);

    // Only the point's last parameter can be dynamic in the flat layout (StagedGraph.NoFlatLayout); directions are not stored.
    private bool IsDynamic(int slot) =>
        graph.EndsDynamic && graph.OutputsFollowPoint && slot >= graph.Parameters[graph.DynamicParameter].Offset && slot < DirectionFrom;

    private Expression Offset(int param, Expression index)
    {
        var p = graph.Parameters[param];
        if (p.IsDirection)
            return Expression.Add(graph.EndsDynamic ? Expression.Add(Length, Expression.Constant(p.Offset - DirectionFrom)) : Expression.Constant(p.Offset), index);
        return p.Offset == 0 ? index : Expression.Add(Expression.Constant(p.Offset), index);
    }

    // A direction copies the point's parameter: its length is that parameter's.
    public override Expression ArrayLength(int param) =>
        Expression.Subtract(Length, Expression.Constant(graph.Parameters[param].Offset - (graph.Parameters[param].IsDirection ? DirectionFrom : 0)));

    public override Expression ArrayRead(int param, Expression index) => Expression.Call(ReadMethod, X, Offset(param, index));

    public override Expression ArrayScatter(int param, Expression index, Expression value) =>
        Expression.Call(AddMethod, G, Offset(param, index), value);

    public override Expression ArrayStore(int param, Expression index, Expression value) =>
        Expression.Call(WriteMethod, G, Offset(param, index), value);

    public override Expression? ClearRange(int param, Expression from, Expression? to) =>
        graph.EndsDynamic && graph.OutputsFollowPoint && param == graph.DynamicParameter
            ? Expression.Call(ClearRangeMethod, G, Expression.Constant(graph.Parameters[param].Offset), from, to ?? Expression.Constant(int.MaxValue), ArrayLength(param))
            : null;

    // Elements [from, to) of the array at offset past g, clamped to its length.
    private static void ClearRange(ref double g, int offset, int from, int to, int length)
    {
        from = Math.Clamp(from, 0, length);
        to = Math.Clamp(to, from, length);
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref Unsafe.Add(ref g, offset + from), to - from).Clear();
    }

    // The last parameter's gradient, when its length is read at the call, is cleared and then added to: cleared only
    // once every index has been checked (Emitter), so that an index out of range leaves the caller's gradient as it was.
    public override IEnumerable<Expression> ClearDynamic => graph.EndsDynamic && graph.OutputsFollowPoint
        ? [Expression.Call(ClearMethod, G, Expression.Constant(graph.Parameters[graph.DynamicParameter].Offset), Length)]
        : [];

    public override Expression Result(Expression value) => value;

    // Element i past x; the caller has checked the span's length. Inlined by the JIT into the compiled method.
    private static double Read(ref double x, int i) => Unsafe.Add(ref x, i);

    private static void Write(ref double g, int i, double value) => Unsafe.Add(ref g, i) = value;

    private static void AddTo(ref double g, int i, double value) => Unsafe.Add(ref g, i) += value;

    private static void Clear(ref double g, int from, int length) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref Unsafe.Add(ref g, from), length - from).Clear();
}

/// <summary>The flat kernel of a graph compiled as one method: <c>(ref x, ref g, tape) =&gt; value</c>.</summary>
internal delegate double FlatKernel(ref double x, ref double g, double[] tape, int length);

/// <summary>One method of a split graph: reads the point, writes gradients and hands values on through the tape.</summary>
internal delegate void FlatPart(ref double x, ref double g, double[] tape, int length);

/// <summary>
/// The lambda's own parameters in, the value returned and each gradient written to an out parameter (a
/// <see cref="TypedKernel{T1}"/>): no scratch arrays and no copies, so a small function costs little more than its
/// delegate call. Array gradients are allocated here, one per call, because the caller owns them.
/// </summary>
internal sealed class TypedFrame : Frame
{
    private readonly StagedGraph _graph;
    private readonly ParameterExpression[] _parameters;
    private readonly ParameterExpression[] _gradients;
    private readonly ParameterExpression?[] _arrays;
    private readonly (int Param, int Element)[] _slots;

    public TypedFrame(StagedGraph graph)
    {
        _graph = graph;
        _parameters = graph.Source.Parameters.Select(p => Expression.Parameter(p.Type, p.Name)).ToArray();
        // A direction (a Hessian-vector product's v, after the point) is read, never differentiated: it has no gradient.
        var points = graph.Parameters.Where(p => !p.IsDirection).ToArray();
        _gradients = points.Select(p =>
            Expression.Parameter((p.IsArray ? typeof(double[]) : Shape.TypeOf(p.Kind)).MakeByRefType(), "d" + p.Name)).ToArray();
        // An array's gradient is written element by element through a local: through the out parameter, every store
        // would load the array again (the JIT cannot tell that a store to an element leaves the reference unchanged).
        _arrays = points.Select(p => p.IsArray ? Expression.Variable(typeof(double[]), "d" + p.Name) : null).ToArray();
        _slots = new (int, int)[graph.Dimension];
        for (var i = 0; i < graph.Parameters.Length; i++)
            for (var k = 0; k < graph.Parameters[i].Extent; k++)
                _slots[graph.Parameters[i].Offset + k] = (i, graph.Parameters[i].IsArray ? k : -1);
    }

    public override ParameterExpression[] Parameters => [.. _parameters, .. _gradients];

    public override Type ReturnType => typeof(double);

    public override Expression Input(int slot)
    {
        var (param, element) = _slots[slot];
        return element < 0 ? _parameters[param] : Expression.ArrayIndex(_parameters[param], Expression.Constant(element));
    }

    public override Expression Store(int slot, Expression value)
    {
        var (param, element) = _slots[slot];
        if (element < 0)
            return Expression.Assign(_gradients[param], value);
        var target = Expression.ArrayAccess(_arrays[param]!, Expression.Constant(element));
        return _graph.Parameters[param].IsDynamic ? Expression.AddAssign(target, value) : Expression.Assign(target, value);
    }

    public override Expression ArrayLength(int param) => Expression.ArrayLength(_parameters[param]);

    public override Expression ArrayRead(int param, Expression index) => Expression.ArrayIndex(_parameters[param], index);

    public override Expression ArrayScatter(int param, Expression index, Expression value) =>
        Expression.AddAssign(Expression.ArrayAccess(_arrays[param]!, index), value);

    public override Expression ArrayStore(int param, Expression index, Expression value) =>
        Expression.Assign(Expression.ArrayAccess(_arrays[param]!, index), value);

    public override Expression Input(int slot, int stride, Expression k)
    {
        var (param, element) = _slots[slot];
        return Expression.ArrayIndex(_parameters[param], Index(element, stride, k));
    }

    public override Expression Store(int slot, int stride, Expression k, Expression value)
    {
        var (param, element) = _slots[slot];
        var target = Expression.ArrayAccess(_arrays[param]!, Index(element, stride, k));
        return _graph.Parameters[param].IsDynamic ? Expression.AddAssign(target, value) : Expression.Assign(target, value);
    }

    // An array's gradient has the array's length: elements the function never reads get 0.
    public override IEnumerable<Expression> Prologue =>
        _arrays.Select((d, i) => (d, i)).Where(p => p.d is not null)
            .Select(p => (Expression)Expression.Assign(_gradients[p.i], Expression.Assign(p.d!, Expression.Call(typeof(TypedFrame),
                nameof(NewGradient), null, Expression.ArrayLength(_parameters[p.i]),
                // An array whose length is read at the call is added to: all of it starts at 0.
                Expression.Constant(_graph.Parameters[p.i].IsDynamic ? 0 : _graph.Parameters[p.i].Extent)))));

    public override IEnumerable<ParameterExpression> Locals => _arrays.OfType<ParameterExpression>();

    /// <summary>
    /// A gradient array of <paramref name="length"/> elements whose first <paramref name="written"/> the method
    /// writes, every one (a slot the function does not depend on gets its 0 in the prologue): only the rest is
    /// cleared. Saves zeroing a large gradient twice.
    /// </summary>
    internal static double[] NewGradient(int length, int written)
    {
        var gradient = GC.AllocateUninitializedArray<double>(length);
        if (length > written)
            gradient.AsSpan(written).Clear();
        return gradient;
    }

    public override Expression Result(Expression value) => value;
}
