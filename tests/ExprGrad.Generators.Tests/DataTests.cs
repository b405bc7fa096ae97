namespace ExprGrad.Generators.Tests;

/// <summary>
/// Data stays data: a sub-expression that reads no parameter, whatever it calls, is evaluated as written at every
/// call, by [Differentiable] as by <c>Grad.Of</c>, with bit-identical values and gradients and the same number of
/// calls (once per occurrence, in a branch only when it runs).
/// </summary>
public sealed class DataTests
{
    private const string Model = """
        using System;
        using System.Linq;
        using System.Linq.Expressions;
        using ExprGrad;
        namespace User;
        public sealed class Source
        {
            public double Value = 2;
            public int Calls;
            public bool Fail;
            public double Get()
            {
                Calls++;
                return Fail ? throw new InvalidOperationException("source failed") : Value;
            }
        }
        public partial class Model
        {
            public double K = 0.25;
            public Source H = new();
            public double[] W = new double[3];

            [Differentiable]
            public double F(double x) => Math.Clamp(K, 0, 1) * x + H.Get() * x * x + W.Length * Math.Sin(x) + (x > 0 ? H.Get() * Math.Exp(x) : W.Length * x) + W.Sum() * K % 1;
            public Expression<Func<double, double>> L() => x => Math.Clamp(K, 0, 1) * x + H.Get() * x * x + W.Length * Math.Sin(x) + (x > 0 ? H.Get() * Math.Exp(x) : W.Length * x) + W.Sum() * K % 1;
            public double CallF(double x, double[] gradient) => FWithGradient(x, out gradient[0]);

            [Differentiable]
            public double G(double x) => x > 0 ? x * x : H.Get() * x;
            public double CallG(double x, double[] gradient) => GWithGradient(x, out gradient[0]);
        }
        """;

    [Fact]
    public void Calls_lengths_and_clamps_on_data_agree_with_Grad_Of_bit_for_bit()
    {
        var (output, diagnostics) = Driver.Run(Model);
        Assert.Empty(diagnostics);
        var type = Driver.Load(output).GetType("User.Model")!;
        var model = Activator.CreateInstance(type)!;
        var source = type.GetField("H")!.GetValue(model)!;
        var calls = source.GetType().GetField("Calls")!;
        var reference = Grad.Of((System.Linq.Expressions.LambdaExpression)type.GetMethod("L")!.Invoke(model, null)!);
        var generated = new double[1];
        var expected = new double[1];

        void Agree(double x, int callsEach)
        {
            calls.SetValue(source, 0);
            var value = reference.Evaluate([x], expected);
            Assert.Equal(callsEach, (int)calls.GetValue(source)!);
            Assert.Equal(value, (double)type.GetMethod("CallF")!.Invoke(model, [x, generated])!);
            Assert.Equal(expected[0], generated[0]);
            Assert.Equal(2 * callsEach, (int)calls.GetValue(source)!);
        }

        // At x = 1: 0.25 + 2 + 3 sin 1 + 2e + 0 (W sums to 0), d/dx = 0.25 + 4 + 3 cos 1 + 2e.
        Agree(1, callsEach: 2);
        Assert.Equal(0.25 + 4 + 3 * Math.Cos(1) + 2 * Math.E, expected[0], 14);
        Agree(-0.75, callsEach: 1); // the branch's call is not made
        type.GetField("K")!.SetValue(model, 1.5);
        type.GetField("W")!.SetValue(model, new[] { 0.5, 0.25 });
        source.GetType().GetField("Value")!.SetValue(source, -0.3);
        Agree(0.6, callsEach: 2);
        Agree(-2.2, callsEach: 1);
    }

    [Fact]
    public void A_call_in_an_untaken_branch_is_not_made_and_its_exception_propagates_when_taken()
    {
        var (output, diagnostics) = Driver.Run(Model);
        Assert.Empty(diagnostics);
        var type = Driver.Load(output).GetType("User.Model")!;
        var model = Activator.CreateInstance(type)!;
        var source = type.GetField("H")!.GetValue(model)!;
        source.GetType().GetField("Fail")!.SetValue(source, true);
        var gradient = new double[1];
        Assert.Equal(4.0, type.GetMethod("CallG")!.Invoke(model, [2.0, gradient]));
        Assert.Equal(4.0, gradient[0]);
        Assert.Equal(0, (int)source.GetType().GetField("Calls")!.GetValue(source)!);
        var thrown = Assert.Throws<System.Reflection.TargetInvocationException>(() => type.GetMethod("CallG")!.Invoke(model, [-1.0, gradient]));
        Assert.Equal("source failed", Assert.IsType<InvalidOperationException>(thrown.InnerException).Message);
        Assert.Equal(1, (int)source.GetType().GetField("Calls")!.GetValue(source)!);
    }
}
