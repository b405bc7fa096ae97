namespace ExprGrad.Generators.Tests;

/// <summary>
/// Fields and properties in a [Differentiable] method: captured values, as a closure's variables are to
/// <c>Grad.Of</c>, read live at every call and never differentiated.
/// </summary>
public sealed class CapturedTests
{
    private const string Model = """
        using System;
        using ExprGrad;
        namespace User;
        public partial class Model
        {
            public double Scale = 2;
            public static double[] W = { 2, 3, 4 };
            public int Count { get; set; } = 3;
            public bool Flag = true;

            [Differentiable]
            public double F(double x) => Scale * x * x + W[1] * x + (Flag ? Count : 0) * Math.Exp(Scale / 10) + (x > W[2] ? x : -x);

            // A local may hold a captured array; an element read in a branch is read only when the branch runs.
            [Differentiable]
            public static double G(double x)
            {
                var w = W;
                return x > 0 ? x * w[0] + w[1] : x * w[5];
            }

            public double CallF(double x, double[] gradient) => FWithGradient(x, out gradient[0]);
            public static double CallG(double x, double[] gradient) => GWithGradient(x, out gradient[0]);
        }
        """;

    [Fact]
    public void Fields_properties_and_elements_are_read_live_and_not_differentiated()
    {
        var (output, diagnostics) = Driver.Run(Model);
        Assert.Empty(diagnostics);
        var type = Driver.Load(output).GetType("User.Model")!;
        var model = Activator.CreateInstance(type)!;
        var gradient = new double[1];
        double F(double x) => (double)type.GetMethod("CallF")!.Invoke(model, [x, gradient])!;

        // 2*9 + 3*3 + 3*e^0.2 - 3, and d/dx = 2*2*3 + 3 - 1.
        Assert.Equal(18 + 9 + 3 * Math.Exp(0.2) - 3, F(3), 12);
        Assert.Equal(14, gradient[0], 12);

        type.GetField("Scale")!.SetValue(model, 5.0);
        type.GetProperty("Count")!.SetValue(model, 4);
        ((double[])type.GetField("W")!.GetValue(null)!)[1] = 10;
        Assert.Equal(45 + 30 + 4 * Math.Exp(0.5) - 3, F(3), 12);
        Assert.Equal(30 + 10 - 1, gradient[0], 12);

        type.GetField("Flag")!.SetValue(model, false);
        Assert.Equal(45 + 30 - 3, F(3), 12);

        var generated = Driver.Generated(output).Single(f => f.Contains("FWithGradient("));
        Assert.Contains("double Scale = this.Scale;", generated);
        Assert.Contains("double W_1 = global::User.Model.W[1];", generated);
    }

    [Fact]
    public void A_captured_element_in_a_branch_is_read_only_when_the_branch_runs()
    {
        var (output, diagnostics) = Driver.Run(Model);
        Assert.Empty(diagnostics);
        var call = Driver.Load(output).GetType("User.Model")!.GetMethod("CallG")!;
        var gradient = new double[1];
        Assert.Equal(2 * 2.0 + 3, call.Invoke(null, [2.0, gradient]));
        Assert.Equal(2.0, gradient[0]);
        // W has three elements: w[5] is out of range, as it is in G itself, but only where G reads it.
        var thrown = Assert.Throws<System.Reflection.TargetInvocationException>(() => call.Invoke(null, [-1.0, gradient]));
        Assert.IsType<IndexOutOfRangeException>(thrown.InnerException);
    }

    [Fact]
    public void Enums_integers_and_other_number_types_keep_their_meaning_in_the_generated_code()
    {
        var (output, diagnostics) = Driver.Run("""
            using System;
            using ExprGrad;
            namespace User;
            public enum Mode { A, B, Off = -1 }
            public sealed class Config
            {
                public static Config Default { get; } = new();
                public double Rate { get; set; } = 0.5;
                public float F = 1.5f;
                public long L = 7;
                public decimal M = 2.5m;
            }
            public partial struct Model
            {
                public double K;
                public Mode Mode;

                // Mode.B is the constant 1: compared as an enum, not as the int 1 (which would not compile).
                // (int)K / 2 divides integers, K / 2 does not.
                [Differentiable]
                public readonly double F(double x) =>
                    Config.Default.Rate * x * K + Config.Default.F * x + Config.Default.L + (double)Config.Default.M
                    + (Mode == Mode.A ? Math.Exp(x) : 0) + (Mode != Mode.B ? 1 : 0) + (Mode == Mode.Off ? 100 : 0)
                    + (K > (short)-3 ? 1 : 0) + K / 2 + (int)K / 2;

                public static double Call(Model m, double x, double[] gradient) => m.FWithGradient(x, out gradient[0]);
            }
            """);
        Assert.Empty(diagnostics);
        var type = Driver.Load(output).GetType("User.Model")!;
        var call = type.GetMethod("Call")!;
        var model = Activator.CreateInstance(type)!;
        type.GetField("K")!.SetValue(model, 3.0);
        var gradient = new double[1];

        // 0.5*2*3 + 1.5*2 + 7 + 2.5 + e^2 + 1 + 0 + 1 + 1.5 + 1, and d/dx = 0.5*3 + 1.5 + e^2.
        Assert.Equal(3 + 3 + 7 + 2.5 + Math.Exp(2) + 1 + 1 + 1.5 + 1, (double)call.Invoke(null, [model, 2.0, gradient])!, 12);
        Assert.Equal(1.5 + 1.5 + Math.Exp(2), gradient[0], 12);

        // A readonly member's gradient is readonly too: no defensive copy where the struct is readonly.
        Assert.Contains("public readonly double FWithGradient(double x, out double dx)", Assert.Single(Driver.Generated(output)));

        var mode = type.GetField("Mode")!;
        mode.SetValue(model, Enum.ToObject(mode.FieldType, -1));
        Assert.Equal(3 + 3 + 7 + 2.5 + 1 + 100 + 1 + 1.5 + 1, (double)call.Invoke(null, [model, 2.0, gradient])!, 12);
        Assert.Equal(1.5 + 1.5, gradient[0], 12);
    }

    [Fact]
    public void A_conditional_with_a_constant_test_is_the_branch_it_takes_as_in_the_compilers_lambda()
    {
        // The compiler's lambda keeps only the taken branch of false ? K : 2.0, so its test (2.0 > 1) folds. Read with
        // the untaken branch, the test read K, became a live truth value, and the gradient summed in another order:
        // one ulp off the lambda's (found by the random-function property test).
        var (output, diagnostics) = Driver.Run("""
            using System;
            using System.Linq.Expressions;
            using ExprGrad;
            public static partial class Model
            {
                public static double K = 1;
                [Differentiable]
                public static double F(double x) => Math.Atan2((false ? K : 2.0) > 1 ? Fn.Softplus(Math.Cbrt(x)) : 1, Math.Cbrt(x));
                public static Expression<Func<double, double>> L() => x => Math.Atan2((false ? K : 2.0) > 1 ? Fn.Softplus(Math.Cbrt(x)) : 1, Math.Cbrt(x));
                public static double Call(double x, double[] gradient) => FWithGradient(x, out gradient[0]);
            }
            """);
        Assert.Empty(diagnostics);
        Assert.DoesNotContain("K", Assert.Single(Driver.Generated(output)).Replace("<auto-generated>", ""));
        var type = Driver.Load(output).GetType("Model")!;
        var reference = Grad.Of((System.Linq.Expressions.LambdaExpression)type.GetMethod("L")!.Invoke(null, null)!);
        var expected = new double[1];
        var value = reference.Evaluate([-1.895946], expected);
        var gradient = new double[1];
        Assert.Equal(value, (double)type.GetMethod("Call")!.Invoke(null, [-1.895946, gradient])!);
        Assert.Equal(expected[0], gradient[0]);
    }

    [Fact]
    public void The_sign_of_a_captured_value_is_one_stage_however_often_it_is_written_as_in_Grad_Of()
    {
        // Shrunk from the random-function property test (seed 1125: ∂/∂x1 one ulp off Grad.Of). The importer stages
        // (double)Math.Sign(K) as the sign of K, one node for both occurrences; the generator took it for a call on
        // data, one value per occurrence, so the two Atan2 stages were two and x's adjoint was summed in another order.
        var (output, diagnostics) = Driver.Run("""
            using System;
            using System.Linq.Expressions;
            using ExprGrad;
            public static partial class Model
            {
                public static double K = -0.4;
                [Differentiable]
                public static double F(double x) => Math.Atan2(Math.Sign(K), x) / Math.Acos(0.9 * Math.Tanh(Math.Atan2(Math.Sign(K), x)));
                public static Expression<Func<double, double>> L() => x => Math.Atan2(Math.Sign(K), x) / Math.Acos(0.9 * Math.Tanh(Math.Atan2(Math.Sign(K), x)));
                public static double Call(double x, double[] d) => FWithGradient(x, out d[0]);
            }
            """);
        Assert.Empty(diagnostics);
        var generated = output.SyntaxTrees.Select(t => t.ToString()).Single(t => t.Contains("<auto-generated>", StringComparison.Ordinal));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(generated, @"Math\.Atan2\("));
        var type = Driver.Load(output).GetType("Model")!;
        var reference = Grad.Of((System.Linq.Expressions.LambdaExpression)type.GetMethod("L")!.Invoke(null, null)!);
        foreach (var x in new[] { -0.087353, 0.5, 3.0 })
        {
            var expected = new double[1];
            var value = reference.Evaluate([x], expected);
            var d = new double[1];
            Assert.Equal(value, (double)type.GetMethod("Call")!.Invoke(null, [x, d])!);
            Assert.Equal(expected, d);
        }
    }

    [Fact]
    public void Arithmetic_on_captured_values_is_staged_as_in_the_compilers_lambda()
    {
        // Shrunk from the random-function property test (∂/∂a[1] one ulp off Grad.Of). To Grad.Of, K0 * K1 and
        // K1 * K0 are one product (staging orders a product's operands), so p = K0·K1·a[1] is one stage read twice and
        // a[1]'s adjoint is (y + x)·K0K1. The generator read each parameter-free product as one opaque captured value,
        // by its text: two products, two stages, and the adjoint y·K1K0 + x·K0K1, rounded differently.
        var (output, diagnostics) = Driver.Run("""
            using System;
            using System.Linq.Expressions;
            using ExprGrad;
            public static partial class Model
            {
                public static double K0 = 0.1, K1 = 3;
                [Differentiable]
                public static double F(double[] a, double x, double y) => K0 * K1 * a[1] * x + K1 * K0 * a[1] * y;
                public static Expression<Func<double[], double, double, double>> L() => (a, x, y) => K0 * K1 * a[1] * x + K1 * K0 * a[1] * y;
                public static double Call(double[] a, double x, double y, double[] da, double[] d) => FWithGradient(a, x, y, da, out d[0], out d[1]);
            }
            """);
        Assert.Empty(diagnostics);
        var type = Driver.Load(output).GetType("Model")!;
        var reference = Grad.Of((System.Linq.Expressions.LambdaExpression)type.GetMethod("L")!.Invoke(null, null)!);
        var (x, y) = (-2.030702, -2.358263);
        var expected = new double[4];
        var value = reference.Evaluate([0.5, 1.25, x, y], expected);
        Assert.Equal((y + x) * (0.1 * 3), expected[1]); // the worked number: -1.3166895, where y·0.3 + x·0.3 is -1.3166895000000003

        var (da, d) = (new double[2], new double[2]);
        Assert.Equal(value, (double)type.GetMethod("Call")!.Invoke(null, [new[] { 0.5, 1.25 }, x, y, da, d])!);
        Assert.Equal(expected, da.Concat(d).ToArray());
    }

    [Theory]
    [InlineData("[Differentiable] double F(double x) => x * W[(int)x];", "(int)x", "the index depends on the value of a parameter")]
    [InlineData("[Differentiable] double F(double[] a) => a[Count] * 2;", "Count", "a parameter array is indexed by constants")]
    [InlineData("[Differentiable] double F(double x) => x * Helper(x);", "Helper(x)", "Model.Helper has no derivative rule")]
    [InlineData("[Differentiable] double F(double x) => (int)x + Count;", "Count", "convert it to double first")]
    public void What_a_captured_value_cannot_be_is_reported_where_it_is_read(string method, string at, string message)
    {
        var (diagnostic, where) = Driver.Single($$"""
            using ExprGrad;
            partial class Model
            {
                double Scale = 2;
                static double[] W = { 1, 2 };
                int Count = 1;
                static double Helper(double s) => s;
                {{method}}
            }
            """);
        Assert.Equal(("EXG001", at), (diagnostic.Id, where));
        Assert.Contains(message, diagnostic.GetMessage());
    }
}
