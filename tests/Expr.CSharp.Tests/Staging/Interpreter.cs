using ExprGrad.Rules;
using ExprGrad.Staging;

namespace ExprGrad.Tests.Staging;

/// <summary>A reference interpreter over the staged graph: the oracle the emitted code must agree with.</summary>
internal static class Interpreter
{
    public static (double Value, double[] Gradient) Run(StagedGraph graph, double[] point)
    {
        var values = new double[graph.Builder.Count];
        Region(graph, graph.Root, point, values);
        double Read(Node n) => n.Op == Op.Constant ? n.Value : values[n.Id];
        return (Read(graph.Output), graph.Adjoints.Select(a => a is null ? 0 : Read(a)).ToArray());
    }

    private static void Region(StagedGraph graph, Region region, double[] point, double[] values)
    {
        double Read(Node n) => n.Op == Op.Constant ? n.Value : values[n.Id];
        foreach (var n in region.Nodes)
            switch (n.Op)
            {
                case Op.Input: values[n.Id] = point[graph.Slot(n)]; break;
                case Op.Captured: values[n.Id] = Convert.ToDouble(System.Linq.Expressions.Expression.Lambda(n.Live!).Compile().DynamicInvoke()); break;
                case Op.Project: break;
                case Op.Condition:
                    var taken = Read(n.Args[0]) != 0 ? n.Then! : n.Else!;
                    Region(graph, taken, point, values);
                    for (var k = 0; k < taken.Results.Length; k++)
                        values[n.Id + 1 + k] = Read(taken.Results[k]);
                    break;
                default: values[n.Id] = RuleTable.Get(n.Op).Evaluate(n.Args.Select(Read).ToArray()); break;
            }
    }
}
