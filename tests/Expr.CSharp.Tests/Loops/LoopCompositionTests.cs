using System.Linq.Expressions;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Tests.Loops;

/// <summary>
/// Loops composed with each other and with the rest of a function (a fold in a sum, a sum in a fold, Max of sums, a
/// loop in a branch, ranges that do not start at 0, captured matrices), each checked at fixed points against LINQ
/// running the lambda and against central differences.
/// </summary>
public class LoopCompositionTests
{
    public static TheoryData<string> Functions => [.. Cases.Keys];

    private static readonly int Half = 1;
    private static readonly double[] Data = [0.5, -1.25, 2.0, 0.75, -0.3, 1.1, -0.9];
    private static readonly double[,] Table = { { 0.5, -1.0, 0.25 }, { 1.5, 0.3, -0.7 }, { -0.2, 0.8, 1.2 }, { 0.9, -0.4, 0.1 } };
    private static readonly Matrix<double> Matrix = Matrix<double>.Build.DenseOfArray(Table);
    private static readonly Vector<double> Vector = Vector<double>.Build.Dense([0.3, -0.6, 1.4, 0.2]);

    private static readonly Dictionary<string, Expression<Func<double, double[], double>>> Cases = new()
    {
        ["fold in a sum"] = (x, a) => Enumerable.Range(0, a.Length).Sum(i => Enumerable.Range(0, i + 1).Aggregate(a[i], (acc, k) => Math.Sin(acc * a[k] + x))),
        ["sum in a fold"] = (x, a) => Enumerable.Range(0, a.Length).Aggregate(x, (acc, k) => Math.Tanh(acc * Enumerable.Range(0, k).Sum(j => a[j] * Data[j]) + a[k])),
        ["max of sums"] = (x, a) => Enumerable.Range(0, a.Length).Max(i => Enumerable.Range(0, a.Length).Sum(j => Math.Cos(a[i] * j + x) * Data[j])),
        ["sum of mins"] = (x, a) => Enumerable.Range(0, a.Length).Sum(i => Enumerable.Range(i, a.Length - i).Min(j => Fn.Square(a[j] - x * Data[i]))),
        ["fold in a fold"] = (x, a) => Enumerable.Range(0, a.Length).Aggregate(x, (acc, k) => Enumerable.Range(0, k + 1).Aggregate(acc, (b, j) => Math.Sin(b + a[j] * a[k]))),
        ["loops in branches"] = (x, a) => x > 0 ? a.Sum(v => v * v * x) : a.Max(v => Math.Exp(v * x)) + x,
        ["a loop used twice"] = (x, a) => a.Sum(v => Math.Sin(v * x)) * a.Sum(v => Math.Sin(v * x)) + Enumerable.Range(0, a.Length).Sum(i => a[i] * x),
        ["range from 1"] = (x, a) => Enumerable.Range(1, a.Length - 1).Sum(i => Fn.Square(a[i] - x * a[i - 1])),
        ["fold from 2"] = (x, a) => Enumerable.Range(2, a.Length - 2).Aggregate(a[0] * a[1], (acc, k) => acc * Math.Cos(a[k] - a[k - 2]) + x),
        ["strided"] = (x, a) => Enumerable.Range(0, Half).Sum(i => a[2 * i] * a[2 * i + 1] * x),
        ["a branch in a loop holds a loop"] = (x, a) => Enumerable.Range(0, a.Length).Sum(i => a[i] > 0 ? Enumerable.Range(0, a.Length).Max(j => a[j] * a[i] + x) : a[i] * x),
        ["captured table, matrix and vector"] = (x, a) => Enumerable.Range(0, Table.GetLength(0)).Sum(i =>
            Fn.Softplus(Enumerable.Range(0, Table.GetLength(1)).Sum(j => Table[i, j] * a[j] + Matrix[i, j] * x) * Vector[i])),
        ["zip of unequal lengths"] = (x, a) => a.Zip(Data, (u, d) => u * d * x).Sum() + Data.Zip(a, (d, u) => Math.Exp(u - d)).Sum(),
        ["select with index"] = (x, a) => a.Select((v, k) => v * Data[k] + k * x).Sum() + a.Select(v => v * x).Max(),
        ["seed read outside too"] = (x, a) => Enumerable.Range(0, a.Length).Aggregate(Math.Exp(x), (acc, k) => acc * a[k]) + Math.Exp(x),
        // Found by LoopProperties (seed 2265319766062046535,6004521007508676081,20): Math.Log(0.33) is folded to a
        // constant by the enclosing importer and read into the body as the enclosing graph's node, whose id is the id of
        // a body stage (Sin(i)); the body's hash-consing then took acc * Log(0.33)'s adjoint for a[i]'s.
        ["a constant folded outside the body"] = (x, a) => Enumerable.Range(0, a.Length).Aggregate(x, (acc, i) => Math.Atan(Math.Sin(i) * a[i] + acc * Math.Log(0.33))),
        ["count from captured data"] = (x, a) => Enumerable.Range(0, Data.Length - 4).Sum(i => a[i] * Data[i + 4] * x),
    };

    [Theory]
    [MemberData(nameof(Functions))]
    public void Value_agrees_with_LINQ_and_gradient_with_central_differences(string name)
    {
        var f = Cases[name];
        var g = Grad.Of(f);
        var run = f.Compile();
        foreach (var (x, a) in new (double, double[])[] { (0.4, [0.3, -0.8, 1.2, 0.5]), (-0.6, [1.1, 0.2, -0.5, 0.9, -1.3, 0.7]), (0.9, [0.6, -0.4, 0.8]) })
        {
            var (value, dx, da) = g.Evaluate(x, a);
            Assert.Equal(run(x, a), value, 1e-13);
            var point = a.Prepend(x).ToArray();
            var report = GradCheck.Check(g, point);
            Assert.True(report.Passed, $"{name} at x = {x}, a = [{string.Join(", ", a)}]: {report}");
            var span = new double[point.Length];
            Assert.Equal(value, g.Evaluate(point, span));
            Assert.Equal(span, da.Prepend(dx));
        }
    }
}
