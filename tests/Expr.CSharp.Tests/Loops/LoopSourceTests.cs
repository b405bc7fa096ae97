using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Tests.Loops;

/// <summary>Every source a loop runs over and every way a body reads data, with exact numbers.</summary>
public class LoopSourceTests
{
    [Fact]
    public void Captured_vector_matrix_and_two_dimensional_array_at_indices_of_the_loop_variables()
    {
        var v = Vector<double>.Build.Dense([1.0, 2.0, 3.0]);
        var m = Matrix<double>.Build.DenseOfArray(new double[,] { { 1, 2 }, { 3, 4 }, { 5, 6 } });
        var x = new double[,] { { 1, -1 }, { 2, 0 }, { 0, 3 } };
        // Σ_i v[i]·w[i] + Σ_i Σ_j m[i, j]·x[i, j]·w[j] with w = [1, 2, 3]:
        // 1 + 4 + 9 = 14; rows: 1·1·1 + 2·(−1)·2 = −3, 3·2·1 + 0 = 6, 0 + 6·3·2 = 36; total 14 + 39 = 53.
        var g = Grad.Of((double[] w) => Enumerable.Range(0, v.Count).Sum(i => v[i] * w[i])
            + Enumerable.Range(0, m.RowCount).Sum(i => Enumerable.Range(0, m.ColumnCount).Sum(j => m[i, j] * x[i, j] * w[j])));
        var (value, d) = g.Evaluate([1, 2, 3]);
        Assert.Equal(53, value);
        // d/dw0 = v0 + Σ_i m[i,0]x[i,0] = 1 + 1 + 6 + 0 = 8; d/dw1 = v1 + (−2 + 0 + 18) = 18; d/dw2 = v2 = 3.
        Assert.Equal([8, 18, 3], d);
    }

    [Fact]
    public void Strided_indices_positions_and_the_select_forms()
    {
        // x[2i]·x[2i + 1] over pairs: 1·2 + 3·4 = 14.
        var pairs = Grad.Of((double[] x) => Enumerable.Range(0, x.Length / 2).Sum(i => x[2 * i] * x[2 * i + 1]));
        var (value, d) = pairs.Evaluate([1, 2, 3, 4, 5]);
        Assert.Equal(14, value);
        Assert.Equal([2, 1, 4, 3, 0], d);

        // Σ k·a[k] by Select with a position: 0·5 + 1·6 + 2·7 = 20.
        var weighted = Grad.Of((double[] a) => a.Select((v, k) => k * v).Sum());
        (value, d) = weighted.Evaluate([5, 6, 7]);
        Assert.Equal(20, value);
        Assert.Equal([0, 1, 2], d);

        // Select then Max: squares of [1, −3, 2] peak at −3.
        var peak = Grad.Of((double[] a) => a.Select(v => v * v).Max());
        (value, d) = peak.Evaluate([1, -3, 2]);
        Assert.Equal(9, value);
        Assert.Equal([0, -6, 0], d);

        // Min of a range with a captured bound, the first of two ties takes the gradient.
        var n = 3;
        var low = Grad.Of((double[] a) => Enumerable.Range(0, n).Min(i => a[i] + a[i + 1]));
        (value, d) = low.Evaluate([1, 0, 1, 0]);
        Assert.Equal(1, value);
        Assert.Equal([1, 1, 0, 0], d);
    }

    [Fact]
    public void Zip_of_a_parameter_and_a_captured_array_stops_at_the_shorter()
    {
        var data = new[] { 2.0, -1.0 };
        var g = Grad.Of((double[] w) => w.Zip(data, (u, x) => u * x).Sum());
        var (value, d) = g.Evaluate([3, 4, 5]);
        Assert.Equal(2, value);
        Assert.Equal([2, -1, 0], d);
        data = [1.0, 1.0, 1.0, 1.0]; // a captured array replaced between calls, longer now
        (value, d) = g.Evaluate([3, 4, 5]);
        Assert.Equal(12, value);
        Assert.Equal([1, 1, 1], d);
    }

    [Fact]
    public void Loop_invariant_work_is_staged_once_outside_the_loop()
    {
        var g = Grad.Of((double[] a, double s) => a.Sum(v => Math.Exp(s) * v));
        var loop = g.Graph.Root.Nodes.Single(n => n.Op == ExprGrad.Staging.Op.Loop);
        // exp(s) is an argument of the loop (an invariant), not a stage of its body.
        Assert.Contains(loop.Args, n => n.Op == ExprGrad.Staging.Op.Exp);
        Assert.DoesNotContain(loop.Loop!.Builder.Root.Nodes, n => n.Op == ExprGrad.Staging.Op.Exp);
        var (value, da, ds) = g.Evaluate([1, 2], 0);
        Assert.Equal(3, value);
        Assert.Equal([1, 1], da);
        Assert.Equal(3, ds);
    }
}
