using System.Globalization;
using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using ExprGrad.Staging;
using ExprGrad.Tests.Properties;
using FsCheck;
using FsCheck.Fluent;

namespace ExprGrad.Tests.Loops;

// Random loop programs for property tests. A program is a LINQ loop over (double x0, double x1, double[] a) whose body
// is a random term from ExpressionGenerator's catalogue over loop leaves (a[i], a[i + 1], captured c[i], (double)i,
// the element v, the parameters). It lowers two ways with Expression factories: as the LINQ loop a user writes, and
// written out (unrolled) for its length, with the same operations in the same order. The written-out form also
// carries the catalogue's guards, so PointScreen can pick points where central differences are fair.

/// <summary>The loop forms a program takes.</summary>
internal enum LoopShape
{
    /// <summary><c>Enumerable.Range(0, a.Length - d).Sum(i =&gt; m[i] * body)</c>, reading a[i] and a[i + d].</summary>
    RangeSum,

    /// <summary><c>a.Sum(v =&gt; body)</c>, or <c>a.Sum()</c> when the body is v.</summary>
    ArraySum,

    /// <summary><c>a.Select((v, k) =&gt; m[k] * body).Sum()</c>.</summary>
    SelectIndexed,

    /// <summary><c>a.Zip(m, (u, w) =&gt; w * body).Sum()</c>: the mask is the second sequence.</summary>
    Zip,

    /// <summary><c>Range(0, a.Length).Sum(i =&gt; m[i] * Range(i + 1, a.Length - i - 1).Sum(j =&gt; m2[j] * body))</c>.</summary>
    Nested,

    /// <summary><c>Range(0, a.Length).Aggregate(seed, (acc, k) =&gt; G(u + acc * v))</c>, the accumulator read once.</summary>
    Fold,

    /// <summary>
    /// <c>Range(0, a.Length).Sum(i =&gt; m[i] * Range(0, 3).Aggregate(seed, (acc, j) =&gt; G(u + acc * v)))</c>: a fold in a sum,
    /// u and v reading a[i] and c[j].
    /// </summary>
    FoldInSum,

    /// <summary><c>Range(0, a.Length - d).Max(i =&gt; body)</c> or <c>a.Max(v =&gt; body)</c>.</summary>
    Max,

    /// <summary>As <see cref="Max"/>, with Min.</summary>
    Min,
}

/// <summary>Which loop variable a leaf reads: the (outer) loop's, or a nested loop's.</summary>
internal enum LoopVariable
{
    Outer,
    Inner,
}

/// <summary><c>a[i + Offset]</c> (array parameter) or <c>c[i + Offset]</c> (captured array) in a loop body.</summary>
internal sealed class LoopReadLeaf(bool captured, LoopVariable variable, int offset) : Term
{
    public bool Captured { get; } = captured;
    public LoopVariable Variable { get; } = variable;
    public int Offset { get; } = offset;
    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [];
    public override Term With(IReadOnlyList<Term> children) => this;
}

/// <summary>The loop variable as a double, <c>(double)i</c>.</summary>
internal sealed class LoopIndexLeaf : Term
{
    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [];
    public override Term With(IReadOnlyList<Term> children) => this;
}

/// <summary>The element of a <c>Sum(v =&gt; ...)</c>, <c>Select</c> or <c>Zip</c>: the lambda's parameter v.</summary>
internal sealed class LoopElementLeaf : Term
{
    public override Sort Sort => Sort.Number;
    public override IReadOnlyList<Term> Children => [];
    public override Term With(IReadOnlyList<Term> children) => this;
}

/// <summary>The closure of a program's captured data: c and the masks m, m2 (all ones: captured arrays read at the loop's index, multiplying each term by exactly 1).</summary>
internal sealed class LoopData
{
    public double[] C = [];
    public double[] M = [];
    public double[] M2 = [];
}

/// <summary>A generated loop program: its shape, its length n = a.Length, its terms and the seed of its points.</summary>
internal sealed class LoopProgram
{
    // Bodies stay shallow: a written-out nested program has n²/2 copies of its body.
    public const int MaxDepth = 4;
    public const int MaxLength = 50;
    public const int MaxNestedLength = 20;

    /// <summary>The iterations of a <see cref="LoopShape.FoldInSum"/>'s inner fold.</summary>
    public const int InnerFoldLength = 3;

    private (LambdaExpression Loop, Lowered Unrolled)? _lowered;

    public LoopProgram(LoopShape shape, int length, int offset, Term body, Term? second, Term? seed, Op squash, bool plain, int branch, int pointSeed)
    {
        Shape = shape;
        Length = length;
        Offset = offset;
        Body = body;
        Second = second;
        Seed = seed;
        Squash = squash;
        Plain = plain;
        Branch = branch;
        PointSeed = pointSeed;
        Data = new LoopData
        {
            C = [.. Enumerable.Range(0, MaxLength + 2).Select(k => Math.Round(Math.Sin(1.7 * k + 0.3) * 1.5, 3))],
            M = [.. Enumerable.Repeat(1.0, length)],
            M2 = [.. Enumerable.Repeat(1.0, length)],
        };
    }

    public LoopShape Shape { get; }

    /// <summary>The length of a at the test point.</summary>
    public int Length { get; }

    /// <summary>For a range over a: the largest offset read, a[i + Offset]; the range has a.Length − Offset iterations.</summary>
    public int Offset { get; }

    /// <summary>The body (for a fold, u in G(u + acc · v)).</summary>
    public Term Body { get; }

    /// <summary>A fold's v (<see cref="LoopShape.Fold"/>, <see cref="LoopShape.FoldInSum"/>).</summary>
    public Term? Second { get; }

    /// <summary>A fold's seed, over x0 and x1.</summary>
    public Term? Seed { get; }

    /// <summary>A fold's squashing G (tanh, sigmoid, sin, atan): keeps fifty steps finite.</summary>
    public Op Squash { get; }

    /// <summary>For <see cref="LoopShape.ArraySum"/>: <c>a.Sum()</c> itself.</summary>
    public bool Plain { get; }

    /// <summary>0: the loop is the function; 1: <c>x0 &gt; 0.3 ? loop : x1 · x1</c>; 2: <c>x0 &gt; 0.3 ? x1 · x1 : loop</c>.</summary>
    public int Branch { get; }

    public int PointSeed { get; }

    public LoopData Data { get; }

    /// <summary>The number of iterations (outer iterations for a nested sum).</summary>
    public int Count => Shape is LoopShape.RangeSum or LoopShape.Max or LoopShape.Min && !UsesArrayForm ? Length - Offset : Length;

    /// <summary>Max and Min over the array itself, <c>a.Max(v =&gt; ...)</c>, rather than a range.</summary>
    public bool UsesArrayForm => Shape is LoopShape.Max or LoopShape.Min && Offset < 0;

    public Signature Signature => new([null, null, Length]);

    /// <summary>The loop as a user writes it.</summary>
    public LambdaExpression Loop => (_lowered ??= LoopLowerer.Lower(this)).Loop;

    /// <summary>The same function written out for this length, with its guards and flat layout.</summary>
    public Lowered Unrolled => (_lowered ??= LoopLowerer.Lower(this)).Unrolled;

    public LoopProgram With(int? length = null, Term? body = null, Term? second = null) =>
        new(Shape, length ?? Length, Offset, body ?? Body, second ?? Second, Seed, Squash, Plain, Branch, PointSeed);

    /// <summary>FsCheck prints this for a counterexample.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Shape}, a.Length = {Length}: {Loop}  [point seed {PointSeed}]");
}

/// <summary>Lowers a <see cref="LoopProgram"/> to its LINQ loop and to its written-out tree.</summary>
internal sealed class LoopLowerer : GuardSink
{
    private static readonly MethodInfoCache Methods = new();

    private readonly LoopProgram _program;
    private readonly ParameterExpression _x0 = Expression.Parameter(typeof(double), "x0");
    private readonly ParameterExpression _x1 = Expression.Parameter(typeof(double), "x1");
    private readonly ParameterExpression _a = Expression.Parameter(typeof(double[]), "a");
    private readonly List<Guard> _guards = [];
    private readonly bool _collect;
    private readonly List<(Expression Test, bool Branch)> _branches = [];
    private Dictionary<(Term, int), Expression> _memo = new(new TermContextComparer());
    private int _context;
    private int _nextContext;

    // The iteration being built: the loop variables (a ParameterExpression in the loop, a constant written out), the element.
    private Expression _i = Expression.Constant(0);
    private Expression _j = Expression.Constant(0);
    private Expression? _element;

    // In the split form: the one array parameter whose element u is one read of a parameter, and the flat component
    // (0 for x0, 1 for x1, 2 + k for a[k]) each element stands for.
    private readonly ParameterExpression _uses = Expression.Parameter(typeof(double[]), "uses");
    private readonly List<int>? _components;

    private LoopLowerer(LoopProgram program, bool collect, bool split = false)
    {
        _program = program;
        _collect = collect;
        _components = split ? [] : null;
    }

    private Expression C => Expression.Field(Expression.Constant(_program.Data), nameof(LoopData.C));
    private Expression M => Expression.Field(Expression.Constant(_program.Data), nameof(LoopData.M));
    private Expression M2 => Expression.Field(Expression.Constant(_program.Data), nameof(LoopData.M2));

    public static (LambdaExpression Loop, Lowered Unrolled) Lower(LoopProgram p)
    {
        var loop = new LoopLowerer(p, collect: false);
        var loopLambda = Expression.Lambda(loop.Wrapped(loop.LoopForm()), loop._x0, loop._x1, loop._a);
        var unrolled = new LoopLowerer(p, collect: true);
        var unrolledLambda = Expression.Lambda(unrolled.Wrapped(unrolled.WrittenOut()), unrolled._x0, unrolled._x1, unrolled._a);
        return (loopLambda, new Lowered(unrolledLambda, p.Signature, [1, 1, p.Length], unrolled._guards));
    }

    /// <summary>
    /// The written-out program with every read of a parameter (x0, x1, a[k]; per iteration, per occurrence in the
    /// body) made an element of its own of one array <c>uses</c>, and the flat component each element stands for. Its
    /// gradient holds apart the contributions that the loop and the written-out tree add up, each in its own order.
    /// </summary>
    public static (Expression<Func<double[], double>> Lambda, int[] Components) Split(LoopProgram p)
    {
        var split = new LoopLowerer(p, collect: false, split: true);
        var body = split.Wrapped(split.WrittenOut());
        return (Expression.Lambda<Func<double[], double>>(body, split._uses), [.. split._components!]);
    }

    // A read of flat component c: the parameter itself, or in the split form a new element of uses.
    private Expression Use(int component, Expression read)
    {
        if (_components is null)
            return read;
        _components.Add(component);
        return Expression.ArrayIndex(_uses, Expression.Constant(_components.Count - 1));
    }

    private Expression ElementAt(int k) => Use(2 + k, Expression.ArrayIndex(_a, Expression.Constant(k)));

    // The loop in a branch, or not: the test x0 > 0.3 is a kink for central differences, so it is a guard.
    private Expression Wrapped(Expression loop)
    {
        if (_program.Branch == 0)
            return loop;
        Sign(Expression.Subtract(_x0, Expression.Constant(0.3)), OperationCatalogue.KinkMargin, "x0 > 0.3: near the test");
        var test = Expression.GreaterThan(Use(0, _x0), Expression.Constant(0.3));
        var other = Expression.Multiply(Use(1, _x1), Use(1, _x1));
        return _program.Branch == 1 ? Expression.Condition(test, loop, other) : Expression.Condition(test, other, loop);
    }

    // ---- The loop as a user writes it ----

    private Expression LoopForm()
    {
        var p = _program;
        var i = Expression.Parameter(typeof(int), "i");
        var j = Expression.Parameter(typeof(int), "j");
        var v = Expression.Parameter(typeof(double), "v");
        var length = Expression.ArrayLength(_a);
        Expression Range(Expression start, Expression count) => Expression.Call(Methods.Range, start, count);
        Expression Masked(Expression mask, Expression index, Expression body) =>
            Expression.Multiply(Expression.ArrayIndex(mask, index), body);
        switch (p.Shape)
        {
            case LoopShape.RangeSum:
            {
                _i = i;
                var body = Masked(M, i, Fresh(p.Body));
                return Expression.Call(Methods.Sum(typeof(int)), Range(Expression.Constant(0), Expression.Subtract(length, Expression.Constant(p.Offset))),
                    Expression.Lambda(body, i));
            }
            case LoopShape.ArraySum:
            {
                if (p.Plain)
                    return Expression.Call(Methods.PlainSum, _a);
                _element = v;
                return Expression.Call(Methods.Sum(typeof(double)), _a, Expression.Lambda(Fresh(p.Body), v));
            }
            case LoopShape.SelectIndexed:
            {
                _i = i;
                _element = v;
                var selector = Expression.Lambda(Masked(M, i, Fresh(p.Body)), v, i);
                return Expression.Call(Methods.PlainSumOfSequence, Expression.Call(Methods.SelectIndexed, _a, selector));
            }
            case LoopShape.Zip:
            {
                _element = v;
                var w = Expression.Parameter(typeof(double), "w");
                var zip = Expression.Call(Methods.Zip, _a, M, Expression.Lambda(Expression.Multiply(w, Fresh(p.Body)), v, w));
                return Expression.Call(Methods.PlainSumOfSequence, zip);
            }
            case LoopShape.Nested:
            {
                _i = i;
                _j = j;
                var inner = Expression.Call(Methods.Sum(typeof(int)),
                    Range(Expression.Add(i, Expression.Constant(1)), Expression.Subtract(Expression.Subtract(length, i), Expression.Constant(1))),
                    Expression.Lambda(Masked(M2, j, Fresh(p.Body)), j));
                return Expression.Call(Methods.Sum(typeof(int)), Range(Expression.Constant(0), length), Expression.Lambda(Masked(M, i, inner), i));
            }
            case LoopShape.Fold:
            {
                var acc = Expression.Parameter(typeof(double), "acc");
                _i = i;
                var step = FoldStep(acc);
                var seed = Fresh(p.Seed!);
                return Expression.Call(Methods.Aggregate, Range(Expression.Constant(0), length), seed, Expression.Lambda(step, acc, i));
            }
            case LoopShape.FoldInSum:
            {
                var acc = Expression.Parameter(typeof(double), "acc");
                (_i, _j) = (i, j);
                var step = FoldStep(acc);
                var fold = Expression.Call(Methods.Aggregate, Range(Expression.Constant(0), Expression.Constant(LoopProgram.InnerFoldLength)),
                    Fresh(p.Seed!), Expression.Lambda(step, acc, j));
                return Expression.Call(Methods.Sum(typeof(int)), Range(Expression.Constant(0), length), Expression.Lambda(Masked(M, i, fold), i));
            }
            default:
            {
                var max = p.Shape == LoopShape.Max;
                if (p.UsesArrayForm)
                {
                    _element = v;
                    return Expression.Call(max ? Methods.Max(typeof(double)) : Methods.Min(typeof(double)), _a, Expression.Lambda(Fresh(p.Body), v));
                }
                _i = i;
                return Expression.Call(max ? Methods.Max(typeof(int)) : Methods.Min(typeof(int)),
                    Range(Expression.Constant(0), Expression.Subtract(length, Expression.Constant(p.Offset))), Expression.Lambda(Fresh(p.Body), i));
            }
        }
    }

    // G(u + acc · v): the accumulator is read once, so the written-out fold is a chain, not a tree that doubles.
    private Expression FoldStep(Expression acc)
    {
        var u = Fresh(_program.Body);
        var v = Build(_program.Second!);
        var inner = Expression.Add(u, Expression.Multiply(acc, v));
        return _program.Squash switch
        {
            Op.Tanh => OperationCatalogue.Math1("Tanh", inner),
            Op.Sin => OperationCatalogue.Math1("Sin", inner),
            Op.Atan => OperationCatalogue.Math1("Atan", inner),
            _ => OperationCatalogue.FnCall(nameof(Fn.Sigmoid), inner),
        };
    }

    // ---- Written out for the program's length ----

    private Expression WrittenOut()
    {
        var p = _program;
        Expression At(Expression array, int k) => Expression.ArrayIndex(array, Expression.Constant(k));
        Expression Iteration(int k, Term body)
        {
            _i = Expression.Constant(k);
            _memo = new(new TermContextComparer());
            _element = p.Shape is LoopShape.ArraySum or LoopShape.SelectIndexed or LoopShape.Zip || p.UsesArrayForm ? ElementAt(k) : null;
            return Build(body);
        }
        switch (p.Shape)
        {
            case LoopShape.RangeSum or LoopShape.SelectIndexed:
                return LeftSum(Enumerable.Range(0, p.Count).Select(k => Expression.Multiply(At(M, k), Iteration(k, p.Body))));
            case LoopShape.ArraySum:
                return LeftSum(Enumerable.Range(0, p.Count).Select(k => p.Plain ? ElementAt(k) : Iteration(k, p.Body)));
            case LoopShape.Zip:
                return LeftSum(Enumerable.Range(0, p.Count).Select(k => Expression.Multiply(At(M, k), Iteration(k, p.Body))));
            case LoopShape.Nested:
                return LeftSum(Enumerable.Range(0, p.Length).Select(i => Expression.Multiply(At(M, i),
                    LeftSum(Enumerable.Range(i + 1, p.Length - i - 1).Select(j =>
                    {
                        _j = Expression.Constant(j);
                        return Expression.Multiply(At(M2, j), Iteration(i, p.Body));
                    })))));
            case LoopShape.Fold:
            {
                var acc = Fresh(p.Seed!);
                for (var k = 0; k < p.Length; k++)
                {
                    _i = Expression.Constant(k);
                    acc = FoldStep(acc);
                }
                return acc;
            }
            case LoopShape.FoldInSum:
                return LeftSum(Enumerable.Range(0, p.Length).Select(i =>
                {
                    _i = Expression.Constant(i);
                    var acc = Fresh(p.Seed!);
                    for (var j = 0; j < LoopProgram.InnerFoldLength; j++)
                    {
                        _j = Expression.Constant(j);
                        acc = FoldStep(acc);
                    }
                    return Expression.Multiply(At(M, i), acc);
                }));
            default:
            {
                // Math.Max through the catalogue's entry, which registers the tie as a guard.
                var entry = OperationCatalogue.Entries[p.Shape == LoopShape.Max ? Op.Max : Op.Min];
                Expression? best = null;
                for (var k = 0; k < p.Count; k++)
                {
                    var term = Iteration(k, p.Body);
                    best = best is null ? term : entry.Build([best, term], this);
                }
                return best ?? throw new InvalidOperationException("Max and Min programs have at least one iteration");
            }
        }
    }

    // A left-leaning sum from 0.0, the order in which LINQ and the loop add.
    private static Expression LeftSum(IEnumerable<Expression> terms) =>
        terms.Aggregate((Expression)Expression.Constant(0.0), Expression.Add);

    // ---- Terms ----

    // A new iteration: shared terms stay shared within it, never across iterations (whose loop variables differ).
    private Expression Fresh(Term term)
    {
        _memo = new(new TermContextComparer());
        return Build(term);
    }

    private Expression Build(Term term)
    {
        if (_memo.TryGetValue((term, _context), out var built))
            return built;
        built = term switch
        {
            ScalarLeaf s => Use(s.Param, s.Param == 0 ? _x0 : _x1),
            ConstantLeaf c => Expression.Constant(c.Value),
            CapturedLeaf c => Expression.Field(Expression.Constant(c.Box), nameof(CapturedBox<double>.Value)),
            ClampedCapturedLeaf c => Expression.Call(typeof(Math).GetMethod(nameof(Math.Clamp), [typeof(double), typeof(double), typeof(double)])!,
                Expression.Field(Expression.Constant(c.Box), nameof(CapturedBox<double>.Value)), Expression.Constant(c.Low), Expression.Constant(c.High)),
            CapturedFlagLeaf f => Expression.Field(Expression.Constant(f.Box), nameof(CapturedBox<bool>.Value)),
            LoopReadLeaf { Captured: false } r when Offset(r.Variable == LoopVariable.Outer ? _i : _j, r.Offset) is ConstantExpression { Value: int k } => ElementAt(k),
            LoopReadLeaf r => Expression.ArrayIndex(r.Captured ? C : _a, Offset(r.Variable == LoopVariable.Outer ? _i : _j, r.Offset)),
            // (double)k written out too, not a double constant: the catalogue builds pow(u, c) differently for a constant c.
            LoopIndexLeaf => Expression.Convert(_i, typeof(double)),
            LoopElementLeaf => _element ?? throw new InvalidOperationException("an element leaf outside an element loop"),
            ApplyTerm a => OperationCatalogue.Entries[a.Op].Build([.. a.Children.Select(Build)], this),
            ConditionTerm c => BuildCondition(Build(c.Children[0]), c.Children[1], c.Children[2]),
            PartialTerm p => BuildPartial(p),
            _ => throw new InvalidOperationException($"unknown term {term.GetType().Name}"),
        };
        _memo[(term, _context)] = built;
        return built;
    }

    private static Expression Offset(Expression index, int offset) => index switch
    {
        _ when offset == 0 => index,
        ConstantExpression { Value: int k } => Expression.Constant(k + offset),
        _ => Expression.Add(index, Expression.Constant(offset)),
    };

    // Guards and branches as ExpressionGenerator's Lowerer keeps them: a guard in a branch is NaN where it is not taken.
    public override void Sign(Expression value, double margin, string why) => Add(value, GuardKind.Sign, margin, why);

    public override void Integer(Expression value, double margin, string why) => Add(value, GuardKind.Integer, margin, why);

    public override void Pole(Expression value, double margin, string why) => Add(value, GuardKind.Pole, margin, why);

    private void Add(Expression value, GuardKind kind, double margin, string why)
    {
        if (!_collect)
            return;
        var nan = Expression.Constant(double.NaN);
        for (var k = _branches.Count - 1; k >= 0; k--)
        {
            var (test, branch) = _branches[k];
            value = branch ? Expression.Condition(test, value, nan) : Expression.Condition(test, nan, value);
        }
        _guards.Add(new Guard(value, kind, margin, why));
    }

    private Expression BuildCondition(Expression test, Term then, Term @else) =>
        Expression.Condition(test, InBranch(test, true, () => Build(then)), InBranch(test, false, () => Build(@else)));

    private Expression InBranch(Expression test, bool branch, Func<Expression> build)
    {
        var saved = _context;
        _branches.Add((test, branch));
        _context = ++_nextContext;
        try
        {
            return build();
        }
        finally
        {
            _branches.RemoveAt(_branches.Count - 1);
            _context = saved;
        }
    }

    // As ExpressionGenerator's Lowerer: a partial function behind a test of its domain, with a margin.
    private Expression BuildPartial(PartialTerm p)
    {
        var u = Build(p.Children[0]);
        var (inside, name) = p.Op switch
        {
            Op.Log or Op.Log10 or Op.Log2 or Op.Sqrt or Op.Pow => (Above(u, 0.25), p.Op.ToString()),
            Op.Acosh => (Above(u, 1.25), "Acosh"),
            Op.Asin or Op.Acos or Op.Atanh => (Within(u, 0.75), p.Op.ToString()),
            _ => throw new InvalidOperationException($"{p.Op} has no partial form"),
        };
        Expression test = p.NegatedTest ? Expression.Not(inside) : inside;
        Expression Partial() => p.Op == Op.Pow
            ? OperationCatalogue.Math2("Pow", u, Expression.Constant(1.5))
            : OperationCatalogue.Math1(name, u);
        return p.NegatedTest
            ? Expression.Condition(test, InBranch(test, true, () => Build(p.Children[1])), InBranch(test, false, Partial))
            : Expression.Condition(test, InBranch(test, true, Partial), InBranch(test, false, () => Build(p.Children[1])));

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

    private sealed class TermContextComparer : IEqualityComparer<(Term, int)>
    {
        public bool Equals((Term, int) x, (Term, int) y) => ReferenceEquals(x.Item1, y.Item1) && x.Item2 == y.Item2;
        public int GetHashCode((Term, int) obj) => HashCode.Combine(RuntimeHelpers.GetHashCode(obj.Item1), obj.Item2);
    }

    private sealed class MethodInfoCache
    {
        private static System.Reflection.MethodInfo Generic(string name, int parameters, Func<System.Reflection.MethodInfo, bool> match, params Type[] types) =>
            typeof(Enumerable).GetMethods().Single(m => m.Name == name && m.GetParameters().Length == parameters && match(m)).MakeGenericMethod(types);

        private static bool SelectorReturns(System.Reflection.MethodInfo m, Type result) =>
            m.GetParameters()[1].ParameterType is { IsGenericType: true } t && t.GetGenericTypeDefinition() == typeof(Func<,>)
            && t.GetGenericArguments()[1] == result;

        public System.Reflection.MethodInfo Range { get; } = typeof(Enumerable).GetMethod(nameof(Enumerable.Range))!;

        public System.Reflection.MethodInfo PlainSum { get; } = typeof(Enumerable).GetMethod(nameof(Enumerable.Sum), [typeof(IEnumerable<double>)])!;

        public System.Reflection.MethodInfo PlainSumOfSequence => PlainSum;

        public System.Reflection.MethodInfo SelectIndexed { get; } = Generic(nameof(Enumerable.Select), 2,
            m => m.GetParameters()[1].ParameterType.GetGenericTypeDefinition() == typeof(Func<,,>), typeof(double), typeof(double));

        public System.Reflection.MethodInfo Zip { get; } = Generic(nameof(Enumerable.Zip), 3,
            m => m.GetParameters()[2].ParameterType.IsGenericType && m.GetParameters()[2].ParameterType.GetGenericTypeDefinition() == typeof(Func<,,>),
            typeof(double), typeof(double), typeof(double));

        public System.Reflection.MethodInfo Aggregate { get; } = Generic(nameof(Enumerable.Aggregate), 3, _ => true, typeof(int), typeof(double));

        public System.Reflection.MethodInfo Sum(Type source) => Selector(nameof(Enumerable.Sum), source);

        public System.Reflection.MethodInfo Max(Type source) => Selector(nameof(Enumerable.Max), source);

        public System.Reflection.MethodInfo Min(Type source) => Selector(nameof(Enumerable.Min), source);

        private static System.Reflection.MethodInfo Selector(string name, Type source) =>
            Generic(name, 2, m => m.GetGenericArguments().Length == 1 && SelectorReturns(m, typeof(double)), source);
    }
}

/// <summary>The FsCheck generator and shrinker of <see cref="LoopProgram"/>s.</summary>
internal static class LoopProgramGenerator
{
    private static readonly Op[] Squashes = [Op.Tanh, Op.Sigmoid, Op.Sin, Op.Atan];

    /// <summary>Random loop programs, of the given shapes (all of them if none).</summary>
    public static Arbitrary<LoopProgram> Programs(params LoopShape[] shapes) => Arb.From(ProgramGen(shapes), Shrink);

    public static Gen<LoopProgram> ProgramGen(params LoopShape[] shapes) =>
        from shape in Gen.Elements(shapes.Length > 0 ? shapes : Enum.GetValues<LoopShape>())
        from offset in Gen.Choose(0, 1)
        from arrayForm in Gen.Choose(0, 2).Select(k => k == 0)
        from plain in Gen.Choose(0, 7).Select(k => k == 0)
        from depth in Gen.Sized(size => Gen.Choose(0, Math.Clamp(size * LoopProgram.MaxDepth / 40, 0, LoopProgram.MaxDepth)))
        let effectiveOffset = shape is LoopShape.RangeSum ? offset : shape is LoopShape.Max or LoopShape.Min ? (arrayForm ? -1 : offset) : 0
        from length in LengthGen(shape, effectiveOffset)
        from body in ExpressionGenerator.NumberGen(Leaves(shape, effectiveOffset), depth)
        from second in ExpressionGenerator.NumberGen(Leaves(shape, 0), Math.Max(depth - 1, 0))
        from seed in ExpressionGenerator.NumberGen(Leaves(LoopShape.ArraySum, -2), 1)
        from squash in Gen.Elements(Squashes)
        from branch in Gen.Frequency((4, Gen.Constant(0)), (1, Gen.Constant(1)), (1, Gen.Constant(2)))
        from pointSeed in Gen.Choose(0, int.MaxValue - 1)
        select new LoopProgram(shape, length, effectiveOffset, body,
            shape is LoopShape.Fold or LoopShape.FoldInSum ? second : null, shape is LoopShape.Fold or LoopShape.FoldInSum ? seed : null, squash, shape == LoopShape.ArraySum && plain, branch, pointSeed);

    // 0..50 (a range over a[i + d] needs d elements; Max and Min need an iteration; nested sums stay at 20).
    private static Gen<int> LengthGen(LoopShape shape, int offset)
    {
        var low = shape is LoopShape.Max or LoopShape.Min ? Math.Max(offset, 0) + 1 : Math.Max(offset, 0);
        var high = shape is LoopShape.Nested or LoopShape.FoldInSum ? LoopProgram.MaxNestedLength : LoopProgram.MaxLength;
        // Short lengths (0, 1, 2) often: the edges of a loop.
        return Gen.Frequency((1, Gen.Choose(low, Math.Min(low + 2, high))), (3, Gen.Choose(low, high)));
    }

    // The leaves a body of this shape may read (offset −2: only the parameters, for a fold's seed).
    public static Gen<Term> Leaves(LoopShape shape, int offset)
    {
        var options = new List<(int, Gen<Term>)>
        {
            (3, Gen.Elements(0, 1).Select(p => (Term)new ScalarLeaf(p))),
            (1, Gen.Choose(-250, 250).Select(k => (Term)new ConstantLeaf(k / 100.0))),
            (1, Gen.Choose(-250, 250).Select(k => (Term)new CapturedLeaf(k / 100.0))),
        };
        if (offset == -2)
            return Gen.Frequency(options);
        var element = shape is LoopShape.ArraySum or LoopShape.SelectIndexed or LoopShape.Zip || (shape is LoopShape.Max or LoopShape.Min && offset < 0);
        var indexed = shape is LoopShape.RangeSum or LoopShape.SelectIndexed or LoopShape.Nested or LoopShape.Fold or LoopShape.FoldInSum
            || (shape is LoopShape.Max or LoopShape.Min && offset >= 0);
        if (element)
            options.Add((5, Gen.Constant((Term)new LoopElementLeaf())));
        if (indexed)
        {
            var arrayReads = shape is LoopShape.SelectIndexed ? [] : Enumerable.Range(0, Math.Max(offset, 0) + 1).ToArray();
            if (arrayReads.Length > 0)
                options.Add((5, Gen.Elements(arrayReads).Select(o => (Term)new LoopReadLeaf(false, LoopVariable.Outer, o))));
            options.Add((2, Gen.Choose(0, 1).Select(o => (Term)new LoopReadLeaf(true, LoopVariable.Outer, o))));
            options.Add((1, Gen.Constant((Term)new LoopIndexLeaf())));
        }
        if (shape == LoopShape.Nested)
        {
            options.Add((5, Gen.Constant((Term)new LoopReadLeaf(false, LoopVariable.Inner, 0))));
            options.Add((1, Gen.Constant((Term)new LoopReadLeaf(true, LoopVariable.Inner, 0))));
        }
        // (The inner fold's index runs to 3 whatever a's length: it reads captured data only.)
        if (shape == LoopShape.FoldInSum)
            options.Add((3, Gen.Constant((Term)new LoopReadLeaf(true, LoopVariable.Inner, 0))));
        return Gen.Frequency(options);
    }

    /// <summary>Shorter arrays first, then smaller bodies (a child in place of its parent).</summary>
    public static IEnumerable<LoopProgram> Shrink(LoopProgram p)
    {
        var low = p.Shape is LoopShape.Max or LoopShape.Min ? Math.Max(p.Offset, 0) + 1 : Math.Max(p.Offset, 0);
        foreach (var n in new[] { low, p.Length / 2, p.Length - 1 }.Distinct().Where(n => n >= low && n < p.Length))
            yield return p.With(length: n);
        foreach (var child in p.Body.Children.Where(c => c.Sort == Sort.Number))
            yield return p.With(body: child);
        if (p.Second is { } second)
            foreach (var child in second.Children.Where(c => c.Sort == Sort.Number))
                yield return p.With(second: child);
    }
}
