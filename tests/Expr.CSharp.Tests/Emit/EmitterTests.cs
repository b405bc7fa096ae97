using System.Linq.Expressions;
using ExprGrad.Emit;
using ExprGrad.Import;
using ExprGrad.Reverse;
using ExprGrad.Staging;
using ExprGrad.Tests.Staging;

namespace ExprGrad.Tests.Emit;

/// <summary>The emitted code agrees with the reference interpreter, whole or split into methods of any size, with or without loops.</summary>
public class EmitterTests
{
    public static TheoryData<string> Functions => [.. Cases.Keys];

    private static readonly Dictionary<string, LambdaExpression> Cases = new()
    {
        ["neuron"] = (Expression<Func<double, double, double, double, double, double>>)((w0, w1, w2, x0, x1) => Fn.Sigmoid(w0 * x0 + w1 * x1 + w2)),
        ["staged"] = (Expression<Func<double, double, double>>)((x, y) => (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + (x + y) * (x + y))),
        ["conditional"] = (Expression<Func<double, double, double>>)((x, y) =>
            Math.Sin(x) * y + (x * y > 0.5 ? Math.Exp(Math.Sin(x)) * Math.Cos(y) : (y > 0 ? Math.Log(y) * x : Math.Sin(x) / (1 + y * y)))),
        ["array"] = (Expression<Func<double[], double, double>>)((a, s) =>
            Math.Tanh(a[0] * s) * a[1] + Math.Max(a[2], a[0] * a[1]) + Math.Pow(a[3] * a[3] + 1, s)),
        ["net"] = ScaleTests.DepthNet(12),
    };

    private static readonly double[][] Points = [[0.3, -1.2, 0.8, 1.5, -0.4], [1.1, 0.7, -0.2, 0.9, 2.0], [-0.6, -0.3, 1.7, 0.1, 0.5]];

    [Theory]
    [MemberData(nameof(Functions))]
    public void Split_methods_agree_with_one_method_and_with_the_interpreter(string name)
    {
        var f = Cases[name];
        var graph = Importer.Import(f);
        ReverseSweep.Run(graph);
        foreach (var raw in Points)
        {
            var point = Enumerable.Range(0, graph.Dimension).Select(i => raw[i % raw.Length] * (1 + i * 0.01)).ToArray();
            var (value, gradient) = Interpreter.Run(graph, point);
            foreach (var (budget, rollFrom) in new[] { (1, int.MaxValue), (2, 0), (3, int.MaxValue), (7, 0), (1000, int.MaxValue), (1000, 0) })
            {
                var kernel = Emitter.Compile(graph, budget, rollFrom);
                var work = Workspace.Rent(graph.Dimension, kernel.TapeLength);
                point.CopyTo(work.X, 0);
                var emitted = kernel.Run(work, graph.Dimension);
                Assert.Equal(value, emitted, 14);
                for (var i = 0; i < gradient.Length; i++)
                    Assert.Equal(gradient[i], work.G[i], 14);
                Workspace.Return(work);
            }
        }
    }

    [Fact]
    public void Large_graphs_are_split_into_several_methods()
    {
        var graph = Importer.Import(ScaleTests.DepthNet(1000));
        ReverseSweep.Run(graph);
        var kernel = Emitter.Compile(graph);
        Assert.True(kernel.MethodCount > 1, $"{graph.StageCount} stages in {kernel.MethodCount} method");
        Assert.True(kernel.MethodCount <= graph.StageCount / Emitter.StagesPerMethod + 2);
    }

    [Fact]
    public void Block_variables_are_reused_once_their_last_reader_is_past()
    {
        // A chain keeps only a handful of values alive at a time in the forward pass, but the backward pass reads
        // the cached forward values: about one live variable per layer, far below one per stage.
        var g = Grad.Of(ScaleTests.DepthNet(100));
        var block = (BlockExpression)g.Expression.Body;
        Assert.InRange(block.Variables.Count, 1, g.StageCount / 2);
    }
}
