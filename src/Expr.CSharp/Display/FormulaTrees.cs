using System.Linq.Expressions;
using System.Reflection;
using ExprGrad.Rules;
using ExprGrad.Staging;
using ExprGrad.Symbolic;

namespace ExprGrad.Display;

/// <summary>
/// Inlines the staged graph into one Linq tree per partial derivative, for the symbolic module to simplify and
/// print: inputs and captured values become parameters named as the user wrote them (<c>x</c>, <c>w[0]</c>,
/// <c>y</c>), operations become plain <see cref="Math"/> and <see cref="Fn"/> calls, a conditional becomes
/// <c>test ? a : b</c>. A stage read twice is one shared Linq node, so building is linear in the graph; the tree
/// it stands for can still be exponentially larger, so its size is measured before anyone prints it.
/// </summary>
/// <remarks>
/// A sum over data becomes a sum over its range (<see cref="LoopMarkers.Sum"/>, Σ): its body's tree with the loop's
/// variable as a parameter named as the user named it, array elements at computed indices as
/// <see cref="LoopMarkers.Element(string, double)"/>, and what the body reads from outside as the outer trees. Its
/// pullback's outputs are sums over the same range of one iteration's contribution. An array of any length has no
/// partial per slot: its gradient is one formula in a free index <c>k</c>, the sum of every contribution to element k
/// (a scatter at index e adds <c>k == e ? c : 0</c>, Kronecker's delta). Folds, Max and Min have no such formula.
/// </remarks>
internal sealed class FormulaTrees
{
    private static readonly MethodInfo MathSign = typeof(Math).GetMethod(nameof(Math.Sign), [typeof(double)])!;

    private static readonly MethodInfo SumMarker = typeof(LoopMarkers).GetMethod(nameof(LoopMarkers.Sum))!;
    private static readonly MethodInfo ElementMarker = typeof(LoopMarkers).GetMethod(nameof(LoopMarkers.Element), [typeof(string), typeof(double)])!;
    private static readonly MethodInfo MatrixElementMarker =
        typeof(LoopMarkers).GetMethod(nameof(LoopMarkers.Element), [typeof(string), typeof(double), typeof(double)])!;

    private readonly StagedGraph _graph;
    private readonly Dictionary<Node, Expression> _trees = [];
    private readonly Dictionary<Node, long> _sizes = [];
    // What a body's inputs stand for: an invariant the outer node it reads, the seed its pullback's adjoint.
    private readonly Dictionary<Node, Node> _bound = [];
    // The loop a body's node or a pullback's output belongs to.
    private readonly Dictionary<LoopBody, Node> _loops = [];

    public FormulaTrees(StagedGraph graph)
    {
        _graph = graph;
        var parameters = new Dictionary<string, ParameterExpression>();
        foreach (var region in DeadStages.Regions(graph.Root))
            foreach (var n in region.Nodes)
                if (n.Op is Op.Input or Op.Captured)
                {
                    var name = n.Op == Op.Input ? graph.InputName(n) : StagedCode.CapturedName(n.Live!);
                    if (!parameters.TryGetValue(name, out var p))
                        parameters[name] = p = Expression.Parameter(n.IsBool ? typeof(bool) : typeof(double), name);
                    _trees[n] = p;
                }
        foreach (var region in DeadStages.Regions(graph.Root))
            foreach (var n in region.Nodes)
                if (n.Op == Op.Length)
                    _trees[n] = Name(parameters, graph.Parameters[n.Param].Name + ".Length");
        BindLoops(parameters);
        Parameters = parameters;
    }

    private static ParameterExpression Name(Dictionary<string, ParameterExpression> parameters, string name)
    {
        if (!parameters.TryGetValue(name, out var p))
            parameters[name] = p = Expression.Parameter(typeof(double), name);
        return p;
    }

    /// <summary>True if the graph has a loop that is not a sum (a fold, Max or Min), which no formula shows.</summary>
    public string? Unprintable { get; private set; }

    // Every loop, however nested: its variable is a parameter, its invariants and seed are bound to outer nodes.
    private void BindLoops(Dictionary<string, ParameterExpression> parameters)
    {
        var pending = new Stack<Region>([_graph.Root]);
        while (pending.TryPop(out var region))
            foreach (var n in region.Nodes)
            {
                if (n.Op == Op.Condition)
                {
                    pending.Push(n.Then!);
                    pending.Push(n.Else!);
                }
                else if (n.Op == Op.LoopAdjoint && n.Loop!.Kind == LoopKind.Sum)
                {
                    if (n.Loop.BuiltPullback is { } pullback)
                        _bound[pullback.Seed] = n.Args[1];
                }
                else if (n.Op == Op.Loop)
                {
                    var body = n.Loop!;
                    if (body.Kind != LoopKind.Sum)
                        Unprintable ??= $"{body.Text} is a {(body.Kind == LoopKind.Fold ? "fold" : body.Kind.ToString())}, which no formula shows";
                    _loops[body] = n;
                    foreach (var input in body.Builder.Root.Nodes)
                        if (input.Op == Op.Input && input.Param >= 1)
                            _bound[input] = n.Args[LoopBody.FirstInvariant + input.Param - 1];
                        else if (input.Op == Op.Index)
                            _trees[input] = Name(parameters, body.Variable);
                        else if (input.Op == Op.Captured && !_trees.ContainsKey(input))
                        {
                            var name = StagedCode.CapturedName(input.Live!);
                            if (!parameters.TryGetValue(name, out var p))
                                parameters[name] = p = Expression.Parameter(input.IsBool ? typeof(bool) : typeof(double), name);
                            _trees[input] = p;
                        }
                    pending.Push(body.Builder.Root);
                }
            }
    }

    /// <summary>The inputs and captured values, by display name.</summary>
    public IReadOnlyDictionary<string, ParameterExpression> Parameters { get; }

    /// <summary>The tree of slot <paramref name="k"/>'s partial derivative (the constant 0 where the function does not depend on it).</summary>
    public Expression Partial(int k) => Adjoint(k) is { } adjoint ? Tree(adjoint) : Expression.Constant(0.0);

    /// <summary>The number of nodes of slot <paramref name="k"/>'s partial derivative, written out (saturating at <see cref="long.MaxValue"/>).</summary>
    public long PartialSize(int k) => Adjoint(k) is { } adjoint ? Size(adjoint) : 1;

    /// <summary>
    /// A name for the free index of an array's gradient: <c>k</c>, or the first of <c>m</c>, <c>p</c>, <c>q</c>, <c>k1</c>,
    /// <c>k2</c>, ... that no parameter, captured value or loop variable uses.
    /// </summary>
    public ParameterExpression FreeIndex()
    {
        var taken = new HashSet<string>(Parameters.Keys);
        foreach (var p in _graph.Parameters)
            taken.Add(p.Name);
        var name = new[] { "k", "m", "p", "q" }.Concat(Enumerable.Range(1, int.MaxValue - 1).Select(j => $"k{j}")).First(c => !taken.Contains(c));
        return Expression.Parameter(typeof(double), name);
    }

    /// <summary>
    /// The gradient of array parameter <paramref name="param"/> (of any length) at element <paramref name="k"/>: the
    /// adjoints of its elements read outside loops, <c>k == 0 ? c : 0</c>, and every sum's scatters into it, each a sum
    /// over the loop's range of <c>k == e ? c : 0</c> for a scatter of c at index e (under its conditional's test where
    /// it sits in a branch). <paramref name="size"/> is the number of nodes written out (saturating).
    /// </summary>
    public Expression ArrayGradient(int param, ParameterExpression k, out long size)
    {
        var p = _graph.Parameters[param];
        var terms = new List<Expression>();
        long total = 0;
        void Count(Node n) => total = Math.Min(long.MaxValue / 2, total + Size(n));
        for (var e = 0; e < p.Extent; e++)
            if (_graph.Adjoints[p.Offset + e] is { } adjoint)
            {
                Count(adjoint);
                terms.Add(Delta(k, Expression.Constant((double)e), Tree(adjoint)));
            }
        terms.Add(Effects(_graph.Root, param, k, Count));
        size = Math.Max(total, 1);
        return Add(terms);
    }

    private static Expression Add(List<Expression> terms)
    {
        terms.RemoveAll(t => t is ConstantExpression { Value: 0.0 });
        return terms.Count == 0 ? Expression.Constant(0.0) : terms.Aggregate((a, b) => Expression.Add(a, b));
    }

    // k == index ? value : 0, Kronecker's delta times the value.
    private static Expression Delta(ParameterExpression k, Expression index, Expression value) =>
        Expression.Condition(Expression.Equal(k, index), value, Expression.Constant(0.0));

    // What the stages of a region add to element k of array param's gradient: its scatters, its sums' pullbacks' and
    // its conditionals' (each under its test).
    private Expression Effects(Region region, int param, ParameterExpression k, Action<Node> count)
    {
        var terms = new List<Expression>();
        foreach (var n in region.Nodes)
        {
            if (n.Op == Op.ScatterAdd && n.Param == param)
            {
                count(n.Args[0]);
                terms.Add(Delta(k, Tree(n.Args[1]), Tree(n.Args[0])));
            }
            else if (n.Op == Op.LoopAdjoint && n.HasEffects)
            {
                var body = n.Loop!;
                var inner = Effects(body.Builder.Root, param, k, count);
                Tree(n.Args[2]);
                Tree(n.Args[3]);
                terms.Add(Series(body, n.Args[2], n.Args[3], inner));
            }
            else if (n.Op == Op.Condition && HasEffects(n))
            {
                var test = Tree(n.Args[0]);
                count(n.Args[0]);
                var (then, otherwise) = (Effects(n.Then!, param, k, count), Effects(n.Else!, param, k, count));
                terms.Add(Expression.Condition(test.Type == typeof(bool) ? test : Expression.NotEqual(test, Expression.Constant(0.0)), then, otherwise));
            }
        }
        return Add(terms);
    }

    private static bool HasEffects(Node condition) =>
        DeadStages.Regions(condition.Then!).Concat(DeadStages.Regions(condition.Else!)).Any(r => r.Nodes.Exists(n => n.HasEffects));

    private Node? Adjoint(int k) => _graph.Adjoints.Length > k ? _graph.Adjoints[k] : null;

    /// <summary>
    /// Post-order over the nodes a tree reads that are not <paramref name="done"/> yet, without recursion: every
    /// argument before its reader, each node once (a shared node is expanded once, however many readers it has).
    /// </summary>
    private IEnumerable<Node> PostOrder(Node root, Func<Node, bool> done)
    {
        var expanded = new HashSet<Node>();
        var pending = new Stack<(Node Node, bool ArgsDone)>();
        pending.Push((root, false));
        while (pending.TryPop(out var item))
        {
            var (n, argsDone) = item;
            if (argsDone)
            {
                yield return n;
                continue;
            }
            if (done(n) || !expanded.Add(n))
                continue;
            pending.Push((n, true));
            foreach (var arg in Reads(n))
                if (!done(arg) && !expanded.Contains(arg))
                    pending.Push((arg, false));
        }
    }

    // What a node's tree is built from: its arguments, and for a conditional's output the test and both results; for
    // a sum, its range and its body's value; for a sum's pullback's output, its range and one iteration's contribution.
    private IEnumerable<Node> Reads(Node n)
    {
        switch (n.Op)
        {
            case Op.Project when n.Args[0].Op == Op.LoopAdjoint:
                var adjoint = n.Args[0];
                return [adjoint.Args[2], adjoint.Args[3], Contribution(n)];
            case Op.Project:
                var condition = n.Args[0];
                return [condition.Args[0], condition.Then!.Results[n.Param], condition.Else!.Results[n.Param]];
            case Op.Loop:
                return [n.Args[0], n.Args[1], n.Loop!.Output];
            case Op.Input when _bound.TryGetValue(n, out var outer):
                return [outer];
            default:
                return n.Args;
        }
    }

    // One iteration's contribution to a sum's pullback's output (an invariant's adjoint).
    private static Node Contribution(Node projection)
    {
        var adjoint = projection.Args[0];
        var pullback = adjoint.Loop!.Pullback;
        return pullback.Invariants[projection.Param - LoopBody.FirstInvariant]
            ?? throw new InvalidOperationException($"internal error: the pullback of {adjoint.Loop.Text} has no contribution for output {projection.Param}");
    }

    private Expression Series(LoopBody body, Node start, Node count, Expression term) =>
        Expression.Call(SumMarker, Expression.Constant(body.Variable), _trees[start],
            Expression.Subtract(Expression.Add(_trees[start], _trees[count]), Expression.Constant(1.0)), term);

    private long Size(Node root)
    {
        foreach (var n in PostOrder(root, _sizes.ContainsKey))
        {
            var size = 1L;
            foreach (var arg in Reads(n))
                size = size > long.MaxValue - _sizes[arg] ? long.MaxValue : size + _sizes[arg];
            _sizes[n] = size;
        }
        return _sizes[root];
    }

    private Expression Tree(Node root)
    {
        foreach (var n in PostOrder(root, _trees.ContainsKey))
            _trees[n] = Build(n);
        return _trees[root];
    }

    private static Expression Sign(Expression u) => Expression.Convert(Expression.Call(MathSign, u), typeof(double));

    /// <summary>
    /// A routing gate's select written as the step it is, as a formula reads (and as sympy prints it): abs's
    /// u &gt; 0 ? a : u &lt; 0 ? −a : 0 is a·sign(u), max's u &gt; v ? a : u &lt; v ? 0 : a/2 is a·(1 + sign(u − v))/2, and
    /// relu's y &gt; 0 ? a : 0 is a·sign(y), and pow's p == 0 ? 0 : a, where a has the factor p, is a (its value at
    /// p = 0 is 0 wherever it is defined). The formula is the derivative wherever it is defined; the staged code
    /// selects, so an infinite or NaN adjoint is not multiplied by 0 there. Null for any other select.
    /// </summary>
    private Expression? Step(Node select)
    {
        var (test, a, otherwise) = (select.Args[0], select.Args[1], select.Args[2]);
        if (Is(a, 0) && ZeroTested(test) is { } p && HasFactor(otherwise, f => f == p))
            return _trees[otherwise];
        if (test.Op != Op.GreaterThan)
            return null;
        var (u, v) = (test.Args[0], test.Args[1]);
        if (Is(otherwise, 0) && Is(v, 0))
            return Expression.Multiply(_trees[a], Sign(_trees[u]));
        if (otherwise is not { Op: Op.Select } inner || inner.Args[0] is not { Op: Op.LessThan } less || less.Args[0] != u || less.Args[1] != v)
            return null;
        var (below, tie) = (inner.Args[1], inner.Args[2]);
        if (Is(v, 0) && Is(tie, 0) && Opposes(below, a))
            return Expression.Multiply(_trees[a], Sign(_trees[u]));
        if (Is(below, 0) && Halves(tie, a))
            return Expression.Multiply(_trees[a], Expression.Multiply(Expression.Constant(0.5),
                Expression.Add(Expression.Constant(1.0), Sign(Expression.Subtract(_trees[u], _trees[v])))));
        return null;
    }

    private static bool Is(Node n, double v) => n.Op == Op.Constant && !n.IsBool && n.Value == v;

    // u for the test u == 0 (or 0 == u), else null.
    private static Node? ZeroTested(Node test) =>
        test.Op != Op.Equal ? null : Is(test.Args[1], 0) ? test.Args[0] : Is(test.Args[0], 0) ? test.Args[1] : null;

    // True if product is a factor satisfying p times something: the factor itself, or a product (or quotient, or negation) with the factor p, found
    // breadth first within a few nodes (pow's ȳ·(p·u^(p−1)) as GraphBuilder stages it), so the look stays cheap on deep adjoints.
    private static bool HasFactor(Node product, Func<Node, bool> p)
    {
        var pending = new Queue<Node>([product]);
        for (var budget = 16; budget > 0 && pending.TryDequeue(out var n); budget--)
            if (p(n))
                return true;
            else if (n.Op == Op.Multiply)
            {
                pending.Enqueue(n.Args[0]);
                pending.Enqueue(n.Args[1]);
            }
            else if (n.Op is Op.Divide or Op.Negate)
                pending.Enqueue(n.Args[0]);
        return false;
    }

    // True if tie is a/2 as GraphBuilder stages 0.5·a: 0.5·a, a constant's half, or (c/2)·t where a is c·t (an exact
    // product folds), or (c/2)/t where a is c/t.
    private static bool Halves(Node tie, Node a) =>
        (tie.Op == Op.Multiply && Is(tie.Args[0], 0.5) && tie.Args[1] == a)
        || (a.Op == Op.Constant && !a.IsBool && Is(tie, a.Value / 2))
        || (tie.Op == a.Op && tie.Op is Op.Multiply or Op.Divide && tie.Args[1] == a.Args[1]
            && a.Args[0].Op == Op.Constant && !a.Args[0].IsBool && Is(tie.Args[0], a.Args[0].Value / 2));

    // True if below is −a as GraphBuilder.Negate stages it: −a, a itself where a is a negation, a constant's opposite,
    // or (−c)·t where a is c·t.
    private static bool Opposes(Node below, Node a) =>
        (below.Op == Op.Negate && below.Args[0] == a)
        || (a.Op == Op.Negate && a.Args[0] == below)
        || (below.Op == Op.Constant && a.Op == Op.Constant && !a.IsBool && !below.IsBool && below.Value == -a.Value)
        || (below.Op == Op.Multiply && a.Op == Op.Multiply && below.Args[1] == a.Args[1] && Opposes(below.Args[0], a.Args[0]));

    private Expression Build(Node n)
    {
        // A folded constant that the symbolic module does not recognise as an exact constant (pi/4, 3/10, log(10)) shows
        // as the fold that made it (1/exp(e), cos(12)), which it keeps exact, rather than as a 17-digit decimal.
        if (n.Op == Op.Constant)
            return n.IsBool ? Expression.Constant(n.Value != 0)
                : n.Origin is { } origin && FormulaModule.OfConstant(n.Value).IsApprox ? Operation(origin, Array.ConvertAll(origin.Args, Build))
                : Expression.Constant(n.Value);
        switch (n.Op)
        {
            case Op.Project when n.Args[0].Op == Op.LoopAdjoint:
            {
                var adjoint = n.Args[0];
                return Series(adjoint.Loop!, adjoint.Args[2], adjoint.Args[3], _trees[Contribution(n)]);
            }
            case Op.Loop:
                return Series(n.Loop!, n.Args[0], n.Args[1], _trees[n.Loop!.Output]);
            case Op.Input when _bound.TryGetValue(n, out var outer):
                return _trees[outer];
            case Op.Input:
                throw new NotSupportedException($"internal error: body input v{n.Id} is read outside its pullback");
            case Op.Read:
            {
                var name = n.Live is { } live ? StagedCode.CapturedName(live) : _graph.Parameters[n.Param].Name;
                return n.Args.Length == 1
                    ? Expression.Call(ElementMarker, Expression.Constant(name), _trees[n.Args[0]])
                    : Expression.Call(MatrixElementMarker, Expression.Constant(name), _trees[n.Args[0]], _trees[n.Args[1]]);
            }
        }
        if (n.Op == Op.Project)
        {
            var condition = n.Args[0];
            var (test, then, otherwise) = (condition.Args[0], condition.Then!.Results[n.Param], condition.Else!.Results[n.Param]);
            // pow's ∂/∂p, u == 0 ? 0 : ȳ·y·ln(u), shows as its product, which is 0 at u = 0 wherever it is defined, as
            // 0·u = 0 is: the guard keeps the staged code off 0·(−∞).
            if (Is(then, 0) && ZeroTested(test) is { } u && HasFactor(otherwise, f => f.Op == Op.Log && f.Args[0] == u))
                return _trees[otherwise];
            return Expression.Condition(_trees[condition.Args[0]], _trees[condition.Then!.Results[n.Param]], _trees[condition.Else!.Results[n.Param]]);
        }
        return Operation(n, Array.ConvertAll(n.Args, a => _trees[a]));
    }

    // The tree of operation n on the trees of its arguments.
    private Expression Operation(Node n, Expression[] args)
    {
        var rule = RuleTable.Of(n);
        // C#'s int / and % of indices, in the functions formulas know: truncate(u / v) and u − v·truncate(u / v).
        if (n.Op is Op.IntegerDivide or Op.Remainder)
        {
            var quotient = Expression.Call(typeof(Math).GetMethod(nameof(Math.Truncate), [typeof(double)])!, Expression.Divide(args[0], args[1]));
            return n.Op == Op.IntegerDivide ? quotient : Expression.Subtract(args[0], Expression.Multiply(args[1], quotient));
        }
        if (n.Op == Op.Sign)
            return Sign(args[0]);
        if (n.Op == Op.Select && Step(n) is { } step)
            return step;
        return rule.Method is { } method
            ? Expression.Call(method, args)
            : rule.Emit(args);
    }
}
