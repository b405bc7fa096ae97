using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Double;

namespace ExprGrad.Kernels;

/// <summary>
/// Double-precision matrix products over MathNet's column-major dense storage, cache-blocked and register-tiled on
/// AVX2 + FMA (a scalar kernel of the same structure elsewhere). Every product the compiled gradients run comes here.
/// </summary>
/// <remarks>
/// <para>
/// The result is the same bits at any degree of parallelism: the blocking depends only on the shapes, the k-sum of
/// every element runs in one order (block by block, each block in order), and threads only divide the output among
/// themselves, in bands of whole micro-tiles (<see cref="Split"/>). A different kernel (another instruction set) may
/// round differently.
/// </para>
/// <para>
/// Example: <c>Gemm.Multiply(a, b, transposeB: true)</c> is <c>a.TransposeAndMultiply(b)</c>.
/// </para>
/// </remarks>
public static partial class Gemm
{
    /// <summary>Products of at least this many multiply-adds run on several cores.</summary>
    internal const long ParallelThreshold = 1L << 20;

    /// <summary>op(A)·op(B) as a new dense matrix, op being the transpose where asked.</summary>
    /// <param name="a">The left matrix.</param>
    /// <param name="b">The right matrix.</param>
    /// <param name="transposeA">Multiply by Aᵀ instead of A.</param>
    /// <param name="transposeB">Multiply by Bᵀ instead of B.</param>
    /// <returns>A new dense matrix of op(A)'s rows and op(B)'s columns.</returns>
    /// <exception cref="ArgumentException">The inner dimensions differ.</exception>
    public static Matrix<double> Multiply(Matrix<double> a, Matrix<double> b, bool transposeA = false, bool transposeB = false)
    {
        var (m, k, n) = ProductShape(a, b, transposeA, transposeB);
        // Every element is written (zeros when k = 0), so the storage need not be cleared first.
        var c = GC.AllocateUninitializedArray<double>(m * n);
        Product(Storage(a), a.RowCount, transposeA, Storage(b), b.RowCount, transposeB, c, m, n, k, Environment.ProcessorCount);
        return new DenseMatrix(m, n, c);
    }

    /// <summary>
    /// op(A)·op(B) written into <paramref name="result"/>, whose elements are overwritten: a training loop that keeps its
    /// matrices allocates nothing. Example: <c>Gemm.Multiply(w, x, z)</c> is <c>w.Multiply(x, z)</c>.
    /// </summary>
    /// <param name="a">The left matrix.</param>
    /// <param name="b">The right matrix.</param>
    /// <param name="result">A dense matrix of op(A)'s rows and op(B)'s columns, sharing storage with neither operand.</param>
    /// <param name="transposeA">Multiply by Aᵀ instead of A.</param>
    /// <param name="transposeB">Multiply by Bᵀ instead of B.</param>
    /// <exception cref="ArgumentException">The inner dimensions differ, or the result is not dense, has another shape or is an operand.</exception>
    public static void Multiply(Matrix<double> a, Matrix<double> b, Matrix<double> result, bool transposeA = false, bool transposeB = false)
    {
        var (m, k, n) = ProductShape(a, b, transposeA, transposeB);
        ArgumentNullException.ThrowIfNull(result);
        if (result is not DenseMatrix dense || (dense.RowCount, dense.ColumnCount) != (m, n))
            throw new ArgumentException($"the result of a {m}×{k} by {k}×{n} product must be a dense {m}×{n} matrix", nameof(result));
        if (ReferenceEquals(result, a) || ReferenceEquals(result, b) || (a is DenseMatrix da && da.Values == dense.Values) || (b is DenseMatrix db && db.Values == dense.Values))
            throw new ArgumentException("the result of a matrix product cannot be one of its operands", nameof(result));
        MultiplyInto(a, b, transposeA, transposeB, result);
    }

    /// <summary>op(A)'s rows, its columns and op(B)'s columns, once the operands are known to be there and to fit.</summary>
    private static (int M, int K, int N) ProductShape(Matrix<double> a, Matrix<double> b, bool transposeA, bool transposeB)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var (m, k) = transposeA ? (a.ColumnCount, a.RowCount) : (a.RowCount, a.ColumnCount);
        var (k2, n) = transposeB ? (b.ColumnCount, b.RowCount) : (b.RowCount, b.ColumnCount);
        return k == k2 ? (m, k, n) : throw new ArgumentException($"a matrix product needs op(A)'s {k} columns to match op(B)'s {k2} rows");
    }

    /// <summary>op(A)·op(B) written into <paramref name="c"/> (dense, of the product's shape, its elements overwritten); returns it.</summary>
    internal static Matrix<double> MultiplyInto(Matrix<double> a, Matrix<double> b, bool transposeA, bool transposeB, Matrix<double> c)
    {
        var (m, k) = transposeA ? (a.ColumnCount, a.RowCount) : (a.RowCount, a.ColumnCount);
        var n = transposeB ? b.RowCount : b.ColumnCount;
        Product(Storage(a), a.RowCount, transposeA, Storage(b), b.RowCount, transposeB, ((DenseMatrix)c).Values, m, n, k, Environment.ProcessorCount);
        return c;
    }

    /// <summary>op(A)·x as a new dense vector.</summary>
    /// <param name="a">The matrix.</param>
    /// <param name="x">The vector.</param>
    /// <param name="transposeA">Multiply by Aᵀ instead of A.</param>
    /// <returns>A new dense vector of op(A)'s rows.</returns>
    /// <exception cref="ArgumentException">op(A)'s columns differ from x's length.</exception>
    public static Vector<double> Multiply(Matrix<double> a, Vector<double> x, bool transposeA = false)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(x);
        var (m, k) = transposeA ? (a.ColumnCount, a.RowCount) : (a.RowCount, a.ColumnCount);
        if (k != x.Count)
            throw new ArgumentException($"a matrix times a vector needs op(A)'s {k} columns to match the vector's {x.Count} elements");
        var y = new DenseVector(m);
        var xs = x is DenseVector d ? d.Values : x.ToArray();
        if (transposeA)
            TransposedVectorProduct(Storage(a), a.RowCount, m, k, xs, y.Values);
        else
            VectorProduct(Storage(a), a.RowCount, m, k, xs, y.Values);
        return y;
    }

    private static double[] Storage(Matrix<double> m) => m is DenseMatrix d ? d.Values : m.ToColumnMajorArray();

    /// <summary>
    /// c (m×n, column-major, leading dimension m) = op(A)·op(B), where A is stored column-major with
    /// <paramref name="lda"/> rows and B with <paramref name="ldb"/> rows. At most <paramref name="threads"/> threads;
    /// <paramref name="fma"/> false runs the scalar micro-kernel (tests check the fallback with it).
    /// </summary>
    internal static void Product(double[] a, int lda, bool transposeA, double[] b, int ldb, bool transposeB,
        double[] c, int m, int n, int k, int threads, bool? fma = null)
    {
        if (m == 0 || n == 0)
            return;
        if (k == 0)
        {
            Array.Clear(c, 0, m * n);
            return;
        }
        var o = new Operands(a, lda, transposeA, b, ldb, transposeB, c, m, n, k, (fma ?? true) && HasFma);
        var (parts, byRows) = Split(m, n, k, threads);
        if (parts == 1)
        {
            Block(o, 0, m, 0, n);
            return;
        }
        Team.Run(parts, threads, part =>
        {
            if (byRows)
                Block(o, Cut(m, Mr, parts, part), Cut(m, Mr, parts, part + 1), 0, n);
            else
                Block(o, 0, m, Cut(n, Nr, parts, part), Cut(n, Nr, parts, part + 1));
        });
    }

    /// <summary>
    /// How a product is shared among at most <paramref name="threads"/> threads: one part a thread, each a band of whole
    /// micro-tiles of C that runs the one-thread algorithm on its own (no barrier). A band of rows packs all of op(B)
    /// again and a band of columns all of op(A), so the bands run along the side whose repacking costs less: rows when
    /// op(B) (k × n) is the smaller operand. Small products stay on the calling thread.
    /// </summary>
    internal static (int Parts, bool ByRows) Split(int m, int n, int k, int threads)
    {
        if (threads < 2 || (long)m * n * k < ParallelThreshold)
            return (1, true);
        var byRows = n <= m;
        var tiles = byRows ? (m + Mr - 1) / Mr : (n + Nr - 1) / Nr;
        return (Math.Min(threads, tiles), byRows);
    }

    /// <summary>The start of band <paramref name="part"/> of <paramref name="parts"/> over an extent cut in whole steps (the end for part = parts).</summary>
    private static int Cut(int extent, int step, int parts, int part) =>
        Math.Min(extent, (int)((long)((extent + step - 1) / step) * part / parts) * step);

    /// <summary>The record of one product; <see cref="C"/> is written, the rest only read.</summary>
    private sealed record Operands(double[] A, int Lda, bool TransposeA, double[] B, int Ldb, bool TransposeB,
        double[] C, int M, int N, int K, bool Fma);

    // Blocking for a core with 32 KB of L1d and 512 KB of L2 (Zen 3; Intel cores since Haswell are alike): a packed
    // kc × Nr panel of B (12 KB) stays in L1 while the micro-kernel sweeps the packed Mc × kc block of A (128 KB, in L2)
    // past it; a kc × Nc block of B stays in L2 or L3. The k-blocks are an even split of k into pieces of at most Kc,
    // so they depend on k alone, and every element of C sums its k-blocks in order: the same bits whatever the bands.
    private const int Mc = 64, Nc = 2048, Kc = 256;

    private static int KBlocks(int k) => (k + Kc - 1) / Kc;

    private static int KBlockStart(int k, int block) => (int)((long)k * block / KBlocks(k));

    private static int RoundUp(int x, int step) => (x + step - 1) / step * step;

    /// <summary>C[i0..i1, j0..j1] on the calling thread: the loops of Goto's algorithm around the micro-kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(Operands o, int i0, int i1, int j0, int j1)
    {
        var blocks = KBlocks(o.K);
        var maxKc = (o.K + blocks - 1) / blocks;
        var packedA = Buffers.RentA(Mc * maxKc);
        var packedB = Buffers.RentB(RoundUp(Math.Min(Nc, j1 - j0), Nr) * maxKc);
        try
        {
            for (var jc = j0; jc < j1; jc += Nc)
            {
                var nc = Math.Min(Nc, j1 - jc);
                for (var block = 0; block < blocks; block++)
                {
                    var (pc, end) = (KBlockStart(o.K, block), KBlockStart(o.K, block + 1));
                    PackB(o, jc, nc, pc, end - pc, packedB);
                    for (var ic = i0; ic < i1; ic += Mc)
                    {
                        var mc = Math.Min(Mc, i1 - ic);
                        PackA(o, ic, mc, pc, end - pc, packedA);
                        MacroKernel(o, ic, mc, jc, nc, end - pc, packedA, packedB, accumulate: block > 0);
                    }
                }
            }
        }
        finally
        {
            Buffers.ReturnA(packedA);
            Buffers.ReturnB(packedB);
        }
    }

    /// <summary>
    /// Packs op(A)[ic..ic+mc, pc..pc+kc] as panels of Mr rows: for each p, Mr consecutive values, rows past mc zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackA(Operands o, int ic, int mc, int pc, int kc, double[] packed)
    {
        var lda = (long)o.Lda;
        var full = o.TransposeA ? 0 : mc / Mr * Mr;
        fixed (double* a = o.A, target = packed)
        {
            // Column p of op(A) is contiguous: read once down the column, Mr values to each panel.
            Deal(a + ic + pc * lda, lda, kc, full, Mr, target);
            for (var ir = full; ir < mc; ir += Mr)
            {
                var rows = Min(Mr, mc - ir);
                var panel = target + (long)ir * kc;
                for (var i = 0; i < Mr; i++)
                {
                    if (i >= rows)
                    {
                        for (var p = 0; p < kc; p++)
                            panel[p * Mr + i] = 0;
                        continue;
                    }
                    // Row ic+ir+i of op(A): contiguous in A when A is stored transposed, strided by lda when not.
                    var source = o.TransposeA ? a + pc + (ic + ir + i) * lda : a + ic + ir + i + pc * lda;
                    var step = o.TransposeA ? 1 : lda;
                    for (var p = 0; p < kc; p++, source += step)
                        panel[p * Mr + i] = *source;
                }
            }
        }
    }

    /// <summary>
    /// Packs op(B)[pc..pc+kc, jc..jc+nc] as panels of Nr columns: for each p, Nr consecutive values, columns past nc zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackB(Operands o, int jc, int nc, int pc, int kc, double[] packed)
    {
        var ldb = (long)o.Ldb;
        fixed (double* b = o.B, target = packed)
        {
            if (o.TransposeB)
            {
                // op(B)[p, j] = B[j, p]: row p of op(B) is contiguous, read once along the row, Nr values to each panel.
                var full = nc / Nr * Nr;
                Deal(b + jc + pc * ldb, ldb, kc, full, Nr, target);
                if (full < nc)
                    PackBEdge(b + jc + full + pc * ldb, 1, ldb, nc - full, kc, target + (long)full * kc);
                return;
            }
            // op(B)[p, j] = B[p, j]: each column contiguous; Nr columns read side by side into one panel.
            for (var jr = 0; jr < nc; jr += Nr)
            {
                var panel = target + (long)jr * kc;
                var s0 = b + pc + (jc + jr) * ldb;
                if (nc - jr < Nr)
                {
                    PackBEdge(s0, ldb, 1, nc - jr, kc, panel);
                    continue;
                }
                double* s1 = s0 + ldb, s2 = s1 + ldb, s3 = s2 + ldb, s4 = s3 + ldb, s5 = s4 + ldb;
                for (var p = 0; p < kc; p++, panel += Nr)
                {
                    panel[0] = s0[p];
                    panel[1] = s1[p];
                    panel[2] = s2[p];
                    panel[3] = s3[p];
                    panel[4] = s4[p];
                    panel[5] = s5[p];
                }
            }
        }
    }

    /// <summary>
    /// Full panels of <paramref name="width"/> (Mr, else Nr) from a source whose line p (a column of op(A), a row of op(B))
    /// is contiguous at source + p·step: line p's first <paramref name="full"/> values, <paramref name="width"/> to each
    /// panel in turn, so the source is read once and in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Deal(double* source, long step, int kc, int full, int width, double* target)
    {
        for (var p = 0; p < kc; p++, source += step)
        {
            var at = target + p * width;
            for (var r = 0; r < full; r += width, at += (long)width * kc)
            {
                Vector256.Store(Vector256.Load(source + r), at);
                if (width == Mr)
                    Vector256.Store(Vector256.Load(source + r + 4), at + 4);
                else
                    Vector128.Store(Vector128.Load(source + r + 4), at + 4);
            }
        }
    }

    /// <summary>One panel of fewer than Nr columns: op(B)[p, j] at source + j·columnStep + p·rowStep, the rest zero.</summary>
    private static unsafe void PackBEdge(double* source, long columnStep, long rowStep, int columns, int kc, double* panel)
    {
        for (var p = 0; p < kc; p++, panel += Nr, source += rowStep)
        {
            for (var j = 0; j < columns; j++)
                panel[j] = source[j * columnStep];
            for (var j = columns; j < Nr; j++)
                panel[j] = 0;
        }
    }

    /// <summary>
    /// Per-thread packing buffers, taken out while in use, so a product re-entered on the same thread (a nested
    /// parallel loop) gets fresh ones, never ones in use. They are pinned, so kernels read them through pointers.
    /// </summary>
    private static class Buffers
    {
        [ThreadStatic]
        private static double[]? _a;

        [ThreadStatic]
        private static double[]? _b;

        public static double[] RentA(int length) => Rent(ref _a, length);

        public static double[] RentB(int length) => Rent(ref _b, length);

        public static void ReturnA(double[] buffer) => _a = buffer;

        public static void ReturnB(double[] buffer) => _b = buffer;

        private static double[] Rent(ref double[]? cached, int length)
        {
            var buffer = cached;
            cached = null;
            return buffer is not null && buffer.Length >= length ? buffer : GC.AllocateUninitializedArray<double>(Math.Max(length, 64), pinned: true);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Min(int x, int y) => x < y ? x : y;
}
