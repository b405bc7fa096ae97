namespace ExprGrad.Tests;

public class GradCheckTests
{
    [Fact]
    public void A_correct_gradient_passes()
    {
        var g = Grad.Of((double x, double y) => Math.Exp(x) * Math.Sin(y) + x * x * y);
        var report = GradCheck.Check(g, [0.7, -1.3]);
        Assert.True(report.Passed, report.ToString());
        Assert.True(report.ErrorRatio < 1e-2, report.ToString());
    }

    [Fact]
    public void A_wrong_hand_written_gradient_fails_naming_the_worst_component_and_both_values()
    {
        // CS231n's f = xy with a slip: ∂f/∂y written as y instead of x.
        double[] point = [4, -3];
        var report = GradCheck.Check(p => p[0] * p[1], point, [-3.0, -3.0]);
        Assert.False(report.Passed);
        Assert.Equal(1, report.WorstIndex);
        Assert.Equal(-3, report.Analytic);
        Assert.Equal(4, report.Numeric, 9);
        Assert.Contains("FAILED: worst component [1] analytic -3 vs numeric 4", report.ToString());
    }

    [Fact]
    public void Numeric_differences_are_accurate_to_eight_digits_or_more_on_smooth_functions()
    {
        var numeric = GradCheck.Numeric(p => Math.Exp(p[0]) + Math.Sin(10 * p[1]) / 10, [1.0, 2.0]);
        Assert.Equal(Math.E, numeric[0], 10);
        Assert.Equal(Math.Cos(20), numeric[1], 8);
    }

    [Fact]
    public void A_nan_where_a_number_is_due_fails()
    {
        var report = GradCheck.Check(p => p[0] * p[0], [1.0], [double.NaN]);
        Assert.False(report.Passed);
    }
}
