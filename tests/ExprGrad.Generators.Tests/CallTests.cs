using MathNet.Numerics;

namespace ExprGrad.Generators.Tests;

/// <summary>
/// [Differentiable] methods calling other [Differentiable] methods (read in place) and MathNet's special functions:
/// their numbers, bit identity with Grad.Of of the written-out lambda, and what the generator refuses.
/// </summary>
public sealed partial class CallTests
{
    [Differentiable]
    private static double Softplus(double x) => Math.Log(1 + Math.Exp(x));

    [Differentiable]
    private static double Square(double x) => x * x;

    // Calls two [Differentiable] methods, one twice, one through a local.
    [Differentiable]
    private static double Loss(double w, double b)
    {
        var z = w * 2 + b;
        return Softplus(z) + Square(w) + Square(b - 1);
    }

    // Two levels deep.
    [Differentiable]
    private static double Outer(double x, double y) => Loss(x * y, Softplus(y));

    // −log L of a Gamma(k, θ) observation x = 2.
    [Differentiable]
    private static double GammaNll(double k, double theta) =>
        SpecialFunctions.GammaLn(k) + k * Math.Log(theta) - (k - 1) * Math.Log(2) + 2 / theta;

    [Differentiable]
    private static double Specials(double a, double b) =>
        SpecialFunctions.BetaLn(a, b) + SpecialFunctions.Erf(a - b) + SpecialFunctions.Logit(SpecialFunctions.Logistic(a)) * b;

    [Fact]
    public void A_differentiable_call_is_read_in_place_loss_at_1_minus_half()
    {
        // z = 1.5: f = softplus(1.5) + 1 + 2.25; ∂f/∂w = 2σ(1.5) + 2, ∂f/∂b = σ(1.5) + 2(b − 1) = σ(1.5) − 3.
        var f = LossWithGradient(1, -0.5, out var dw, out var db);
        var sigma = 1 / (1 + Math.Exp(-1.5));
        Assert.Equal(Math.Log(1 + Math.Exp(1.5)) + 3.25, f, 14);
        Assert.Equal(2 * sigma + 2, dw, 14);
        Assert.Equal(sigma - 3, db, 14);
    }

    [Fact]
    public void Nested_calls_are_bit_identical_to_the_written_out_lambda()
    {
        var g = Grad.Of((double x, double y) =>
            Math.Log(1 + Math.Exp(x * y * 2 + Math.Log(1 + Math.Exp(y)))) + x * y * (x * y) + (Math.Log(1 + Math.Exp(y)) - 1) * (Math.Log(1 + Math.Exp(y)) - 1));
        foreach (var (x, y) in new[] { (0.3, -1.2), (1.7, 0.4), (-2.1, 2.5) })
        {
            var (v, gx, gy) = g.Evaluate(x, y);
            var f = OuterWithGradient(x, y, out var dx, out var dy);
            Assert.Equal([v, gx, gy], [f, dx, dy]);
        }
    }

    [Fact]
    public void Special_functions_in_a_differentiable_method()
    {
        // ∂/∂k = ψ(k) + ln θ − ln 2, ∂/∂θ = k/θ − 2/θ²; at (2, 1): ψ(2) = 1 − γ, so ∂/∂k = 1 − γ − ln 2, ∂/∂θ = 0.
        GammaNllWithGradient(2, 1, out var dk, out var dtheta);
        Assert.Equal(1 - 0.57721566490153286 - Math.Log(2), dk, 14);
        Assert.Equal(0, dtheta, 14);

        var g = Grad.Of((double a, double b) =>
            SpecialFunctions.BetaLn(a, b) + SpecialFunctions.Erf(a - b) + SpecialFunctions.Logit(SpecialFunctions.Logistic(a)) * b);
        var (v, ga, gb) = g.Evaluate(1.3, 0.8);
        Assert.Equal([v, ga, gb], [SpecialsWithGradient(1.3, 0.8, out var da, out var db), da, db]);
    }

    private static string InClass(string members) => $$"""
        using System;
        using ExprGrad;
        namespace User;
        static partial class Model
        {
            {{members}}
        }
        """;

    [Fact]
    public void A_recursive_differentiable_method_is_refused_at_the_call()
    {
        var (diagnostic, at) = Driver.Single(InClass("""
            [Differentiable] static double F(double x) => x > 1 ? F(x - 1) * x : x;
            """));
        Assert.Equal("EXG001", diagnostic.Id);
        Assert.Equal("F(x - 1)", at);
        Assert.Contains("Model.F calls itself", diagnostic.GetMessage());
    }

    [Fact]
    public void A_derivative_attribute_callee_is_refused_with_what_to_do()
    {
        var (diagnostic, at) = Driver.Single(InClass("""
            [Derivative(nameof(Dg))] static double G(double x) => x * x;
            static double Dg(double x) => 2 * x;
            [Differentiable] static double F(double x) => G(x) + x;
            """));
        Assert.Equal("EXG001", diagnostic.Id);
        Assert.Equal("G(x)", at);
        Assert.Contains("Model.G has a [Derivative] rule, which Grad.Of uses at run time but [Differentiable] methods do not yet", diagnostic.GetMessage());
    }
}
