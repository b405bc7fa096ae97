using System.Runtime.Intrinsics;
using ExprGrad.Emit;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Tests.Kernels;

/// <summary>
/// Maps run four elements at a time where the body allows: the SIMD gates mean what the scalar ones do (−0, NaN and the
/// kink included), and a Map of any length (tails of 1–3 elements run the scalar body) gives the scalar result.
/// </summary>
public sealed class SimdMapTests
{
    private static readonly double[] Special = [-0.0, 0.0, double.NaN, -3.5, 2.25, double.PositiveInfinity, double.NegativeInfinity, 1e-300, -1e-300, 40, -40, 750, -750];

    [Fact]
    public void Relu_and_sign_are_the_scalar_gates_bit_for_bit()
    {
        foreach (var x in Special)
        {
            var v = Vector256.Create(x);
            Assert.Equal(BitConverter.DoubleToInt64Bits(Fn.Relu(x)), BitConverter.DoubleToInt64Bits(MapWriter.SimdBodyWriter.Relu(v)[0]));
            Assert.Equal(BitConverter.DoubleToInt64Bits(Fn.Sign(x)), BitConverter.DoubleToInt64Bits(MapWriter.SimdBodyWriter.Sign(v)[0]));
        }
    }

    [Fact]
    public void Sigmoid_agrees_with_the_scalar_one_within_an_ulp_or_two()
    {
        foreach (var x in Special.Concat(Enumerable.Range(-100, 201).Select(k => k * 0.37)))
        {
            var (expected, actual) = (Fn.Sigmoid(x), MapWriter.SimdBodyWriter.Sigmoid(Vector256.Create(x))[0]);
            if (double.IsNaN(expected))
                Assert.True(double.IsNaN(actual), $"σ({x:R})");
            else
                Assert.True(Math.Abs(actual - expected) <= 4e-16 * Math.Abs(expected), $"σ({x:R}) = {actual:R}, scalar {expected:R}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(17)]
    public void Maps_of_any_length_agree_with_the_scalar_loop(int n)
    {
        var random = new Random(n);
        var x = Vector<double>.Build.Dense(n, _ => random.NextDouble() * 6 - 3);
        var g = Grad.Of((Vector<double> v) => v.Map(Fn.Sigmoid).DotProduct(v.Map(Fn.Relu)) + v.Map(Math.Exp).Sum());
        var (value, gradient) = g.Evaluate(x);
        var expected = 0.0;
        for (var i = 0; i < n; i++)
        {
            var (s, r) = (Fn.Sigmoid(x[i]), Fn.Relu(x[i]));
            expected += s * r + Math.Exp(x[i]);
            var d = s * (1 - s) * r + s * Fn.Sign(r) + Math.Exp(x[i]);
            Assert.True(Math.Abs(gradient[i] - d) <= 1e-14 * Math.Abs(d), $"n = {n}: ∂/∂x[{i}] = {gradient[i]:R}, expected {d:R}");
        }
        Assert.True(Math.Abs(value - expected) <= 1e-14 * Math.Abs(expected), $"n = {n}: value {value:R}, expected {expected:R}");
    }
}
