using System.Linq.Expressions;
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

    /// <summary>Where the gradient of slot <paramref name="slot"/> is written.</summary>
    public abstract Expression Gradient(int slot);

    /// <summary>Reads input slot <c>slot + stride·k</c>: an array element read by a rolled loop's iteration <paramref name="k"/>.</summary>
    public abstract Expression Input(int slot, int stride, Expression k);

    /// <summary>Where the gradient of slot <c>slot + stride·k</c> is written in a rolled loop's iteration <paramref name="k"/>.</summary>
    public abstract Expression Gradient(int slot, int stride, Expression k);

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

    /// <summary>The method's final expression, given its value.</summary>
    public abstract Expression Result(Expression value);
}

/// <summary>
/// Flat arrays: the point in <c>x</c>, the gradient into <c>g</c>, the tape for values passed between the methods of
/// a split graph. Serves the span API and graphs of any size.
/// </summary>
internal sealed class FlatFrame : Frame
{
    public ParameterExpression X { get; } = Expression.Parameter(typeof(double[]), "x");

    public ParameterExpression G { get; } = Expression.Parameter(typeof(double[]), "g");

    public ParameterExpression Tape { get; } = Expression.Parameter(typeof(double[]), "tape");

    public override ParameterExpression[] Parameters => [X, G, Tape];

    public override Type ReturnType => typeof(double);

    public override Expression Input(int slot) => Expression.ArrayIndex(X, Expression.Constant(slot));

    public override Expression Gradient(int slot) => Expression.ArrayAccess(G, Expression.Constant(slot));

    public override Expression Input(int slot, int stride, Expression k) => Expression.ArrayIndex(X, Index(slot, stride, k));

    public override Expression Gradient(int slot, int stride, Expression k) => Expression.ArrayAccess(G, Index(slot, stride, k));

    public override Expression Result(Expression value) => value;
}

/// <summary>
/// The lambda's own parameters in, a <c>ValueAndGradient&lt;...&gt;</c> out: no scratch arrays and no copies, so a
/// small function costs little more than its delegate call. Array gradients are allocated here, one per call,
/// because the caller owns them.
/// </summary>
internal sealed class TypedFrame : Frame
{
    private readonly StagedGraph _graph;
    private readonly ParameterExpression[] _parameters;
    private readonly ParameterExpression[] _gradients;
    private readonly (int Param, int Element)[] _slots;

    public TypedFrame(StagedGraph graph, Type resultType)
    {
        _graph = graph;
        ReturnType = resultType;
        _parameters = graph.Source.Parameters.Select(p => Expression.Parameter(p.Type, p.Name)).ToArray();
        _gradients = graph.Parameters.Select(p => Expression.Variable(p.IsArray ? typeof(double[]) : Shape.TypeOf(p.Kind), "d" + p.Name)).ToArray();
        _slots = new (int, int)[graph.Dimension];
        for (var i = 0; i < graph.Parameters.Length; i++)
            for (var k = 0; k < graph.Parameters[i].Extent; k++)
                _slots[graph.Parameters[i].Offset + k] = (i, graph.Parameters[i].IsArray ? k : -1);
    }

    public override ParameterExpression[] Parameters => _parameters;

    public override Type ReturnType { get; }

    public override Expression Input(int slot)
    {
        var (param, element) = _slots[slot];
        return element < 0 ? _parameters[param] : Expression.ArrayIndex(_parameters[param], Expression.Constant(element));
    }

    public override Expression Gradient(int slot)
    {
        var (param, element) = _slots[slot];
        return element < 0 ? _gradients[param] : Expression.ArrayAccess(_gradients[param], Expression.Constant(element));
    }

    public override Expression Input(int slot, int stride, Expression k)
    {
        var (param, element) = _slots[slot];
        return Expression.ArrayIndex(_parameters[param], Index(element, stride, k));
    }

    public override Expression Gradient(int slot, int stride, Expression k)
    {
        var (param, element) = _slots[slot];
        return Expression.ArrayAccess(_gradients[param], Index(element, stride, k));
    }

    public override IEnumerable<ParameterExpression> Locals => _gradients;

    // An array's gradient has the array's length: elements the function never reads get 0.
    public override IEnumerable<Expression> Prologue =>
        _gradients.Select((d, i) => (d, i)).Where(p => p.d.Type == typeof(double[]))
            .Select(p => (Expression)Expression.Assign(p.d, Expression.Call(typeof(TypedFrame), nameof(NewGradient), null,
                Expression.ArrayLength(_parameters[p.i]), Expression.Constant(_graph.Parameters[p.i].Extent))));

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

    public override Expression Result(Expression value) =>
        Expression.New(ReturnType.GetConstructors().Single(c => c.GetParameters().Length == _gradients.Length + 1),
            _gradients.Prepend(value));
}
