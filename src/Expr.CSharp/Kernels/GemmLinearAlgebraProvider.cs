using System.Buffers;
using System.Numerics;
using MathNet.Numerics;
using MathNet.Numerics.LinearAlgebra.Factorization;
using MathNet.Numerics.Providers.LinearAlgebra;

namespace ExprGrad.Kernels;

/// <summary>
/// MathNet's linear algebra provider with ExprGrad's matrix product (<see cref="Gemm"/>) for doubles: every
/// <c>Matrix&lt;double&gt;</c> product of your own MathNet code (<c>A * B</c>, <c>TransposeAndMultiply</c>, ...) then runs
/// on the cache-blocked AVX2 kernel, on all cores for large products. Everything else (other types, factorizations,
/// element-wise work) is MathNet's managed provider, unchanged. ExprGrad's compiled gradients use the kernel whether
/// or not this is enabled.
/// </summary>
/// <remarks>It is as fast as the managed provider on 4 × 4 products and faster from 8 × 8 on (the benchmarks' README).</remarks>
/// <example><c>GemmLinearAlgebraProvider.Use();</c> once, at start-up: MathNet's <c>LinearAlgebraControl.Provider</c> is then this.</example>
public sealed class GemmLinearAlgebraProvider : ILinearAlgebraProvider
{
    private readonly ManagedLinearAlgebraProvider _managed = new();

    /// <summary>Makes a new instance MathNet's linear algebra provider (<c>LinearAlgebraControl.Provider</c>), for every thread.</summary>
    public static void Use() => LinearAlgebraControl.Provider = new GemmLinearAlgebraProvider();

    /// <summary>True: the provider is managed code, with a scalar kernel where the CPU lacks AVX2 and FMA.</summary>
    public bool IsAvailable() => true;

    /// <summary>Nothing to verify: no native library is loaded.</summary>
    public void InitializeVerify() => _managed.InitializeVerify();

    /// <summary>Nothing to free: the kernel's buffers are per thread and collected with it.</summary>
    public void FreeResources() => _managed.FreeResources();

    /// <summary>
    /// <paramref name="result"/> = x·y for column-major x (<paramref name="rowsX"/> × <paramref name="columnsX"/>) and y.
    /// </summary>
    /// <param name="x">The left matrix, column-major.</param>
    /// <param name="rowsX">Its rows.</param>
    /// <param name="columnsX">Its columns.</param>
    /// <param name="y">The right matrix, column-major.</param>
    /// <param name="rowsY">Its rows.</param>
    /// <param name="columnsY">Its columns.</param>
    /// <param name="result">The product, column-major, overwritten.</param>
    public void MatrixMultiply(double[] x, int rowsX, int columnsX, double[] y, int rowsY, int columnsY, double[] result) =>
        MatrixMultiplyWithUpdate(Transpose.DontTranspose, Transpose.DontTranspose, 1.0, x, rowsX, columnsX, y, rowsY, columnsY, 0.0, result);

    /// <summary>
    /// <paramref name="c"/> = <paramref name="alpha"/>·op(a)·op(b) + <paramref name="beta"/>·c (BLAS's dgemm: c is not
    /// read when beta is 0), op transposing where asked, on <see cref="Gemm"/>.
    /// </summary>
    /// <param name="transposeA">Whether to transpose a.</param>
    /// <param name="transposeB">Whether to transpose b.</param>
    /// <param name="alpha">The product's factor.</param>
    /// <param name="a">The left matrix as stored, column-major.</param>
    /// <param name="rowsA">Its stored rows.</param>
    /// <param name="columnsA">Its stored columns.</param>
    /// <param name="b">The right matrix as stored, column-major.</param>
    /// <param name="rowsB">Its stored rows.</param>
    /// <param name="columnsB">Its stored columns.</param>
    /// <param name="beta">c's factor.</param>
    /// <param name="c">The result, column-major.</param>
    /// <exception cref="ArgumentException">op(a)'s columns differ from op(b)'s rows.</exception>
    public void MatrixMultiplyWithUpdate(Transpose transposeA, Transpose transposeB, double alpha, double[] a, int rowsA, int columnsA,
        double[] b, int rowsB, int columnsB, double beta, double[] c)
    {
        var (ta, tb) = (transposeA != Transpose.DontTranspose, transposeB != Transpose.DontTranspose);
        var (m, k) = ta ? (columnsA, rowsA) : (rowsA, columnsA);
        var (k2, n) = tb ? (columnsB, rowsB) : (rowsB, columnsB);
        if (k != k2)
            throw new ArgumentException($"a matrix product needs op(A)'s {k} columns to match op(B)'s {k2} rows");
        // The kernel overwrites its output while it reads its operands: a product into one of them, or one that scales or
        // adds, goes through a buffer.
        if (alpha == 1 && beta == 0 && !ReferenceEquals(c, a) && !ReferenceEquals(c, b))
        {
            Gemm.Product(a, rowsA, ta, b, rowsB, tb, c, m, n, k, Environment.ProcessorCount);
            return;
        }
        var product = ArrayPool<double>.Shared.Rent(m * n);
        try
        {
            Gemm.Product(a, rowsA, ta, b, rowsB, tb, product, m, n, k, Environment.ProcessorCount);
            for (var i = 0; i < m * n; i++)
                c[i] = beta == 0 ? alpha * product[i] : alpha * product[i] + beta * c[i];
        }
        finally
        {
            ArrayPool<double>.Shared.Return(product);
        }
    }

    /// <summary>The provider's name, as MathNet's providers give theirs.</summary>
    public override string ToString() => "ExprGrad GEMM (AVX2 + FMA) over MathNet's managed provider";

    // Everything else is the managed provider's.
    void ILinearAlgebraProvider<double>.AddVectorToScaledVector(double[] y, double alpha, double[] x, double[] result) => _managed.AddVectorToScaledVector(y, alpha, x, result);
    void ILinearAlgebraProvider<double>.ScaleArray(double alpha, double[] x, double[] result) => _managed.ScaleArray(alpha, x, result);
    void ILinearAlgebraProvider<double>.ConjugateArray(double[] x, double[] result) => _managed.ConjugateArray(x, result);
    double ILinearAlgebraProvider<double>.DotProduct(double[] x, double[] y) => _managed.DotProduct(x, y);
    void ILinearAlgebraProvider<double>.AddArrays(double[] x, double[] y, double[] result) => _managed.AddArrays(x, y, result);
    void ILinearAlgebraProvider<double>.SubtractArrays(double[] x, double[] y, double[] result) => _managed.SubtractArrays(x, y, result);
    void ILinearAlgebraProvider<double>.PointWiseMultiplyArrays(double[] x, double[] y, double[] result) => _managed.PointWiseMultiplyArrays(x, y, result);
    void ILinearAlgebraProvider<double>.PointWiseDivideArrays(double[] x, double[] y, double[] result) => _managed.PointWiseDivideArrays(x, y, result);
    void ILinearAlgebraProvider<double>.PointWisePowerArrays(double[] x, double[] y, double[] result) => _managed.PointWisePowerArrays(x, y, result);
    double ILinearAlgebraProvider<double>.MatrixNorm(Norm norm, int rows, int columns, double[] matrix) => _managed.MatrixNorm(norm, rows, columns, matrix);
    void ILinearAlgebraProvider<double>.LUFactor(double[] data, int order, int[] ipiv) => _managed.LUFactor(data, order, ipiv);
    void ILinearAlgebraProvider<double>.LUInverse(double[] a, int order) => _managed.LUInverse(a, order);
    void ILinearAlgebraProvider<double>.LUInverseFactored(double[] a, int order, int[] ipiv) => _managed.LUInverseFactored(a, order, ipiv);
    void ILinearAlgebraProvider<double>.LUSolve(int columnsOfB, double[] a, int order, double[] b) => _managed.LUSolve(columnsOfB, a, order, b);
    void ILinearAlgebraProvider<double>.LUSolveFactored(int columnsOfB, double[] a, int order, int[] ipiv, double[] b) => _managed.LUSolveFactored(columnsOfB, a, order, ipiv, b);
    void ILinearAlgebraProvider<double>.CholeskyFactor(double[] a, int order) => _managed.CholeskyFactor(a, order);
    void ILinearAlgebraProvider<double>.CholeskySolve(double[] a, int orderA, double[] b, int columnsB) => _managed.CholeskySolve(a, orderA, b, columnsB);
    void ILinearAlgebraProvider<double>.CholeskySolveFactored(double[] a, int orderA, double[] b, int columnsB) => _managed.CholeskySolveFactored(a, orderA, b, columnsB);
    void ILinearAlgebraProvider<double>.QRFactor(double[] a, int rowsA, int columnsA, double[] q, double[] tau) => _managed.QRFactor(a, rowsA, columnsA, q, tau);
    void ILinearAlgebraProvider<double>.ThinQRFactor(double[] a, int rowsA, int columnsA, double[] r, double[] tau) => _managed.ThinQRFactor(a, rowsA, columnsA, r, tau);
    void ILinearAlgebraProvider<double>.QRSolve(double[] a, int rows, int columns, double[] b, int columnsB, double[] x, QRMethod method) => _managed.QRSolve(a, rows, columns, b, columnsB, x, method);
    void ILinearAlgebraProvider<double>.QRSolveFactored(double[] q, double[] r, int rowsA, int columnsA, double[] tau, double[] b, int columnsB, double[] x, QRMethod method) => _managed.QRSolveFactored(q, r, rowsA, columnsA, tau, b, columnsB, x, method);
    void ILinearAlgebraProvider<double>.SingularValueDecomposition(bool computeVectors, double[] a, int rowsA, int columnsA, double[] s, double[] u, double[] vt) => _managed.SingularValueDecomposition(computeVectors, a, rowsA, columnsA, s, u, vt);
    void ILinearAlgebraProvider<double>.SvdSolve(double[] a, int rowsA, int columnsA, double[] b, int columnsB, double[] x) => _managed.SvdSolve(a, rowsA, columnsA, b, columnsB, x);
    void ILinearAlgebraProvider<double>.SvdSolveFactored(int rowsA, int columnsA, double[] s, double[] u, double[] vt, double[] b, int columnsB, double[] x) => _managed.SvdSolveFactored(rowsA, columnsA, s, u, vt, b, columnsB, x);
    void ILinearAlgebraProvider<double>.EigenDecomp(bool isSymmetric, int order, double[] matrix, double[] matrixEv, Complex[] vectorEv, double[] matrixD) => _managed.EigenDecomp(isSymmetric, order, matrix, matrixEv, vectorEv, matrixD);
    void ILinearAlgebraProvider<float>.AddVectorToScaledVector(float[] y, float alpha, float[] x, float[] result) => _managed.AddVectorToScaledVector(y, alpha, x, result);
    void ILinearAlgebraProvider<float>.ScaleArray(float alpha, float[] x, float[] result) => _managed.ScaleArray(alpha, x, result);
    void ILinearAlgebraProvider<float>.ConjugateArray(float[] x, float[] result) => _managed.ConjugateArray(x, result);
    float ILinearAlgebraProvider<float>.DotProduct(float[] x, float[] y) => _managed.DotProduct(x, y);
    void ILinearAlgebraProvider<float>.AddArrays(float[] x, float[] y, float[] result) => _managed.AddArrays(x, y, result);
    void ILinearAlgebraProvider<float>.SubtractArrays(float[] x, float[] y, float[] result) => _managed.SubtractArrays(x, y, result);
    void ILinearAlgebraProvider<float>.PointWiseMultiplyArrays(float[] x, float[] y, float[] result) => _managed.PointWiseMultiplyArrays(x, y, result);
    void ILinearAlgebraProvider<float>.PointWiseDivideArrays(float[] x, float[] y, float[] result) => _managed.PointWiseDivideArrays(x, y, result);
    void ILinearAlgebraProvider<float>.PointWisePowerArrays(float[] x, float[] y, float[] result) => _managed.PointWisePowerArrays(x, y, result);
    double ILinearAlgebraProvider<float>.MatrixNorm(Norm norm, int rows, int columns, float[] matrix) => _managed.MatrixNorm(norm, rows, columns, matrix);
    void ILinearAlgebraProvider<float>.MatrixMultiply(float[] x, int rowsX, int columnsX, float[] y, int rowsY, int columnsY, float[] result) => _managed.MatrixMultiply(x, rowsX, columnsX, y, rowsY, columnsY, result);
    void ILinearAlgebraProvider<float>.MatrixMultiplyWithUpdate(Transpose transposeA, Transpose transposeB, float alpha, float[] a, int rowsA, int columnsA, float[] b, int rowsB, int columnsB, float beta, float[] c) => _managed.MatrixMultiplyWithUpdate(transposeA, transposeB, alpha, a, rowsA, columnsA, b, rowsB, columnsB, beta, c);
    void ILinearAlgebraProvider<float>.LUFactor(float[] data, int order, int[] ipiv) => _managed.LUFactor(data, order, ipiv);
    void ILinearAlgebraProvider<float>.LUInverse(float[] a, int order) => _managed.LUInverse(a, order);
    void ILinearAlgebraProvider<float>.LUInverseFactored(float[] a, int order, int[] ipiv) => _managed.LUInverseFactored(a, order, ipiv);
    void ILinearAlgebraProvider<float>.LUSolve(int columnsOfB, float[] a, int order, float[] b) => _managed.LUSolve(columnsOfB, a, order, b);
    void ILinearAlgebraProvider<float>.LUSolveFactored(int columnsOfB, float[] a, int order, int[] ipiv, float[] b) => _managed.LUSolveFactored(columnsOfB, a, order, ipiv, b);
    void ILinearAlgebraProvider<float>.CholeskyFactor(float[] a, int order) => _managed.CholeskyFactor(a, order);
    void ILinearAlgebraProvider<float>.CholeskySolve(float[] a, int orderA, float[] b, int columnsB) => _managed.CholeskySolve(a, orderA, b, columnsB);
    void ILinearAlgebraProvider<float>.CholeskySolveFactored(float[] a, int orderA, float[] b, int columnsB) => _managed.CholeskySolveFactored(a, orderA, b, columnsB);
    void ILinearAlgebraProvider<float>.QRFactor(float[] a, int rowsA, int columnsA, float[] q, float[] tau) => _managed.QRFactor(a, rowsA, columnsA, q, tau);
    void ILinearAlgebraProvider<float>.ThinQRFactor(float[] a, int rowsA, int columnsA, float[] r, float[] tau) => _managed.ThinQRFactor(a, rowsA, columnsA, r, tau);
    void ILinearAlgebraProvider<float>.QRSolve(float[] a, int rows, int columns, float[] b, int columnsB, float[] x, QRMethod method) => _managed.QRSolve(a, rows, columns, b, columnsB, x, method);
    void ILinearAlgebraProvider<float>.QRSolveFactored(float[] q, float[] r, int rowsA, int columnsA, float[] tau, float[] b, int columnsB, float[] x, QRMethod method) => _managed.QRSolveFactored(q, r, rowsA, columnsA, tau, b, columnsB, x, method);
    void ILinearAlgebraProvider<float>.SingularValueDecomposition(bool computeVectors, float[] a, int rowsA, int columnsA, float[] s, float[] u, float[] vt) => _managed.SingularValueDecomposition(computeVectors, a, rowsA, columnsA, s, u, vt);
    void ILinearAlgebraProvider<float>.SvdSolve(float[] a, int rowsA, int columnsA, float[] b, int columnsB, float[] x) => _managed.SvdSolve(a, rowsA, columnsA, b, columnsB, x);
    void ILinearAlgebraProvider<float>.SvdSolveFactored(int rowsA, int columnsA, float[] s, float[] u, float[] vt, float[] b, int columnsB, float[] x) => _managed.SvdSolveFactored(rowsA, columnsA, s, u, vt, b, columnsB, x);
    void ILinearAlgebraProvider<float>.EigenDecomp(bool isSymmetric, int order, float[] matrix, float[] matrixEv, Complex[] vectorEv, float[] matrixD) => _managed.EigenDecomp(isSymmetric, order, matrix, matrixEv, vectorEv, matrixD);
    void ILinearAlgebraProvider<Complex>.AddVectorToScaledVector(Complex[] y, Complex alpha, Complex[] x, Complex[] result) => _managed.AddVectorToScaledVector(y, alpha, x, result);
    void ILinearAlgebraProvider<Complex>.ScaleArray(Complex alpha, Complex[] x, Complex[] result) => _managed.ScaleArray(alpha, x, result);
    void ILinearAlgebraProvider<Complex>.ConjugateArray(Complex[] x, Complex[] result) => _managed.ConjugateArray(x, result);
    Complex ILinearAlgebraProvider<Complex>.DotProduct(Complex[] x, Complex[] y) => _managed.DotProduct(x, y);
    void ILinearAlgebraProvider<Complex>.AddArrays(Complex[] x, Complex[] y, Complex[] result) => _managed.AddArrays(x, y, result);
    void ILinearAlgebraProvider<Complex>.SubtractArrays(Complex[] x, Complex[] y, Complex[] result) => _managed.SubtractArrays(x, y, result);
    void ILinearAlgebraProvider<Complex>.PointWiseMultiplyArrays(Complex[] x, Complex[] y, Complex[] result) => _managed.PointWiseMultiplyArrays(x, y, result);
    void ILinearAlgebraProvider<Complex>.PointWiseDivideArrays(Complex[] x, Complex[] y, Complex[] result) => _managed.PointWiseDivideArrays(x, y, result);
    void ILinearAlgebraProvider<Complex>.PointWisePowerArrays(Complex[] x, Complex[] y, Complex[] result) => _managed.PointWisePowerArrays(x, y, result);
    double ILinearAlgebraProvider<Complex>.MatrixNorm(Norm norm, int rows, int columns, Complex[] matrix) => _managed.MatrixNorm(norm, rows, columns, matrix);
    void ILinearAlgebraProvider<Complex>.MatrixMultiply(Complex[] x, int rowsX, int columnsX, Complex[] y, int rowsY, int columnsY, Complex[] result) => _managed.MatrixMultiply(x, rowsX, columnsX, y, rowsY, columnsY, result);
    void ILinearAlgebraProvider<Complex>.MatrixMultiplyWithUpdate(Transpose transposeA, Transpose transposeB, Complex alpha, Complex[] a, int rowsA, int columnsA, Complex[] b, int rowsB, int columnsB, Complex beta, Complex[] c) => _managed.MatrixMultiplyWithUpdate(transposeA, transposeB, alpha, a, rowsA, columnsA, b, rowsB, columnsB, beta, c);
    void ILinearAlgebraProvider<Complex>.LUFactor(Complex[] data, int order, int[] ipiv) => _managed.LUFactor(data, order, ipiv);
    void ILinearAlgebraProvider<Complex>.LUInverse(Complex[] a, int order) => _managed.LUInverse(a, order);
    void ILinearAlgebraProvider<Complex>.LUInverseFactored(Complex[] a, int order, int[] ipiv) => _managed.LUInverseFactored(a, order, ipiv);
    void ILinearAlgebraProvider<Complex>.LUSolve(int columnsOfB, Complex[] a, int order, Complex[] b) => _managed.LUSolve(columnsOfB, a, order, b);
    void ILinearAlgebraProvider<Complex>.LUSolveFactored(int columnsOfB, Complex[] a, int order, int[] ipiv, Complex[] b) => _managed.LUSolveFactored(columnsOfB, a, order, ipiv, b);
    void ILinearAlgebraProvider<Complex>.CholeskyFactor(Complex[] a, int order) => _managed.CholeskyFactor(a, order);
    void ILinearAlgebraProvider<Complex>.CholeskySolve(Complex[] a, int orderA, Complex[] b, int columnsB) => _managed.CholeskySolve(a, orderA, b, columnsB);
    void ILinearAlgebraProvider<Complex>.CholeskySolveFactored(Complex[] a, int orderA, Complex[] b, int columnsB) => _managed.CholeskySolveFactored(a, orderA, b, columnsB);
    void ILinearAlgebraProvider<Complex>.QRFactor(Complex[] a, int rowsA, int columnsA, Complex[] q, Complex[] tau) => _managed.QRFactor(a, rowsA, columnsA, q, tau);
    void ILinearAlgebraProvider<Complex>.ThinQRFactor(Complex[] a, int rowsA, int columnsA, Complex[] r, Complex[] tau) => _managed.ThinQRFactor(a, rowsA, columnsA, r, tau);
    void ILinearAlgebraProvider<Complex>.QRSolve(Complex[] a, int rows, int columns, Complex[] b, int columnsB, Complex[] x, QRMethod method) => _managed.QRSolve(a, rows, columns, b, columnsB, x, method);
    void ILinearAlgebraProvider<Complex>.QRSolveFactored(Complex[] q, Complex[] r, int rowsA, int columnsA, Complex[] tau, Complex[] b, int columnsB, Complex[] x, QRMethod method) => _managed.QRSolveFactored(q, r, rowsA, columnsA, tau, b, columnsB, x, method);
    void ILinearAlgebraProvider<Complex>.SingularValueDecomposition(bool computeVectors, Complex[] a, int rowsA, int columnsA, Complex[] s, Complex[] u, Complex[] vt) => _managed.SingularValueDecomposition(computeVectors, a, rowsA, columnsA, s, u, vt);
    void ILinearAlgebraProvider<Complex>.SvdSolve(Complex[] a, int rowsA, int columnsA, Complex[] b, int columnsB, Complex[] x) => _managed.SvdSolve(a, rowsA, columnsA, b, columnsB, x);
    void ILinearAlgebraProvider<Complex>.SvdSolveFactored(int rowsA, int columnsA, Complex[] s, Complex[] u, Complex[] vt, Complex[] b, int columnsB, Complex[] x) => _managed.SvdSolveFactored(rowsA, columnsA, s, u, vt, b, columnsB, x);
    void ILinearAlgebraProvider<Complex>.EigenDecomp(bool isSymmetric, int order, Complex[] matrix, Complex[] matrixEv, Complex[] vectorEv, Complex[] matrixD) => _managed.EigenDecomp(isSymmetric, order, matrix, matrixEv, vectorEv, matrixD);
    void ILinearAlgebraProvider<Complex32>.AddVectorToScaledVector(Complex32[] y, Complex32 alpha, Complex32[] x, Complex32[] result) => _managed.AddVectorToScaledVector(y, alpha, x, result);
    void ILinearAlgebraProvider<Complex32>.ScaleArray(Complex32 alpha, Complex32[] x, Complex32[] result) => _managed.ScaleArray(alpha, x, result);
    void ILinearAlgebraProvider<Complex32>.ConjugateArray(Complex32[] x, Complex32[] result) => _managed.ConjugateArray(x, result);
    Complex32 ILinearAlgebraProvider<Complex32>.DotProduct(Complex32[] x, Complex32[] y) => _managed.DotProduct(x, y);
    void ILinearAlgebraProvider<Complex32>.AddArrays(Complex32[] x, Complex32[] y, Complex32[] result) => _managed.AddArrays(x, y, result);
    void ILinearAlgebraProvider<Complex32>.SubtractArrays(Complex32[] x, Complex32[] y, Complex32[] result) => _managed.SubtractArrays(x, y, result);
    void ILinearAlgebraProvider<Complex32>.PointWiseMultiplyArrays(Complex32[] x, Complex32[] y, Complex32[] result) => _managed.PointWiseMultiplyArrays(x, y, result);
    void ILinearAlgebraProvider<Complex32>.PointWiseDivideArrays(Complex32[] x, Complex32[] y, Complex32[] result) => _managed.PointWiseDivideArrays(x, y, result);
    void ILinearAlgebraProvider<Complex32>.PointWisePowerArrays(Complex32[] x, Complex32[] y, Complex32[] result) => _managed.PointWisePowerArrays(x, y, result);
    double ILinearAlgebraProvider<Complex32>.MatrixNorm(Norm norm, int rows, int columns, Complex32[] matrix) => _managed.MatrixNorm(norm, rows, columns, matrix);
    void ILinearAlgebraProvider<Complex32>.MatrixMultiply(Complex32[] x, int rowsX, int columnsX, Complex32[] y, int rowsY, int columnsY, Complex32[] result) => _managed.MatrixMultiply(x, rowsX, columnsX, y, rowsY, columnsY, result);
    void ILinearAlgebraProvider<Complex32>.MatrixMultiplyWithUpdate(Transpose transposeA, Transpose transposeB, Complex32 alpha, Complex32[] a, int rowsA, int columnsA, Complex32[] b, int rowsB, int columnsB, Complex32 beta, Complex32[] c) => _managed.MatrixMultiplyWithUpdate(transposeA, transposeB, alpha, a, rowsA, columnsA, b, rowsB, columnsB, beta, c);
    void ILinearAlgebraProvider<Complex32>.LUFactor(Complex32[] data, int order, int[] ipiv) => _managed.LUFactor(data, order, ipiv);
    void ILinearAlgebraProvider<Complex32>.LUInverse(Complex32[] a, int order) => _managed.LUInverse(a, order);
    void ILinearAlgebraProvider<Complex32>.LUInverseFactored(Complex32[] a, int order, int[] ipiv) => _managed.LUInverseFactored(a, order, ipiv);
    void ILinearAlgebraProvider<Complex32>.LUSolve(int columnsOfB, Complex32[] a, int order, Complex32[] b) => _managed.LUSolve(columnsOfB, a, order, b);
    void ILinearAlgebraProvider<Complex32>.LUSolveFactored(int columnsOfB, Complex32[] a, int order, int[] ipiv, Complex32[] b) => _managed.LUSolveFactored(columnsOfB, a, order, ipiv, b);
    void ILinearAlgebraProvider<Complex32>.CholeskyFactor(Complex32[] a, int order) => _managed.CholeskyFactor(a, order);
    void ILinearAlgebraProvider<Complex32>.CholeskySolve(Complex32[] a, int orderA, Complex32[] b, int columnsB) => _managed.CholeskySolve(a, orderA, b, columnsB);
    void ILinearAlgebraProvider<Complex32>.CholeskySolveFactored(Complex32[] a, int orderA, Complex32[] b, int columnsB) => _managed.CholeskySolveFactored(a, orderA, b, columnsB);
    void ILinearAlgebraProvider<Complex32>.QRFactor(Complex32[] a, int rowsA, int columnsA, Complex32[] q, Complex32[] tau) => _managed.QRFactor(a, rowsA, columnsA, q, tau);
    void ILinearAlgebraProvider<Complex32>.ThinQRFactor(Complex32[] a, int rowsA, int columnsA, Complex32[] r, Complex32[] tau) => _managed.ThinQRFactor(a, rowsA, columnsA, r, tau);
    void ILinearAlgebraProvider<Complex32>.QRSolve(Complex32[] a, int rows, int columns, Complex32[] b, int columnsB, Complex32[] x, QRMethod method) => _managed.QRSolve(a, rows, columns, b, columnsB, x, method);
    void ILinearAlgebraProvider<Complex32>.QRSolveFactored(Complex32[] q, Complex32[] r, int rowsA, int columnsA, Complex32[] tau, Complex32[] b, int columnsB, Complex32[] x, QRMethod method) => _managed.QRSolveFactored(q, r, rowsA, columnsA, tau, b, columnsB, x, method);
    void ILinearAlgebraProvider<Complex32>.SingularValueDecomposition(bool computeVectors, Complex32[] a, int rowsA, int columnsA, Complex32[] s, Complex32[] u, Complex32[] vt) => _managed.SingularValueDecomposition(computeVectors, a, rowsA, columnsA, s, u, vt);
    void ILinearAlgebraProvider<Complex32>.SvdSolve(Complex32[] a, int rowsA, int columnsA, Complex32[] b, int columnsB, Complex32[] x) => _managed.SvdSolve(a, rowsA, columnsA, b, columnsB, x);
    void ILinearAlgebraProvider<Complex32>.SvdSolveFactored(int rowsA, int columnsA, Complex32[] s, Complex32[] u, Complex32[] vt, Complex32[] b, int columnsB, Complex32[] x) => _managed.SvdSolveFactored(rowsA, columnsA, s, u, vt, b, columnsB, x);
    void ILinearAlgebraProvider<Complex32>.EigenDecomp(bool isSymmetric, int order, Complex32[] matrix, Complex32[] matrixEv, Complex[] vectorEv, Complex32[] matrixD) => _managed.EigenDecomp(isSymmetric, order, matrix, matrixEv, vectorEv, matrixD);
}
