using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ExprGrad.Kernels;

public static partial class Gemm
{
    // The register tile: Mr rows of C (two 4-double vectors, contiguous in column-major storage) by Nr columns, so
    // 12 accumulators, 2 loads of A and one broadcast of B fill 15 of AVX2's 16 registers. Zen 3 and Intel cores
    // since Haswell retire two FMAs a cycle at 4 cycles' latency: 12 independent chains keep both units busy.
    private const int Mr = 8, Nr = 6;

    /// <summary>Whether this machine runs the AVX2 + FMA micro-kernel (else the scalar one).</summary>
    internal static bool HasFma { get; } = Fma.IsSupported && Avx.IsSupported;

    /// <summary>
    /// C[ic.., jc..] (+)= packed A · packed B over one k-block: every Mr × Nr tile by the micro-kernel; a tile cut by
    /// the edge of C is computed whole into a scratch tile (the packing padded it with zeros) and its valid part added.
    /// Both paths add the block's sum to C with one addition per element, so edges round as the interior does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MacroKernel(Operands o, int ic, int mc, int jc, int nc, int kc,
        double[] packedA, double[] packedB, bool accumulate)
    {
        var m = o.M;
        var fma = o.Fma;
        var tile = stackalloc double[Mr * Nr];
        fixed (double* pa = packedA, pb = packedB, pc = o.C)
        {
            for (var jr = 0; jr < nc; jr += Nr)
            {
                var columns = Min(Nr, nc - jr);
                var bPanel = pb + (long)jr * kc;
                for (var ir = 0; ir < mc; ir += Mr)
                {
                    var rows = Min(Mr, mc - ir);
                    var aPanel = pa + (long)ir * kc;
                    var c = pc + ic + ir + (long)(jc + jr) * m;
                    if (rows == Mr && columns == Nr)
                    {
                        if (fma)
                            Kernel8x6(kc, aPanel, bPanel, c, m, accumulate);
                        else
                            ScalarKernel(kc, aPanel, bPanel, c, m, accumulate);
                        continue;
                    }
                    if (fma)
                        Kernel8x6(kc, aPanel, bPanel, tile, Mr, false);
                    else
                        ScalarKernel(kc, aPanel, bPanel, tile, Mr, false);
                    for (var j = 0; j < columns; j++)
                        for (var i = 0; i < rows; i++)
                            c[i + (long)j * m] = accumulate ? c[i + (long)j * m] + tile[i + j * Mr] : tile[i + j * Mr];
                }
            }
        }
    }

    /// <summary>The 8 × 6 tile at <paramref name="c"/> (leading dimension <paramref name="ldc"/>) (+)= Σ_p a_p b_pᵀ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel8x6(int kc, double* a, double* b, double* c, int ldc, bool accumulate)
    {
        Vector256<double> c00 = default, c10 = default, c01 = default, c11 = default, c02 = default, c12 = default,
            c03 = default, c13 = default, c04 = default, c14 = default, c05 = default, c15 = default;
        for (var p = 0; p < kc; p++)
        {
            var a0 = Avx.LoadVector256(a);
            var a1 = Avx.LoadVector256(a + 4);
            var bj = Avx.BroadcastScalarToVector256(b);
            c00 = Fma.MultiplyAdd(a0, bj, c00);
            c10 = Fma.MultiplyAdd(a1, bj, c10);
            bj = Avx.BroadcastScalarToVector256(b + 1);
            c01 = Fma.MultiplyAdd(a0, bj, c01);
            c11 = Fma.MultiplyAdd(a1, bj, c11);
            bj = Avx.BroadcastScalarToVector256(b + 2);
            c02 = Fma.MultiplyAdd(a0, bj, c02);
            c12 = Fma.MultiplyAdd(a1, bj, c12);
            bj = Avx.BroadcastScalarToVector256(b + 3);
            c03 = Fma.MultiplyAdd(a0, bj, c03);
            c13 = Fma.MultiplyAdd(a1, bj, c13);
            bj = Avx.BroadcastScalarToVector256(b + 4);
            c04 = Fma.MultiplyAdd(a0, bj, c04);
            c14 = Fma.MultiplyAdd(a1, bj, c14);
            bj = Avx.BroadcastScalarToVector256(b + 5);
            c05 = Fma.MultiplyAdd(a0, bj, c05);
            c15 = Fma.MultiplyAdd(a1, bj, c15);
            a += Mr;
            b += Nr;
        }
        Store(c, c00, c10, accumulate);
        Store(c + ldc, c01, c11, accumulate);
        Store(c + 2 * ldc, c02, c12, accumulate);
        Store(c + 3 * ldc, c03, c13, accumulate);
        Store(c + 4 * ldc, c04, c14, accumulate);
        Store(c + 5 * ldc, c05, c15, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(double* c, Vector256<double> low, Vector256<double> high, bool accumulate)
    {
        if (accumulate)
        {
            low = Avx.Add(Avx.LoadVector256(c), low);
            high = Avx.Add(Avx.LoadVector256(c + 4), high);
        }
        Avx.Store(c, low);
        Avx.Store(c + 4, high);
    }

    /// <summary>The micro-kernel without SIMD: the same tile, the same order of the k-sum, a multiply and an add per step.</summary>
    private static unsafe void ScalarKernel(int kc, double* a, double* b, double* c, int ldc, bool accumulate)
    {
        var sums = stackalloc double[Mr * Nr];
        for (var t = 0; t < Mr * Nr; t++)
            sums[t] = 0;
        for (var p = 0; p < kc; p++, a += Mr, b += Nr)
            for (var j = 0; j < Nr; j++)
            {
                var bj = b[j];
                for (var i = 0; i < Mr; i++)
                    sums[i + j * Mr] += a[i] * bj;
            }
        for (var j = 0; j < Nr; j++)
            for (var i = 0; i < Mr; i++)
                c[i + (long)j * ldc] = accumulate ? c[i + (long)j * ldc] + sums[i + j * Mr] : sums[i + j * Mr];
    }

    /// <summary>y (m) = A·x, A stored column-major m × k with leading dimension lda: y = Σ_p A[:, p] x_p, in order of p.</summary>
    internal static unsafe void VectorProduct(double[] a, int lda, int m, int k, double[] x, double[] y)
    {
        Array.Clear(y, 0, m);
        if (m == 0 || k == 0)
            return;
        fixed (double* pa = a, py = y)
        {
            var i = 0;
            if (HasFma)
                for (; i + 8 <= m; i += 8)
                {
                    Vector256<double> s0 = default, s1 = default;
                    var column = pa + i;
                    for (var p = 0; p < k; p++, column += lda)
                    {
                        var xp = Vector256.Create(x[p]);
                        s0 = Fma.MultiplyAdd(Avx.LoadVector256(column), xp, s0);
                        s1 = Fma.MultiplyAdd(Avx.LoadVector256(column + 4), xp, s1);
                    }
                    Avx.Store(py + i, s0);
                    Avx.Store(py + i + 4, s1);
                }
            for (; i < m; i++)
            {
                var sum = 0.0;
                for (var p = 0; p < k; p++)
                    sum += pa[i + (long)p * lda] * x[p];
                py[i] = sum;
            }
        }
    }

    /// <summary>y (m) = Aᵀ·x, A stored column-major k × m with leading dimension lda: each y_i a dot product of a column of A with x.</summary>
    internal static unsafe void TransposedVectorProduct(double[] a, int lda, int m, int k, double[] x, double[] y)
    {
        fixed (double* pa = a, px = x)
        {
            for (var i = 0; i < m; i++)
            {
                var column = pa + (long)i * lda;
                var p = 0;
                var sum = 0.0;
                if (HasFma && k >= 16)
                {
                    Vector256<double> s0 = default, s1 = default, s2 = default, s3 = default;
                    for (; p + 16 <= k; p += 16)
                    {
                        s0 = Fma.MultiplyAdd(Avx.LoadVector256(column + p), Avx.LoadVector256(px + p), s0);
                        s1 = Fma.MultiplyAdd(Avx.LoadVector256(column + p + 4), Avx.LoadVector256(px + p + 4), s1);
                        s2 = Fma.MultiplyAdd(Avx.LoadVector256(column + p + 8), Avx.LoadVector256(px + p + 8), s2);
                        s3 = Fma.MultiplyAdd(Avx.LoadVector256(column + p + 12), Avx.LoadVector256(px + p + 12), s3);
                    }
                    sum = Vector256.Sum(Avx.Add(Avx.Add(s0, s1), Avx.Add(s2, s3)));
                }
                for (; p < k; p++)
                    sum += column[p] * px[p];
                y[i] = sum;
            }
        }
    }
}
