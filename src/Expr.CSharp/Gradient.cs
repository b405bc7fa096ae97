using System.Linq.Expressions;
using ExprGrad.Emit;
using ExprGrad.Staging;

namespace ExprGrad;

/// <summary>
/// A compiled value-and-gradient function of a lambda, made by <see cref="Grad"/>. Immutable and safe to call
/// from many threads at once.
/// </summary>
/// <remarks>
/// The flat (span) layout of a point lists the parameters in order: a <c>double</c> takes one slot, a
/// <c>double[]</c> parameter takes as many slots as its highest index read plus one.
/// </remarks>
public class Gradient
{
    private readonly Kernel _kernel;
    private readonly StagedGraph _graph;

    internal Gradient(StagedGraph graph, Kernel kernel)
    {
        _graph = graph;
        _kernel = kernel;
    }

    /// <summary>The staged value-and-gradient lambda <c>(x, g) =&gt; { forward stages; backward stages; return value; }</c> that was compiled.</summary>
    public LambdaExpression Expression => _kernel.Expression;

    /// <summary>The length of a point (and of its gradient) in the flat layout.</summary>
    public int Dimension => _graph.Dimension;

    /// <summary>The number of stages (forward and backward) in the staged graph.</summary>
    public int StageCount => _graph.StageCount;

    /// <summary>
    /// Evaluates the function at <paramref name="point"/> (flat layout) and writes its gradient to
    /// <paramref name="gradient"/>. Allocates nothing.
    /// </summary>
    /// <returns>The function's value.</returns>
    /// <exception cref="ArgumentException">A span is shorter than <see cref="Dimension"/>.</exception>
    public double Evaluate(ReadOnlySpan<double> point, Span<double> gradient)
    {
        var n = _graph.Dimension;
        if (point.Length < n)
            throw new ArgumentException($"the point has {point.Length} values but the function reads {n}", nameof(point));
        if (gradient.Length < n)
            throw new ArgumentException($"the gradient has room for {gradient.Length} values but the function has {n}", nameof(gradient));

        var work = Workspace.Rent(n, _kernel.TapeLength);
        point[..n].CopyTo(work.X);
        var value = _kernel.Run(work);
        work.G.AsSpan(0, n).CopyTo(gradient);
        Workspace.Return(work);
        return value;
    }

    /// <summary>The staged graph, one stage per line (<c>v3 = v1 * v2</c>), forward then backward.</summary>
    public override string ToString() => GraphPrinter.Print(_graph);

    private protected Workspace Begin() => Workspace.Rent(_graph.Dimension, _kernel.TapeLength);

    private protected double Run(Workspace work) => _kernel.Run(work);

    private protected void Pack(Workspace work, int param, double value) => work.X[_graph.Parameters[param].Offset] = value;

    private protected void Pack(Workspace work, int param, double[] value)
    {
        var p = _graph.Parameters[param];
        ArgumentNullException.ThrowIfNull(value, p.Name);
        if (value.Length < p.Extent)
            throw new ArgumentException($"parameter '{p.Name}' has length {value.Length} but the function reads {p.Name}[{p.Extent - 1}]", p.Name);
        value.AsSpan(0, p.Extent).CopyTo(work.X.AsSpan(p.Offset));
    }

    private protected double Unpack(Workspace work, int param, double _) => work.G[_graph.Parameters[param].Offset];

    private protected double[] Unpack(Workspace work, int param, double[] value)
    {
        var p = _graph.Parameters[param];
        var gradient = new double[value.Length];
        work.G.AsSpan(p.Offset, p.Extent).CopyTo(gradient);
        return gradient;
    }

    private protected T Pack<T>(Workspace work, int param, T value)
    {
        if (typeof(T) == typeof(double))
            Pack(work, param, (double)(object)value!);
        else
            Pack(work, param, (double[])(object)value!);
        return value;
    }

    private protected T Unpack<T>(Workspace work, int param, T value) =>
        typeof(T) == typeof(double)
            ? (T)(object)Unpack(work, param, 0.0)
            : (T)(object)Unpack(work, param, (double[])(object)value!);

    private protected static void End(Workspace work) => Workspace.Return(work);
}
