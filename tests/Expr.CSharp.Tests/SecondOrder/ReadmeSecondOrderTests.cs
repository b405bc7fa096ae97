using MathNet.Numerics.LinearAlgebra;
using Xunit;

namespace ExprGrad.Tests.SecondOrder;

/// <summary>The README's "Second derivatives and Jacobians" example, as written there, with the numbers its comments give.</summary>
public sealed class ReadmeSecondOrderTests
{
    [Fact]
    public void The_readme_example_gives_its_numbers()
    {
        var g = Grad.Of((double x, double y) => x * x * y + Math.Sin(x) * y * y * y);
        double[,] h = g.Hessian(1.0, 2.0);
        Assert.Equal(4 - 8 * Math.Sin(1), h[0, 0], 1e-14);
        Assert.Equal(2 + 12 * Math.Cos(1), h[0, 1], 1e-14);
        Assert.Equal(12 * Math.Sin(1), h[1, 1], 1e-14);
        var hv = new double[2];
        g.HessianVectorProduct([1.0, 2.0], [1.0, 0.0], hv);
        Assert.Equal(h[0, 0], hv[0], 1e-14);
        Assert.Equal(h[1, 0], hv[1], 1e-14);

        var polar = Grad.Jacobian((double r, double t) => ValueTuple.Create(r * Math.Cos(t), r * Math.Sin(t)));
        double[,] j = polar.Evaluate(2.0, 0.3);
        Assert.Equal(new[,] { { Math.Cos(0.3), -2 * Math.Sin(0.3) }, { Math.Sin(0.3), 2 * Math.Cos(0.3) } }, j);
        var f = Grad.Jacobian(a => new[] { a[0] * a[1], Math.Sin(a[0]) });
        Assert.Equal(new[,] { { 3.0, 2.0 }, { Math.Cos(2.0), 0 } }, f.Evaluate(2.0, 3.0));
    }

    [Fact]
    public void The_readme_loop_example_gives_the_weighted_Gram_matrix()
    {
        double[] xs = [0.5, -1.0, 2.0], ys = [1.0, 0.0, 1.0];
        var fit = Grad.Of((double[] w) => xs.Zip(ys, (x, y) => Math.Log(1 + Math.Exp(-(2 * y - 1) * (w[0] + w[1] * x)))).Sum());
        double[,] h2 = fit.Hessian(0.1, 0.2);
        var expected = new double[2, 2];
        foreach (var x in xs)
        {
            var s = 1 / (1 + Math.Exp(-(0.1 + 0.2 * x)));
            expected[0, 0] += s * (1 - s);
            expected[0, 1] += s * (1 - s) * x;
            expected[1, 1] += s * (1 - s) * x * x;
        }
        Assert.Equal(expected[0, 0], h2[0, 0], 1e-14);
        Assert.Equal(expected[0, 1], h2[0, 1], 1e-14);
        Assert.Equal(expected[0, 1], h2[1, 0], 1e-14);
        Assert.Equal(expected[1, 1], h2[1, 1], 1e-14);
    }

    [Fact]
    public void The_readme_matrix_example_gives_V_X_Xt_over_7()
    {
        var x = Matrix<double>.Build.Random(4, 7, seed: 1);
        var target = Matrix<double>.Build.Random(3, 7, seed: 2);
        var fitW = Grad.Of((Matrix<double> W) => Fn.SquaredError(W * x, target));
        var (w, v) = (Matrix<double>.Build.Random(3, 4, seed: 3), Matrix<double>.Build.Random(3, 4, seed: 4));
        Matrix<double> hw = fitW.HessianVectorProduct(w, v);
        Tensors.TensorAssert.Close(v * x * x.Transpose() / 7, hw, 1e-13, "H·v");
    }
}
