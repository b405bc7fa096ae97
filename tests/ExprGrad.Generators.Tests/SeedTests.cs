namespace ExprGrad.Generators.Tests;

/// <summary>
/// The seeds' worked examples as [Differentiable] methods of this project, differentiated by the generator when this
/// project compiles: their numbers, and bit identity with <c>Grad.Of</c> of the same lambda.
/// </summary>
public sealed partial class SeedTests
{
    [Differentiable]
    private static double Mul(double x, double y) => x * y;

    [Differentiable]
    private static double AddMul(double x, double y, double z) => (x + y) * z;

    [Differentiable]
    private static double Neuron(double w0, double w1, double w2, double x0, double x1)
    {
        var dot = w0 * x0 + w1 * x1 + w2;
        return 1 / (1 + Math.Exp(-dot));
    }

    [Differentiable]
    private static double Staged(double x, double y) =>
        (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + (x + y) * (x + y));

    [Differentiable]
    private static double Circuit(double x, double y, double z, double w) => 2 * (x * y + Math.Max(z, w));

    // The sympy oracle's dx*x*exp(x): x's gradient cannot be dx, which is the user's; it is dx_, and dx's is ddx.
    [Differentiable]
    private static double Collide(double dx, double x) => dx * x * Math.Exp(x);

    [Differentiable]
    private static double CollideArrays(double[] a, double[] da) => a[0] * da[0] * da[1];

    [Fact]
    public void A_parameter_named_like_another_ones_gradient_keeps_its_name_and_the_gradient_takes_a_fresh_one()
    {
        var f = CollideWithGradient(dx: -0.8, x: 1.3, ddx: out var ddx, dx_: out var dx_);
        var g = Grad.Of((double dx, double x) => dx * x * Math.Exp(x)).Evaluate(-0.8, 1.3);
        Assert.Equal((g.Value, g.D1, g.D2), (f, ddx, dx_));
        var dda = new double[2];
        var da_ = new double[1];
        Assert.Equal(6.0, CollideArrays(a: [2], da: [3, 1]));
        Assert.Equal(6.0, CollideArraysWithGradient([2], [3, 1], da_: da_, dda: dda));
        Assert.Equal([3.0], da_);
        Assert.Equal([2.0, 6.0], dda);
    }

    [Fact]
    public void Products_and_sums_give_the_seed_numbers()
    {
        Assert.Equal(-12, MulWithGradient(4, -3, out var dx, out var dy));
        Assert.Equal((-3.0, 4.0), (dx, dy));
        Assert.Equal(-12, AddMulWithGradient(-2, 5, -4, out dx, out dy, out var dz));
        Assert.Equal((-4.0, -4.0, 3.0), (dx, dy, dz));
        Assert.Equal(-20, CircuitWithGradient(3, -4, 2, -1, out dx, out dy, out dz, out var dw));
        Assert.Equal((-8.0, 6.0, 2.0, 0.0), (dx, dy, dz, dw));
    }

    [Fact]
    public void The_neuron_gives_the_seed_numbers()
    {
        var f = NeuronWithGradient(2, -3, -3, -1, -2, out var dw0, out var dw1, out var dw2, out var dx0, out var dx1);
        Assert.Equal(0.7311, f, 4);
        Assert.Equal([-0.20, -0.39, 0.20, 0.39, -0.59], new[] { dw0, dw1, dw2, dx0, dx1 }.Select(v => Math.Round(v, 2)));
    }

    [Fact]
    public void Every_seed_is_bit_identical_to_the_run_time_gradient()
    {
        var g = Grad.Of((double w0, double w1, double w2, double x0, double x1) => 1 / (1 + Math.Exp(-(w0 * x0 + w1 * x1 + w2))));
        var (v, a, b, c, d, e) = g.Evaluate(2, -3, -3, -1, -2);
        var f = NeuronWithGradient(2, -3, -3, -1, -2, out var dw0, out var dw1, out var dw2, out var dx0, out var dx1);
        Assert.Equal([v, a, b, c, d, e], [f, dw0, dw1, dw2, dx0, dx1]);

        var staged = Grad.Of((double x, double y) => (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + (x + y) * (x + y)));
        var (sv, sx, sy) = staged.Evaluate(3, -4);
        Assert.Equal([sv, sx, sy], [StagedWithGradient(3, -4, out var gx, out var gy), gx, gy]);
        Assert.Equal(1.5456448841066441, sv, 12);
    }
}
