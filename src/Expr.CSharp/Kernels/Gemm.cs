using System.Runtime.CompilerServices;
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
/// every element runs in one order (block by block, each block in order), and threads only divide the output's row
/// blocks among themselves. A different kernel (another instruction set) may round differently.
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
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var (m, k) = transposeA ? (a.ColumnCount, a.RowCount) : (a.RowCount, a.ColumnCount);
        var (k2, n) = transposeB ? (b.ColumnCount, b.RowCount) : (b.RowCount, b.ColumnCount);
        if (k != k2)
            throw new ArgumentException($"a matrix product needs op(A)'s {k} columns to match op(B)'s {k2} rows");
        // Every element is written (zeros when k = 0), so the storage need not be cleared first.
        var c = GC.AllocateUninitializedArray<double>(m * n);
        Product(Storage(a), a.RowCount, transposeA, Storage(b), b.RowCount, transposeB, c, m, n, k, Environment.ProcessorCount);
        return new DenseMatrix(m, n, c);
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
        var operands = new Operands(a, lda, transposeA, b, ldb, transposeB, c, m, n, k, (fma ?? true) && HasFma);
        var parallel = threads > 1 && (long)m * n * k >= ParallelThreshold && m > Mc;
        for (var jc = 0; jc < n; jc += Nc)
        {
            var nc = Math.Min(Nc, n - jc);
            var packedB = Buffers.RentB(PackedBLength(k, nc));
            try
            {
                PackB(operands, jc, nc, packedB);
                var rowBlocks = (m + Mc - 1) / Mc;
                if (parallel)
                    Parallel.For(0, rowBlocks, new ParallelOptions { MaxDegreeOfParallelism = threads },
                        block => RowBlock(operands, block * Mc, jc, nc, packedB));
                else
                    for (var block = 0; block < rowBlocks; block++)
                        RowBlock(operands, block * Mc, jc, nc, packedB);
            }
            finally
            {
                Buffers.ReturnB(packedB);
            }
        }
    }

    /// <summary>The operands of one product; <see cref="C"/> is written, the rest only read.</summary>
    private sealed record Operands(double[] A, int Lda, bool TransposeA, double[] B, int Ldb, bool TransposeB,
        double[] C, int M, int N, int K, bool Fma);

    // Rows of the output a thread packs and computes at once, and columns of B packed at once. The k-blocks are an
    // even split of k into pieces of at most Kc, so they depend on k alone.
    private const int Mc = 64, Nc = 2048, Kc = 256;

    private static int KBlocks(int k) => (k + Kc - 1) / Kc;

    private static int KBlockStart(int k, int block) => (int)((long)k * block / KBlocks(k));

    private static int PackedBLength(int k, int nc) => k * RoundUp(nc, Nr);

    private static int RoundUp(int x, int step) => (x + step - 1) / step * step;

    /// <summary>One block of at most Mc output rows over columns jc..jc+nc: every k-block, each A block packed once.</summary>
    private static void RowBlock(Operands o, int ic, int jc, int nc, double[] packedB)
    {
        var mc = Math.Min(Mc, o.M - ic);
        var blocks = KBlocks(o.K);
        var packedA = Buffers.RentA(RoundUp(mc, Mr) * ((o.K + blocks - 1) / blocks));
        try
        {
            for (var block = 0; block < blocks; block++)
            {
                var (pc, end) = (KBlockStart(o.K, block), KBlockStart(o.K, block + 1));
                var kc = end - pc;
                PackA(o, ic, mc, pc, kc, packedA);
                // B's packed panels for this k-block start after those of the earlier k-blocks.
                MacroKernel(o, ic, mc, jc, nc, kc, packedA, packedB, pc * RoundUp(nc, Nr), accumulate: block > 0);
            }
        }
        finally
        {
            Buffers.ReturnA(packedA);
        }
    }

    /// <summary>
    /// Packs op(A)[ic..ic+mc, pc..pc+kc] as panels of Mr rows: for each p, Mr consecutive values, rows past mc zero.
    /// </summary>
    private static unsafe void PackA(Operands o, int ic, int mc, int pc, int kc, double[] packed)
    {
        var lda = (long)o.Lda;
        fixed (double* a = o.A, target = packed)
        {
            var at = target;
            for (var ir = 0; ir < mc; ir += Mr)
            {
                var rows = Min(Mr, mc - ir);
                if (!o.TransposeA && rows == Mr)
                {
                    // Eight consecutive rows of a column: one copy of 64 bytes per step of p.
                    var source = a + ic + ir + pc * lda;
                    for (var p = 0; p < kc; p++, source += lda, at += Mr)
                        Unsafe.CopyBlockUnaligned(at, source, Mr * sizeof(double));
                    continue;
                }
                for (var p = pc; p < pc + kc; p++, at += Mr)
                {
                    for (var i = 0; i < rows; i++)
                        at[i] = o.TransposeA ? a[p + (ic + ir + i) * lda] : a[ic + ir + i + p * lda];
                    for (var i = rows; i < Mr; i++)
                        at[i] = 0;
                }
            }
        }
    }

    /// <summary>
    /// Packs op(B)[.., jc..jc+nc] k-block by k-block, each as panels of Nr columns: for each p, Nr consecutive values,
    /// columns past nc zero.
    /// </summary>
    private static unsafe void PackB(Operands o, int jc, int nc, double[] packed)
    {
        var ldb = (long)o.Ldb;
        fixed (double* b = o.B, target = packed)
        {
            var at = target;
            for (var block = 0; block < KBlocks(o.K); block++)
            {
                var (pc, end) = (KBlockStart(o.K, block), KBlockStart(o.K, block + 1));
                for (var jr = 0; jr < nc; jr += Nr)
                {
                    var columns = Min(Nr, nc - jr);
                    for (var p = pc; p < end; p++, at += Nr)
                    {
                        for (var j = 0; j < columns; j++)
                            at[j] = o.TransposeB ? b[jc + jr + j + p * ldb] : b[p + (jc + jr + j) * ldb];
                        for (var j = columns; j < Nr; j++)
                            at[j] = 0;
                    }
                }
            }
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
