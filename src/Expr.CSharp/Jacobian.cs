using System.Buffers;
using System.Linq.Expressions;
using System.Runtime.InteropServices;
using ExprGrad.Import;
using ExprGrad.SecondOrder;
using ExprGrad.Staging;

namespace ExprGrad;

/// <summary>
/// The compiled Jacobian of a function with several results, made by <see cref="Grad.Jacobian(LambdaExpression)"/>:
/// the m × d matrix of ∂f_k/∂x_j, and the vector-Jacobian and Jacobian-vector products without forming it.
/// Immutable and safe to call from many threads at once.
/// </summary>
/// <remarks>
/// A point is laid out as for <see cref="Gradient"/>: the parameters in order, a <c>double</c> taking one slot and a
/// <c>double[]</c> as many as its highest index read plus one. The dense Jacobian is staged entry by entry from the
/// staged graph, by reverse mode row by row when the function has no more results than inputs, else column by column
/// (forward mode, as the transpose of reverse mode); entries that are zero by the function's structure cost nothing.
/// Each kind of evaluation is compiled once, on its first use.
/// </remarks>
public sealed class Jacobian
{
    private readonly LambdaExpression _function;
    private readonly Lazy<OutputKernel> _values;
    private readonly Lazy<SparseKernel?> _dense;
    private readonly Lazy<OutputKernel> _vectorJacobian;
    private readonly Lazy<OutputKernel?> _jacobianVector;
    private readonly bool _endsDynamic;

    internal Jacobian(LambdaExpression function)
    {
        _function = function;
        var (graph, outputs) = Import(function);
        OutputCount = outputs.Length;
        Dimension = graph.Dimension;
        _endsDynamic = graph.EndsDynamic;
        _values = new(() => DerivativeGraphs.Values(graph, outputs));
        _dense = new(DenseKernel);
        _vectorJacobian = new(() => Build(DerivativeGraphs.VectorJacobianProduct));
        _jacobianVector = new(() => SecondSweep(DerivativeGraphs.JacobianVectorProduct));
    }

    // With more results than inputs, by columns (forward mode); by rows, which needs first derivatives only, where a
    // rule's derivative has no derivative of its own (DiGamma's trigamma, a [Derivative] method's partial).
    private SparseKernel? DenseKernel() =>
        OutputCount > Dimension && SecondSweep((graph, outputs) => DerivativeGraphs.Jacobian(graph, outputs, byColumns: true)) is { } columns
            ? columns
            : Build((graph, outputs) => DerivativeGraphs.Jacobian(graph, outputs, byColumns: false));

    // A kernel that sweeps the first sweep's stages again, or null where a rule there has no derivative.
    private T? SecondSweep<T>(Func<StagedGraph, Node[], T?> build) where T : class
    {
        try
        {
            return Build(build);
        }
        catch (ExprGradException)
        {
            return null;
        }
    }

    // Every kernel is built on a graph of its own: building one prunes what it does not need.
    private T Build<T>(Func<StagedGraph, Node[], T> build)
    {
        var (graph, outputs) = Import(_function);
        return build(graph, outputs);
    }

    private static (StagedGraph Graph, Node[] Outputs) Import(LambdaExpression function)
    {
        return Grad.Import(function, Importer.ImportComponents);
    }

    /// <summary>The number of results m: the Jacobian's rows.</summary>
    public int OutputCount { get; }

    /// <summary>
    /// The length of a point d in the flat layout: the Jacobian's columns. Where the last parameter is an array of any
    /// length (a loop runs over it), the fewest a point may have; the Jacobian then has as many columns as the point.
    /// </summary>
    public int Dimension { get; }

    // The values a point has: Dimension, or all of it when it ends with an array of any length.
    private int PointLength(ReadOnlySpan<double> point) => _endsDynamic ? point.Length : Dimension;

    /// <summary>The function's results at <paramref name="point"/>.</summary>
    /// <param name="point">The point, <see cref="Dimension"/> values.</param>
    /// <exception cref="ArgumentException">The point is shorter than <see cref="Dimension"/>.</exception>
    public double[] Values(params double[] point)
    {
        ArgumentNullException.ThrowIfNull(point);
        var values = new double[OutputCount];
        Values(point, values);
        return values;
    }

    /// <summary>Writes the function's results at <paramref name="point"/> to <paramref name="values"/>.</summary>
    /// <param name="point">The point, <see cref="Dimension"/> values.</param>
    /// <param name="values">Room for <see cref="OutputCount"/> values.</param>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public void Values(ReadOnlySpan<double> point, Span<double> values)
    {
        CheckPoint(point);
        Check(values.Length, OutputCount, "the values", nameof(values));
        Run(_values.Value, point, [], values[..OutputCount]);
    }

    /// <summary>The Jacobian at <paramref name="point"/>: entry [k, j] is ∂f_k/∂x_j, <see cref="OutputCount"/> × <see cref="Dimension"/>.</summary>
    /// <param name="point">The point, <see cref="Dimension"/> values.</param>
    /// <exception cref="ArgumentException">The point is shorter than <see cref="Dimension"/>.</exception>
    public double[,] Evaluate(params double[] point)
    {
        ArgumentNullException.ThrowIfNull(point);
        var jacobian = new double[OutputCount, PointLength(point)];
        if (jacobian.Length == 0)
        {
            CheckPoint(point);
            return jacobian;
        }
        Evaluate(point, MemoryMarshal.CreateSpan(ref jacobian[0, 0], jacobian.Length));
        return jacobian;
    }

    /// <summary>Writes the Jacobian at <paramref name="point"/> to <paramref name="jacobian"/>, row-major (<see cref="OutputCount"/> × <see cref="Dimension"/>).</summary>
    /// <param name="point">The point, <see cref="Dimension"/> values.</param>
    /// <param name="jacobian">Room for <see cref="OutputCount"/> × <see cref="Dimension"/> values.</param>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public void Evaluate(ReadOnlySpan<double> point, Span<double> jacobian)
    {
        CheckPoint(point);
        var (m, d) = (OutputCount, PointLength(point));
        Check(jacobian.Length, m * d, "the Jacobian", nameof(jacobian));
        jacobian = jacobian[..(m * d)];
        if (_dense.Value is { } dense)
        {
            var input = Padded(dense.Kernel, point, [], [], out var rented);
            try
            {
                dense.Evaluate(input, jacobian);
            }
            finally
            {
                ArrayPool<double>.Shared.Return(rented);
            }
            return;
        }
        // Too large to stage entry by entry, or an array parameter's gradient scattered in a loop: row k is e_kᵀJ.
        var pool = ArrayPool<double>.Shared.Rent(m);
        try
        {
            var unit = pool.AsSpan(0, m);
            unit.Clear();
            for (var k = 0; k < m; k++)
            {
                unit[k] = 1;
                VectorJacobianProduct(point, unit, jacobian.Slice(k * d, d));
                unit[k] = 0;
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(pool);
        }
    }

    /// <summary>Writes uᵀJ (the gradient of Σ u_k f_k) at <paramref name="point"/> to <paramref name="result"/>, in one reverse sweep.</summary>
    /// <param name="point">The point, <see cref="Dimension"/> values.</param>
    /// <param name="u">The weights of the results, <see cref="OutputCount"/> values.</param>
    /// <param name="result">Room for <see cref="Dimension"/> values.</param>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public void VectorJacobianProduct(ReadOnlySpan<double> point, ReadOnlySpan<double> u, Span<double> result)
    {
        CheckPoint(point);
        var d = PointLength(point);
        Check(u.Length, OutputCount, "the weights u", nameof(u));
        Check(result.Length, d, "the result", nameof(result));
        Run(_vectorJacobian.Value, point, u[..OutputCount], result[..d]);
    }

    /// <summary>Writes J·<paramref name="v"/> (the directional derivative of every result) at <paramref name="point"/> to <paramref name="result"/>.</summary>
    /// <param name="point">The point, <see cref="Dimension"/> values.</param>
    /// <param name="v">The direction, <see cref="Dimension"/> values.</param>
    /// <param name="result">Room for <see cref="OutputCount"/> values.</param>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public void JacobianVectorProduct(ReadOnlySpan<double> point, ReadOnlySpan<double> v, Span<double> result)
    {
        CheckPoint(point);
        var d = PointLength(point);
        Check(v.Length, d, "the direction v", nameof(v));
        Check(result.Length, OutputCount, "the result", nameof(result));
        // The input is x, then u (zeros: Jv does not depend on it), then v. (Over an array of any length, from the rows.)
        if (_endsDynamic || _jacobianVector.Value is not { } kernel)
        {
            FromDense(point, v[..d], result[..OutputCount]);
            return;
        }
        var input = Padded(kernel, point, [], v[..Dimension], out var rented);
        try
        {
            kernel.Run(input, result[..OutputCount]);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(rented);
        }
    }

    // J·v from the dense Jacobian, where the product cannot be staged.
    private void FromDense(ReadOnlySpan<double> point, ReadOnlySpan<double> v, Span<double> result)
    {
        var (m, d) = (OutputCount, PointLength(point));
        var rented = ArrayPool<double>.Shared.Rent(Math.Max(m * d, 1));
        try
        {
            var jacobian = rented.AsSpan(0, m * d);
            Evaluate(point, jacobian);
            for (var k = 0; k < m; k++)
            {
                var sum = 0.0;
                for (var j = 0; j < d; j++)
                    sum += jacobian[k * d + j] * v[j];
                result[k] = sum;
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(rented);
        }
    }

    // Runs a kernel on x followed by extra (and zeros up to the kernel's input count).
    private void Run(OutputKernel kernel, ReadOnlySpan<double> point, ReadOnlySpan<double> extra, Span<double> output)
    {
        var input = Padded(kernel, point, extra, [], out var rented);
        try
        {
            kernel.Run(input, output, PointLength(point));
        }
        finally
        {
            ArrayPool<double>.Shared.Return(rented);
        }
    }

    // A kernel's input in a rented array: the point's values, then extra, then zeros, then last at the very end.
    private Span<double> Padded(OutputKernel kernel, ReadOnlySpan<double> point, ReadOnlySpan<double> extra, ReadOnlySpan<double> last, out double[] rented)
    {
        var d = PointLength(point);
        var length = kernel.InputCount - Dimension + d;
        rented = ArrayPool<double>.Shared.Rent(Math.Max(length, 1));
        var span = rented.AsSpan(0, length);
        span.Clear();
        point[..d].CopyTo(span);
        extra.CopyTo(span[d..]);
        last.CopyTo(span[(span.Length - last.Length)..]);
        return span;
    }

    private void CheckPoint(ReadOnlySpan<double> point) => Check(point.Length, Dimension, "the point", nameof(point), "reads");

    private static void Check(int length, int needed, string what, string name, string verb = "needs")
    {
        if (length < needed)
            throw new ArgumentException($"{what} has {length} values but the function {verb} {needed}", name);
    }
}
