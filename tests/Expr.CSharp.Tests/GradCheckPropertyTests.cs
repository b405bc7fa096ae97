using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ExprGrad.Tests;

/// <summary>
/// <see cref="GradCheck"/> inside FsCheck properties, as a user writes them: FsCheck draws and shrinks the points
/// (through <see cref="Box.Sample"/> and <see cref="Box.Shrink"/>) and <c>AssertAgreesAt</c> is the property; or a
/// property draws a function's parameters and <c>AssertAgrees</c> checks each instance over its own box.
/// </summary>
public class GradCheckPropertyTests
{
    private static readonly Box Square = Box.Of(("x", -3, 3), ("y", -3, 3));

    /// <summary>Points of <see cref="Square"/> for FsCheck: drawn uniformly, shrunk toward simple numbers inside it.</summary>
    public static class SquarePoints
    {
        /// <summary>The generator and shrinker FsCheck uses for every <c>double[]</c> argument of the property.</summary>
        public static Arbitrary<double[]> Points() => Arb.From(Gen.Choose(0, int.MaxValue).Select(Square.Sample), Square.Shrink);
    }

    [Property(Arbitrary = [typeof(SquarePoints)], MaxTest = 200)]
    public void A_hand_written_gradient_agrees_with_ExprGrads_at_every_point_FsCheck_draws(double[] p) =>
        GradCheck.AssertAgreesAt(Grad.Of((double x, double y) => x * x * y + Math.Sin(y)),
            q => [2 * q[0] * q[1], q[0] * q[0] + Math.Cos(q[1])], p);

    [Property(MaxTest = 20)]
    public void A_family_of_functions_each_agrees_over_its_own_box(PositiveInt k, int seed)
    {
        // f(x) = exp(-x²/k): FsCheck draws k (and a seed, so that its own replay replays GradCheck's points too).
        var a = k.Get;
        GradCheck.AssertAgrees(p => Math.Exp(-p[0] * p[0] / a), p => [-2 * p[0] / a * Math.Exp(-p[0] * p[0] / a)],
            Box.Of(("x", -2, 2)), samples: 50, seed: seed);
    }

    [Fact]
    public void FsCheck_shrinks_a_failing_point_within_the_box_and_the_message_names_the_component()
    {
        var exact = Grad.Of((double x, double y) => x * x * y + Math.Sin(y));
        var property = Prop.ForAll(SquarePoints.Points(), p => GradCheck.AssertAgreesAt(exact,
            q => [2 * q[0] * q[1], (q[0] > 1 ? -1 : 1) * (q[0] * q[0] + Math.Cos(q[1]))], p));

        var e = Assert.ThrowsAny<Exception>(() => property.Check(Config.QuickThrowOnFailure.WithMaxTest(200).WithReplay(
            FSharpOptionOf(new Replay(new Rnd(1UL, 3UL), Microsoft.FSharp.Core.FSharpOption<int>.None)))));
        Assert.Contains("Falsifiable", e.Message);
        Assert.Contains("∂f/∂y is wrong at x = 2, y = 0: hand-written -5, ExprGrad 5", e.Message);
    }

    private static Microsoft.FSharp.Core.FSharpOption<T> FSharpOptionOf<T>(T value) => Microsoft.FSharp.Core.FSharpOption<T>.Some(value);

    /// <summary>Copied from README.md, "Checking gradients", so that its FsCheck example is known to compile and pass.</summary>
    public class GradientProperties
    {
        static readonly Box Square = Box.Cube(2, -3, 3);
        static readonly Gradient Exact = Grad.Of((double x, double y) => x * y);

        public static Arbitrary<double[]> Points() => Arb.From(Gen.Choose(0, int.MaxValue).Select(Square.Sample), Square.Shrink);

        [Property(Arbitrary = [typeof(GradientProperties)])]
        public void Hand_written_gradient_is_right(double[] p) => GradCheck.AssertAgreesAt(Exact, q => [q[1], q[0]], p);
    }
}
