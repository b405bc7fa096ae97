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

    [Theory]
    [InlineData("[Differentiable] double F(double x) => x * W[(int)x];", "W[(int)x]", "a captured array is read at indices known without the parameters")]
    [InlineData("[Differentiable] double F(double[] a) => a[Count] * 2;", "Count", "a parameter array is indexed by constants")]
    [InlineData("[Differentiable] double F(double x) => x * Helper(Scale);", "Helper(Scale)", "Model.Helper has no derivative rule")]
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
