namespace ExprGrad.Tests;

/// <summary>The worked examples of the seeds (CS231n backprop notes, the problem set), with their numbers.</summary>
public class SeedExamples
{
    private const int Digits = 12;

    [Fact]
    public void Multiply_at_4_minus3()
    {
        // f(x, y) = xy at (4, −3) → −12; ∇ = (y, x) = (−3, 4).
        var g = Grad.Of((double x, double y) => x * y);
        var (value, dx, dy) = g.Evaluate(4, -3);
        Assert.Equal(-12, value);
        Assert.Equal(-3, dx);
        Assert.Equal(4, dy);
    }

    [Fact]
    public void Chain_rule_on_sum_times_z()
    {
        // (x + y) z at (−2, 5, −4) → −12; ∇ = (−4, −4, 3).
        var g = Grad.Of((double x, double y, double z) => (x + y) * z);
        var (value, dx, dy, dz) = g.Evaluate(-2, 5, -4);
        Assert.Equal(-12, value);
        Assert.Equal(-4, dx);
        Assert.Equal(-4, dy);
        Assert.Equal(3, dz);
    }

    [Fact]
    public void Sigmoid_neuron()
    {
        // f(w, x) = σ(w0 x0 + w1 x1 + w2) at w = (2, −3, −3), x = (−1, −2): dw ≈ (−0.20, −0.39, 0.20), dx ≈ (0.39, −0.59).
        var g = Grad.Of((double w0, double w1, double w2, double x0, double x1) => 1 / (1 + Math.Exp(-(w0 * x0 + w1 * x1 + w2))));
        var (value, dw0, dw1, dw2, dx0, dx1) = g.Evaluate(2, -3, -3, -1, -2);
        var s = 1 / (1 + Math.Exp(-1.0));          // the neuron's input is 1
        var local = (1 - s) * s;                      // ≈ 0.1966
        Assert.Equal(s, value, Digits);
        Assert.Equal(-1 * local, dw0, Digits);
        Assert.Equal(-2 * local, dw1, Digits);
        Assert.Equal(local, dw2, Digits);
        Assert.Equal(2 * local, dx0, Digits);
        Assert.Equal(-3 * local, dx1, Digits);
        Assert.Equal(-0.20, dw0, 2);
        Assert.Equal(-0.39, dw1, 2);
        Assert.Equal(0.20, dw2, 2);
        Assert.Equal(0.39, dx0, 2);
        Assert.Equal(-0.59, dx1, 2);
    }

    [Fact]
    public void Sigmoid_gate_gives_the_same_neuron()
    {
        var g = Grad.Of((double w0, double w1, double w2, double x0, double x1) => Fn.Sigmoid(w0 * x0 + w1 * x1 + w2));
        var (value, dw0, dw1, dw2, dx0, dx1) = g.Evaluate(2, -3, -3, -1, -2);
        var s = Fn.Sigmoid(1);
        var local = (1 - s) * s;
        Assert.Equal(s, value, Digits);
        Assert.Equal([-local, -2 * local, local, 2 * local, -3 * local], [dw0, dw1, dw2, dx0, dx1]);
    }

    [Fact]
    public void Staged_computation_example()
    {
        // f = (x + σ(y)) / (σ(x) + (x + y)²) at (3, −4), backprop written out as in the seed.
        var g = Grad.Of((double x, double y) => (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + (x + y) * (x + y)));
        var (value, dx, dy) = g.Evaluate(3, -4);

        double x0 = 3, y0 = -4;
        var sigy = 1.0 / (1 + Math.Exp(-y0));
        var num = x0 + sigy;
        var sigx = 1.0 / (1 + Math.Exp(-x0));
        var xpy = x0 + y0;
        var xpysqr = xpy * xpy;
        var den = sigx + xpysqr;
        var invden = 1.0 / den;
        var f = num * invden;
        var dnum = invden;
        var dinvden = num;
        var dden = -1.0 / (den * den) * dinvden;
        var dsigx = dden;
        var dxpysqr = dden;
        var dxpy = 2 * xpy * dxpysqr;
        var ex = dxpy;
        var ey = dxpy;
        ex += (1 - sigx) * sigx * dsigx;
        ex += dnum;
        var dsigy = dnum;
        ey += (1 - sigy) * sigy * dsigy;

        Assert.Equal(f, value, Digits);
        Assert.Equal(ex, dx, Digits);
        Assert.Equal(ey, dy, Digits);
    }

    [Fact]
    public void Gate_circuit_add_distributes_max_routes_multiply_swaps()
    {
        // 2 (xy + max(z, w)) at (3, −4, 2, −1) → −20; ∇ = (−8, 6, 2, 0).
        var g = Grad.Of((double x, double y, double z, double w) => 2 * (x * y + Math.Max(z, w)));
        var (value, dx, dy, dz, dw) = g.Evaluate(3, -4, 2, -1);
        Assert.Equal(-20, value);
        Assert.Equal(-8, dx);
        Assert.Equal(6, dy);
        Assert.Equal(2, dz);
        Assert.Equal(0, dw);
    }

    [Fact]
    public void Depth_three_net_of_the_problem_set()
    {
        // ŷ = f(f(x w1) w2) w3, L = ½ (y − ŷ)², f = σ. The seed writes ∂L/∂w3 = (y − ŷ) f(f(x w1) w2): its sign is
        // wrong, since ∂L/∂ŷ = −(y − ŷ) = ŷ − y. Numeric gradients decide; the corrected closed forms follow.
        double x = 0.5, y = 0.8;
        var g = Grad.Of((double w1, double w2, double w3) =>
            0.5 * (y - Fn.Sigmoid(Fn.Sigmoid(x * w1) * w2) * w3) * (y - Fn.Sigmoid(Fn.Sigmoid(x * w1) * w2) * w3));
        double v1 = 0.3, v2 = -1.2, v3 = 2.0;
        var (loss, dw1, dw2, dw3) = g.Evaluate(v1, v2, v3);

        var o1 = Fn.Sigmoid(x * v1);
        var o2 = Fn.Sigmoid(o1 * v2);
        var yhat = o2 * v3;
        var d = yhat - y;                                   // ∂L/∂ŷ
        Assert.Equal(0.5 * (y - yhat) * (y - yhat), loss, Digits);
        Assert.Equal(d * o2, dw3, Digits);
        Assert.Equal(d * v3 * o2 * (1 - o2) * o1, dw2, Digits);
        Assert.Equal(d * v3 * o2 * (1 - o2) * v2 * o1 * (1 - o1) * x, dw1, Digits);

        var numeric = GradCheck.Numeric(w => 0.5 * Math.Pow(y - Fn.Sigmoid(Fn.Sigmoid(x * w[0]) * w[1]) * w[2], 2), [v1, v2, v3]);
        Assert.Equal(numeric[0], dw1, 9);
        Assert.Equal(numeric[1], dw2, 9);
        Assert.Equal(numeric[2], dw3, 9);
        Assert.True(dw3 < 0, "the seed's (y − ŷ)·o₂ would be positive here");
    }
}
