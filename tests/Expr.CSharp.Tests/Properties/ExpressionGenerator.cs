using MathNet.Numerics;
using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using ExprGrad.Staging;
using FsCheck;
using FsCheck.Fluent;

namespace ExprGrad.Tests.Properties;

// Random expression trees over the whole operation catalogue, for property tests of Grad.Of against GradCheck.
//
// The generator works in two steps. FsCheck generates a small pure term tree (Term), which is easy to print,
// shrink and share; Lower then turns a term into a Linq lambda exactly as a user would build one with the
// Expression factories. Each operation's entry in OperationCatalogue says how to build its Linq node and how to
// keep its argument inside the operation's domain; entries also record "guards": the sub-expressions whose sign
// (or distance to an integer) decides which smooth piece of a kinked function is in use. A test point is only
// used when every guard stays on one piece over the whole five-point stencil GradCheck evaluates, so a failed
// check means a wrong derivative, never a finite difference taken across a kink.

/// <summary>The two kinds of value a term can have: a double, or a bool (the test of a conditional).</summary>
internal enum Sort
{
    Number,
    Boolean,
}

/// <summary>A node of a generated expression. Terms are immutable and may be shared (the same object used twice).</summary>
internal abstract class Term
{
    public abstract Sort Sort { get; }

    /// <summary>The direct sub-terms, for shrinking and for walking the tree.</summary>
    public abstract IReadOnlyList<Term> Children { get; }

    /// <summary>The same node over new children (same count and sorts); used by the shrinker.</summary>
    public abstract Term With(IReadOnlyList<Term> children);
}

/// <summary>A read of the scalar parameter <see cref="Param"/>.</summary>
internal sealed class ScalarLeaf(int param) : Term
{
    public int Param { get; } = param;
    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [];
    public override Term With(IReadOnlyList<Term> children) => this;
}

/// <summary>A read <c>a[Index]</c> of the array parameter <see cref="Param"/>, with a constant index.</summary>
internal sealed class ElementLeaf(int param, int index) : Term
{
    public int Param { get; } = param;
    public int Index { get; } = index;
    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [];
    public override Term With(IReadOnlyList<Term> children) => this;
}

/// <summary>A double constant.</summary>
internal sealed class ConstantLeaf(double value) : Term
{
    public double Value { get; } = value;
    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [];
    public override Term With(IReadOnlyList<Term> children) => this;
}

/// <summary>
/// A captured variable: a field of an object held in a constant, as a C# closure compiles to. ExprGrad reads it live
/// at every call and never differentiates it (the structural <see cref="Op.Captured"/>).
/// </summary>
internal sealed class CapturedLeaf(double value) : Term
{
    public CapturedBox<double> Box { get; } = new() { Value = value };
    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [];
    public override Term With(IReadOnlyList<Term> children) => this;
}

/// <summary>
/// Data that calls a method: <c>Math.Clamp(k, lo, hi)</c> of a captured variable, which Grad.Of has no rule for and
/// evaluates as data at every call (one value per occurrence), never differentiated.
/// </summary>
internal sealed class ClampedCapturedLeaf(double value, double low, double high) : Term
{
    public CapturedBox<double> Box { get; } = new() { Value = value };
    public double Low { get; } = low;
    public double High { get; } = high;
    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [];
    public override Term With(IReadOnlyList<Term> children) => this;
}

/// <summary>The closure object of a captured variable (<see cref="CapturedLeaf"/>, <see cref="CapturedFlagLeaf"/>).</summary>
internal sealed class CapturedBox<T>
{
    public T Value = default!;
}

/// <summary>A captured truth value (a closure's bool field), read live as a test: <c>flag ? a : b</c>, <c>flag &amp;&amp; x &gt; 0</c>.</summary>
internal sealed class CapturedFlagLeaf(bool value) : Term
{
    public CapturedBox<bool> Box { get; } = new() { Value = value };
    public override Sort Sort => Sort.Boolean;
    public override IReadOnlyList<Term> Children => [];
    public override Term With(IReadOnlyList<Term> children) => this;
}

/// <summary>
/// An element of a captured array at a constant index. Every such leaf reads the one <see cref="CapturedTable"/>, so
/// one function reads table[0] and table[1] side by side: two variables, which the importer must keep apart.
/// </summary>
internal sealed class CapturedElementLeaf(int index) : Term
{
    public int Index { get; } = index;
    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [];
    public override Term With(IReadOnlyList<Term> children) => this;
}

/// <summary>The closure object holding the captured array of <see cref="CapturedElementLeaf"/> (never written).</summary>
internal sealed class CapturedTable
{
    public static readonly CapturedTable Shared = new();
    public readonly double[] Values = [0.75, -1.5, 2.25];
}

/// <summary>A catalogue operation applied to sub-terms, built by its <see cref="OperationEntry"/> (domain-safe).</summary>
internal sealed class ApplyTerm(Op op, Term[] args) : Term
{
    public Op Op { get; } = op;
    public override Sort Sort => OperationCatalogue.Entries[Op].Result;
    public override IReadOnlyList<Term> Children => args;
    public override Term With(IReadOnlyList<Term> children) => new ApplyTerm(Op, [.. children]);
}

/// <summary>The conditional <c>test ? then : else</c>.</summary>
internal sealed class ConditionTerm(Term test, Term then, Term @else) : Term
{
    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [test, then, @else];
    public override Term With(IReadOnlyList<Term> children) => new ConditionTerm(children[0], children[1], children[2]);
}

/// <summary>
/// A partial function guarded by its natural domain, with NO domain-safe wrapping: for example
/// <c>u &gt; 0.25 ? Math.Log(u) : fallback</c>. The untaken branch is NaN at the point (or would be, for other
/// points), so it checks that the gradient of an untaken branch never leaks into the result (0 · NaN = NaN).
/// </summary>
internal sealed class PartialTerm(Op op, bool negatedTest, Term argument, Term fallback) : Term
{
    public Op Op { get; } = op;

    /// <summary>Writes the test the other way round (<c>!(inside) ? fallback : f(u)</c>), so the NaN sits in either branch.</summary>
    public bool NegatedTest { get; } = negatedTest;

    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [argument, fallback];
    public override Term With(IReadOnlyList<Term> children) => new PartialTerm(Op, NegatedTest, children[0], children[1]);
}

/// <summary>
/// The parameter list of a generated lambda: <c>null</c> for a scalar, else the length of an array parameter; and,
/// if drawn (<see cref="ExpressionGenerator.NamedCaseGen"/>), the parameters' names.
/// </summary>
internal sealed record Signature(int?[] Parameters, string[]? Names = null)
{
    public int Count => Parameters.Length;

    public bool IsArray(int param) => Parameters[param] is not null;

    public override string ToString() =>
        string.Join(", ", Parameters.Select((p, i) => p is null ? $"double {Name(i)}" : $"double[{p}] {Name(i)}"));

    public string Name(int param)
    {
        if (Names is not null)
            return Names[param];
        // Scalars are x0, x1, ...; the array is a (at most one array parameter is generated).
        if (IsArray(param))
            return "a";
        var scalar = 0;
        for (var i = 0; i < param; i++)
            if (!IsArray(i))
                scalar++;
        return "x" + scalar.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>What a guard protects against.</summary>
internal enum GuardKind
{
    /// <summary>A kink or jump where the value is 0 (abs, max, relu, a comparison).</summary>
    Sign,

    /// <summary>A jump where the value crosses an integer (floor, round, ...).</summary>
    Integer,

    /// <summary>
    /// A singularity at 0 (a pole, an infinite slope). Unlike a kink, it is avoided even where the value is constant:
    /// cbrt(relu(−1 − x²)) has derivative ∞ · 0, which is NaN in any AD system, not a bug.
    /// </summary>
    Pole,
}

/// <summary>
/// A guard: a double sub-expression (over the lambda's parameters) on which the function is smooth as long as it
/// stays on one piece and at least <see cref="Margin"/> from the piece's boundary. NaN means "not evaluated at this
/// point" (it sits in an untaken branch).
/// </summary>
internal sealed record Guard(Expression Value, GuardKind Kind, double Margin, string Why);

/// <summary>How one operation appears in a Linq tree and which domain it needs.</summary>
/// <param name="Op">The staged operation this entry exercises.</param>
/// <param name="Arguments">The sorts of the sub-terms the entry takes.</param>
/// <param name="Result">The sort of the node it builds.</param>
/// <param name="Domain">Human-readable: how the entry keeps the operation inside its domain and away from kinks.</param>
/// <param name="Build">Builds the node from the arguments' Linq expressions, registering guards on the sink.</param>
internal sealed record OperationEntry(
    Op Op, Sort[] Arguments, Sort Result, string Domain, Func<Expression[], GuardSink, Expression> Build)
{
    public int Arity => Arguments.Length;
}

/// <summary>Collects the guards an entry declares while it is built.</summary>
internal abstract class GuardSink
{
    /// <summary>The function has a kink (or jump, or singularity) where <paramref name="value"/> = 0.</summary>
    public abstract void Sign(Expression value, double margin, string why);

    /// <summary>The function jumps where <paramref name="value"/> crosses an integer.</summary>
    public abstract void Integer(Expression value, double margin, string why);

    /// <summary>The function is singular where <paramref name="value"/> = 0.</summary>
    public abstract void Pole(Expression value, double margin, string why);

    /// <summary>A sink that drops every guard (for building an expression without checking points).</summary>
    public static GuardSink Ignore { get; } = new IgnoringSink();

    private sealed class IgnoringSink : GuardSink
    {
        public override void Sign(Expression value, double margin, string why) { }
        public override void Integer(Expression value, double margin, string why) { }
        public override void Pole(Expression value, double margin, string why) { }
    }
}

/// <summary>
/// The generator's table: one entry per catalogue operation (every <see cref="Op"/> with a rule). Arguments are made
/// domain-safe with smooth, bounded maps (<c>c + r·tanh(u)</c>, <c>u·u + c</c>) rather than <c>Math.Abs</c>, so the
/// wrappers add no kinks; overflow-prone operations (exp, sinh, cosh, pow) get tanh-bounded arguments.
/// </summary>
internal static class OperationCatalogue
{
    /// <summary>Kinks are avoided by at least this much (and the stencil must not cross them).</summary>
    public const double KinkMargin = 1e-3;

    /// <summary>
    /// Singularities (a pole of 1/u, the infinite slope of cbrt at 0, atan2 at the origin) are avoided by more: near
    /// them the higher derivatives that the stencil's O(h⁴) error multiplies grow without bound.
    /// </summary>
    public const double SingularMargin = 0.3;

    private static readonly Sort[] N = [Sort.Number];
    private static readonly Sort[] NN = [Sort.Number, Sort.Number];
    private static readonly Sort[] BB = [Sort.Boolean, Sort.Boolean];

    public static IReadOnlyDictionary<Op, OperationEntry> Entries { get; } = BuildEntries().ToDictionary(e => e.Op);

    /// <summary>Entries whose result is a double (operands of arithmetic).</summary>
    public static OperationEntry[] NumberEntries { get; } =
        [.. Entries.Values.Where(e => e.Result == Sort.Number).OrderBy(e => e.Op)];

    /// <summary>Entries whose result is a bool (tests of conditionals).</summary>
    public static OperationEntry[] BooleanEntries { get; } =
        [.. Entries.Values.Where(e => e.Result == Sort.Boolean).OrderBy(e => e.Op)];

    /// <summary>The operations <see cref="PartialTerm"/> uses bare, behind a test of their natural domain.</summary>
    public static Op[] PartialOperations { get; } =
        [Op.Log, Op.Log10, Op.Log2, Op.Sqrt, Op.Asin, Op.Acos, Op.Atanh, Op.Acosh, Op.Pow];

    private static IEnumerable<OperationEntry> BuildEntries()
    {
        // Arithmetic.
        yield return new(Op.Add, NN, Sort.Number, "any", (a, _) => Expression.Add(a[0], a[1]));
        yield return new(Op.Subtract, NN, Sort.Number, "any", (a, _) => Expression.Subtract(a[0], a[1]));
        yield return new(Op.Multiply, NN, Sort.Number, "any", (a, _) => Expression.Multiply(a[0], a[1]));
        yield return new(Op.Divide, NN, Sort.Number, "denominator kept |v| ≥ 0.3 (pole at 0)", (a, g) =>
        {
            // The bare denominator (either sign) rather than v² + c, so the quotient rule sees negative divisors too.
            g.Pole(a[1], SingularMargin, "divide: denominator near 0");
            return Expression.Divide(a[0], a[1]);
        });
        yield return new(Op.Negate, N, Sort.Number, "any", (a, _) => Expression.Negate(a[0]));

        // Exponentials and logarithms.
        yield return new(Op.Exp, N, Sort.Number, "exp(2·tanh u): bounded, no overflow", (a, _) => Math1("Exp", Squash(a[0], 0, 2)));
        yield return new(Op.Log, N, Sort.Number, "log(1.5 + tanh u): argument in (0.5, 2.5)", (a, _) => Math1("Log", Squash(a[0], 1.5, 1)));
        yield return new(Op.LogBase, NN, Sort.Number, "log(1.5 + tanh u, 2.5 + tanh v): argument in (0.5, 2.5), base in (1.5, 3.5)",
            (a, _) => Math2("Log", Squash(a[0], 1.5, 1), Squash(a[1], 2.5, 1)));
        yield return new(Op.Log10, N, Sort.Number, "log10(1.5 + tanh u)", (a, _) => Math1("Log10", Squash(a[0], 1.5, 1)));
        yield return new(Op.Log2, N, Sort.Number, "log2(1.5 + tanh u)", (a, _) => Math1("Log2", Squash(a[0], 1.5, 1)));
        yield return new(Op.Sqrt, N, Sort.Number, "sqrt(u·u + 0.5): argument ≥ 0.5 (and u is shared)",
            (a, _) => Math1("Sqrt", Expression.Add(Expression.Multiply(a[0], a[0]), Expression.Constant(0.5))));
        yield return new(Op.Cbrt, N, Sort.Number, "cbrt u, |u| ≥ 0.3 (infinite slope at 0); both signs", (a, g) =>
        {
            g.Pole(a[0], SingularMargin, "cbrt: argument near 0");
            return Math1("Cbrt", a[0]);
        });
        yield return new(Op.Pow, NN, Sort.Number,
            "pow(1.5 + tanh u, e): base in (0.5, 2.5); e = 2·tanh v, or the constant itself when v is a constant (so pow(x, 2), pow(x, 1), pow(x, 0.5) appear)",
            (a, _) => Math2("Pow", Squash(a[0], 1.5, 1), a[1] is ConstantExpression ? a[1] : Squash(a[1], 0, 2)));

        // Trigonometric.
        yield return new(Op.Sin, N, Sort.Number, "any", (a, _) => Math1("Sin", a[0]));
        yield return new(Op.Cos, N, Sort.Number, "any", (a, _) => Math1("Cos", a[0]));
        yield return new(Op.Tan, N, Sort.Number, "tan(1.2·tanh u): argument in (−1.2, 1.2), clear of the poles at ±π/2",
            (a, _) => Math1("Tan", Squash(a[0], 0, 1.2)));
        yield return new(Op.Asin, N, Sort.Number, "asin(0.9·tanh u): |argument| < 0.9", (a, _) => Math1("Asin", Squash(a[0], 0, 0.9)));
        yield return new(Op.Acos, N, Sort.Number, "acos(0.9·tanh u): |argument| < 0.9", (a, _) => Math1("Acos", Squash(a[0], 0, 0.9)));
        yield return new(Op.Atan, N, Sort.Number, "any", (a, _) => Math1("Atan", a[0]));
        yield return new(Op.Atan2, NN, Sort.Number, "atan2(u, v): u clear of 0 (branch cut at v < 0), u² + v² ≥ 0.09 (origin)", (a, g) =>
        {
            g.Sign(a[0], KinkMargin, "atan2: y near 0 (branch cut)");
            g.Pole(Expression.Add(Expression.Multiply(a[0], a[0]), Expression.Multiply(a[1], a[1])),
                SingularMargin * SingularMargin, "atan2: near the origin");
            return Math2("Atan2", a[0], a[1]);
        });

        // Hyperbolic.
        yield return new(Op.Sinh, N, Sort.Number, "sinh(2·tanh u): bounded", (a, _) => Math1("Sinh", Squash(a[0], 0, 2)));
        yield return new(Op.Cosh, N, Sort.Number, "cosh(2·tanh u): bounded", (a, _) => Math1("Cosh", Squash(a[0], 0, 2)));
        yield return new(Op.Tanh, N, Sort.Number, "any", (a, _) => Math1("Tanh", a[0]));
        yield return new(Op.Asinh, N, Sort.Number, "any", (a, _) => Math1("Asinh", a[0]));
        yield return new(Op.Acosh, N, Sort.Number, "acosh(u·u + 1.25): argument ≥ 1.25",
            (a, _) => Math1("Acosh", Expression.Add(Expression.Multiply(a[0], a[0]), Expression.Constant(1.25))));
        yield return new(Op.Atanh, N, Sort.Number, "atanh(0.9·tanh u): |argument| < 0.9", (a, _) => Math1("Atanh", Squash(a[0], 0, 0.9)));

        // Kinks and steps: the argument must stay clear of the kink over the whole stencil.
        yield return new(Op.Abs, N, Sort.Number, "kink at 0", (a, g) =>
        {
            g.Sign(a[0], KinkMargin, "abs: argument near 0");
            return Math1("Abs", a[0]);
        });
        yield return new(Op.Max, NN, Sort.Number, "kink where u = v", (a, g) =>
        {
            g.Sign(Expression.Subtract(a[0], a[1]), KinkMargin, "max: arguments nearly tied");
            return Math2("Max", a[0], a[1]);
        });
        yield return new(Op.Min, NN, Sort.Number, "kink where u = v", (a, g) =>
        {
            g.Sign(Expression.Subtract(a[0], a[1]), KinkMargin, "min: arguments nearly tied");
            return Math2("Min", a[0], a[1]);
        });
        yield return new(Op.Sign, N, Sort.Number, "(double)Math.Sign(u): jump at 0", (a, g) =>
        {
            g.Sign(a[0], KinkMargin, "sign: argument near 0");
            return Expression.Convert(Expression.Call(MathMethod("Sign", typeof(double)), a[0]), typeof(double));
        });
        yield return new(Op.Floor, N, Sort.Number, "jumps at integers", (a, g) =>
        {
            g.Integer(a[0], KinkMargin, "floor: argument near an integer");
            return Math1("Floor", a[0]);
        });
        yield return new(Op.Ceiling, N, Sort.Number, "jumps at integers", (a, g) =>
        {
            g.Integer(a[0], KinkMargin, "ceiling: argument near an integer");
            return Math1("Ceiling", a[0]);
        });
        yield return new(Op.Round, N, Sort.Number, "jumps at half-integers", (a, g) =>
        {
            g.Integer(Expression.Subtract(a[0], Expression.Constant(0.5)), KinkMargin, "round: argument near a half-integer");
            return Math1("Round", a[0]);
        });
        yield return new(Op.Truncate, N, Sort.Number, "jumps at integers", (a, g) =>
        {
            g.Integer(a[0], KinkMargin, "truncate: argument near an integer");
            return Math1("Truncate", a[0]);
        });

        // Fused gates.
        yield return new(Op.Sigmoid, N, Sort.Number, "any", (a, _) => FnCall(nameof(Fn.Sigmoid), a[0]));
        yield return new(Op.Relu, N, Sort.Number, "kink at 0", (a, g) =>
        {
            g.Sign(a[0], KinkMargin, "relu: argument near 0");
            return FnCall(nameof(Fn.Relu), a[0]);
        });
        yield return new(Op.Softplus, N, Sort.Number, "any", (a, _) => FnCall(nameof(Fn.Softplus), a[0]));
        yield return new(Op.Square, N, Sort.Number, "any", (a, _) => FnCall(nameof(Fn.Square), a[0]));

        // MathNet's special functions, their arguments kept where Γ and ψ are smooth and moderate (no poles at 0, −1, ...).
        yield return new(Op.Erf, N, Sort.Number, "any", (a, _) => Special(nameof(SpecialFunctions.Erf), a[0]));
        yield return new(Op.Erfc, N, Sort.Number, "any", (a, _) => Special(nameof(SpecialFunctions.Erfc), a[0]));
        yield return new(Op.Gamma, N, Sort.Number, "gamma(1.5 + tanh u): argument in (0.5, 2.5)",
            (a, _) => Special(nameof(SpecialFunctions.Gamma), Squash(a[0], 1.5, 1)));
        yield return new(Op.GammaLn, N, Sort.Number, "gammaln(1.5 + tanh u)", (a, _) => Special(nameof(SpecialFunctions.GammaLn), Squash(a[0], 1.5, 1)));
        yield return new(Op.DiGamma, N, Sort.Number, "digamma(1.5 + tanh u)", (a, _) => Special(nameof(SpecialFunctions.DiGamma), Squash(a[0], 1.5, 1)));
        yield return new(Op.Beta, NN, Sort.Number, "beta(1.5 + tanh u, 1.5 + tanh v): arguments in (0.5, 2.5)",
            (a, _) => Special(nameof(SpecialFunctions.Beta), Squash(a[0], 1.5, 1), Squash(a[1], 1.5, 1)));
        yield return new(Op.BetaLn, NN, Sort.Number, "betaln(1.5 + tanh u, 1.5 + tanh v)",
            (a, _) => Special(nameof(SpecialFunctions.BetaLn), Squash(a[0], 1.5, 1), Squash(a[1], 1.5, 1)));
        yield return new(Op.Logit, N, Sort.Number, "logit(0.5 + 0.4·tanh u): argument in (0.1, 0.9)",
            (a, _) => Special(nameof(SpecialFunctions.Logit), Squash(a[0], 0.5, 0.4)));

        // Booleans: each comparison is a jump of the conditional it controls, so its operands must not tie.
        yield return Comparison(Op.LessThan, Expression.LessThan);
        yield return Comparison(Op.LessThanOrEqual, Expression.LessThanOrEqual);
        yield return Comparison(Op.GreaterThan, Expression.GreaterThan);
        yield return Comparison(Op.GreaterThanOrEqual, Expression.GreaterThanOrEqual);
        // Two continuous values are (almost) never equal, so equality compares floors: true on whole intervals.
        yield return new(Op.Equal, NN, Sort.Boolean, "floor(u) == floor(v): u, v clear of integers", (a, g) =>
            Expression.Equal(FlooredOperand(a[0], g), FlooredOperand(a[1], g)));
        yield return new(Op.NotEqual, NN, Sort.Boolean, "floor(u) != floor(v): u, v clear of integers", (a, g) =>
            Expression.NotEqual(FlooredOperand(a[0], g), FlooredOperand(a[1], g)));
        yield return new(Op.AndAlso, BB, Sort.Boolean, "any", (a, _) => Expression.AndAlso(a[0], a[1]));
        yield return new(Op.OrElse, BB, Sort.Boolean, "any", (a, _) => Expression.OrElse(a[0], a[1]));
        yield return new(Op.Not, [Sort.Boolean], Sort.Boolean, "any", (a, _) => Expression.Not(a[0]));
    }

    private static OperationEntry Comparison(Op op, Func<Expression, Expression, BinaryExpression> compare) =>
        new(op, NN, Sort.Boolean, "jump where u = v", (a, g) =>
        {
            g.Sign(Expression.Subtract(a[0], a[1]), KinkMargin, $"{op}: operands nearly tied");
            return compare(a[0], a[1]);
        });

    private static Expression FlooredOperand(Expression u, GuardSink g)
    {
        g.Integer(u, KinkMargin, "equality: operand near an integer");
        return Math1("Floor", u);
    }

    /// <summary><c>center + radius·tanh(u)</c>: a smooth map of any real onto (center − radius, center + radius).</summary>
    public static Expression Squash(Expression u, double center, double radius)
    {
        Expression scaled = Expression.Multiply(Expression.Constant(radius), Math1("Tanh", u));
        return center == 0 ? scaled : Expression.Add(Expression.Constant(center), scaled);
    }

    public static MethodInfo MathMethod(string name, params Type[] types) =>
        typeof(Math).GetMethod(name, types) ?? throw new InvalidOperationException($"Math.{name} not found");

    public static Expression Math1(string name, Expression u) => Expression.Call(MathMethod(name, typeof(double)), u);

    public static Expression Math2(string name, Expression u, Expression v) =>
        Expression.Call(MathMethod(name, typeof(double), typeof(double)), u, v);

    public static Expression Special(string name, params Expression[] args) =>
        Expression.Call(typeof(SpecialFunctions).GetMethod(name, [.. args.Select(_ => typeof(double))])
            ?? throw new InvalidOperationException($"SpecialFunctions.{name} not found"), args);

    public static Expression FnCall(string name, Expression u) =>
        Expression.Call(typeof(Fn).GetMethod(name, [typeof(double)]) ?? throw new InvalidOperationException($"Fn.{name} not found"), u);
}

/// <summary>One generated test case: a signature, a body, and the seed of its point.</summary>
internal sealed class GeneratedCase(Signature signature, Term body, int pointSeed)
{
    private Lowered? _lowered;

    public Signature Signature { get; } = signature;
    public Term Body { get; } = body;
    public int PointSeed { get; } = pointSeed;

    /// <summary>The Linq lambda, its guards and its flat layout (built once, on first use).</summary>
    public Lowered Lowered => _lowered ??= Lowerer.Lower(Signature, Body);

    public GeneratedCase WithBody(Term body) => new(Signature, body, PointSeed);

    /// <summary>The values of the captured variables, in order of first appearance ("" if none).</summary>
    public string CapturedValues() => string.Join(", ", TermWalk.Nodes(Body)
        .Select(t => t switch
        {
            CapturedLeaf b => b.Box.Value.ToString("R", CultureInfo.InvariantCulture),
            ClampedCapturedLeaf c => c.Box.Value.ToString("R", CultureInfo.InvariantCulture),
            CapturedElementLeaf e => $"Values[{e.Index}] = {CapturedTable.Shared.Values[e.Index].ToString("R", CultureInfo.InvariantCulture)}",
            CapturedFlagLeaf f => f.Box.Value ? "true" : "false",
            _ => null,
        })
        .OfType<string>());

    // FsCheck prints this for a counterexample: the lambda is the readable form of the case.
    public override string ToString()
    {
        var captured = CapturedValues();
        return string.Create(CultureInfo.InvariantCulture,
            $"({Signature}) => {Lowered.Lambda.Body}  [point seed {PointSeed}{(captured.Length > 0 ? "; captured " + captured : "")}]");
    }
}

/// <summary>A lowered case: the lambda, its guards, and helpers over the flat point layout.</summary>
internal sealed class Lowered
{
    private Func<double[], double>? _value;
    private Func<double[], double[]>? _guardValues;

    public Lowered(LambdaExpression lambda, Signature signature, int[] extents, IReadOnlyList<Guard> guards)
    {
        Lambda = lambda;
        Signature = signature;
        Extents = extents;
        Guards = guards;
        Offsets = new int[extents.Length];
        for (var i = 1; i < extents.Length; i++)
            Offsets[i] = Offsets[i - 1] + extents[i - 1];
        Dimension = extents.Sum();
    }

    public LambdaExpression Lambda { get; }
    public Signature Signature { get; }

    /// <summary>Slots per parameter in the flat layout: 1 for a scalar, highest index read + 1 for an array.</summary>
    public int[] Extents { get; }

    public int[] Offsets { get; }
    public int Dimension { get; }
    public IReadOnlyList<Guard> Guards { get; }

    /// <summary>The original lambda compiled by Linq alone (no ExprGrad), over the flat layout.</summary>
    public Func<double[], double> Value => _value ??= CompileFlat<double>(Lambda.Body);

    /// <summary>Every guard's value at a flat point (NaN for guards in untaken branches).</summary>
    public Func<double[], double[]> GuardValues => _guardValues ??=
        CompileFlat<double[]>(Expression.NewArrayInit(typeof(double), Guards.Select(g => g.Value)));

    /// <summary>The typed arguments (double or double[]) for a flat point; arrays get their full generated length.</summary>
    public object[] Arguments(double[] flat)
    {
        var args = new object[Signature.Count];
        for (var i = 0; i < Signature.Count; i++)
        {
            if (Signature.Parameters[i] is { } length)
            {
                var array = new double[length];
                flat.AsSpan(Offsets[i], Extents[i]).CopyTo(array);
                args[i] = array;
            }
            else
            {
                args[i] = flat[Offsets[i]];
            }
        }
        return args;
    }

    /// <summary>Names of the flat slots (x0, a[1], ...), for messages.</summary>
    public string SlotName(int slot)
    {
        for (var i = 0; i < Extents.Length; i++)
            if (slot < Offsets[i] + Extents[i])
                return Signature.IsArray(i)
                    ? $"{Signature.Name(i)}[{slot - Offsets[i]}]"
                    : Signature.Name(i);
        return $"slot {slot}";
    }

    public string FormatPoint(ReadOnlySpan<double> flat)
    {
        var sb = new StringBuilder("{ ");
        for (var i = 0; i < flat.Length; i++)
            sb.Append(CultureInfo.InvariantCulture, $"{(i > 0 ? ", " : "")}{SlotName(i)} = {flat[i]:R}");
        return sb.Append(" }").ToString();
    }

    // Binds the lambda's own parameters to the flat array (arrays padded to their generated length), then runs body.
    private Func<double[], T> CompileFlat<T>(Expression body)
    {
        var flat = Expression.Parameter(typeof(double[]), "flat");
        var assignments = new List<Expression>();
        for (var i = 0; i < Signature.Count; i++)
        {
            var parameter = Lambda.Parameters[i];
            if (Signature.Parameters[i] is { } length)
            {
                var elements = Enumerable.Range(0, length).Select(k => k < Extents[i]
                    ? (Expression)Expression.ArrayIndex(flat, Expression.Constant(Offsets[i] + k))
                    : Expression.Constant(0.0));
                assignments.Add(Expression.Assign(parameter, Expression.NewArrayInit(typeof(double), elements)));
            }
            else
            {
                assignments.Add(Expression.Assign(parameter, Expression.ArrayIndex(flat, Expression.Constant(Offsets[i]))));
            }
        }
        var block = Expression.Block(typeof(T), Lambda.Parameters, assignments.Append(body));
        return Expression.Lambda<Func<double[], T>>(block, flat).Compile();
    }
}

/// <summary>Turns a term into a Linq lambda, collecting guards (conditioned on the branches they sit in).</summary>
internal sealed class Lowerer : GuardSink
{
    private readonly Signature _signature;
    private readonly ParameterExpression[] _parameters;
    private readonly List<Guard> _guards = [];
    private readonly Dictionary<(Term, int), Expression> _memo = new(new TermContextComparer());

    // The tests of the conditionals enclosing the node being built, innermost last, with the branch taken.
    private readonly List<(Expression Test, bool Branch)> _branches = [];
    private int _context;
    private int _nextContext;

    private Lowerer(Signature signature)
    {
        _signature = signature;
        _parameters = [.. Enumerable.Range(0, signature.Count).Select(i =>
            Expression.Parameter(signature.IsArray(i) ? typeof(double[]) : typeof(double), signature.Name(i)))];
    }

    public static Lowered Lower(Signature signature, Term body)
    {
        var lowerer = new Lowerer(signature);
        var lambda = Expression.Lambda(lowerer.Build(body), lowerer._parameters);
        var extents = new int[signature.Count];
        for (var i = 0; i < signature.Count; i++)
            extents[i] = signature.IsArray(i) ? TermWalk.MaxIndexRead(body, i) + 1 : 1;
        return new Lowered(lambda, signature, extents, lowerer._guards);
    }

    public override void Sign(Expression value, double margin, string why) => _guards.Add(new(Conditioned(value), GuardKind.Sign, margin, why));

    public override void Integer(Expression value, double margin, string why) => _guards.Add(new(Conditioned(value), GuardKind.Integer, margin, why));

    public override void Pole(Expression value, double margin, string why) => _guards.Add(new(Conditioned(value), GuardKind.Pole, margin, why));

    // A guard inside a branch only matters when that branch runs: elsewhere it is NaN, which the point check skips.
    private Expression Conditioned(Expression value)
    {
        var nan = Expression.Constant(double.NaN);
        for (var i = _branches.Count - 1; i >= 0; i--)
        {
            var (test, branch) = _branches[i];
            value = branch ? Expression.Condition(test, value, nan) : Expression.Condition(test, nan, value);
        }
        return value;
    }

    private Expression Build(Term term)
    {
        // Shared terms become one shared Linq node (in one branch context), so the importer sees a real fork.
        if (_memo.TryGetValue((term, _context), out var built))
            return built;
        built = term switch
        {
            ScalarLeaf s => _parameters[s.Param],
            ElementLeaf e => Expression.ArrayIndex(_parameters[e.Param], Expression.Constant(e.Index)),
            ConstantLeaf c => Expression.Constant(c.Value),
            CapturedLeaf c => Expression.Field(Expression.Constant(c.Box), nameof(CapturedBox<double>.Value)),
            ClampedCapturedLeaf c => Expression.Call(typeof(Math).GetMethod(nameof(Math.Clamp), [typeof(double), typeof(double), typeof(double)])!,
                Expression.Field(Expression.Constant(c.Box), nameof(CapturedBox<double>.Value)), Expression.Constant(c.Low), Expression.Constant(c.High)),
            CapturedFlagLeaf f => Expression.Field(Expression.Constant(f.Box), nameof(CapturedBox<bool>.Value)),
            CapturedElementLeaf c => Expression.ArrayIndex(
                Expression.Field(Expression.Constant(CapturedTable.Shared), nameof(CapturedTable.Values)), Expression.Constant(c.Index)),
            ApplyTerm a => OperationCatalogue.Entries[a.Op].Build([.. a.Children.Select(Build)], this),
            ConditionTerm c => BuildCondition(Build(c.Children[0]), c.Children[1], c.Children[2]),
            PartialTerm p => BuildPartial(p),
            _ => throw new InvalidOperationException($"unknown term {term.GetType().Name}"),
        };
        _memo[(term, _context)] = built;
        return built;
    }

    private Expression BuildCondition(Expression test, Term then, Term @else)
    {
        var thenExpression = InBranch(test, true, then);
        var elseExpression = InBranch(test, false, @else);
        return Expression.Condition(test, thenExpression, elseExpression);
    }

    private Expression InBranch(Expression test, bool branch, Term term)
    {
        var saved = _context;
        _branches.Add((test, branch));
        _context = ++_nextContext;
        try
        {
            return Build(term);
        }
        finally
        {
            _branches.RemoveAt(_branches.Count - 1);
            _context = saved;
        }
    }

    private Expression BuildPartial(PartialTerm p)
    {
        var u = Build(p.Children[0]);
        // The test keeps a margin from the singular point, so the taken side is smooth at the stencil's scale.
        var (inside, name) = p.Op switch
        {
            Op.Log => (Above(u, 0.25), "Log"),
            Op.Log10 => (Above(u, 0.25), "Log10"),
            Op.Log2 => (Above(u, 0.25), "Log2"),
            Op.Sqrt => (Above(u, 0.25), "Sqrt"),
            Op.Pow => (Above(u, 0.25), "Pow"),
            Op.Acosh => (Above(u, 1.25), "Acosh"),
            Op.Asin => (Within(u, 0.75), "Asin"),
            Op.Acos => (Within(u, 0.75), "Acos"),
            Op.Atanh => (Within(u, 0.75), "Atanh"),
            _ => throw new InvalidOperationException($"{p.Op} has no partial form"),
        };
        Expression test = p.NegatedTest ? Expression.Not(inside) : inside;
        // pow(u, 1.5) of a negative u is NaN (a non-integer power), like log of a negative.
        Expression Partial() => p.Op == Op.Pow
            ? OperationCatalogue.Math2("Pow", u, Expression.Constant(1.5))
            : OperationCatalogue.Math1(name, u);
        return p.NegatedTest
            ? Expression.Condition(test, InBranch(test, true, p.Children[1]), WithBranch(test, false, Partial))
            : Expression.Condition(test, WithBranch(test, true, Partial), InBranch(test, false, p.Children[1]));

        Expression Above(Expression v, double bound)
        {
            var b = Expression.Constant(bound);
            Sign(Expression.Subtract(v, b), OperationCatalogue.KinkMargin, $"partial {p.Op}: test near its bound");
            return Expression.GreaterThan(v, b);
        }

        Expression Within(Expression v, double bound)
        {
            var b = Expression.Constant(bound);
            Sign(Expression.Subtract(v, Expression.Negate(b)), OperationCatalogue.KinkMargin, $"partial {p.Op}: test near its bound");
            Sign(Expression.Subtract(v, b), OperationCatalogue.KinkMargin, $"partial {p.Op}: test near its bound");
            return Expression.AndAlso(Expression.GreaterThan(v, Expression.Negate(b)), Expression.LessThan(v, b));
        }
    }

    private Expression WithBranch(Expression test, bool branch, Func<Expression> build)
    {
        _branches.Add((test, branch));
        try
        {
            return build();
        }
        finally
        {
            _branches.RemoveAt(_branches.Count - 1);
        }
    }

    private sealed class TermContextComparer : IEqualityComparer<(Term, int)>
    {
        public bool Equals((Term, int) x, (Term, int) y) => ReferenceEquals(x.Item1, y.Item1) && x.Item2 == y.Item2;
        public int GetHashCode((Term, int) obj) => HashCode.Combine(RuntimeHelpers.GetHashCode(obj.Item1), obj.Item2);
    }
}

/// <summary>Queries over term trees.</summary>
internal static class TermWalk
{
    /// <summary>The highest constant index read from array parameter <paramref name="param"/>, or −1.</summary>
    public static int MaxIndexRead(Term term, int param)
    {
        var max = -1;
        foreach (var t in Nodes(term))
            if (t is ElementLeaf e && e.Param == param)
                max = Math.Max(max, e.Index);
        return max;
    }

    /// <summary>True if some node is reached along two paths (a shared sub-term).</summary>
    public static bool HasSharing(Term root)
    {
        var seen = new HashSet<Term>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Term>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            if (t.Children.Count > 0 && !seen.Add(t))
                return true;
            foreach (var c in t.Children)
                stack.Push(c);
        }
        return false;
    }

    /// <summary>Every node once (shared nodes once), in pre-order, left to right: the order the lambda prints them.</summary>
    public static IEnumerable<Term> Nodes(Term root)
    {
        var seen = new HashSet<Term>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Term>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            if (!seen.Add(t))
                continue;
            yield return t;
            for (var i = t.Children.Count - 1; i >= 0; i--)
                stack.Push(t.Children[i]);
        }
    }

    /// <summary>The catalogue operations a term uses (as <see cref="ApplyTerm"/> or <see cref="PartialTerm"/>).</summary>
    public static IEnumerable<Op> Operations(Term root) =>
        Nodes(root).Select(t => t switch { ApplyTerm a => (Op?)a.Op, PartialTerm p => p.Op, _ => null }).OfType<Op>();
}

/// <summary>The FsCheck generator and shrinker of <see cref="GeneratedCase"/>s, and the choice of test points.</summary>
internal static class ExpressionGenerator
{
    /// <summary>Deepest nesting of operations. FsCheck's size grows over a run, so early cases are shallow (and shrink well); depth reaches this halfway.</summary>
    public const int MaxDepth = 6;

    /// <summary>Points are drawn uniformly from [−PointRange, PointRange] in every slot.</summary>
    public const double PointRange = 2.5;

    // Constants include the identities the staging builder simplifies (0, 1, −1, 2 for x·1, x + 0, pow(x, 2), ...).
    private static readonly double[] SpecialConstants = [0, 1, -1, 2, 0.5, 3, -0.5, 1.5];

    /// <summary>Generated cases with shrinking (to a smaller body over the same parameters and point seed).</summary>
    public static Arbitrary<GeneratedCase> Cases() => Arb.From(CaseGen(), Shrink);

    public static Gen<GeneratedCase> CaseGen() =>
        from signature in SignatureGen()
        from depth in Gen.Sized(size => Gen.Choose(1, Math.Clamp(1 + size * MaxDepth / 60, 1, MaxDepth)))
        from body in NumberGen(signature, depth)
        from seed in Gen.Choose(0, int.MaxValue - 1)
        select new GeneratedCase(signature, EnsureArrayRead(signature, body), seed);

    /// <summary>
    /// Names that spell what listings generate: gradients (<c>dx</c>, <c>da</c>), stages and their adjoints (<c>q</c>,
    /// <c>dq</c>, <c>q1</c>, <c>dq1</c>, <c>r</c>, <c>f</c>, <c>t1</c>), a method's locals (<c>a_0</c>, <c>dx_</c>) and
    /// the listing's stages (<c>v1</c>).
    /// </summary>
    public static readonly string[] NamePool =
        ["dq", "dx", "q1", "dq1", "a_0", "q", "x", "dx_", "ddx", "r", "dr", "f", "df", "t1", "dt1", "a", "da", "v1", "x0", "dx0"];

    /// <summary>Cases of <see cref="CaseGen"/> whose parameters are named from <see cref="NamePool"/>, all different.</summary>
    public static Gen<GeneratedCase> NamedCaseGen() =>
        from c in CaseGen()
        from names in Gen.Shuffle(NamePool)
        select new GeneratedCase(c.Signature with { Names = names[..c.Signature.Count] }, c.Body, c.PointSeed);

    /// <summary>1 to 4 scalar parameters and, one time in three, a double[] of length 1 to 3 at a random position.</summary>
    public static Gen<Signature> SignatureGen() =>
        from scalars in Gen.Choose(1, 4)
        from hasArray in Gen.Choose(0, 2).Select(k => k == 0)
        from length in Gen.Choose(1, 3)
        from position in Gen.Choose(0, scalars)
        select new Signature(hasArray
            ? [.. Enumerable.Repeat<int?>(null, position), length, .. Enumerable.Repeat<int?>(null, scalars - position)]
            : [.. Enumerable.Repeat<int?>(null, scalars)]);

    // A case whose array parameter is never read would only test an empty slot range; make it read one element.
    private static Term EnsureArrayRead(Signature signature, Term body)
    {
        for (var i = 0; i < signature.Count; i++)
            if (signature.IsArray(i) && TermWalk.MaxIndexRead(body, i) < 0)
                body = new ApplyTerm(Op.Add, [body, new ElementLeaf(i, signature.Parameters[i]!.Value - 1)]);
        return body;
    }

    public static Gen<Term> LeafGen(Signature signature)
    {
        var scalars = Enumerable.Range(0, signature.Count).Where(i => !signature.IsArray(i)).ToArray();
        var arrays = Enumerable.Range(0, signature.Count).Where(signature.IsArray).ToArray();
        var options = new List<(int, Gen<Term>)>
        {
            (6, Gen.Elements(scalars).Select(i => (Term)new ScalarLeaf(i))),
            (1, Gen.Elements(SpecialConstants).Select(c => (Term)new ConstantLeaf(c))),
            // Two decimals: readable in a printed lambda.
            (1, Gen.Choose(-250, 250).Select(k => (Term)new ConstantLeaf(k / 100.0))),
            (1, Gen.Choose(-250, 250).Select(k => (Term)new CapturedLeaf(k / 100.0))),
            (1, Gen.Choose(0, CapturedTable.Shared.Values.Length - 1).Select(k => (Term)new CapturedElementLeaf(k))),
            (1, from k in Gen.Choose(-250, 250)
                from low in Gen.Choose(-150, 0)
                select (Term)new ClampedCapturedLeaf(k / 100.0, low / 100.0, low / 100.0 + 1.5)),
        };
        if (arrays.Length > 0)
            options.Add((4, from p in Gen.Elements(arrays)
                            from k in Gen.Choose(0, signature.Parameters[p]!.Value - 1)
                            select (Term)new ElementLeaf(p, k)));
        return Gen.Frequency(options);
    }

    public static Gen<Term> NumberGen(Signature signature, int depth) => NumberGen(LeafGen(signature), depth);

    /// <summary>Number terms over the given leaves (a loop body's reads, say) and the whole catalogue.</summary>
    public static Gen<Term> NumberGen(Gen<Term> leaves, int depth)
    {
        if (depth <= 0)
            return leaves;
        var sub = NumberGen(leaves, depth - 1);
        return Gen.Frequency(
            (2, leaves),
            (12, from entry in Gen.Elements(OperationCatalogue.NumberEntries)
                 from args in ArgumentsGen(leaves, entry, depth - 1)
                 select (Term)new ApplyTerm(entry.Op, args)),
            (2, from test in BooleanGen(leaves, depth - 1)
                from then in sub
                from @else in sub
                select (Term)new ConditionTerm(test, then, @else)),
            (1, from op in Gen.Elements(OperationCatalogue.PartialOperations)
                from negated in Gen.Elements(false, true)
                from argument in sub
                from fallback in sub
                select (Term)new PartialTerm(op, negated, argument, fallback)),
            (2, SharedGen(leaves, depth)));
    }

    /// <summary>
    /// A sub-term s used more than once, so its adjoint is a sum over its uses (the reverse sweep's <c>+=</c> at a
    /// fork): B(s, U(s)), B(U(s), s), B(s, s), B(U(s), V(s)); and across conditionals, where s is read in the test and
    /// in the branches, or first inside a branch and then outside it (hash-consing must respect branch scopes).
    /// </summary>
    public static Gen<Term> SharedGen(Signature signature, int depth) => SharedGen(LeafGen(signature), depth);

    /// <summary>Shared sub-terms (see the overload over a signature) over the given leaves.</summary>
    public static Gen<Term> SharedGen(Gen<Term> leaves, int depth)
    {
        var binaries = OperationCatalogue.NumberEntries.Where(e => e.Arguments is [Sort.Number, Sort.Number]).ToArray();
        var unaries = OperationCatalogue.NumberEntries.Where(e => e.Arguments is [Sort.Number]).ToArray();
        var comparisons = OperationCatalogue.BooleanEntries.Where(e => e.Arguments is [Sort.Number, Sort.Number]).ToArray();
        return from shared in NumberGen(leaves, depth - 1)
               from other in NumberGen(leaves, Math.Max(depth - 2, 0))
               from binary in Gen.Elements(binaries)
               from u in Gen.Elements(unaries)
               from v in Gen.Elements(unaries)
               from compare in Gen.Elements(comparisons)
               from shape in Gen.Choose(0, 6)
               select (Term)(shape switch
               {
                   0 => new ApplyTerm(binary.Op, [shared, new ApplyTerm(u.Op, [shared])]),
                   1 => new ApplyTerm(binary.Op, [new ApplyTerm(u.Op, [shared]), shared]),
                   2 => new ApplyTerm(binary.Op, [shared, shared]),
                   3 => new ApplyTerm(binary.Op, [new ApplyTerm(u.Op, [shared]), new ApplyTerm(v.Op, [shared])]),
                   4 => new ConditionTerm(new ApplyTerm(compare.Op, [shared, other]),
                       new ApplyTerm(u.Op, [shared]), new ApplyTerm(binary.Op, [shared, other])),
                   5 => new ApplyTerm(binary.Op, [
                       new ConditionTerm(new ApplyTerm(compare.Op, [other, new ConstantLeaf(0.5)]), new ApplyTerm(u.Op, [shared]), other),
                       shared]),
                   _ => new ApplyTerm(binary.Op, [
                       shared,
                       new ConditionTerm(new ApplyTerm(compare.Op, [other, shared]), new ApplyTerm(u.Op, [shared]), new ApplyTerm(v.Op, [shared]))]),
               });
    }

    public static Gen<Term> BooleanGen(Signature signature, int depth) => BooleanGen(LeafGen(signature), depth);

    /// <summary>Boolean terms over the given leaves.</summary>
    public static Gen<Term> BooleanGen(Gen<Term> leaves, int depth)
    {
        var comparisons = OperationCatalogue.BooleanEntries.Where(e => e.Arguments is [Sort.Number, Sort.Number]).ToArray();
        var connectives = OperationCatalogue.BooleanEntries.Where(e => e.Arguments[0] == Sort.Boolean).ToArray();
        var comparison = Gen.Frequency(
            (6, from entry in Gen.Elements(comparisons)
                from args in ArgumentsGen(leaves, entry, Math.Max(depth - 1, 0))
                select (Term)new ApplyTerm(entry.Op, args)),
            (1, Gen.Elements(false, true).Select(b => (Term)new CapturedFlagLeaf(b))));
        if (depth <= 1)
            return comparison;
        return Gen.Frequency(
            (2, comparison),
            (1, from entry in Gen.Elements(connectives)
                from args in ArgumentsGen(leaves, entry, depth - 1)
                select (Term)new ApplyTerm(entry.Op, args)));
    }

    private static Gen<Term[]> ArgumentsGen(Gen<Term> leaves, OperationEntry entry, int depth) =>
        Gen.CollectToArray(entry.Arguments, sort => sort == Sort.Number ? NumberGen(leaves, depth) : BooleanGen(leaves, depth));

    /// <summary>Smaller bodies: a number-valued sub-term in place of the whole, or one child shrunk.</summary>
    public static IEnumerable<GeneratedCase> Shrink(GeneratedCase c)
    {
        foreach (var body in ShrinkTerm(c.Body, 0))
            yield return c.WithBody(EnsureArrayRead(c.Signature, body));
    }

    private static IEnumerable<Term> ShrinkTerm(Term term, int depth)
    {
        if (depth > 8)
            yield break;
        // Leaves never shrink (an array read replaced by a constant would be re-added by EnsureArrayRead: a cycle).
        if (term.Children.Count > 0 && term.Sort == Sort.Number)
            yield return new ConstantLeaf(1);
        foreach (var child in term.Children)
            if (child.Sort == term.Sort)
                yield return child;
        for (var i = 0; i < term.Children.Count; i++)
        {
            foreach (var smaller in ShrinkTerm(term.Children[i], depth + 1))
            {
                var children = term.Children.ToArray();
                children[i] = smaller;
                yield return term.With(children);
            }
        }
    }

    /// <summary>The points tried for a case, in order: uniform in [−PointRange, PointRange], from the case's seed.</summary>
    /// <remarks>Seeded by arithmetic, not <see cref="HashCode"/>, whose hashes differ from process to process: a replayed case gets the same points.</remarks>
    public static double[] Point(GeneratedCase c, int attempt)
    {
        var random = new Random(unchecked(c.PointSeed * 7919 + attempt * 104_729));
        var point = new double[c.Lowered.Dimension];
        for (var i = 0; i < point.Length; i++)
            point[i] = Math.Round((random.NextDouble() * 2 - 1) * PointRange, 6);
        return point;
    }
}

/// <summary>
/// Decides whether a point is fit for a finite-difference check: every guard active at the point must stay on one
/// piece, at least its margin from the boundary, and the function must be finite, over the whole stencil of
/// <see cref="GradCheck.Numeric"/> (x ± h, x ± 2h in each coordinate, with GradCheck's own h).
/// </summary>
internal static class PointScreen
{
    // GradCheck.Numeric's step: h = ε^(1/5)·max(1, |xᵢ|).
    private static readonly double Step = Math.Pow(Math.Pow(2, -52), 0.2);

    /// <summary>Null if the point is fit, else why not.</summary>
    public static string? Reject(Lowered lowered, double[] point)
    {
        try
        {
            return RejectUnsafe(lowered, point);
        }
        catch (ArithmeticException)
        {
            // Math.Sign throws on NaN (0/0 reaching a sign); ExprGrad's sign returns NaN instead. Not a fair point.
            return "Math.Sign of NaN";
        }
    }

    private static string? RejectUnsafe(Lowered lowered, double[] point)
    {
        if (!double.IsFinite(lowered.Value(point)))
            return "value not finite";
        var guards = lowered.Guards;
        var center = guards.Count == 0 ? [] : lowered.GuardValues(point);

        // The guard values over the stencil; a guard that never moves (max(s, s), floor(2), x < x) is no kink here.
        var moved = new bool[center.Length];
        var x = (double[])point.Clone();
        for (var i = 0; i < x.Length; i++)
        {
            var xi = x[i];
            var h = Step * Math.Max(1.0, Math.Abs(xi));
            h = (xi + h) - xi;
            foreach (var offset in (ReadOnlySpan<double>)[-2 * h, -h, h, 2 * h])
            {
                x[i] = xi + offset;
                if (!double.IsFinite(lowered.Value(x)))
                    return "value not finite on the stencil";
                if (center.Length == 0)
                    continue;
                var there = lowered.GuardValues(x);
                for (var g = 0; g < center.Length; g++)
                {
                    if (there[g].Equals(center[g]))
                        continue;
                    moved[g] = true;
                    // Equals (not ==) so that NaN, "in an untaken branch", is a piece like any other.
                    if (!Piece(guards[g].Kind, there[g]).Equals(Piece(guards[g].Kind, center[g])))
                        return $"{guards[g].Why} (the stencil crosses it)";
                }
            }
            x[i] = xi;
        }

        for (var g = 0; g < center.Length; g++)
        {
            var v = center[g];
            if (double.IsNaN(v) || (!moved[g] && guards[g].Kind != GuardKind.Pole))
                continue; // in an untaken branch, or a kink that is constant near the point
            var distance = guards[g].Kind == GuardKind.Integer ? Math.Abs(v - Math.Round(v)) : Math.Abs(v);
            if (!(distance >= guards[g].Margin))
                return string.Create(CultureInfo.InvariantCulture, $"{guards[g].Why} ({v:G6})");
        }
        return null;
    }

    private static double Piece(GuardKind kind, double v) =>
        double.IsNaN(v) ? double.NaN : kind == GuardKind.Integer ? Math.Floor(v) : Math.Sign(v);

    /// <summary>The first of <paramref name="attempts"/> seeded points of the case that is fit, or null.</summary>
    public static double[]? FindPoint(GeneratedCase c, int attempts, out string? lastReason)
    {
        lastReason = null;
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            var point = ExpressionGenerator.Point(c, attempt);
            lastReason = Reject(c.Lowered, point);
            if (lastReason is null)
                return point;
        }
        return null;
    }
}
