using System.Collections.Frozen;
using ExprGrad.Emit;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad;

/// <summary>
/// Library functions with fused derivative rules (gates, in the CS231n sense): call them inside a lambda
/// passed to <see cref="Grad"/> and the backward pass reuses their cached forward value. They are ordinary,
/// numerically careful functions when called directly.
/// </summary>
public static class Fn
{
    /// <summary>
    /// These functions by the names formulas use for them (<c>sigmoid</c>, <c>relu</c>, <c>softplus</c>,
    /// <c>square</c>, <c>trigamma</c>, <c>tetragamma</c>): pass it to the symbolic module's parser (<c>ExprGrad.Symbolic.Parse</c>) and the symbolic module's Linq conversions so that
    /// text and formulas call these methods (and get their fused derivative rules).
    /// </summary>
    public static IReadOnlyDictionary<string, System.Reflection.MethodInfo> Library { get; } =
        new Dictionary<string, System.Reflection.MethodInfo>
        {
            ["sigmoid"] = typeof(Fn).GetMethod(nameof(Sigmoid))!,
            ["relu"] = typeof(Fn).GetMethod(nameof(Relu))!,
            ["softplus"] = typeof(Fn).GetMethod(nameof(Softplus))!,
            ["square"] = typeof(Fn).GetMethod(nameof(Square))!,
            ["trigamma"] = typeof(Fn).GetMethod(nameof(TriGamma))!,
            ["tetragamma"] = typeof(Fn).GetMethod(nameof(TetraGamma))!,
        }.ToFrozenDictionary();

    /// <summary>The logistic sigmoid σ(x) = 1 / (1 + e^(−x)); σ′ = σ(1 − σ). Stable for large |x|.</summary>
    public static double Sigmoid(double x)
    {
        if (x >= 0)
            return 1.0 / (1.0 + Math.Exp(-x));
        var e = Math.Exp(x);
        return e / (1.0 + e);
    }

    /// <summary>The rectifier max(x, 0). Its derivative is 1 for x &gt; 0 and 0 otherwise (0 at the kink, as in PyTorch).</summary>
    public static double Relu(double x) => x > 0 ? x : x < 0 ? 0.0 : x * 0.0;

    /// <summary>softplus(x) = log(1 + e^x), computed without overflow; its derivative is σ(x).</summary>
    public static double Softplus(double x)
    {
        if (x > 0)
            return x + Log1PExp(-x);
        return Log1PExp(x);

        // log(1 + e^t) for t ≤ 0, accurate when e^t is tiny (Goldberg's log1p: the rounding of 1 + e cancels).
        static double Log1PExp(double t)
        {
            var e = Math.Exp(t);
            var u = 1.0 + e;
            return u == 1.0 ? e : Math.Log(u) * e / (u - 1.0);
        }
    }

    /// <summary>
    /// The trigamma function ψ′(x) = d²/dx² ln Γ(x), the derivative of MathNet's <c>SpecialFunctions.DiGamma</c>
    /// (which MathNet does not provide). Accurate to a few ulps for x &gt; 0: the recurrence ψ′(x) = ψ′(x + 1) + 1/x²
    /// lifts x past 12, where the asymptotic series 1/x + 1/(2x²) + Σ B₂ₖ/x^(2k+1) converges fast; negative
    /// non-integers use the reflection ψ′(1 − x) + ψ′(x) = π²/sin²(πx). Poles (0, −1, −2, ...) give +∞.
    /// ExprGrad differentiates it once (as DiGamma's derivative) but has no rule for its own derivative.
    /// </summary>
    /// <example><c>Fn.TriGamma(1) == π²/6 ≈ 1.6449340668482264</c>.</example>
    public static double TriGamma(double x) => ExprGrad.Symbolic.Polygamma.TriGamma(x);

    /// <summary>
    /// The tetragamma function ψ″(x) = d³/dx³ ln Γ(x), the derivative of <see cref="TriGamma"/> (so DiGamma is
    /// differentiated twice and GammaLn three times). NaN at the poles 0, −1, −2, ..., where its two sides tend to −∞ and +∞.
    /// </summary>
    /// <param name="x">The argument.</param>
    /// <returns>ψ″(x).</returns>
    /// <example><c>Fn.TetraGamma(1) == −2ζ(3) ≈ −2.4041138063191885</c>.</example>
    public static double TetraGamma(double x) => ExprGrad.Symbolic.Polygamma.TetraGamma(x);

    /// <summary>x², with derivative 2x.</summary>
    public static double Square(double x) => x * x;

    /// <summary>
    /// <c>Math.Sign</c> as ExprGrad differentiates it: a double, ±1, and 0 at ±0 (keeping the sign of zero), NaN at NaN
    /// where <c>Math.Sign</c> throws. Gradients generated for <see cref="DifferentiableAttribute"/> methods call it
    /// wherever the user's <c>Math.Sign</c> or the rules of <c>Abs</c> and <c>Relu</c> need a sign.
    /// </summary>
    /// <param name="x">The argument.</param>
    public static double Sign(double x) => x > 0 ? 1.0 : x < 0 ? -1.0 : x * 0.0;

    /// <summary>
    /// The softmax of a vector of logits: e^(v_i − max v) / Σ_j e^(v_j − max v), so no exponential overflows.
    /// Its Jacobian-vector product is y ⊙ (ȳ − ȳ·y).
    /// </summary>
    public static Vector<double> Softmax(Vector<double> logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        var result = Vector<double>.Build.Dense(logits.Count);
        Tensors.SoftmaxColumn(Tensors.Values(logits), 0, logits.Count, Tensors.Values(result));
        return result;
    }

    /// <summary>The softmax of each column of <paramref name="logits"/> (one column per example, as in a minibatch d × n).</summary>
    public static Matrix<double> Softmax(Matrix<double> logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        var result = Matrix<double>.Build.Dense(logits.RowCount, logits.ColumnCount);
        var (x, y, rows) = (Tensors.Values(logits), Tensors.Values(result), logits.RowCount);
        for (var j = 0; j < logits.ColumnCount; j++)
            Tensors.SoftmaxColumn(x, j * rows, rows, y);
        return result;
    }

    /// <summary>log Σ_i e^(v_i), computed as max v + log Σ_i e^(v_i − max v); its gradient is the softmax. −∞ for an empty vector.</summary>
    public static double LogSumExp(Vector<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return Tensors.LogSumExpColumn(Tensors.Values(values), 0, values.Count);
    }

    /// <summary>The log-sum-exp of each column of <paramref name="values"/>: one entry per column.</summary>
    public static Vector<double> LogSumExp(Matrix<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var (x, rows) = (Tensors.Values(values), values.RowCount);
        return Vector<double>.Build.Dense(values.ColumnCount, j => Tensors.LogSumExpColumn(x, j * rows, rows));
    }

    /// <summary>
    /// The cross-entropy of softmax(<paramref name="logits"/>) against <paramref name="targets"/> (one-hot labels or
    /// probabilities): −Σ_i t_i log softmax(o)_i = Σ_i t_i (logsumexp(o) − o_i), fused so that it never takes the log
    /// of an underflowed probability. Its gradient in the logits is softmax(o)·Σt − t.
    /// </summary>
    /// <exception cref="ArgumentException">The two vectors differ in length.</exception>
    public static double CrossEntropy(Vector<double> logits, Vector<double> targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        Tensors.RequireSameShape(nameof(CrossEntropy), logits, targets);
        return Tensors.CrossEntropyColumn(Tensors.Values(logits), Tensors.Values(targets), 0, logits.Count);
    }

    /// <summary>
    /// The mean over columns (examples) of the cross-entropy of each column of <paramref name="logits"/> against the
    /// same column of <paramref name="targets"/>; the minibatch form of <see cref="CrossEntropy(Vector{double}, Vector{double})"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The two matrices differ in shape.</exception>
    public static double CrossEntropy(Matrix<double> logits, Matrix<double> targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        Tensors.RequireSameShape(nameof(CrossEntropy), logits, targets);
        var (o, t, rows, n) = (Tensors.Values(logits), Tensors.Values(targets), logits.RowCount, logits.ColumnCount);
        var sum = 0.0;
        for (var j = 0; j < n; j++)
            sum += Tensors.CrossEntropyColumn(o, t, j * rows, rows);
        return sum / n;
    }

    /// <summary>The squared error ½‖p − t‖² = ½ Σ_i (p_i − t_i)², with gradient p − t in the prediction.</summary>
    /// <exception cref="ArgumentException">The two vectors differ in length.</exception>
    public static double SquaredError(Vector<double> prediction, Vector<double> target)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        Tensors.RequireSameShape(nameof(SquaredError), prediction, target);
        return 0.5 * Tensors.SquaredDistance(Tensors.Values(prediction), Tensors.Values(target));
    }

    /// <summary>
    /// The mean over columns (examples) of ½‖p_j − t_j‖²: ½ Σ (P − T)² / n for n columns; the minibatch form of
    /// <see cref="SquaredError(Vector{double}, Vector{double})"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The two matrices differ in shape.</exception>
    public static double SquaredError(Matrix<double> prediction, Matrix<double> target)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        Tensors.RequireSameShape(nameof(SquaredError), prediction, target);
        return 0.5 * Tensors.SquaredDistance(Tensors.Values(prediction), Tensors.Values(target)) / prediction.ColumnCount;
    }
}
