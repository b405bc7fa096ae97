namespace ExprGrad.Tests.Loops;

public class LoopSmokeTests
{
    [Fact]
    public void Sum_of_squares()
    {
        var g = Grad.Of((double[] a) => a.Sum(v => v * v));
        var (value, d) = g.Evaluate([1, 2, 3]);
        Assert.Equal(14, value);
        Assert.Equal([2, 4, 6], d);
    }

    [Fact]
    public void Rosenbrock()
    {
        var g = Grad.Of((double[] a) => Enumerable.Range(0, a.Length - 1).Sum(i => 100 * Math.Pow(a[i + 1] - a[i] * a[i], 2) + Math.Pow(1 - a[i], 2)));
        var (value, d) = g.Evaluate([0, 0]);
        Assert.Equal(1, value);
        Assert.Equal([-2, 0], d);
        var grad = new double[3];
        var v = g.Evaluate(new double[] { 0.5, 0.5, 2 }, grad);
        Assert.Equal(100 * 0.0625 + 0.25 + 100 * Math.Pow(2 - 0.25, 2) + 0.25, v, 12);
    }

    [Fact]
    public void Fold()
    {
        var w = new[] { 0.5, -1.0, 2.0 };
        var g = Grad.Of((double x) => Enumerable.Range(0, w.Length).Aggregate(x, (o, k) => Fn.Sigmoid(o * w[k])));
        var (value, dx) = g.Evaluate(1.0);
        double o = 1;
        foreach (var wk in w) o = 1 / (1 + Math.Exp(-o * wk));
        Assert.Equal(o, value);
        var h = 1e-6;
        Assert.Equal((g.Evaluate(1 + h).Value - g.Evaluate(1 - h).Value) / (2 * h), dx, 8);
    }

    [Fact]
    public void Nested_and_max()
    {
        var g = Grad.Of((double[] x) => Enumerable.Range(0, x.Length).Sum(i => Enumerable.Range(i + 1, x.Length - i - 1).Sum(j => (x[i] - x[j]) * (x[i] - x[j]))));
        var (value, d) = g.Evaluate([1, 2, 4]);
        Assert.Equal(1 + 9 + 4, value);
        Assert.Equal([2 * (1 - 2) + 2 * (1 - 4), -2 * (1 - 2) + 2 * (2 - 4), -2 * (1 - 4) - 2 * (2 - 4)], d);
        var m = Grad.Of((double[] x) => x.Max(v => v * v));
        var (top, dm) = m.Evaluate([1, 2, 4]);
        Assert.Equal(16.0, top);
        Assert.Equal([0, 0, 8], dm);
    }
}
