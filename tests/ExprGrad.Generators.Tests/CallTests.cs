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

    [Fact]
    public void Grad_Of_calls_a_differentiable_method_through_its_generated_gradient_bit_for_bit()
    {
        // The rule's partials are the generated gradient's components: the same numbers as LossWithGradient.
        var g = Grad.Of((double w, double b) => Loss(w, b));
        foreach (var (w, b) in new[] { (1.0, -0.5), (0.3, 2.2), (-1.7, 0.4) })
        {
            var (v, gw, gb) = g.Evaluate(w, b);
            Assert.Equal([LossWithGradient(w, b, out var dw, out var db), dw, db], [v, gw, gb]);
        }
    }

    [Fact]
    public void A_differentiable_call_inside_a_lambda_follows_the_chain_rule()
    {
        // f(x) = sin(Loss(x, x²)) + Outer(x, 0.5): f′ = cos(L)·(∂L/∂w + 2x·∂L/∂b) + ∂Outer/∂x, from the generated gradients.
        var g = Grad.Of((double x) => Math.Sin(Loss(x, x * x)) + Outer(x, 0.5));
        const double x = 0.7;
        var loss = LossWithGradient(x, x * x, out var dw, out var db);
        var outer = OuterWithGradient(x, 0.5, out var ox, out _);
        var (value, dx) = g.Evaluate(x);
        Assert.Equal(Math.Sin(loss) + outer, value, 14);
        Assert.Equal(Math.Cos(loss) * (dw + 2 * x * db) + ox, dx, 13);
        Assert.Contains("CallTests.LossPartial0(", g.ToCode(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_second_derivative_through_a_differentiable_call_is_refused_by_name()
    {
        var g = Grad.Of((double w, double b) => Loss(w, b));
        var e = Assert.Throws<ExprGradException>(() => g.Hessian(1, 2));
        Assert.Contains("cannot differentiate CallTests.Loss twice", e.Message, StringComparison.Ordinal);
        Assert.Contains("LossWithGradient", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_generated_rule_registered_again_is_ignored()
    {
        var square = typeof(CallTests).GetMethod(nameof(Square), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!;
        Assert.True(DerivativeRules.HasRule(square));
        Assert.Equal(new ValueAndGradient<double>(9, 6), Grad.Of((double x) => Square(x)).Evaluate(3));
        DerivativeRules.RegisterGenerated(square, (System.Linq.Expressions.Expression<Func<double, double>>)(x => 0 * x));
        Assert.Equal(new ValueAndGradient<double>(9, 6), Grad.Of((double x) => Square(x)).Evaluate(3));
    }

    [Fact]
    public void The_generated_rule_is_written_only_where_the_module_can_reach_it()
    {
        var (output, none) = Driver.Run(InClass("""
            [Differentiable] public static double F(double x, double y) => x * y;
            [Differentiable] public static double G(double[] a) => a[0] * a[1];
            """) + """

            partial class Holder
            {
                private partial class Hidden
                {
                    [Differentiable] public static double H(double x) => x * x;
                }
            }
            """);
        Assert.Empty(none);
        var generated = Driver.Generated(output);
        var f = Assert.Single(generated, text => text.Contains("FWithGradient(", StringComparison.Ordinal));
        Assert.Contains("[global::System.Runtime.CompilerServices.ModuleInitializer]", f, StringComparison.Ordinal);
        Assert.Contains("static double FPartial1(double x0, double x1)", f, StringComparison.Ordinal);
        Assert.Equal(3, generated.Length);
        Assert.All(generated.Where(text => text != f), text => Assert.DoesNotContain("ModuleInitializer", text, StringComparison.Ordinal));
        var fPartial1 = Driver.Load(output).GetType("User.Model")!.GetMethod("FPartial1")!;
        Assert.Equal(2.0, (double)fPartial1.Invoke(null, [2.0, 5.0])!); // ∂(xy)/∂y = x
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
    public void A_derivative_attribute_callee_is_called_with_its_partials()
    {
        var (output, none) = Driver.Run(InClass("""
            [Derivative(nameof(Dg))] static double G(double x) => x * x;
            static double Dg(double x) => 2 * x;
            [Differentiable] static double F(double x) => G(x) + x;
            """));
        Assert.Empty(none);
        var generated = Assert.Single(Driver.Generated(output));
        Assert.Contains("global::User.Model.G(x)", generated, StringComparison.Ordinal);
        Assert.Contains("global::User.Model.Dg(x)", generated, StringComparison.Ordinal);
        var f = Driver.Load(output).GetType("User.Model")!.GetMethod("FWithGradient", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!;
        object?[] args = [1.5, 0.0];
        Assert.Equal(3.75, (double)f.Invoke(null, args)!);
        Assert.Equal(4.0, (double)args[1]!); // 2·1.5 + 1
    }

    [Fact]
    public void A_derivative_attribute_naming_a_missing_method_is_reported_at_the_call()
    {
        var (diagnostic, at) = Driver.Single(InClass("""
            [Derivative("Missing")] static double G(double x) => x * x;
            [Differentiable] static double F(double x) => G(x) + x;
            """));
        Assert.Equal("EXG001", diagnostic.Id);
        Assert.Equal("G(x)", at);
        Assert.Contains("[Derivative] on Model.G names 'Missing', which must be a static method of Model", diagnostic.GetMessage());
    }

    [Derivative(nameof(SoftplusSlope))]
    private static double SoftplusRule(double x) => Math.Log(1 + Math.Exp(x));

    private static double SoftplusSlope(double x) => 1 / (1 + Math.Exp(-x));

    [Derivative(nameof(HypotDx), nameof(HypotDy))]
    private static double Hypot(double a, double b) => Math.Sqrt(a * a + b * b);

    private static double HypotDx(double a, double b, double h) => a / h;

    private static double HypotDy(double a, double b, double h) => b / h;

    [Differentiable]
    private static double UsesRules(double x, double y) => SoftplusRule(x * y) + Hypot(x, y);

    [Fact]
    public void Derivative_rules_in_a_differentiable_method_at_3_4_and_bit_identical_to_Grad_Of()
    {
        // softplus(12) + 5; ∂/∂x = 4σ(12) + 3/5, ∂/∂y = 3σ(12) + 4/5 (Hypot's partials from its value h = 5).
        var f = UsesRulesWithGradient(3, 4, out var dx, out var dy);
        var s = 1 / (1 + Math.Exp(-12));
        Assert.Equal(Math.Log(1 + Math.Exp(12)) + 5, f, 14);
        Assert.Equal(4 * s + 0.6, dx, 14);
        Assert.Equal(3 * s + 0.8, dy, 14);
        var (v, gx, gy) = Grad.Of((double x, double y) => SoftplusRule(x * y) + Hypot(x, y)).Evaluate(3, 4);
        Assert.Equal([v, gx, gy], [f, dx, dy]);
    }
}
