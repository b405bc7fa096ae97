using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad;

// Value and gradient at many points on all cores. Each point is one call of the span Evaluate on its own row, so a
// point's result is bit for bit what a single call gives, on whatever thread and in whatever chunk it ran.
public partial class Gradient
{
    /// <summary>True if a point has a flat layout, so that the span API (and what is built on it) applies.</summary>
    internal bool HasFlatLayout => _noFlatLayout is null;

    // A chunk smaller than this is not worth a thread: below it the whole batch runs on the caller's thread.
    private const int MinPointsPerChunk = 256;

    // Chunks per worker: a few, so that a worker slowed by another process does not hold up the whole batch.
    private const int ChunksPerWorker = 4;

    /// <summary>
    /// Evaluates the function and its gradient at many points at once, in parallel: <paramref name="points"/> holds
    /// n points one after another (row-major n × d, each row a point in the flat layout), <paramref name="values"/>
    /// receives the n values and <paramref name="gradients"/> the n gradients, row for row like the points.
    /// </summary>
    /// <param name="points">The points, row-major: point i is <c>points[(i * d)..((i + 1) * d)]</c>.</param>
    /// <param name="values">One value per point; its length is the number of points n.</param>
    /// <param name="gradients">One gradient per point, laid out as the points (exactly as long as
    /// <paramref name="points"/>).</param>
    /// <param name="maxDegreeOfParallelism">At most this many threads (the caller's among them); -1, the default, is
    /// one per processor, as in <see cref="ParallelOptions.MaxDegreeOfParallelism"/>.</param>
    /// <remarks>
    /// <para>Deterministic: every point's value and gradient are bit-identical to
    /// <see cref="Evaluate(ReadOnlySpan{double}, Span{double})"/> on that row alone, whatever the thread count. The
    /// points are split into a few contiguous ranges per thread, never one task per point; a batch of fewer than 512
    /// points runs on the caller's thread.</para>
    /// <para>The row length d is <see cref="Dimension"/>. For a function whose last parameter is an array of any
    /// length (<see cref="HasVariableLength"/>) it is <c>points.Length / values.Length</c>, at least
    /// <see cref="Dimension"/>: every point has the same length, and that array is the rest of each row.</para>
    /// <code>
    /// var g = Grad.Of((double x, double y) =&gt; x * y);
    /// double[] points = [1, 2, 3, 4, 5, 6];               // (1, 2), (3, 4), (5, 6)
    /// var values = new double[3];                         // 2, 12, 30
    /// var gradients = new double[6];                      // (2, 1), (4, 3), (6, 5)
    /// g.EvaluateBatch(points, values, gradients);
    /// </code>
    /// </remarks>
    /// <exception cref="ArgumentException">A span's length does not fit the others (the message names the span and
    /// the length it needs), or <paramref name="values"/> or <paramref name="gradients"/> overlaps another span.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is 0 or less than -1.</exception>
    /// <exception cref="NotSupportedException">The function has no flat layout (see
    /// <see cref="Evaluate(ReadOnlySpan{double}, Span{double})"/>).</exception>
    /// <exception cref="Exception">Whatever the function throws at a point (from the captured data it reads) reaches
    /// the caller as a single call throws it; if several threads throw, the first one caught. The outputs are then
    /// partly written.</exception>
    public void EvaluateBatch(ReadOnlySpan<double> points, Span<double> values, Span<double> gradients, int maxDegreeOfParallelism = -1)
    {
        if (maxDegreeOfParallelism is 0 or < -1)
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "the number of threads must be positive, or -1 for one per processor");
        if (_noFlatLayout is not null)
            ThrowNoFlatLayout();
        var d = BatchRowLength(points.Length, values.Length, gradients.Length);
        if (values.Overlaps(points) || values.Overlaps(gradients))
            throw new ArgumentException("values overlaps the points or the gradients: another thread may read or write that memory while a value is stored", nameof(values));
        if (gradients.Overlaps(points))
            throw new ArgumentException("gradients overlaps the points: a gradient written by one thread would overwrite a point another thread has not read yet", nameof(gradients));

        var n = values.Length;
        if (n == 0)
            return;
        // The flat kernel, compiled now if the typed one came first, so that every chunk takes the direct call.
        _direct ??= Kernel.Direct;
        var workers = maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism;
        var chunks = (int)Math.Min((long)workers * ChunksPerWorker, n / MinPointsPerChunk);
        if (workers == 1 || chunks < 2)
        {
            EvaluateRange(points, values, gradients, d, 0, n);
            return;
        }
        unsafe
        {
            fixed (double* p = points, v = values, g = gradients)
            {
                var job = new BatchJob(this, (nint)p, (nint)v, (nint)g, d, n, chunks);
                try
                {
                    Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = workers }, job.Run);
                }
                catch (AggregateException e) when (e.InnerExceptions.Count > 0)
                {
                    // What a single call would throw, not Parallel.For's wrapper.
                    ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
                }
            }
        }
    }

    /// <summary>
    /// Evaluates the function and its gradient at every row of <paramref name="points"/> (n × d, one point per row, in
    /// the flat layout), in parallel, as <see cref="EvaluateBatch(ReadOnlySpan{double}, Span{double}, Span{double}, int)"/>.
    /// </summary>
    /// <param name="points">One point per row; d columns (<see cref="Dimension"/>, or at least that many for a function
    /// with <see cref="HasVariableLength"/>).</param>
    /// <param name="maxDegreeOfParallelism">At most this many threads; -1, the default, is one per processor.</param>
    /// <returns>The n values, and the n gradients as the rows of an n × d matrix.</returns>
    /// <exception cref="ArgumentException">The matrix has the wrong number of columns.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is 0 or less than -1.</exception>
    /// <exception cref="NotSupportedException">The function has no flat layout.</exception>
    public (Vector<double> Values, Matrix<double> Gradients) EvaluateBatch(Matrix<double> points, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.ColumnCount != _dimension && !(_endsDynamic && points.ColumnCount > _dimension))
            throw new ArgumentException($"points has {points.ColumnCount} columns but a point of this function has {(_endsDynamic ? "at least " : "")}{_dimension} values: one point per row", nameof(points));
        // MathNet stores a dense matrix by columns: the rows are gathered into the flat row-major layout and back.
        var flat = points.ToRowMajorArray();
        var values = new double[points.RowCount];
        var gradients = new double[flat.Length];
        EvaluateBatch(flat, values, gradients, maxDegreeOfParallelism);
        return (Vector<double>.Build.Dense(values), Matrix<double>.Build.DenseOfRowMajor(points.RowCount, points.ColumnCount, gradients));
    }

    // The row length d, after checking that the three lengths agree.
    private int BatchRowLength(int points, int values, int gradients)
    {
        int d;
        if (values == 0)
        {
            if (points != 0)
                throw new ArgumentException($"points has {points} values but values has room for no point: values.Length is the number of points", nameof(points));
            d = _dimension;
        }
        else if (!_endsDynamic)
        {
            d = _dimension;
            if (points != (long)values * d)
                throw new ArgumentException($"points has {points} values but {values} points (values.Length) of dimension {d} need {(long)values * d}", nameof(points));
        }
        else
        {
            d = points / values;
            if (points % values != 0 || d < _dimension)
                throw new ArgumentException($"points has {points} values, which is not {values} points (values.Length) of one length of at least {_dimension}", nameof(points));
        }
        if (gradients != (long)values * d)
            throw new ArgumentException($"gradients has room for {gradients} values but {values} gradients of length {d} need {(long)values * d}", nameof(gradients));
        return d;
    }

    // Once the batch's lengths and overlaps are checked, every row passes the span Evaluate's checks (long enough, and
    // its gradient apart from its point), so a graph compiled as one method is called directly, as Evaluate calls it:
    // the same compiled code on the same row, so the same bits. A split graph runs through Evaluate's workspace.
    private void EvaluateRange(ReadOnlySpan<double> points, Span<double> values, Span<double> gradients, int d, int start, int end)
    {
        if (_direct is { } direct)
        {
            ref var x = ref MemoryMarshal.GetReference(points);
            ref var g = ref MemoryMarshal.GetReference(gradients);
            for (var i = start; i < end; i++)
                values[i] = direct(ref Unsafe.Add(ref x, i * d), ref Unsafe.Add(ref g, i * d), [], d);
            return;
        }
        for (var i = start; i < end; i++)
            values[i] = Evaluate(points.Slice(i * d, d), gradients.Slice(i * d, d));
    }

    // One batch's spans, pinned by the caller for as long as Parallel.For runs, and its split into contiguous ranges.
    private sealed unsafe class BatchJob(Gradient gradient, nint points, nint values, nint gradients, int d, int n, int chunks)
    {
        public void Run(int chunk)
        {
            var start = (int)((long)n * chunk / chunks);
            var end = (int)((long)n * (chunk + 1) / chunks);
            var size = (long)n * d;
            gradient.EvaluateRange(
                new ReadOnlySpan<double>((double*)points, (int)size),
                new Span<double>((double*)values, n),
                new Span<double>((double*)gradients, (int)size),
                d, start, end);
        }
    }
}
