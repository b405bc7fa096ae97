using System.Globalization;
using ExprGrad.Tests.Loops;
using ExprGrad.Tests.Properties;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ExprGrad.Tests.SecondOrder;

/// <summary>
/// The Hessians of random loop programs (<see cref="LoopProgramGenerator"/>: sums over ranges and arrays, Select and
/// Zip, sums inside sums, Max and Min, with random bodies over x0, x1, a[i], a[i + 1], captured data and the loop variable, lengths 0
/// to 50, some in a branch) against central differences of the compiled gradient, row by row. The array a has any length, so each
/// Hessian is built column by column from Hessian-vector products whose first sweep dots a's gradient with the direction
/// (<c>Directions</c>) and whose second sweep crosses each sum's pullback as a sum (<c>LoopSecondOrder</c>); and the
/// Jacobian of (f, f², f·x0 + 1), whose rows are vector-Jacobian products, against differences of those results. A fold's
/// pullback is crossed as the fold's tangent, a fold of two accumulators (<c>LoopSecondOrder.Fold</c>). Replay a failure with EXPRGRAD_FSCHECK_REPLAY=seed,gamma.
/// </summary>
public sealed class LoopSecondOrderProperties(ITestOutputHelper output)
{
    private const int Cases = 100;
    private const int FoldCases = 60;
    // Seeded points tried per program before it is discarded. A fold over an array of up to 24 elements has a kink or
    // pole near one of them more often than a scalar program: at 10 attempts 2 of 60 programs were discarded on
    // average, but 9 in one run of 16, past the bound below.
    private const int PointAttempts = 40;

    [Fact]
    public void Hessians_through_loops_agree_with_differences_of_the_gradient() => Check(Cases, "loop Hessians agree with differences");

    [Fact]
    public void Hessians_through_folds_agree_with_differences_of_the_gradient() =>
        Check(FoldCases, "fold Hessians agree with differences", LoopShape.Fold, LoopShape.FoldInSum);

    private void Check(int count, string name, params LoopShape[] shapes)
    {
        var (rows, folds, discarded) = (0, 0, 0);
        string? lastReason = null;
        var cases = PropertyRunner.Scaled(count);
        PropertyRunner.Check(Prop.ForAll(LoopProgramGenerator.Programs(shapes), p =>
        {
            double[]? point = null;
            string? reason = null;
            for (var attempt = 0; attempt < PointAttempts && point is null; attempt++)
            {
                var candidate = LoopProperties.Point(p, attempt);
                reason = PointScreen.Reject(p.Unrolled, candidate);
                if (reason is null)
                    point = candidate;
            }
            if (point is null)
            {
                discarded++;
                lastReason = reason;
                return Prop.When(false, () => { });
            }
            return Prop.When(true, () =>
            {
                rows += Agrees(p, point);
                if (p.Shape is LoopShape.Fold or LoopShape.FoldInSum)
                    folds++;
            });
        }), cases, name);
        output.WriteLine($"{rows} Hessian rows checked against differences ({folds} programs folds), {discarded} discarded (last: {lastReason})");
        if (PropertyRunner.IsReplaying)
            return;
        Assert.True(discarded <= cases / 10, $"{discarded} of {cases} discarded (last: {lastReason})");
    }

    // The rows checked.
    private static int Agrees(LoopProgram p, double[] point)
    {
        var g = Grad.Of(p.Loop);
        var h = g.Hessian(point);
        var rows = HessianRows.Check(g, point, h, what => Failure(p, point, what)).Rows;
        // The Jacobian of (f, f², f·x0 + 1): its rows are vector-Jacobian products over a of any length.
        SecondOrderProperties.JacobianAgrees(p.Loop, point, what => Failure(p, point, what));
        return rows;
    }

    private static XunitException Failure(LoopProgram p, double[] point, string what) =>
        new($"{what}\n  program: {p}\n  point: [{string.Join(", ", point.Select(x => x.ToString("R", CultureInfo.InvariantCulture)))}]");
}
