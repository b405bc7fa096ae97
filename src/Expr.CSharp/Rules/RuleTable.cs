using System.Collections.Frozen;
using System.Linq.Expressions;
using ExprGrad.Staging;
using MathNet.Numerics;
using static ExprGrad.Staging.Op;

namespace ExprGrad.Rules;

/// <summary>
/// The frozen table of operations: one entry per operation, each with its evaluation, its emission and its
/// pullback (the <c>rrule</c> of ChainRules.jl). Adding an operation is adding one entry here and one importer case.
/// </summary>
/// <remarks>
/// Subgradient conventions at non-differentiable points: <c>abs</c> and <c>relu</c> have derivative 0 at 0;
/// <c>max</c> and <c>min</c> split the adjoint evenly between tied arguments (so max(x, x) has derivative 1);
/// <c>sign</c>, <c>floor</c>, <c>ceiling</c>, <c>round</c> and <c>truncate</c> have derivative 0 everywhere.
/// </remarks>
internal static partial class RuleTable
{
    private static readonly FrozenDictionary<Op, Rule> Table = Build().ToFrozenDictionary(r => r.Op);

    /// <summary>All operations that have a rule (every <see cref="Op"/> but the structural ones).</summary>
    public static IEnumerable<Op> Operations => Table.Keys;

    /// <summary>
    /// The operations on numbers: those the scalar random tests generate. Not the ones only derivatives stage
    /// (trigamma, tetragamma, and the select of a routing gate): the tests reach them by differentiating digamma and the gates.
    /// </summary>
    public static IEnumerable<Op> ScalarOperations =>
        Table.Values.Where(r => r.Infer is null && !IsIndexOperation(r.Op) && r.Op is not (TriGamma or TetraGamma or Select)).Select(r => r.Op);

    /// <summary>Integer operations that only loop indices and counts use (a value cannot reach them): / and % of C# ints.</summary>
    public static bool IsIndexOperation(Op op) => op is Op.IntegerDivide or Op.Remainder;

    /// <summary>The operations on vectors and matrices (and the numbers they reduce to).</summary>
    public static IEnumerable<Op> TensorOperations => Table.Values.Where(r => r.Infer is not null).Select(r => r.Op);

    /// <summary>The rule of a node: its own for a user's method (<see cref="Op.Call"/>), else its operation's.</summary>
    public static Rule Of(Node node) => node.Function ?? Get(node.Op);

    public static Rule Get(Op op) =>
        Table.TryGetValue(op, out var rule) ? rule : throw new InvalidOperationException($"no rule for structural operation {op}");

    private static IEnumerable<Rule> Build()
    {
        // Arithmetic: add distributes, multiply swaps (the CS231n seed's patterns in backward flow).
        yield return Binary(Add, "+", (a, b) => a + b, Expression.Add, commutative: true,
            pullback: (_, _, yBar, x) => { x[0] = yBar; x[1] = yBar; });
        yield return Binary(Subtract, "-", (a, b) => a - b, Expression.Subtract,
            pullback: (b, _, yBar, x) => { x[0] = yBar; x[1] = b.Negate(yBar); });
        yield return Binary(Multiply, "*", (a, c) => a * c, Expression.Multiply, commutative: true,
            pullback: (b, y, yBar, x) =>
            {
                if (Needs(y, 0)) x[0] = b.Multiply(yBar, y.Args[1]);
                if (Needs(y, 1)) x[1] = b.Multiply(yBar, y.Args[0]);
            });
        yield return Binary(Divide, "/", (a, c) => a / c, Expression.Divide,
            pullback: (b, y, yBar, x) =>
            {
                var q = b.Divide(yBar, y.Args[1]);
                x[0] = q;
                if (Needs(y, 1)) x[1] = b.Negate(b.Multiply(q, y));
            });
        yield return Unary(Negate, "-", a => -a, Expression.Negate,
            pullback: (b, _, yBar, x) => x[0] = b.Negate(yBar));

        // Math.*: each derivative reuses the cached forward value y where it can.
        yield return Math1(Exp, "exp", Math.Exp, (b, y, yBar, x) => x[0] = b.Multiply(yBar, y));
        yield return Math1(Log, "log", Math.Log, (b, y, yBar, x) => x[0] = b.Divide(yBar, y.Args[0]));
        yield return Math2(LogBase, "log", Math.Log, (b, y, yBar, x) =>
        {
            // log_a(u) = ln u / ln a: ∂/∂u = 1/(u ln a), ∂/∂a = −y/(a ln a).
            var lnA = b.Apply(Log, y.Args[1]);
            if (Needs(y, 0)) x[0] = b.Divide(yBar, b.Multiply(y.Args[0], lnA));
            if (Needs(y, 1)) x[1] = b.Negate(b.Divide(b.Multiply(yBar, y), b.Multiply(y.Args[1], lnA)));
        });
        yield return Math1(Log10, "log10", Math.Log10, (b, y, yBar, x) => x[0] = b.Divide(yBar, b.Multiply(y.Args[0], b.Constant(Math.Log(10)))));
        yield return Math1(Log2, "log2", Math.Log2, (b, y, yBar, x) => x[0] = b.Divide(yBar, b.Multiply(y.Args[0], b.Constant(Math.Log(2)))));
        yield return Math1(Sqrt, "sqrt", Math.Sqrt, (b, y, yBar, x) => x[0] = b.Divide(yBar, b.Multiply(b.Constant(2), y)));
        yield return Math1(Cbrt, "cbrt", Math.Cbrt, (b, y, yBar, x) => x[0] = b.Divide(yBar, b.Multiply(b.Constant(3), b.Apply(Square, y))));
        yield return Math2(Pow, "pow", Math.Pow, (b, y, yBar, x) =>
        {
            var (u, p) = (y.Args[0], y.Args[1]);
            // ∂/∂u = p·u^(p−1); at p = 0, u ↦ u⁰ = 1 is constant, so 0, where the formula gives 0·0^(−1) = 0·∞ at u = 0.
            if (Needs(y, 0))
            {
                var du = b.Multiply(yBar, b.Multiply(p, b.Apply(Pow, u, b.Subtract(p, b.Constant(1)))));
                x[0] = p.Op == Op.Constant ? du : b.Select(b.Apply(Equal, p, b.Constant(0)), b.Constant(0), du);
            }
            // ∂/∂p = y·ln u; at u = 0 that is 0·(−∞), whose limit (for p > 0, where y is defined) is 0, as in JAX.
            if (Needs(y, 1))
                x[1] = b.If(b.Apply(Equal, u, b.Constant(0)), () => b.Constant(0), () => b.Multiply(b.Multiply(yBar, y), b.Apply(Log, u)));
        });
        yield return Math1(Sin, "sin", Math.Sin, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Apply(Cos, y.Args[0])));
        yield return Math1(Cos, "cos", Math.Cos, (b, y, yBar, x) => x[0] = b.Negate(b.Multiply(yBar, b.Apply(Sin, y.Args[0]))));
        yield return Math1(Tan, "tan", Math.Tan, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Add(b.Constant(1), b.Apply(Square, y))));
        yield return Math1(Asin, "asin", Math.Asin, (b, y, yBar, x) => x[0] = b.Divide(yBar, OneMinusSquareRoot(b, y.Args[0])));
        yield return Math1(Acos, "acos", Math.Acos, (b, y, yBar, x) => x[0] = b.Negate(b.Divide(yBar, OneMinusSquareRoot(b, y.Args[0]))));
        yield return Math1(Atan, "atan", Math.Atan, (b, y, yBar, x) => x[0] = b.Divide(yBar, b.Add(b.Constant(1), b.Apply(Square, y.Args[0]))));
        yield return Math2(Atan2, "atan2", Math.Atan2, (b, y, yBar, x) =>
        {
            // atan2(u, v): ∂/∂u = v/(u²+v²), ∂/∂v = −u/(u²+v²). (Not tan's rule: MathNet.Symbolics' slip.)
            var (u, v) = (y.Args[0], y.Args[1]);
            var s = b.Divide(yBar, b.Add(b.Apply(Square, u), b.Apply(Square, v)));
            if (Needs(y, 0)) x[0] = b.Multiply(s, v);
            if (Needs(y, 1)) x[1] = b.Negate(b.Multiply(s, u));
        });
        yield return Math1(Sinh, "sinh", Math.Sinh, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Apply(Cosh, y.Args[0])));
        yield return Math1(Cosh, "cosh", Math.Cosh, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Apply(Sinh, y.Args[0])));
        yield return Math1(Tanh, "tanh", Math.Tanh, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Subtract(b.Constant(1), b.Apply(Square, y))));
        yield return Math1(Asinh, "asinh", Math.Asinh, (b, y, yBar, x) => x[0] = b.Divide(yBar, b.Apply(Sqrt, b.Add(b.Apply(Square, y.Args[0]), b.Constant(1)))));
        yield return Math1(Acosh, "acosh", Math.Acosh, (b, y, yBar, x) => x[0] = b.Divide(yBar, b.Apply(Sqrt, b.Subtract(b.Apply(Square, y.Args[0]), b.Constant(1)))));
        yield return Math1(Atanh, "atanh", Math.Atanh, (b, y, yBar, x) => x[0] = b.Divide(yBar, b.Subtract(b.Constant(1), b.Apply(Square, y.Args[0]))));
        // The routing gates select: the adjoint goes to the input picked, nothing to the other, and a tie splits it evenly.
        yield return Math1(Abs, "abs", Math.Abs, (b, y, yBar, x) =>
        {
            var u = y.Args[0];
            var zero = b.Constant(0);
            x[0] = b.Select(b.Apply(GreaterThan, u, zero), yBar, b.Select(b.Apply(LessThan, u, zero), b.Negate(yBar), zero));
        });
        yield return Math2(Max, "max", Math.Max, commutative: true, pullback: (b, y, yBar, x) =>
        {
            if (Needs(y, 0)) x[0] = Route(b, yBar, y.Args[0], y.Args[1]);
            if (Needs(y, 1)) x[1] = Route(b, yBar, y.Args[1], y.Args[0]);
        });
        yield return Math2(Min, "min", Math.Min, commutative: true, pullback: (b, y, yBar, x) =>
        {
            if (Needs(y, 0)) x[0] = Route(b, yBar, y.Args[1], y.Args[0]);
            if (Needs(y, 1)) x[1] = Route(b, yBar, y.Args[0], y.Args[1]);
        });
        yield return new Rule
        {
            Op = Select, Symbol = "?:", Arity = 3,
            Evaluate = a => a[0] != 0 ? a[1] : a[2],
            Emit = a => Expression.Condition(a[0], a[1], a[2]),
            Pullback = (b, y, yBar, x) =>
            {
                var zero = b.Constant(0);
                if (Needs(y, 1)) x[1] = b.Select(y.Args[0], yBar, zero);
                if (Needs(y, 2)) x[2] = b.Select(y.Args[0], zero, yBar);
            },
        };
        // Fn.Sign, not Math.Sign: a double that keeps NaN, where Math.Sign is an int that throws on NaN.
        yield return Kernel1(Sign, "sign", Fn.Sign, ZeroDerivative);
        yield return Math1(Floor, "floor", Math.Floor, ZeroDerivative);
        // Integers only (indices, counts): truncating division and its remainder, as C# computes them on ints.
        yield return Binary(IntegerDivide, "div", (u, v) => (long)u / (long)v,
            (u, v) => Expression.Convert(Expression.Divide(Expression.Convert(u, typeof(long)), Expression.Convert(v, typeof(long))), typeof(double)), ZeroDerivative);
        yield return Binary(Remainder, "%", (u, v) => (long)u % (long)v,
            (u, v) => Expression.Convert(Expression.Modulo(Expression.Convert(u, typeof(long)), Expression.Convert(v, typeof(long))), typeof(double)), ZeroDerivative);
        yield return Math1(Ceiling, "ceiling", Math.Ceiling, ZeroDerivative);
        yield return Math1(Round, "round", Math.Round, ZeroDerivative);
        yield return Math1(Truncate, "truncate", Math.Truncate, ZeroDerivative);

        // Fused gates: one stage forward, one short rule backward from the cached value.
        yield return Kernel1(Sigmoid, "σ", Fn.Sigmoid, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Multiply(y, b.Subtract(b.Constant(1), y))));
        yield return Kernel1(Relu, "relu", Fn.Relu, (b, y, yBar, x) => x[0] = b.Select(b.Apply(GreaterThan, y, b.Constant(0)), yBar, b.Constant(0)));
        yield return Kernel1(Softplus, "softplus", Fn.Softplus, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Apply(Sigmoid, y.Args[0])));
        yield return Kernel1(Square, "²", Fn.Square, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Multiply(b.Constant(2), y.Args[0])));

        // Special functions of MathNet for log-likelihoods; ψ is DiGamma, ψ′ TriGamma, ψ″ TetraGamma.
        yield return Math1(Erf, "erf", SpecialFunctions.Erf, (b, y, yBar, x) => x[0] = b.Multiply(yBar, Gaussian(b, y.Args[0])));
        yield return Math1(Erfc, "erfc", SpecialFunctions.Erfc, (b, y, yBar, x) => x[0] = b.Negate(b.Multiply(yBar, Gaussian(b, y.Args[0]))));
        yield return Math1(Gamma, "Γ", SpecialFunctions.Gamma, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Multiply(y, b.Apply(DiGamma, y.Args[0]))));
        yield return Math1(GammaLn, "lnΓ", SpecialFunctions.GammaLn, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Apply(DiGamma, y.Args[0])));
        yield return Math1(DiGamma, "ψ", SpecialFunctions.DiGamma, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Apply(TriGamma, y.Args[0])));
        yield return Kernel1(TriGamma, "ψ′", Fn.TriGamma, (b, y, yBar, x) => x[0] = b.Multiply(yBar, b.Apply(TetraGamma, y.Args[0])));
        yield return Kernel1(TetraGamma, "ψ″", Fn.TetraGamma, (_, y, _, _) => throw new ExprGradException(
            $"no derivative rule for the tetragamma function ψ″ (reached as the second derivative of SpecialFunctions.DiGamma, at {y}): " +
            "ExprGrad differentiates DiGamma twice (and GammaLn three times) but not further; register a rule for your own " +
            "polygamma method with DerivativeRules.Register and call it through a function of your own if you need more"));
        yield return Math2(Beta, "B", SpecialFunctions.Beta, (b, y, yBar, x) =>
        {
            // B(u, v) = Γ(u)Γ(v)/Γ(u + v): ∂/∂u = B·(ψ(u) − ψ(u + v)), and symmetrically.
            var (u, v) = (y.Args[0], y.Args[1]);
            var psiSum = b.Apply(DiGamma, b.Add(u, v));
            var s = b.Multiply(yBar, y);
            if (Needs(y, 0)) x[0] = b.Multiply(s, b.Subtract(b.Apply(DiGamma, u), psiSum));
            if (Needs(y, 1)) x[1] = b.Multiply(s, b.Subtract(b.Apply(DiGamma, v), psiSum));
        });
        yield return Math2(BetaLn, "lnB", SpecialFunctions.BetaLn, (b, y, yBar, x) =>
        {
            var (u, v) = (y.Args[0], y.Args[1]);
            var psiSum = b.Apply(DiGamma, b.Add(u, v));
            if (Needs(y, 0)) x[0] = b.Multiply(yBar, b.Subtract(b.Apply(DiGamma, u), psiSum));
            if (Needs(y, 1)) x[1] = b.Multiply(yBar, b.Subtract(b.Apply(DiGamma, v), psiSum));
        });
        yield return Math1(Logit, "logit", SpecialFunctions.Logit, (b, y, yBar, x) =>
            x[0] = b.Divide(yBar, b.Multiply(y.Args[0], b.Subtract(b.Constant(1), y.Args[0]))));

        // Booleans: tests of conditionals. No adjoint flows through them.
        yield return Test(LessThan, "<", (a, c) => a < c, Expression.LessThan);
        yield return Test(LessThanOrEqual, "<=", (a, c) => a <= c, Expression.LessThanOrEqual);
        yield return Test(GreaterThan, ">", (a, c) => a > c, Expression.GreaterThan);
        yield return Test(GreaterThanOrEqual, ">=", (a, c) => a >= c, Expression.GreaterThanOrEqual);
        yield return Test(Equal, "==", (a, c) => a == c, Expression.Equal, commutative: true);
        yield return Test(NotEqual, "!=", (a, c) => a != c, Expression.NotEqual, commutative: true);
        yield return Test(AndAlso, "&&", (a, c) => a != 0 && c != 0, Expression.AndAlso);
        yield return Test(OrElse, "||", (a, c) => a != 0 || c != 0, Expression.OrElse);
        foreach (var rule in TensorRules())
            yield return rule;

        yield return new Rule
        {
            Op = Not, Symbol = "!", Arity = 1, IsBool = true,
            Evaluate = a => a[0] != 0 ? 0 : 1,
            Emit = a => Expression.Not(a[0]),
        };
    }

    // Sign, floor and the roundings are flat almost everywhere: their inputs get no contribution.
    private static void ZeroDerivative(GraphBuilder b, Node y, Node yBar, Node?[] xBars)
    {
    }

    // Whether argument k can receive an adjoint: a rule builds no contribution for a constant or captured value.
    private static bool Needs(Node y, int k) => !y.Args[k].IsPassive;

    // erf′(u) = 2/√π·e^(−u²), shared by erf and erfc.
    private static Node Gaussian(GraphBuilder b, Node u) =>
        b.Multiply(b.Constant(2 / Math.Sqrt(Math.PI)), b.Apply(Exp, b.Negate(b.Apply(Square, u))));

    // √(1 − u²), shared by asin and acos.
    private static Node OneMinusSquareRoot(GraphBuilder b, Node u) => b.Apply(Sqrt, b.Subtract(b.Constant(1), b.Apply(Square, u)));

    // The share of a max's adjoint that goes to u when compared with v: all of it above, none below, half at a tie
    // (and half where either is NaN, as the step H(u − v) with H(0) = ½ gave before).
    private static Node Route(GraphBuilder b, Node yBar, Node u, Node v) =>
        b.Select(b.Apply(GreaterThan, u, v), yBar, b.Select(b.Apply(LessThan, u, v), b.Constant(0), b.Multiply(b.Constant(0.5), yBar)));

    private static Rule Unary(Op op, string symbol, Func<double, double> f, Func<Expression, Expression> emit, Pullback pullback) => new()
    {
        Op = op, Symbol = symbol, Arity = 1, Pullback = pullback,
        Evaluate = a => f(a[0]),
        Emit = a => emit(a[0]),
    };

    private static Rule Binary(Op op, string symbol, Func<double, double, double> f, Func<Expression, Expression, Expression> emit,
        Pullback pullback, bool commutative = false) => new()
    {
        Op = op, Symbol = symbol, Arity = 2, Pullback = pullback, Commutative = commutative,
        Evaluate = a => f(a[0], a[1]),
        Emit = a => emit(a[0], a[1]),
    };

    private static Rule Math1(Op op, string symbol, Func<double, double> f, Pullback pullback) => Kernel1(op, symbol, f, pullback);

    private static Rule Kernel1(Op op, string symbol, Func<double, double> f, Pullback pullback)
    {
        var method = f.Method; // Delegate.Method is reflection: read it once, not per emitted stage
        return new()
        {
            Op = op, Symbol = symbol, Arity = 1, Pullback = pullback, Method = method,
            Evaluate = a => f(a[0]),
            Emit = a => Expression.Call(method, a[0]),
        };
    }

    private static Rule Math2(Op op, string symbol, Func<double, double, double> f, Pullback pullback, bool commutative = false)
    {
        var method = f.Method;
        return new()
        {
            Op = op, Symbol = symbol, Arity = 2, Pullback = pullback, Method = method, Commutative = commutative,
            Evaluate = a => f(a[0], a[1]),
            Emit = a => Expression.Call(method, a[0], a[1]),
        };
    }

    private static Rule Test(Op op, string symbol, Func<double, double, bool> f, Func<Expression, Expression, Expression> emit,
        bool commutative = false) => new()
    {
        Op = op, Symbol = symbol, Arity = 2, IsBool = true, Commutative = commutative,
        Evaluate = a => f(a[0], a[1]) ? 1 : 0,
        Emit = a => emit(a[0], a[1]),
    };
}
