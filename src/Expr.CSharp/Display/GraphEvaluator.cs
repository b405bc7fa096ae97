using System.Linq.Expressions;
using ExprGrad.Rules;
using ExprGrad.Staging;

namespace ExprGrad.Display;

/// <summary>
/// Evaluates staged nodes on numbers, on demand and memoized, through their arguments: any node, forward or backward,
/// live or pruned from its region's list (pruned nodes keep their arguments). A conditional's output evaluates its
/// test and then only the branch taken, as the compiled code does. Iterative, so a 100,000-deep chain is fine.
/// </summary>
internal sealed class GraphEvaluator(Func<Node, double> leaf)
{
    // By reference: a scratch graph's nodes (see Tracer) may share ids with the graph's.
    private readonly Dictionary<Node, double> _values = new(ReferenceEqualityComparer.Instance);

    /// <summary>Evaluates leaves of a graph: its inputs from the point, its captured values read now.</summary>
    public static GraphEvaluator ForGraph(StagedGraph graph, double[] point) =>
        new(n => n.Op == Op.Input ? point[graph.Slot(n)] : ReadCaptured(n.Live!));

    /// <summary>Fixes a node's value (a scratch node standing for a stage whose value is known).</summary>
    public void Set(Node n, double value) => _values[n] = value;

    /// <summary>The value of <paramref name="root"/>, evaluating whatever it needs first.</summary>
    public double Value(Node root)
    {
        if (Known(root))
            return Read(root);
        var pending = new Stack<Node>();
        pending.Push(root);
        while (pending.TryPeek(out var n))
        {
            if (Known(n))
                pending.Pop();
            else if (Missing(n) is { } needed)
                pending.Push(needed);
            else
            {
                _values[n] = Compute(n);
                pending.Pop();
            }
        }
        return Read(root);
    }

    /// <summary>The branch a conditional takes at this point.</summary>
    public Region Taken(Node condition) => Value(condition.Args[0]) != 0 ? condition.Then! : condition.Else!;

    private bool Known(Node n) => n.Op == Op.Constant || _values.ContainsKey(n);

    private double Read(Node n) => n.Op == Op.Constant ? n.Value : _values[n];

    // The first node n reads that has no value yet; null when n can be computed.
    private Node? Missing(Node n)
    {
        switch (n.Op)
        {
            case Op.Input or Op.Captured:
                return null;
            case Op.Project:
                var test = n.Args[0].Args[0];
                if (!Known(test))
                    return test;
                var result = (Read(test) != 0 ? n.Args[0].Then! : n.Args[0].Else!).Results[n.Param];
                return Known(result) ? null : result;
            default:
                foreach (var arg in n.Args)
                    if (!Known(arg))
                        return arg;
                return null;
        }
    }

    private double Compute(Node n)
    {
        switch (n.Op)
        {
            case Op.Input or Op.Captured:
                return leaf(n);
            case Op.Condition:
                return Read(n.Args[0]); // a conditional's own value is its test
            case Op.Project:
                var condition = n.Args[0];
                return Read((Read(condition.Args[0]) != 0 ? condition.Then! : condition.Else!).Results[n.Param]);
        }
        if (!RuleTable.Operations.Contains(n.Op))
            throw Untraceable(n);
        var args = new double[n.Args.Length];
        for (var i = 0; i < args.Length; i++)
            args[i] = Read(n.Args[i]);
        return RuleTable.Get(n.Op).Evaluate(args);
    }

    /// <summary>The error for an operation a trace cannot evaluate (anything but the scalar catalogue).</summary>
    public static NotSupportedException Untraceable(Node n) =>
        new($"cannot trace the operation '{n.Op}' (stage v{n.Id}): traces evaluate scalar graphs only; " +
            "Gradient.ToCode() and Gradient.Formulas still show this function");

    // A captured value as the compiled code reads it: live, now (booleans are 1 and 0).
    private static double ReadCaptured(Expression live)
    {
        Expression body = live.Type == typeof(bool)
            ? Expression.Condition(live, Expression.Constant(1.0), Expression.Constant(0.0))
            : Expression.Convert(live, typeof(double));
        return Expression.Lambda<Func<double>>(body).Compile(preferInterpretation: true)();
    }
}
