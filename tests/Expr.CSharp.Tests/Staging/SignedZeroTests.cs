using Xunit;

namespace ExprGrad.Tests.Staging;

/// <summary>
/// The builder's local simplifications keep the sign of a zero: atan2 and 1/x tell +0 from −0, so a simplification
/// that flips it changes a value by 2π or an infinity's sign. Found by the loop properties (about 1 run in 50): the
/// written-out form of a loop body gave −π where LINQ gives π.
/// </summary>
public sealed class SignedZeroTests
{
    private static double c = 0.5; // floor(c) = +0, read live so that nothing is folded before staging

    [Fact]
    public void Zero_minus_a_positive_zero_is_a_positive_zero()
    {
        // (+0) − (+0) = +0, but −(+0) = −0: atan2(+0, −1) = π, atan2(−0, −1) = −π.
        var g = Grad.Of((double x) => x * Math.Atan2(0 - Math.Floor(c), -1.0));
        var (value, dx) = g.Evaluate(1.0);
        Assert.Equal(Math.PI, value);
        Assert.Equal(Math.PI, dx);
    }

    [Fact]
    public void A_negative_zero_plus_zero_is_a_positive_zero()
    {
        // (−0) + (+0) = +0, so x + 0 is not x at x = −0: 1/(x + 0) is +∞ there, 1/x would be −∞.
        var g = Grad.Of((double x) => 1 / (x + 0.0));
        Assert.Equal(double.PositiveInfinity, g.Evaluate(-0.0).Value);
    }

    [Fact]
    public void Subtracting_a_positive_zero_keeps_x()
    {
        var g = Grad.Of((double x) => 1 / (x - 0.0));
        Assert.Equal(double.NegativeInfinity, g.Evaluate(-0.0).Value);
    }
}
