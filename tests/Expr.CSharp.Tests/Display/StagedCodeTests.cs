using Xunit.Abstractions;

namespace ExprGrad.Tests.Display;

public sealed class StagedCodeTests(ITestOutputHelper output)
{
    [Fact]
    public void Scratch()
    {
        output.WriteLine(Grad.Of((double x, double y, double z) => (x + y) * z).ToCode());
        output.WriteLine(Grad.Of((double x, double y) => x * y).ToCode());
        output.WriteLine(Grad.Of((double[] w, double[] x) => 1 / (1 + Math.Exp(-(w[0] * x[0] + w[1] * x[1] + w[2])))).ToCode());
        output.WriteLine(Grad.Of((double x, double y) => (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + (x + y) * (x + y))).ToCode());
        output.WriteLine(Grad.Of((double x, double y) => x > y ? x * x : Math.Pow(y, x)).ToCode());
        output.WriteLine(Grad.Of((double x) => Math.Sin(x) * x).ToCode());
    }
}
