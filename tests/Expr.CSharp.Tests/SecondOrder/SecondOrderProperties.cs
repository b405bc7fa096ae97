using System.Globalization;
using System.Linq.Expressions;
using ExprGrad.Staging;
using ExprGrad.Tests.Properties;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ExprGrad.Tests.SecondOrder;

/// <summary>
/// Random expressions from the gradient properties' generator (the whole scalar catalogue, conditionals included):
/// each row of the Hessian against central differences of the compiled gradient, the Hessian-vector product against
/// differences of the gradient along the vector, and symmetry bit for bit (DiGamma included: its second derivative is
/// tetragamma); and the Jacobian of three results made from each expression (f, f², f·x₀ + 1) row by row
/// against central differences of those results, whichever way (rows or columns) it was staged. Replay a failure with
/// EXPRGRAD_FSCHECK_REPLAY=seed,gamma (printed on failure).
/// </summary>
public sealed class SecondOrderProperties(ITestOutputHelper output)
{
    private const int Cases = 300;
    private const int PointAttempts = 10;
    private const double ErrorEstimateSafety = HessianRows.ErrorEstimateSafety;
    private const double MaxRelativeTolerance = HessianRows.MaxRelativeTolerance;

    [Fact]
    public void Hessians_agree_with_differences_of_the_gradient_on_random_expressions()
    {
        var (checkedRows, loosened, discarded) = (0, 0, 0);
        string? lastReason = null;
        var cases = PropertyRunner.Scaled(Cases);
        PropertyRunner.Check(Prop.ForAll(ExpressionGenerator.Cases(), c =>
        {
            var point = PointScreen.FindPoint(c, PointAttempts, out var reason);
            if (point is null)
            {
                discarded++;
                lastReason = reason;
                return Prop.When(false, () => { });
            }
            return Prop.When(true, () =>
            {
                var (rows, loose) = Agrees(c, point);
                checkedRows += rows;
                loosened += loose;
            });
        }), cases, "Hessian agrees with differences of the gradient");
        output.WriteLine($"{checkedRows} Hessian rows checked against differences ({loosened} at a looser tolerance), {discarded} cases discarded (last: {lastReason})");
        if (PropertyRunner.IsReplaying)
            return;
        Assert.True(discarded <= cases / 10, $"{discarded} of {cases} discarded (last: {lastReason})");
    }

    [Fact]
    public void Jacobians_agree_with_differences_on_random_expressions()
    {
        var (checkedRows, discarded) = (0, 0);
        var cases = PropertyRunner.Scaled(Cases);
        PropertyRunner.Check(Prop.ForAll(ExpressionGenerator.Cases(), c =>
        {
            var point = PointScreen.FindPoint(c, PointAttempts, out _);
            if (point is null)
            {
                discarded++;
                return Prop.When(false, () => { });
            }
            return Prop.When(true, () => { checkedRows += JacobianAgrees(c.Lowered.Lambda, point, what => Failure(c, point, what)); });
        }), cases, "Jacobian agrees with differences");
        output.WriteLine($"{checkedRows} Jacobian rows checked against differences, {discarded} cases discarded");
    }

    /// <summary>
    /// The Jacobian of (f, f², f·x₀ + 1), row by row, against central differences of those results at
    /// <paramref name="point"/>; returns the rows checked (those the differences can judge).
    /// </summary>
    internal static int JacobianAgrees(LambdaExpression f, double[] point, Func<string, Exception> failure)
    {
        var x0 = f.Parameters[0].Type == typeof(double) ? (Expression)f.Parameters[0]
            : Expression.ArrayIndex(f.Parameters[0], Expression.Constant(0));
        var body = f.Body;
        var results = Expression.NewArrayInit(typeof(double), body,
            Expression.Multiply(body, body),
            Expression.Add(Expression.Multiply(body, x0), Expression.Constant(1.0)));
        var lambda = Expression.Lambda(results, f.Parameters);
        var jacobian = Grad.Jacobian(lambda);
        var m = jacobian.Evaluate(point);
        if (m.GetLength(1) != point.Length)
            return 0; // x₀ is an array element the expression never read: another layout, nothing to compare
        var rows = 0;
        for (var k = 0; k < 3; k++)
        {
            var result = k;
            var values = new double[3];
            double Value(double[] x)
            {
                jacobian.Values(x, values);
                return values[result];
            }
            var absolute = HessianRows.AbsoluteTolerance(Value, point);
            var referenceError = NumericReference.EstimatedRelativeError(Value, point, absolute);
            var tolerance = Math.Max(GradCheck.DefaultRelativeTolerance, ErrorEstimateSafety * referenceError);
            if (!(tolerance <= MaxRelativeTolerance))
                continue;
            var row = Enumerable.Range(0, point.Length).Select(j => m[result, j]).ToArray();
            var report = GradCheck.Check(Value, point, row, tolerance, absolute);
            if (!report.Passed)
                throw failure(string.Create(CultureInfo.InvariantCulture,
                    $"Jacobian row {k} of (f, f², f·x₀ + 1): {report} at column {report.WorstIndex} (relative tolerance {tolerance:G2})"));
            rows++;
        }
        return rows;
    }

    private static (int Rows, int Loosened) Agrees(GeneratedCase c, double[] point)
    {
        var g = Grad.Of(c.Lowered.Lambda);
        var d = point.Length;
        var h = g.Hessian(point);

        for (var i = 0; i < d; i++)
            for (var j = 0; j < d; j++)
                if (!BitConverter.DoubleToInt64Bits(h[i, j]).Equals(BitConverter.DoubleToInt64Bits(h[j, i])))
                    throw Failure(c, point, $"H[{i}, {j}] = {h[i, j]:R} but H[{j}, {i}] = {h[j, i]:R}");

        // Each row against central differences of that component of the compiled gradient.
        var (rows, loosened) = HessianRows.Check(g, point, h, what => Failure(c, point, what));
        var scratch = new double[d];

        // The product, along a direction from the case's seed, against the derivative of each gradient component along
        // it: d/dt ∂_i f(x + t·v) at t = 0, by the same differences.
        var random = new Random(c.PointSeed);
        var v = Enumerable.Range(0, d).Select(_ => Math.Round(random.NextDouble() * 2 - 1, 3)).ToArray();
        var hv = new double[d];
        g.HessianVectorProduct(point, v, hv);
        var moved = new double[d];
        for (var i = 0; i < d; i++)
        {
            var component = i;
            double Along(double[] t)
            {
                for (var j = 0; j < d; j++)
                    moved[j] = point[j] + t[0] * v[j];
                g.Evaluate(moved, scratch);
                return scratch[component];
            }
            var absolute = HessianRows.AbsoluteTolerance(Along, [0.0]);
            var referenceError = NumericReference.EstimatedRelativeError(Along, [0.0], absolute);
            var tolerance = Math.Max(GradCheck.DefaultRelativeTolerance, ErrorEstimateSafety * referenceError);
            if (!(tolerance <= MaxRelativeTolerance))
                continue;
            var report = GradCheck.Check(Along, [0.0], [hv[i]], tolerance, absolute);
            if (!report.Passed)
                throw Failure(c, point, string.Create(CultureInfo.InvariantCulture,
                    $"(Hv)[{i}]: {report}, v = [{string.Join(", ", v)}] (relative tolerance {tolerance:G2})"));
        }
        return (rows, loosened);
    }

    private static XunitException Failure(GeneratedCase c, double[] point, string what) =>
        new($"{what}\n  case:  {c}\n  point: [{string.Join(", ", point.Select(p => p.ToString("R", CultureInfo.InvariantCulture)))}]");
}
