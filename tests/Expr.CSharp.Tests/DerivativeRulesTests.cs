using System.Linq.Expressions;
using System.Reflection;

namespace ExprGrad.Tests;

/// <summary>Users' methods with derivative rules, as the tests call them. Each is registered once per process.</summary>
public static class MyMath
{
    /// <summary>softplus written plainly; its derivative is named by the attribute.</summary>
    [Derivative(nameof(SoftplusDerivative))]
    public static double Softplus(double x) => Math.Log(1 + Math.Exp(x));

    /// <summary>σ(x), the derivative of <see cref="Softplus"/>: called as it is, with no rule of its own.</summary>
    public static double SoftplusDerivative(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>√(x² + y²), registered with lambdas that reuse its value.</summary>
    public static double Hypot(double x, double y) => Math.Sqrt(x * x + y * y);

    /// <summary>log cosh x, registered with the two-argument-free form: d/dx = tanh x.</summary>
    public static double LogCosh(double x) => Math.Log(Math.Cosh(x));

    /// <summary>x², registered with a wrong rule (3x) on purpose, for GradCheck to catch.</summary>
    public static double Wrong(double x) => x * x;

    /// <summary>x / y, registered with the two-argument overload.</summary>
    public static double Ratio(double x, double y) => x / y;

    /// <summary>x³ − x, never given a rule.</summary>
    public static double NoRule(double x) => x * x * x - x;

    /// <summary>x·y + z, for registrations of the wrong shape (never registered).</summary>
    public static double Three(double x, double y, double z) => x * y + z;

    /// <summary>A [Differentiable] method (this project runs no generator): Grad.Of cannot see its body.</summary>
    [Differentiable]
    public static double Generated(double x) => x * x;

    /// <summary>A product whose attribute names the wrong number of partials.</summary>
    [Derivative(nameof(SoftplusDerivative))]
    public static double BadAttribute(double x, double y) => x * y;

    /// <summary>A method whose attribute names a method that does not exist.</summary>
    [Derivative("Missing")]
    public static double MissingPartial(double x) => x;

    private static readonly Lazy<bool> Registered = new(() =>
    {
        DerivativeRules.Register(typeof(MyMath).GetMethod(nameof(Hypot))!,
            (Expression<Func<double, double, double, double>>)((x, y, h) => x / h),
            (Expression<Func<double, double, double, double>>)((x, y, h) => y / h));
        DerivativeRules.Register((double x) => LogCosh(x), x => Math.Tanh(x));
        DerivativeRules.Register((double x) => Wrong(x), x => 3 * x);
        DerivativeRules.Register((double x, double y) => Ratio(x, y), (x, y) => 1 / y, (x, y) => -x / (y * y));
        return true;
    });

    /// <summary>Registers the rules above, once.</summary>
    public static void Register() => _ = Registered.Value;
}

/// <summary>
/// Custom derivative rules: the attribute and the registration API, used by Grad.Of, formulas, staged code and traces;
/// a wrong rule caught by GradCheck; rules of the wrong shape refused with the method named.
/// </summary>
public sealed class DerivativeRulesTests
{
    public DerivativeRulesTests() => MyMath.Register();

    [Fact]
    public void Attribute_rule_softplus_of_2x_at_half()
    {
        // f(x) = softplus(2x) at x = 0.5: f = ln(1 + e) = 1.3132616875182228, f′ = 2σ(1) = 1.4621171572600098.
        var g = Grad.Of((double x) => MyMath.Softplus(2 * x));
        var (value, dx) = g.Evaluate(0.5);
        Assert.Equal(Math.Log(1 + Math.E), value, 15);
        Assert.Equal(2 / (1 + Math.Exp(-1)), dx, 15);
        Assert.Equal(["∂f/∂x = 2*SoftplusDerivative(2*x)"], g.ToString().Split('\n'));
    }

    [Fact]
    public void Registered_rule_reuses_the_value_hypot_of_3_4()
    {
        // h = 5; ∂h/∂x = 3/5, ∂h/∂y = 4/5, from the forward value h, not a second call.
        var g = Grad.Of((double x, double y) => MyMath.Hypot(x, y));
        var (value, dx, dy) = g.Evaluate(3, 4);
        Assert.Equal(5, value);
        Assert.Equal(0.6, dx, 15);
        Assert.Equal(0.8, dy, 15);
        Assert.Equal(["∂f/∂x = x/Hypot(x, y)", "∂f/∂y = y/Hypot(x, y)"], g.ToString().Split('\n'));
    }

    [Fact]
    public void Two_argument_registration_ratio_at_3_2()
    {
        // 3/2 = 1.5; ∂/∂x = 1/2, ∂/∂y = −3/4.
        var (value, dx, dy) = Grad.Of((double x, double y) => MyMath.Ratio(x, y)).Evaluate(3, 2);
        Assert.Equal((1.5, 0.5, -0.75), (value, dx, dy));
    }

    [Fact]
    public void The_attribute_keeps_the_partials_in_order()
    {
        var attribute = typeof(MyMath).GetMethod(nameof(MyMath.Softplus))!.GetCustomAttributes(typeof(DerivativeAttribute), false);
        Assert.Equal([nameof(MyMath.SoftplusDerivative)], Assert.IsType<DerivativeAttribute>(Assert.Single(attribute)).Partials);
    }

    [Fact]
    public void Registered_rule_in_a_composition_passes_GradCheck()
    {
        var g = Grad.Of((double x, double y) => MyMath.LogCosh(x * y) + MyMath.Hypot(x, MyMath.Softplus(y)));
        foreach (var point in new[] { new[] { 0.3, -1.2 }, [1.7, 0.4], [-2.1, 2.5] })
        {
            var report = GradCheck.Check(g, point);
            Assert.True(report.Passed, report.ToString());
        }
    }

    [Fact]
    public void A_rule_in_a_loop_body()
    {
        // Σ softplus(a_i): ∂/∂a_i = σ(a_i).
        var g = Grad.Of((double[] a) => Enumerable.Range(0, a.Length).Sum(i => MyMath.Softplus(a[i])));
        double[] point = [-1, 0, 2];
        var gradient = new double[3];
        g.Evaluate(point, gradient);
        Assert.Equal(point.Select(MyMath.SoftplusDerivative), gradient);
    }

    // The gradient's graph swept a second time from ∂f/∂x: the Hessian's column for x, as the second-order work will build it.
    private static double SecondDerivative(Expression<Func<double, double>> f, double x)
    {
        var graph = Grad.Differentiate(f);
        var b = graph.Builder;
        var second = ExprGrad.Reverse.ReverseSweep.Pullback(b, graph.Adjoints[0]!, b.Constant(1));
        return new ExprGrad.Display.GraphEvaluator(_ => x).Value(second[b.Inputs.Single()]);
    }

    [Fact]
    public void A_registered_partial_is_staged_nodes_that_a_second_sweep_differentiates()
    {
        // (log cosh)″ = 1 − tanh²: at 0.5, 1 − tanh(0.5)² = 0.7864477329659274.
        Assert.Equal(1 - Math.Tanh(0.5) * Math.Tanh(0.5), SecondDerivative(x => MyMath.LogCosh(x), 0.5), 15);
        // Γ″ = Γ(ψ² + ψ′): at 1, γ² + π²/6 = 1.9781119906525324.
        Assert.Equal(0.57721566490153286 * 0.57721566490153286 + Math.PI * Math.PI / 6,
            SecondDerivative(x => MathNet.Numerics.SpecialFunctions.Gamma(x), 1), 13);
    }

    [Fact]
    public void An_attribute_partial_without_a_rule_refuses_a_second_derivative_naming_it()
    {
        var e = Assert.Throws<ExprGradException>(() => SecondDerivative(x => MyMath.Softplus(x), 0.5));
        Assert.Contains("cannot differentiate MyMath.SoftplusDerivative", e.Message, StringComparison.Ordinal);
        Assert.Contains("give SoftplusDerivative a rule too", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DiGamma_has_tetragamma_as_its_second_derivative()
    {
        Assert.Equal(Fn.TetraGamma(1.5), SecondDerivative(x => MathNet.Numerics.SpecialFunctions.DiGamma(x), 1.5));
        var g = Grad.Of((double x) => MathNet.Numerics.SpecialFunctions.DiGamma(x) * x);
        // (x ψ)″ = 2ψ′(x) + x ψ″(x).
        Assert.Equal(2 * Fn.TriGamma(1.5) + 1.5 * Fn.TetraGamma(1.5), g.Hessian(1.5)[0, 0], 1e-14);
    }

    [Fact]
    public void ToCode_and_trace_show_the_method_by_name()
    {
        var g = Grad.Of((double x) => MyMath.Softplus(2 * x));
        var code = g.ToCode();
        Assert.Contains("MyMath.Softplus(", code, StringComparison.Ordinal);
        Assert.Contains("MyMath.SoftplusDerivative(", code, StringComparison.Ordinal);
        var trace = g.Trace(0.5);
        var gate = Assert.Single(trace.Nodes, n => n.Label == "Softplus");
        Assert.Equal(Math.Log(1 + Math.E), gate.Value, 15);
        Assert.Equal(2 / (1 + Math.Exp(-1)), trace.Gradient[0], 15);
    }

    [Fact]
    public void On_constants_the_call_folds()
    {
        var g = Grad.Of((double x) => MyMath.Softplus(0) * x);
        var (value, dx) = g.Evaluate(2);
        Assert.Equal(2 * Math.Log(2), value, 15);
        Assert.Equal(Math.Log(2), dx, 15);
    }

    [Fact]
    public void GradCheck_catches_a_wrong_rule_and_names_it()
    {
        // Wrong(x) = x² registered with derivative 3x: at x = 1.5 the rule says 4.5, the function's slope is 3.
        var g = Grad.Of((double x, double y) => MyMath.Wrong(x) + y);
        var report = GradCheck.Check(g, [1.5, 2]);
        Assert.False(report.Passed);
        Assert.Equal(0, report.WorstIndex);
        Assert.Equal("x", report.Component);
        Assert.Equal(4.5, report.Analytic);
        Assert.Equal(3, report.Numeric, 9);
        Assert.Equal(["MyMath.Wrong"], report.UserRules);
        var text = report.ToString();
        Assert.StartsWith("FAILED: worst component [0] (x) analytic 4.5 vs numeric 2.99999", text, StringComparison.Ordinal);
        Assert.EndsWith("the gradient uses your derivative rule for MyMath.Wrong: check it first", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_passing_check_still_lists_the_rules_it_ran()
    {
        var report = GradCheck.Check(Grad.Of((double x) => MyMath.LogCosh(x)), [0.7]);
        Assert.True(report.Passed, report.ToString());
        Assert.Equal(["MyMath.LogCosh"], report.UserRules);
        Assert.DoesNotContain("check it", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_method_without_a_rule_is_refused_with_how_to_give_one()
    {
        var e = Assert.Throws<ExprGradException>(() => Grad.Of((double x) => MyMath.NoRule(x)));
        Assert.Contains("'MyMath.NoRule'", e.Message, StringComparison.Ordinal);
        Assert.Contains("[Derivative(nameof(NoRuleDerivative))]", e.Message, StringComparison.Ordinal);
        Assert.Contains("DerivativeRules.Register((double x) => MyMath.NoRule(x), ...)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_differentiable_method_called_from_Grad_Of_is_refused_with_what_to_do()
    {
        var e = Assert.Throws<ExprGradException>(() => Grad.Of((double x) => MyMath.Generated(x) + x));
        Assert.Contains("the [Differentiable] method 'MyMath.Generated'", e.Message, StringComparison.Ordinal);
        Assert.Contains("call GeneratedWithGradient yourself", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registration_refuses_the_wrong_number_of_partials()
    {
        var e = Assert.Throws<ArgumentException>(() => DerivativeRules.Register(typeof(MyMath).GetMethod(nameof(MyMath.Three))!,
            (Expression<Func<double, double, double, double>>)((x, y, z) => y)));
        Assert.Contains("MyMath.Three takes 3 argument(s), so it needs 3 partial derivative(s)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registration_refuses_a_partial_of_the_wrong_type()
    {
        LambdaExpression ok = (Expression<Func<double, double, double, double>>)((x, y, z) => y);
        LambdaExpression wrong = (Expression<Func<int, double>>)(k => k);
        var e = Assert.Throws<ArgumentException>(() => DerivativeRules.Register(typeof(MyMath).GetMethod(nameof(MyMath.Three))!, ok, wrong, ok));
        Assert.Contains("partial derivative 2 of MyMath.Three ((int k) => double)", e.Message, StringComparison.Ordinal);
        Assert.Contains("(double x, double y, double z)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registration_refuses_a_partial_ExprGrad_cannot_read_and_keeps_no_rule()
    {
        Func<double, double> opaque = v => v;
        LambdaExpression ok = (Expression<Func<double, double, double, double>>)((x, y, z) => y);
        LambdaExpression unreadable = (Expression<Func<double, double, double, double>>)((x, y, z) => opaque(z));
        var e = Assert.Throws<ArgumentException>(() => DerivativeRules.Register(typeof(MyMath).GetMethod(nameof(MyMath.Three))!, ok, ok, unreadable));
        Assert.Contains("a partial derivative given for MyMath.Three cannot be differentiated", e.Message, StringComparison.Ordinal);
        Assert.False(DerivativeRules.HasRule(typeof(MyMath).GetMethod(nameof(MyMath.Three))!));
    }

    [Fact]
    public void Registration_refuses_a_method_that_has_a_rule()
    {
        var e1 = Assert.Throws<InvalidOperationException>(() => DerivativeRules.Register((double x) => Math.Exp(x), x => Math.Exp(x)));
        Assert.Contains("Math.Exp is built into ExprGrad", e1.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<InvalidOperationException>(() => DerivativeRules.Register((double x) => MyMath.LogCosh(x), x => Math.Tanh(x)));
        Assert.Contains("MyMath.LogCosh already has a registered rule", e2.Message, StringComparison.Ordinal);
        var e3 = Assert.Throws<InvalidOperationException>(() => DerivativeRules.Register((double x) => MyMath.Softplus(x), x => Fn.Sigmoid(x)));
        Assert.Contains("MyMath.Softplus already has a rule, given by its [Derivative] attribute", e3.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registration_refuses_a_function_that_is_not_a_method_call_on_its_parameters()
    {
        var e = Assert.Throws<ArgumentException>(() => DerivativeRules.Register((double x) => MyMath.LogCosh(2 * x), x => Math.Tanh(x)));
        Assert.Contains("must call a static method on the lambda's parameters", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HasRule_knows_built_in_registered_attributed_and_missing()
    {
        Assert.True(DerivativeRules.HasRule(typeof(Math).GetMethod(nameof(Math.Exp))!));
        Assert.True(DerivativeRules.HasRule(typeof(MyMath).GetMethod(nameof(MyMath.Hypot))!));
        Assert.True(DerivativeRules.HasRule(typeof(MyMath).GetMethod(nameof(MyMath.Softplus))!));
        Assert.False(DerivativeRules.HasRule(typeof(MyMath).GetMethod(nameof(MyMath.NoRule))!));
    }

    [Fact]
    public void An_attribute_of_the_wrong_shape_is_refused_naming_the_method()
    {
        var e1 = Assert.Throws<ExprGradException>(() => Grad.Of((double x) => MyMath.BadAttribute(x, x)));
        Assert.Contains("[Derivative] on MyMath.BadAttribute: the method takes 2 argument(s), so the attribute must name 2", e1.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<ExprGradException>(() => Grad.Of((double x) => MyMath.MissingPartial(x)));
        Assert.Contains("[Derivative] on MyMath.MissingPartial: 'Missing' must be a static method of MyMath", e2.Message, StringComparison.Ordinal);
    }
}

/// <summary>The README's "Custom derivatives" example, as written there.</summary>
public static class Stats
{
    /// <summary>log(1 + eˣ), computed without overflow; its derivative is named once.</summary>
    [Derivative(nameof(Logistic))]
    public static double Softplus(double x) => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x));

    /// <summary>The derivative of <see cref="Softplus"/>.</summary>
    public static double Logistic(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>The Huber loss, given a rule with <see cref="DerivativeRules"/> in the README.</summary>
    public static double Huber(double r) => Math.Abs(r) <= 1 ? 0.5 * r * r : Math.Abs(r) - 0.5;
}

/// <summary>The README's "Custom derivatives" example: its code and its numbers.</summary>
public sealed class ReadmeCustomDerivativesTests
{
    private static readonly Lazy<bool> Registered = new(() =>
    {
        DerivativeRules.Register((double r) => Stats.Huber(r), r => Math.Abs(r) <= 1 ? r : Fn.Sign(r));
        return true;
    });

    [Fact]
    public void The_example_gives_the_numbers_the_README_prints()
    {
        _ = Registered.Value;
        var g = Grad.Of((double a, double b) => Stats.Huber(a - 2 * b) + Stats.Softplus(a * b));
        var (value, da, db) = g.Evaluate(3, 0.5);
        Assert.Equal("3.2014132779827524 1.4087872380968218 0.45272342858093095",
            string.Join(" ", new[] { value, da, db }.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
        Assert.Equal(["∂f/∂a = (abs(a - 2*b) <= 1 ? a - 2*b : sign(a - 2*b)) + b*Logistic(a*b)",
            "∂f/∂b = a*Logistic(a*b) - 2*(abs(a - 2*b) <= 1 ? a - 2*b : sign(a - 2*b))"], g.ToString().Split('\n'));
        Assert.True(GradCheck.Check(g, [3, 0.5]).Passed);
    }

    [Fact]
    public void The_special_function_example()
    {
        double[] x = [0.8, 1.9, 3.1];
        var nll = Grad.Of((double k, double theta) =>
            x.Sum(xi => MathNet.Numerics.SpecialFunctions.GammaLn(k) + k * Math.Log(theta) - (k - 1) * Math.Log(xi) + xi / theta));
        var (_, dk, dtheta) = nll.Evaluate(2, 1);
        // ∂/∂k = 3ψ(2) + 3 ln 1 − Σ ln xᵢ, ∂/∂θ = 3k/θ − Σ xᵢ/θ² = 6 − 5.8.
        Assert.Equal(3 * (1 - 0.57721566490153286) - x.Sum(Math.Log), dk, 13);
        Assert.Equal(0.2, dtheta, 13);
        Assert.Contains("digamma(k)", nll.Formulas[0].Infix, StringComparison.Ordinal);
        Assert.Contains(@"\psi\left(k\right)", nll.Formulas[0].ToLatex(), StringComparison.Ordinal);
    }
}
