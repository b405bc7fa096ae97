using System.Linq.Expressions;
using System.Reflection;
using ExprGrad.Rules;
using ExprGrad.Staging;

namespace ExprGrad.Display;

/// <summary>
/// Inlines the staged graph into one Linq tree per partial derivative, for the symbolic module to simplify and
/// print: inputs and captured values become parameters named as the user wrote them (<c>x</c>, <c>w[0]</c>,
/// <c>y</c>), operations become plain <see cref="Math"/> and <see cref="Fn"/> calls, a conditional becomes
/// <c>test ? a : b</c>. A stage read twice is one shared Linq node, so building is linear in the graph; the tree
/// it stands for can still be exponentially larger, so its size is measured before anyone prints it.
/// </summary>
internal sealed class FormulaTrees
{
    private static readonly MethodInfo MathSign = typeof(Math).GetMethod(nameof(Math.Sign), [typeof(double)])!;

    private readonly StagedGraph _graph;
    private readonly Dictionary<Node, Expression> _trees = [];
    private readonly Dictionary<Node, long> _sizes = [];

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
        Parameters = parameters;
    }

    /// <summary>The inputs and captured values, by display name.</summary>
    public IReadOnlyDictionary<string, ParameterExpression> Parameters { get; }

    /// <summary>The tree of slot <paramref name="k"/>'s partial derivative (the constant 0 where the function does not depend on it).</summary>
    public Expression Partial(int k) => Adjoint(k) is { } adjoint ? Tree(adjoint) : Expression.Constant(0.0);

    /// <summary>The number of nodes of slot <paramref name="k"/>'s partial derivative, written out (saturating at <see cref="long.MaxValue"/>).</summary>
    public long PartialSize(int k) => Adjoint(k) is { } adjoint ? Size(adjoint) : 1;

    private Node? Adjoint(int k) => _graph.Adjoints.Length > k ? _graph.Adjoints[k] : null;

    /// <summary>
    /// Post-order over the nodes a tree reads that are not <paramref name="done"/> yet, without recursion: every
    /// argument before its reader, each node once (a shared node is expanded once, however many readers it has).
    /// </summary>
    private static IEnumerable<Node> PostOrder(Node root, Func<Node, bool> done)
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

    // What a node's tree is built from: its arguments, and for a conditional's output the test and both results.
    private static IEnumerable<Node> Reads(Node n)
    {
        if (n.Op != Op.Project)
            return n.Args;
        var condition = n.Args[0];
        return [condition.Args[0], condition.Then!.Results[n.Param], condition.Else!.Results[n.Param]];
    }

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

    private Expression Build(Node n)
    {
        if (n.Op == Op.Constant)
            return n.IsBool ? Expression.Constant(n.Value != 0) : Expression.Constant(n.Value);
        if (n.Op == Op.Project)
        {
            var condition = n.Args[0];
            return Expression.Condition(_trees[condition.Args[0]], _trees[condition.Then!.Results[n.Param]], _trees[condition.Else!.Results[n.Param]]);
        }
        var args = Array.ConvertAll(n.Args, a => _trees[a]);
        var rule = RuleTable.Get(n.Op);
        if (n.Op == Op.Sign)
            return Expression.Convert(Expression.Call(MathSign, args[0]), typeof(double));
        return rule.Method is { } method
            ? Expression.Call(method, args)
            : rule.Emit(args);
    }
}
