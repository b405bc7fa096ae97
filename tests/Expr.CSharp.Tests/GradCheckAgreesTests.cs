namespace ExprGrad.Tests;

/// <summary>
/// <see cref="GradCheck.AssertAgrees(Func{double[], double}, Func{double[], double[]}, Box, int, int?, double, double)"/>
/// and its overloads, as a user's xunit test calls them. Every call in the project that draws its own seed lives in this
/// class, so the one test that sets <see cref="GradCheck.SeedVariable"/> runs while no other such call does (xunit runs
/// one class's tests one at a time).
/// </summary>
public class GradCheckAgreesTests
{
    // f(x, y) = x²y + sin y, with ∇f = (2xy, x² + cos y).
    private static double F(double[] p) => p[0] * p[0] * p[1] + Math.Sin(p[1]);

    private static double[] Correct(double[] p) => [2 * p[0] * p[1], p[0] * p[0] + Math.Cos(p[1])];

    // The planted bug: ∂f/∂y has the wrong sign, but only where x > 1.
    private static double[] WrongDyWhereXAboveOne(double[] p) =>
        [2 * p[0] * p[1], (p[0] > 1 ? -1 : 1) * (p[0] * p[0] + Math.Cos(p[1]))];

    private static readonly Box Square = Box.Of(("x", -3, 3), ("y", -3, 3));

    private static Gradient<double, double> Exact => Grad.Of((double x, double y) => x * x * y + Math.Sin(y));

    [Fact]
    public void A_correct_hand_written_gradient_agrees_with_central_differences_at_200_random_points()
    {
        var run = GradCheck.AssertAgrees(F, Correct, Square);
        Assert.Equal(200, run.Checked);
        Assert.Equal(0, run.Skipped);
        Assert.InRange(run.WorstErrorRatio, 0, 1);
    }

    [Fact]
    public void A_correct_span_gradient_agrees_with_ExprGrads_at_200_random_points()
    {
        var run = GradCheck.AssertAgrees(Exact, (p, g) =>
        {
            g[0] = 2 * p[0] * p[1];
            g[1] = p[0] * p[0] + Math.Cos(p[1]);
        }, Box.Cube(2, -3, 3));
        Assert.Equal(200, run.Checked);
    }

    [Fact]
    public void The_readme_example_compiles_and_passes()
    {
        // Copied from README.md, "Checking gradients".
        GradCheck.AssertAgrees(Grad.Of((double x, double y) => x * Math.Sin(y)), p => [Math.Sin(p[1]), p[0] * Math.Cos(p[1])], Box.Of(("x", -3, 3), ("y", -3, 3)));
        GradCheck.AssertAgrees(p => p[0] * Math.Sin(p[1]), p => [Math.Sin(p[1]), p[0] * Math.Cos(p[1])], Box.Cube(2, -3, 3), samples: 500, seed: 42);
    }

    [Fact]
    public void A_planted_bug_in_one_component_fails_naming_it_with_a_shrunk_point_and_the_seed()
    {
        // Unseeded, as a user writes it: whatever seed is drawn, the failure names ∂f/∂y and shrinks y to 0 and x to a
        // simpler number that still exceeds 1 (2 when the first failure had x > 2).
        var e = Assert.Throws<GradCheckException>(() => GradCheck.AssertAgrees(Exact, WrongDyWhereXAboveOne, Square));
        Assert.Equal(1, e.Component);
        Assert.Equal("y", e.Variable);
        Assert.StartsWith("GradCheck: ∂f/∂y is wrong at x = ", e.Message);
        Assert.NotNull(e.Seed);
        Assert.Contains($"Replay: seed: {e.Seed} ", e.Message);

        var (x, y) = (e.Point[0], e.Point[1]);
        Assert.Equal(0, y);
        Assert.True(x > 1, e.Message);
        if (e.FirstPoint[0] > 2)
            Assert.Equal(2, x);
        Assert.True(Decimals(x) < Decimals(e.FirstPoint[0]), e.Message);
        Assert.Equal(-(x * x + 1), e.HandWritten, 12);
        Assert.Equal(x * x + 1, e.Reference, 12);
    }

    [Fact]
    public void A_seed_replays_the_same_points_the_same_shrinking_and_the_same_message()
    {
        var first = Assert.Throws<GradCheckException>(() => GradCheck.AssertAgrees(F, WrongDyWhereXAboveOne, Square));
        var again = Assert.Throws<GradCheckException>(() => GradCheck.AssertAgrees(F, WrongDyWhereXAboveOne, Square, seed: first.Seed));
        Assert.Equal(first.Message, again.Message);
        Assert.Equal(first.FirstPoint, again.FirstPoint);
    }

    [Fact]
    public void The_seed_variable_replays_a_run_without_editing_the_test()
    {
        var seeded = Assert.Throws<GradCheckException>(() => GradCheck.AssertAgrees(F, WrongDyWhereXAboveOne, Square, seed: 7));
        Environment.SetEnvironmentVariable(GradCheck.SeedVariable, "7");
        try
        {
            var replayed = Assert.Throws<GradCheckException>(() => GradCheck.AssertAgrees(F, WrongDyWhereXAboveOne, Square));
            Assert.Equal(seeded.Message, replayed.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GradCheck.SeedVariable, null);
        }
    }

    [Fact]
    public void A_failure_reads_as_one_message_with_the_component_the_point_both_values_and_the_seed()
    {
        // Seed 7's first failing point has x > 2, so x shrinks to 2 and y to 0: ∂f/∂y = x² + cos 0 = 5.
        var e = Assert.Throws<GradCheckException>(() => GradCheck.AssertAgrees(Exact, WrongDyWhereXAboveOne, Square, seed: 7));
        var lines = e.Message.Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Equal("GradCheck: ∂f/∂y is wrong at x = 2, y = 0: hand-written -5, ExprGrad 5 (error 2E+06 × allowed; allowed = 1E-08 + 1E-06 × the larger magnitude).", lines[0]);
        Assert.Matches(@"^Shrunk in \d+ steps from the first failing point x = 2\.\d{5,}, y = -?\d\.\d{5,} \(hand-written -\S+, ExprGrad \S+\); point \d+ of 200 drawn from x ∈ \[-3, 3\], y ∈ \[-3, 3\], 0 skipped as not finite\.$", lines[1]);
        Assert.Equal("Replay: seed: 7 (or EXPRGRAD_GRADCHECK_SEED=7).", lines[2]);
    }

    [Fact]
    public void Against_central_differences_an_unnamed_component_is_named_by_its_index()
    {
        var e = Assert.Throws<GradCheckException>(() => GradCheck.AssertAgrees(F, WrongDyWhereXAboveOne, Box.Cube(2, -3, 3), seed: 7));
        Assert.Equal("x[1]", e.Variable);
        Assert.StartsWith("GradCheck: ∂f/∂x[1] is wrong at x[0] = 2, x[1] = 0: hand-written -5, central differences 4.99999999999", e.Message);
    }

    [Fact]
    public void An_array_parameters_components_are_named_by_element()
    {
        var g = Grad.Of((double[] w) => w[0] * w[1] + w[2] * w[2]);
        var e = Assert.Throws<GradCheckException>(() =>
            GradCheck.AssertAgrees(g, w => [w[1], w[0], w[2]], Box.Cube(3, -2, 2), seed: 1));
        Assert.Equal("w[2]", e.Variable);
        // w[2] moves toward 0 and loses decimals while the slip (w[2] for 2·w[2]) still shows: 0 itself hides it.
        Assert.StartsWith("GradCheck: ∂f/∂w[2] is wrong at w[0] = 0, w[1] = 0, w[2] = -0.1: hand-written -0.1, ExprGrad -0.2 ", e.Message);
    }

    [Fact]
    public void A_component_a_span_gradient_forgets_to_write_fails()
    {
        var e = Assert.Throws<GradCheckException>(() => GradCheck.AssertAgrees(F, (p, g) => g[0] = 2 * p[0] * p[1], Square, seed: 1));
        Assert.Equal("y", e.Variable);
        Assert.True(double.IsNaN(e.HandWritten));
    }

    [Fact]
    public void Points_where_the_function_is_not_finite_are_skipped_and_counted()
    {
        // log x is NaN for x < 0: about half the points of [-2, 2] are skipped, the rest checked against ExprGrad.
        var run = GradCheck.AssertAgrees(Grad.Of((double x) => Math.Log(x)), p => [1 / p[0]], Box.Of(("x", -2, 2)), seed: 3);
        Assert.Equal(200, run.Checked + run.Skipped);
        Assert.InRange(run.Skipped, 60, 140);

        // Against central differences, a point is also skipped where the stencil reaches past the edge of f's domain.
        var edge = GradCheck.AssertAgrees(p => p[0] < 0 ? double.NaN : p[0] * p[0], p => [2 * p[0]], Box.Of(("x", -1, 1)), seed: 3);
        Assert.InRange(edge.Skipped, 60, 140);
    }

    [Fact]
    public void A_box_where_the_function_is_nowhere_finite_fails_clearly()
    {
        var e = Assert.Throws<GradCheckException>(() =>
            GradCheck.AssertAgrees(Grad.Of((double x) => Math.Log(x)), p => [1 / p[0]], Box.Of(("x", -2, -1)), samples: 50, seed: 3));
        Assert.StartsWith("GradCheck: no point could be checked: f or its reference gradient was not finite at all 50 points drawn from x ∈ [-2, -1] (the first: x = -", e.Message);
        Assert.Equal(-1, e.Component);
    }

    [Fact]
    public void A_box_that_disagrees_with_the_gradients_layout_is_refused()
    {
        Assert.Throws<ArgumentException>(() => GradCheck.AssertAgrees(Exact, Correct, Box.Cube(3, -1, 1)));
        var swapped = Assert.Throws<ArgumentException>(() => GradCheck.AssertAgrees(Exact, Correct, Box.Of(("y", -1, 1), ("x", -1, 1))));
        Assert.Contains("the box names coordinate 0 'y' but the gradient's flat layout has 'x' there", swapped.Message);
    }

    [Fact]
    public void At_one_point_a_wrong_component_is_named_with_both_values()
    {
        GradCheck.AssertAgreesAt(F, Correct, [0.5, -1.25]);
        GradCheck.AssertAgreesAt(Exact, Correct, [0.5, -1.25]);
        var e = Assert.Throws<GradCheckException>(() => GradCheck.AssertAgreesAt(Exact, WrongDyWhereXAboveOne, [2.0, 0.0]));
        Assert.Equal("GradCheck: ∂f/∂y is wrong at x = 2, y = 0: hand-written -5, ExprGrad 5 (error 2E+06 × allowed; allowed = 1E-08 + 1E-06 × the larger magnitude).", e.Message);
        Assert.Null(e.Seed);
    }

    [Fact]
    public void A_box_samples_the_same_points_from_the_same_seed_and_shrinks_within_itself()
    {
        var box = Box.Of(("x", 1.5, 4), ("y", -0.75, -0.25));
        Assert.Equal(box.Sample(11), box.Sample(11));
        Assert.True(box.Contains(box.Sample(11)));
        Assert.Equal("x ∈ [1.5, 4], y ∈ [-0.75, -0.25]", box.ToString());

        // The simplest number of [1.5, 4] is 2, of [-0.75, -0.25] is -0.3.
        Assert.Equal([[2, -0.5], [3, -0.5]], box.Shrink([3.25, -0.5]).Take(2));
        Assert.Equal([2, -0.3], box.Shrink([2, -0.5]).Single());
        Assert.All(box.Shrink([3.987654321, -0.7123456]), p => Assert.True(box.Contains(p)));
        Assert.Equal([[0.0], [1.0], [2.0], [2.7]], Box.Of(("x", -3, 3)).Shrink([2.75]));
    }

    private static int Decimals(double v) => Enumerable.Range(0, 16).FirstOrDefault(k => Math.Round(v, k) == v, 16);
}
