using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Tests.Rules;

/// <summary>
/// The routing gates (max, min, abs, relu, and pow's exponent at 0) select: the adjoint goes to the input picked and
/// nothing to the other, so an infinite or NaN adjoint is never multiplied by a 0/1 step (0·∞ and 0·NaN are NaN).
/// The sympy oracle's findings, each with its exact numbers, and the tie conventions, unchanged.
/// </summary>
public sealed class RoutingTests
{
    [Fact]
    public void Max_routes_past_a_NaN_adjoint_x_minus_3_to_the_max_of_4_and_y_at_1_1()
    {
        // max picks 4, so f = (x − 3)⁴ near y = 1: ∂f/∂y = 0, though ∂f/∂max = f·ln(x − 3) = 16·ln(−2) is NaN.
        var (f, dx, dy) = Grad.Of((double x, double y) => Math.Pow(x - 3, Math.Max(4, y))).Evaluate(1, 1);
        Assert.Equal(16, f);
        Assert.Equal(-32, dx); // 4·(−2)³
        Assert.Equal(0, dy);
    }

    [Fact]
    public void Pow_at_exponent_0_is_flat_in_its_base_x_to_the_y_at_0_0()
    {
        // x ↦ x⁰ = 1 is constant, so ∂/∂x = 0 (the formula y·x^(y−1) gives 0·∞); ∂/∂y = x^y·ln x → 0 at x = 0 (JAX's convention).
        var (f, dx, dy) = Grad.Of((double x, double y) => Math.Pow(x, y)).Evaluate(0, 0);
        Assert.Equal((1.0, 0.0, 0.0), (f, dx, dy));
        Assert.Equal(0, Grad.Of((double x) => Math.Pow(x, 0)).Evaluate(0).D1);
        Assert.Equal(3 * 4.0, Grad.Of((double x, double y) => Math.Pow(x, y)).Evaluate(2, 3).D1); // y·x^(y−1) elsewhere
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(-0.0)]
    public void Relu_max_and_min_pass_nothing_to_an_input_they_do_not_pick(double x)
    {
        // √ of a gate that picks 0: f is 0 near x, so ∂f/∂x = 0, though ∂√/∂u = 1/(2√0) = ∞ reaches the gate.
        Assert.Equal(0, Grad.Of((double u) => Math.Sqrt(Fn.Relu(u))).Evaluate(x).D1);
        Assert.Equal(0, Grad.Of((double u) => Math.Sqrt(Math.Max(u, 0))).Evaluate(x - 1).D1);
        Assert.Equal(0, Grad.Of((double u) => Math.Sqrt(-Math.Min(-u, 0))).Evaluate(x - 1).D1);
    }

    [Fact]
    public void Abs_routes_the_adjoint_with_its_sign_and_passes_nothing_at_0()
    {
        Assert.Equal(-3, Grad.Of((double x, double y) => Math.Abs(x) * y).Evaluate(-2, 3).D1);
        Assert.Equal(3, Grad.Of((double x, double y) => Math.Abs(x) * y).Evaluate(2, 3).D1);
        Assert.Equal(0, Grad.Of((double x) => Math.Sqrt(Math.Abs(x))).Evaluate(0).D1);
    }

    [Fact]
    public void Tie_conventions_are_unchanged()
    {
        // max and min split a tie evenly; relu′(0) = 0, abs′(0) = 0, sign′ = 0.
        var max = Grad.Of((double x, double y) => Math.Max(x, y)).Evaluate(1, 1);
        Assert.Equal((0.5, 0.5), (max.D1, max.D2));
        var min = Grad.Of((double x, double y) => Math.Min(3 * x, y)).Evaluate(1, 3);
        Assert.Equal((1.5, 0.5), (min.D1, min.D2));
        Assert.Equal(0, Grad.Of((double x) => Fn.Relu(x)).Evaluate(0).D1);
        Assert.Equal(0, Grad.Of((double x) => Math.Abs(x)).Evaluate(0).D1);
    }

    [Fact]
    public void A_NaN_input_still_gives_a_NaN_value()
    {
        // Routing hides no NaN the function has: max(NaN, y) is NaN, and so is what it feeds.
        var (f, _, _) = Grad.Of((double x, double y) => Math.Max(x, y) * 2).Evaluate(double.NaN, 1);
        Assert.True(double.IsNaN(f));
    }

    [Fact]
    public void Element_wise_maps_route_too()
    {
        // √ of relu over a vector: the elements relu sends to 0 get 0, not 0·∞.
        var g = Grad.Of((Vector<double> v) => v.Map(Fn.Relu).PointwiseSqrt().Sum());
        var (_, dv) = g.Evaluate(Vector<double>.Build.DenseOfArray([-1, 4, 0]));
        Assert.Equal([0, 0.25, 0], dv.ToArray());
    }

    [Fact]
    public void Staged_code_and_formulas_show_the_routing()
    {
        var g = Grad.Of((double x, double y) => Math.Max(x, y));
        Assert.Contains("dx = x > y ? 1 : x < y ? 0 : 0.5;", g.ToCode(), StringComparison.Ordinal);
        // The step (1 + sign(u))/2 shows as the unit step, as a CAS prints it (sympy's Heaviside, 1/2 at 0 alike).
        Assert.Equal("step(x - y)", g.Formulas[0].Infix);
        Assert.Equal("step(x)", Grad.Of((double x) => Fn.Relu(x)).Formulas[0].Infix);
        var abs = Grad.Of((double x, double y) => Math.Abs(x) * y);
        Assert.Equal("y*sign(x)", abs.Formulas[0].Infix);
        // The adjoint folded into the select's branches (−4·t for −(4·t), 1.5·t for 0.5·(3·t)) is still a step.
        Assert.Equal("4*x^3", Grad.Of((double x) => Math.Pow(Math.Abs(x), 4)).Formulas[0].Infix);
        Assert.Equal("3*step(x - y)*max(x, y)^2", Grad.Of((double x, double y) => Math.Pow(Math.Max(x, y), 3)).Formulas[0].Infix);
        // pow's base at p = 0 selects 0; the formula p·u^(p−1) is 0 there wherever it is defined.
        var pow = Grad.Of((double x, double y) => Math.Pow(x, y));
        Assert.Contains("dx = y == 0 ? 0 :", pow.ToCode(), StringComparison.Ordinal);
        Assert.Equal("x^(y - 1)*y", pow.Formulas[0].Infix);
        Assert.Equal("2*relu(x)", Grad.Of((double x) => Fn.Relu(x) * Fn.Relu(x)).Formulas[0].Infix);
    }

    [Fact]
    public void Hessians_through_routing_gates_match_their_closed_forms()
    {
        // f = max(x², y)·y at (2, 1): x² picked, f = x²y: f_xx = 2y = 2, f_xy = 2x = 4, f_yy = 0.
        var h = Grad.Of((double x, double y) => Math.Max(x * x, y) * y).Hessian(2, 1);
        Assert.Equal(new double[,] { { 2, 4 }, { 4, 0 } }, h);
        // f = |x|³ at −2: f″ = 6|x| = 12.
        Assert.Equal(12, Grad.Of((double x) => Math.Pow(Math.Abs(x), 3)).Hessian(-2)[0, 0], 12);
    }
}
