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

    [Fact]
    public void Tanh_agrees_with_the_scalar_one_within_a_few_ulps()
    {
        var small = Enumerable.Range(-60, 121).Select(k => Math.Pow(2, k / 4.0) * 1e-9).SelectMany(v => new[] { v, -v });
        foreach (var x in Special.Concat(Enumerable.Range(-200, 401).Select(k => k * 0.0137)).Concat(small).Append(0.5).Append(-0.5).Append(0.4999999999999999))
        {
            var (expected, actual) = (Math.Tanh(x), MapWriter.SimdBodyWriter.Tanh(Vector256.Create(x))[0]);
            if (double.IsNaN(expected))
                Assert.True(double.IsNaN(actual), $"tanh({x:R})");
            else if (expected == 0)
                Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(actual)); // −0 stays −0
            else
                Assert.True(Math.Abs(actual - expected) <= 1e-15 * Math.Abs(expected), $"tanh({x:R}) = {actual:R}, scalar {expected:R}");
        }
    }

    [Fact]
    public void Routing_selects_run_four_at_a_time_and_pass_nothing_to_what_they_do_not_pick()
    {
        // relu′ is y > 0 ? ȳ : 0: a lane mask and a select, so the backward Map of relu (and of max) stays SIMD.
        foreach (var op in new[] { ExprGrad.Staging.Op.Relu, ExprGrad.Staging.Op.Abs })
        {
            var derivative = ExprGrad.Staging.MapBody.Of(op.ToString(), new ExprGrad.Staging.Node?[1], (b, x) => b.Apply(op, x[0]), op).Derivative(0)!;
            var elements = Enumerable.Range(0, 3).Select(k => (System.Linq.Expressions.Expression)System.Linq.Expressions.Expression.Parameter(typeof(Vector256<double>), $"e{k}")).ToArray();
            Assert.NotNull(new MapWriter.SimdBodyWriter(derivative, elements, [], []).Write());
        }

        // √relu(v): elements relu sends to 0 get 0, not 0·∞, in the SIMD lanes and in the scalar tail alike.
        double[] x = [-1, 4, 0, -0.0, 9, -2, 0.25, 0, -5];
        var (_, gradient) = Grad.Of((Vector<double> v) => v.Map(Fn.Relu).PointwiseSqrt().Sum()).Evaluate(Vector<double>.Build.DenseOfArray(x));
        Assert.Equal(x.Select(e => e > 0 ? 0.5 / Math.Sqrt(e) : 0).ToArray(), gradient.ToArray());
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
