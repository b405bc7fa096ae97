using System.Collections.Frozen;

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
    /// <c>square</c>): pass it to the symbolic module's parser (<c>ExprGrad.Symbolic.Parse</c>) and the symbolic module's Linq conversions so that
    /// text and formulas call these methods (and get their fused derivative rules).
    /// </summary>
    public static IReadOnlyDictionary<string, System.Reflection.MethodInfo> Library { get; } =
        new Dictionary<string, System.Reflection.MethodInfo>
        {
            ["sigmoid"] = typeof(Fn).GetMethod(nameof(Sigmoid))!,
            ["relu"] = typeof(Fn).GetMethod(nameof(Relu))!,
            ["softplus"] = typeof(Fn).GetMethod(nameof(Softplus))!,
            ["square"] = typeof(Fn).GetMethod(nameof(Square))!,
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

    /// <summary>x², with derivative 2x.</summary>
    public static double Square(double x) => x * x;
}
