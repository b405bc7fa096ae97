using System.Buffers;
using ExprGrad.SecondOrder;

namespace ExprGrad;

public partial class Gradient
{
    private Lazy<OutputKernel>? _hessianVectorProduct;
    private Lazy<SparseKernel?>? _hessian;

    private OutputKernel HessianVectorProductKernel =>
        (_hessianVectorProduct ??= new(() => DerivativeGraphs.HessianVectorProduct(Grad.Import(_graph.Source)))).Value;

    private SparseKernel? HessianKernel =>
        (_hessian ??= new(() => DerivativeGraphs.Hessian(Grad.Import(_graph.Source)))).Value;

    /// <summary>
    /// The Hessian (the matrix of second derivatives) at <paramref name="point"/>, in the flat layout: entry [i, j] is
    /// ∂²f/∂x_i∂x_j for slots i and j, <see cref="Dimension"/> × <see cref="Dimension"/> (as long as the point, when the
    /// last parameter is an array of any length), symmetric bit for bit.
    /// </summary>
    /// <remarks>
    /// The gradient's own staged stages are differentiated again (reverse over reverse), entry by entry, and compiled
    /// once, on first use: entries that are zero by the function's structure (a tridiagonal Hessian's off-band) cost
    /// nothing. Each entry of the upper triangle is computed once and mirrored. A very large function (dimension times
    /// stages past 10⁷), and a function that reads an array parameter in a loop over data, are instead evaluated column by
    /// column through <see cref="HessianVectorProduct"/>. Conditionals differentiate the branch taken, so an untaken
    /// branch's NaN does not reach the Hessian; a Max or Min over data, the iteration it picks.
    /// </remarks>
    /// <param name="point">The point, <see cref="Dimension"/> values.</param>
    /// <exception cref="ArgumentException">The point is shorter than <see cref="Dimension"/>.</exception>
    /// <exception cref="NotSupportedException">The function has no flat layout (vector or matrix parameters).</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public double[,] Hessian(params double[] point)
    {
        ArgumentNullException.ThrowIfNull(point);
        CheckSecondOrder(point, nameof(point));
        var d = PointLength(point);
        var hessian = new double[d, d];
        if (d > 0)
            Hessian(point, System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref hessian[0, 0], d * d));
        return hessian;
    }

    /// <summary>
    /// Writes the Hessian at <paramref name="point"/> to <paramref name="hessian"/>, row-major
    /// (<see cref="Dimension"/> × <see cref="Dimension"/>), allocating nothing once compiled.
    /// </summary>
    /// <param name="point">The point, <see cref="Dimension"/> values.</param>
    /// <param name="hessian">Room for <see cref="Dimension"/>² values.</param>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    /// <exception cref="NotSupportedException">The function has no flat layout (vector or matrix parameters).</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public void Hessian(ReadOnlySpan<double> point, Span<double> hessian)
    {
        CheckSecondOrder(point, "point");
        var d = PointLength(point);
        if (hessian.Length < d * d)
            throw new ArgumentException($"the Hessian needs room for {d} × {d} = {d * d} values, the span has {hessian.Length}", nameof(hessian));
        hessian = hessian[..(d * d)];
        if (HessianKernel is { } kernel)
        {
            if (!point.Overlaps(hessian))
            {
                kernel.Evaluate(point[..d], hessian);
                return;
            }
            // The kernel clears the Hessian before it reads the point: an overlapping point is read from a copy.
            var copy = ArrayPool<double>.Shared.Rent(d);
            try
            {
                point[..d].CopyTo(copy);
                kernel.Evaluate(copy.AsSpan(0, d), hessian);
            }
            finally
            {
                ArrayPool<double>.Shared.Return(copy);
            }
            return;
        }

        // Column j is H e_j; the upper triangle is taken from the columns and mirrored, so H stays symmetric bit for bit.
        var pool = ArrayPool<double>.Shared.Rent(2 * d);
        try
        {
            var unit = pool.AsSpan(0, d);
            var column = pool.AsSpan(d, d);
            unit.Clear();
            for (var j = 0; j < d; j++)
            {
                unit[j] = 1;
                HessianVectorProduct(point, unit, column);
                unit[j] = 0;
                for (var i = 0; i <= j; i++)
                    hessian[i * d + j] = hessian[j * d + i] = column[i];
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(pool);
        }
    }

    /// <summary>
    /// Writes the Hessian-vector product H·<paramref name="v"/> at <paramref name="point"/> to
    /// <paramref name="result"/> without forming H: the gradient of ∇f·v, staged from the gradient's own stages and
    /// compiled once, on first use. Costs a small constant times one gradient, and allocates nothing once compiled.
    /// Through a sum over data it is again a loop over the data.
    /// </summary>
    /// <param name="point">The point, <see cref="Dimension"/> values.</param>
    /// <param name="v">The direction, <see cref="Dimension"/> values.</param>
    /// <param name="result">Room for <see cref="Dimension"/> values.</param>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    /// <exception cref="NotSupportedException">The function has no flat layout (vector or matrix parameters).</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public void HessianVectorProduct(ReadOnlySpan<double> point, ReadOnlySpan<double> v, Span<double> result)
    {
        CheckSecondOrder(point, "point");
        var d = PointLength(point);
        if (v.Length < d)
            throw new ArgumentException($"the direction has {v.Length} values but the function has {d}", nameof(v));
        if (result.Length < d)
            throw new ArgumentException($"the result has room for {result.Length} values but the function has {d}", nameof(result));
        var kernel = HessianVectorProductKernel;
        var input = ArrayPool<double>.Shared.Rent(2 * d);
        try
        {
            point[..d].CopyTo(input);
            v[..d].CopyTo(input.AsSpan(d));
            kernel.Run(input.AsSpan(0, 2 * d), result[..d], pointLength: d);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(input);
        }
    }

    /// <summary>
    /// The typed Hessian-vector product, a <typeparamref name="TKernel"/> (the <see cref="Emit.HessianVectorKernel{T1}"/>
    /// of the lambda's arity), compiled on first use.
    /// </summary>
    private protected TKernel TypedHessianVectorProduct<TKernel>() where TKernel : Delegate =>
        (TKernel)(_typedHessianVectorProduct ??= new(() => DerivativeGraphs.TypedHessianVectorProduct(_graph.Source, typeof(TKernel)))).Value;

    private Lazy<Delegate>? _typedHessianVectorProduct;

    /// <summary>Checks parameter <paramref name="param"/> of a point and the direction's part for it, which must be shaped like it.</summary>
    private protected void CheckDirection<T>(int param, T point, T v)
    {
        Check(param, point);
        if (typeof(T) == typeof(double))
            return;
        var p = _graph.Parameters[param];
        ArgumentNullException.ThrowIfNull(v, $"v{param + 1}");
        var (shape, like) = ((object?)v, (object?)point) switch
        {
            (double[] a, double[] b) => (a.Length == b.Length ? null : $"{a.Length} long", $"{b.Length} long"),
            (MathNet.Numerics.LinearAlgebra.Vector<double> a, MathNet.Numerics.LinearAlgebra.Vector<double> b) =>
                (a.Count == b.Count ? null : $"{a.Count} long", $"{b.Count} long"),
            (MathNet.Numerics.LinearAlgebra.Matrix<double> a, MathNet.Numerics.LinearAlgebra.Matrix<double> b) =>
                (a.RowCount == b.RowCount && a.ColumnCount == b.ColumnCount ? null : $"{a.RowCount} × {a.ColumnCount}", $"{b.RowCount} × {b.ColumnCount}"),
            _ => ((string?)null, ""),
        };
        if (shape is not null)
            throw new ArgumentException($"the direction's part v{param + 1} is {shape} but parameter '{p.Name}' is {like}: a direction is shaped like the point", $"v{param + 1}");
    }

    // The values a point has: Dimension, or all of it when it ends with an array of any length.
    private int PointLength(ReadOnlySpan<double> point) => _endsDynamic ? point.Length : _dimension;

    private void CheckSecondOrder(ReadOnlySpan<double> point, string name)
    {
        if (_noFlatLayout is not null)
            throw new NotSupportedException($"{_noFlatLayout}; for second derivatives, the typed HessianVectorProduct(a1, ..., v1, ...)");
        if (point.Length < _dimension)
            throw new ArgumentException($"the point has {point.Length} values but the function reads {_dimension}", name);
    }
}
