using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Double;

namespace ExprGrad.Emit;

/// <summary>
/// The kernels emitted code and <see cref="Fn"/> call on vectors and matrices. Every tensor the emitted code handles
/// is dense: inputs are made dense once on entry, and MathNet's operations on dense operands return dense results, so
/// element-wise loops run straight over the column-major storage.
/// </summary>
internal static class Tensors
{
    /// <summary>The matrix itself if dense, else a dense copy; a null argument is named.</summary>
    public static Matrix<double> Dense(Matrix<double>? m, string name) =>
        m is null ? throw new ArgumentNullException(name) : m as DenseMatrix ?? DenseMatrix.OfMatrix(m);

    /// <summary>The vector itself if dense, else a dense copy; a null argument is named.</summary>
    public static Vector<double> Dense(Vector<double>? v, string name) =>
        v is null ? throw new ArgumentNullException(name) : v as DenseVector ?? DenseVector.OfVector(v);

    /// <summary>The column-major storage of a dense matrix (a copy for any other kind).</summary>
    public static double[] Values(Matrix<double> m) => m is DenseMatrix d ? d.Values : m.ToColumnMajorArray();

    /// <summary>The storage of a dense vector (a copy for any other kind).</summary>
    public static double[] Values(Vector<double> v) => v is DenseVector d ? d.Values : v.ToArray();

    /// <summary>The matrix itself if its storage can be written in place (dense), else a fresh one of its shape.</summary>
    public static Matrix<double> Reusable(Matrix<double> m) => m as DenseMatrix ?? new DenseMatrix(m.RowCount, m.ColumnCount);

    /// <summary>The vector itself if its storage can be written in place (dense), else a fresh one of its length.</summary>
    public static Vector<double> Reusable(Vector<double> v) => v as DenseVector ?? new DenseVector(v.Count);

    /// <summary>A fresh dense matrix (zeros).</summary>
    public static Matrix<double> Matrix(int rows, int columns) => new DenseMatrix(rows, columns);

    /// <summary>A fresh dense vector (zeros).</summary>
    public static Vector<double> Vector(int length) => new DenseVector(length);

    /// <summary>A matrix whose every element is <paramref name="value"/>.</summary>
    public static Matrix<double> Fill(double value, int rows, int columns)
    {
        var m = new DenseMatrix(rows, columns);
        Array.Fill(m.Values, value);
        return m;
    }

    /// <summary>A vector whose every element is <paramref name="value"/>.</summary>
    public static Vector<double> Fill(double value, int length)
    {
        var v = new DenseVector(length);
        Array.Fill(v.Values, value);
        return v;
    }

    /// <summary>The rows × columns matrix that is <paramref name="value"/> at (<paramref name="row"/>, <paramref name="column"/>) and 0 elsewhere.</summary>
    public static Matrix<double> OneHot(double value, int row, int column, int rows, int columns)
    {
        var m = new DenseMatrix(rows, columns);
        m.Values[column * rows + row] = value;
        return m;
    }

    /// <summary>The vector that is <paramref name="value"/> at <paramref name="index"/> and 0 elsewhere.</summary>
    public static Vector<double> OneHot(double value, int index, int length)
    {
        var v = new DenseVector(length);
        v.Values[index] = value;
        return v;
    }

    /// <summary>The rows × columns matrix whose every column is <paramref name="column"/>: the adjoint of <c>RowSums</c>.</summary>
    public static Matrix<double> RepeatColumn(Vector<double> column, int columns)
    {
        var m = new DenseMatrix(column.Count, columns);
        var (source, target) = (Values(column), m.Values);
        for (var j = 0; j < columns; j++)
            Array.Copy(source, 0, target, j * source.Length, source.Length);
        return m;
    }

    /// <summary>Writes the matrix whose every row is <paramref name="row"/> into <paramref name="target"/> (dense, of that shape); returns it.</summary>
    public static Matrix<double> RepeatRowInto(Vector<double> row, Matrix<double> target)
    {
        var (source, values, rows) = (Values(row), Values(target), target.RowCount);
        for (var j = 0; j < source.Length; j++)
            Array.Fill(values, source[j], j * rows, rows);
        return target;
    }

    /// <summary>Writes the softmax of each column of <paramref name="logits"/> into <paramref name="target"/> (dense, of its shape); returns it.</summary>
    public static Matrix<double> SoftmaxInto(Matrix<double> logits, Matrix<double> target)
    {
        var (x, y, rows) = (Values(logits), Values(target), logits.RowCount);
        for (var j = 0; j < logits.ColumnCount; j++)
            SoftmaxColumn(x, j * rows, rows, y);
        return target;
    }

    /// <summary>The rows × columns matrix whose every row is <paramref name="row"/>: the adjoint of <c>ColumnSums</c>.</summary>
    public static Matrix<double> RepeatRow(Vector<double> row, int rows)
    {
        var m = new DenseMatrix(rows, row.Count);
        var (source, target) = (Values(row), m.Values);
        for (var j = 0; j < source.Length; j++)
            Array.Fill(target, source[j], j * rows, rows);
        return m;
    }

    /// <summary>Σ a_ij b_ij, the Frobenius inner product (MathNet offers it for vectors only).</summary>
    public static double Dot(Matrix<double> a, Matrix<double> b) => TensorPrimitives.Dot<double>(Values(a), Values(b));

    /// <summary>Σ a_ij.</summary>
    public static double Sum(Matrix<double> a) => TensorPrimitives.Sum<double>(Values(a));

    /// <summary>
    /// √(Σ a_ij²) in one SIMD pass. MathNet's <c>FrobeniusNorm</c> takes the trace of A·Aᵀ: for a 256 × 784 weight
    /// matrix that is a 51-million-multiply-add product, more than the rest of an MLP gradient.
    /// </summary>
    public static double FrobeniusNorm(Matrix<double> a) => TensorPrimitives.Norm<double>(Values(a));

    /// <summary>Σ (a_i − b_i)².</summary>
    public static double SquaredDistance(double[] a, double[] b)
    {
        var sum = 0.0;
        for (var i = 0; i < a.Length; i++)
        {
            var d = a[i] - b[i];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>log Σ e^(x_i) over <paramref name="count"/> elements from <paramref name="start"/>, shifted by their maximum.</summary>
    public static double LogSumExpColumn(double[] x, int start, int count)
    {
        if (count == 0)
            return double.NegativeInfinity;
        var column = x.AsSpan(start, count);
        var max = TensorPrimitives.Max<double>(column);
        if (double.IsInfinity(max))
            return max; // all −∞: −∞; any +∞: +∞
        if (double.IsNaN(max))
            return max;
        Span<double> shifted = count <= 256 ? stackalloc double[count] : new double[count];
        TensorPrimitives.Subtract(column, max, shifted);
        TensorPrimitives.Exp<double>(shifted, shifted);
        return max + Math.Log(TensorPrimitives.Sum<double>(shifted));
    }

    /// <summary>Writes softmax of <paramref name="count"/> elements of <paramref name="x"/> from <paramref name="start"/> into the same places of <paramref name="y"/>.</summary>
    public static void SoftmaxColumn(double[] x, int start, int count, double[] y)
    {
        if (count == 0)
            return;
        var column = x.AsSpan(start, count);
        var target = y.AsSpan(start, count);
        var max = TensorPrimitives.Max<double>(column);
        TensorPrimitives.Subtract(column, max, target);
        TensorPrimitives.Exp<double>(target, target);
        TensorPrimitives.Divide(target, TensorPrimitives.Sum<double>(target), target);
    }

    /// <summary>Σ t_i (logsumexp(o) − o_i) over one column: the cross-entropy of softmax(o) against t.</summary>
    public static double CrossEntropyColumn(double[] o, double[] t, int start, int count)
    {
        var lse = LogSumExpColumn(o, start, count);
        var sum = 0.0;
        for (var i = start; i < start + count; i++)
            if (t[i] != 0)
                sum += t[i] * (lse - o[i]);
        return sum;
    }

    /// <summary>Throws unless two matrices have one shape, naming the operation and both shapes.</summary>
    public static void RequireSameShape(string operation, Matrix<double> a, Matrix<double> b)
    {
        if (a.RowCount != b.RowCount || a.ColumnCount != b.ColumnCount)
            throw new ArgumentException($"{operation}: the arguments must have one shape, but they are {a.RowCount}×{a.ColumnCount} and {b.RowCount}×{b.ColumnCount}");
    }

    /// <summary>Throws unless two vectors have one length, naming the operation and both lengths.</summary>
    public static void RequireSameShape(string operation, Vector<double> a, Vector<double> b)
    {
        if (a.Count != b.Count)
            throw new ArgumentException($"{operation}: the arguments must have one length, but they are {a.Count} and {b.Count}");
    }
}
