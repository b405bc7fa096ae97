namespace ExprGrad.Generators.Tests;

/// <summary>What the generator says about methods it cannot differentiate: an error at the sub-expression, never code.</summary>
public sealed class DiagnosticTests
{
    private static string InClass(string members, string modifiers = "static partial") => $$"""
        using System;
        using ExprGrad;
        namespace User;
        {{modifiers}} class Model
        {
            {{members}}
        }
        """;

    [Fact]
    public void A_call_without_a_rule_is_reported_at_the_call()
    {
        var (diagnostic, at) = Driver.Single(InClass("""
            static double Helper(double x) => x;
            [Differentiable] static double F(double x) => Math.Exp(x) + Helper(x);
            """));
        Assert.Equal("EXG001", diagnostic.Id);
        Assert.Equal("Helper(x)", at);
        Assert.Contains("Model.Helper has no derivative rule", diagnostic.GetMessage());
    }

    [Fact]
    public void A_constant_is_folded()
    {
        var (output, none) = Driver.Run(InClass("""
            const double Scale = 2;
            [Differentiable] static double F(double x) => Scale * x;
            """));
        Assert.Empty(none);
        Assert.Contains("dx_ = 2;", Assert.Single(Driver.Generated(output)));
    }

    [Fact]
    public void Code_that_does_not_compile_is_left_to_the_compiler()
    {
        var (_, diagnostics) = Driver.Run(InClass("[Differentiable] static double F(double x) => Math.Truncate(Math.Sign(x));"));
        Assert.Empty(diagnostics);
    }

    [Fact]
    public void A_loop_is_reported_at_the_statement()
    {
        var (diagnostic, at) = Driver.Single(InClass("""
            [Differentiable] static double F(double x)
            {
                var s = x;
                var i = 0;
                while (i < 3) { s = s * x; i++; }
                return s;
            }
            """));
        Assert.Equal("EXG001", diagnostic.Id);
        Assert.StartsWith("while (i < 3)", at);
        Assert.Contains("is a while loop", diagnostic.GetMessage());
    }

    [Fact]
    public void The_engine_refusal_is_reported_at_the_method()
    {
        var (diagnostic, at) = Driver.Single(InClass("""
            [Differentiable] static double F(double[] a, double x) => a[0] % x;
            """));
        Assert.Equal(("EXG004", "F"), (diagnostic.Id, at));
        Assert.Contains("'F' cannot be differentiated", diagnostic.GetMessage());
    }

    [Fact]
    public void A_type_that_is_not_partial_is_reported()
    {
        var (diagnostic, _) = Driver.Single(InClass("[Differentiable] static double F(double x) => x * x;", modifiers: "static"));
        Assert.Equal("EXG002", diagnostic.Id);
        Assert.Contains("'Model' must be partial", diagnostic.GetMessage());
    }

    [Theory]
    [InlineData("[Differentiable] static float F(double x) => (float)x;", "float")]
    [InlineData("[Differentiable] static double F(int n) => n;", "parameter 'n' of 'F' is int")]
    [InlineData("[Differentiable] static double F(ref double x) => x;", "parameter 'x' of 'F' is ref double")]
    public void A_signature_outside_double_and_double_arrays_is_reported(string method, string message)
    {
        var (diagnostic, _) = Driver.Single(InClass(method));
        Assert.Equal("EXG003", diagnostic.Id);
        Assert.Contains(message, diagnostic.GetMessage());
    }

    [Fact]
    public void Nested_generic_and_record_types_and_overloads_compile()
    {
        var (output, diagnostics) = Driver.Run("""
            using System;
            using ExprGrad;
            namespace User.Models;
            public partial class Outer<T>
            {
                internal partial record struct Inner
                {
                    [Differentiable] public static double F(double x) => Math.Sin(x);
                    [Differentiable] public static double F(double[] a) => a[0] * a[1];
                    [Differentiable] public double G(double x, double y) => x > y ? x : y * y;
                }
            }
            """);
        Assert.Empty(diagnostics);
        Assert.Equal(3, Driver.Generated(output).Length);
        var inner = Driver.Load(output).GetType("User.Models.Outer`1+Inner")!.MakeGenericType(typeof(int));
        var arguments = new object?[] { 0.5, null };
        Assert.Equal(Math.Sin(0.5), inner.GetMethod("FWithGradient", [typeof(double), typeof(double).MakeByRefType()])!.Invoke(null, arguments));
        Assert.Equal(Math.Cos(0.5), arguments[1]);
    }

    [Fact]
    public void An_array_gradient_checks_its_lengths_and_clears_what_the_function_does_not_read()
    {
        var (output, diagnostics) = Driver.Run(InClass("""
            [Differentiable] public static double F(double[] a) => a[0] * a[2];
            public static double Call(double[] a, double[] da) => FWithGradient(a, da);
            """, modifiers: "public static partial"));
        Assert.Empty(diagnostics);
        var call = Driver.Load(output).GetType("User.Model")!.GetMethod("Call")!;
        var gradient = new[] { 9.0, 9, 9, 9, 9 };
        Assert.Equal(6.0, call.Invoke(null, [new[] { 2.0, 5, 3, 7 }, gradient]));
        Assert.Equal([3.0, 0, 2, 0, 9], gradient);
        var tooShort = Assert.Throws<System.Reflection.TargetInvocationException>(() => call.Invoke(null, [new[] { 2.0, 5 }, gradient]));
        Assert.Contains("the function reads a[2]", tooShort.InnerException!.Message);
        var noRoom = Assert.Throws<System.Reflection.TargetInvocationException>(() => call.Invoke(null, [new[] { 2.0, 5, 3 }, new double[2]]));
        Assert.Contains("da needs room", noRoom.InnerException!.Message);
    }

    [Fact]
    public void An_array_the_function_does_not_read_may_be_empty()
    {
        var (output, diagnostics) = Driver.Run(InClass("""
            [Differentiable] public static double F(double[] a, double x) => x * x;
            public static double Call(double[] a, double[] da, double x) => FWithGradient(a, x, da, out _);
            """, modifiers: "public static partial"));
        Assert.Empty(diagnostics);
        var call = Driver.Load(output).GetType("User.Model")!.GetMethod("Call")!;
        Assert.True(9.0.Equals(call.Invoke(null, [Array.Empty<double>(), Array.Empty<double>(), 3.0])), Driver.Generated(output)[0]);
    }

    [Fact]
    public void Negative_zero_and_the_sign_are_written_as_they_run()
    {
        // Ceiling(-0.5) folds to -0.0, which must not be written -0 (the integer 0, +0.0): 1 / -0.0 is -infinity.
        // Math.Sign is an int in C# and throws on NaN; the generated code calls Fn.Sign, a double that keeps NaN.
        var (output, diagnostics) = Driver.Run(InClass("""
            [Differentiable] public static double F(double x) => Math.Truncate((double)Math.Sign(x)) + x / Math.Ceiling(-0.5);
            public static double Call(double x) => FWithGradient(x, out _);
            """, modifiers: "public static partial"));
        Assert.Empty(diagnostics);
        var call = Driver.Load(output).GetType("User.Model")!.GetMethod("Call")!;
        Assert.Equal(double.NegativeInfinity, call.Invoke(null, [1.0]));
        Assert.Equal(double.NaN, call.Invoke(null, [double.NaN]));
        Assert.Equal(Grad.Of((double x) => Fn.Sign(x) * x).Evaluate(-2.0), new ValueAndGradient<double>(2, -1));
    }
}
