using System.Globalization;
using ExprGrad.Rules;
using ExprGrad.Staging;
using Xunit;

namespace ExprGrad.Tests.Properties;

/// <summary>
/// The generator covers the whole catalogue, and each of its entries, on its own, differentiates correctly: a
/// failure here names one operation, where a failure of the random property names a whole expression.
/// </summary>
public sealed class CoverageTests
{
    // Fixed points (x, y) chosen clear of every entry's kinks and poles (no integers or half-integers, x ≠ y,
    // |x|, |y| ≥ 0.3), with floor(x) == floor(y) at one of them so equality tests are sometimes true.
    private static readonly double[][] Points = [[0.7, -0.4], [-1.3, 0.9], [1.6, 1.2], [-0.45, -2.1]];

    // For partial functions behind a domain test: points inside and outside each domain (NaN in the untaken branch).
    private static readonly double[] PartialPoints = [-1.5, -0.3, 0.6, 1.7];

    private static readonly Signature TwoScalars = new([null, null]);
    private static readonly Signature OneScalar = new([null]);
    private static readonly Term X = new ScalarLeaf(0);
    private static readonly Term Y = new ScalarLeaf(1);

    public static TheoryData<string> Operations => [.. RuleTable.ScalarOperations.Select(op => op.ToString()).Order()];

    public static TheoryData<string, bool> PartialOperations
    {
        get
        {
            var data = new TheoryData<string, bool>();
            foreach (var op in OperationCatalogue.PartialOperations)
            {
                data.Add(op.ToString(), false);
                data.Add(op.ToString(), true);
            }
            return data;
        }
    }

    [Fact]
    public void Every_operation_with_a_rule_has_a_generator_entry()
    {
        var missing = RuleTable.ScalarOperations.Where(op => !OperationCatalogue.Entries.ContainsKey(op)).Order().ToList();
        Assert.True(missing.Count == 0,
            $"operations with a rule but no entry in {nameof(OperationCatalogue)} (the random tests never generate them): {string.Join(", ", missing)}");
    }

    [Fact]
    public void Every_generator_entry_is_an_operation_with_a_rule()
    {
        // A stale entry (an operation removed from the rule table) would be generated but never be meant to work.
        var stale = OperationCatalogue.Entries.Keys.Except(RuleTable.ScalarOperations).Order().ToList();
        Assert.True(stale.Count == 0, $"generator entries for operations without a rule: {string.Join(", ", stale)}");
    }

    [Fact]
    public void Generator_reaches_conditionals_partial_functions_captures_arrays_and_sharing()
    {
        // The structural features (Condition/Project, Captured, array inputs, forks) have no rule, so the check
        // above cannot see them; sample the generator instead. Each is common, so 500 samples always show it.
        var samples = FsCheck.Fluent.Gen.Sample(ExpressionGenerator.CaseGen(), 500);
        bool Any(Func<Term, bool> p) => samples.Any(c => TermWalk.Nodes(c.Body).Any(p));
        Assert.True(Any(t => t is ConditionTerm), "no conditional generated");
        Assert.True(Any(t => t is PartialTerm), "no NaN-guarded partial function generated");
        Assert.True(Any(t => t is CapturedLeaf), "no captured variable generated");
        Assert.True(Any(t => t is CapturedElementLeaf), "no captured array element generated");
        Assert.True(Any(t => t is ClampedCapturedLeaf), "no clamped captured value (data that calls a method) generated");
        Assert.True(Any(t => t is CapturedFlagLeaf), "no captured truth value generated");
        Assert.True(Any(t => t is ElementLeaf), "no array element read generated");
        Assert.True(samples.Any(c => TermWalk.HasSharing(c.Body)), "no shared sub-expression generated");
        Assert.True(samples.Any(c => c.Signature.Count == 5), "no case with 4 scalars and an array");
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public void Entry_passes_GradCheck_on_its_own(string operation)
    {
        var op = Enum.Parse<Op>(operation);
        Assert.True(OperationCatalogue.Entries.TryGetValue(op, out var entry), $"no generator entry for {op}");

        var (signature, body) = EntryCase(entry!);
        foreach (var xy in Points)
            AssertGradientChecks(signature, body, signature.Count == 1 ? [xy[0]] : xy, $"{op} ({entry!.Domain})");
    }

    [Theory]
    [MemberData(nameof(PartialOperations))]
    public void Partial_form_has_no_NaN_from_the_untaken_branch(string operation, bool negatedTest)
    {
        // x > 0.25 ? Math.Log(x) : sin(x), and the like: at half the points the untaken branch is NaN.
        var op = Enum.Parse<Op>(operation);
        var body = new PartialTerm(op, negatedTest, X, new ApplyTerm(Op.Sin, [X]));
        foreach (var x in PartialPoints)
            AssertGradientChecks(OneScalar, body, [x], $"partial {op}");
    }

    // Unary entries over (x), binary over (x, y); boolean entries become the test of x·y vs sin(x) + y, and
    // connectives get the tests x > y and y < 0.5.
    private static (Signature, Term) EntryCase(OperationEntry entry)
    {
        Term[] args = entry.Arguments switch
        {
            [Sort.Number] => [X],
            [Sort.Number, Sort.Number] => [X, Y],
            [Sort.Boolean] => [new ApplyTerm(Op.GreaterThan, [X, Y])],
            [Sort.Boolean, Sort.Boolean] => [new ApplyTerm(Op.GreaterThan, [X, Y]), new ApplyTerm(Op.LessThan, [Y, new ConstantLeaf(0.5)])],
            _ => throw new InvalidOperationException($"no test arguments for {entry.Op}"),
        };
        Term node = new ApplyTerm(entry.Op, args);
        if (entry.Result == Sort.Boolean)
            node = new ConditionTerm(node, new ApplyTerm(Op.Multiply, [X, Y]), new ApplyTerm(Op.Add, [new ApplyTerm(Op.Sin, [X]), Y]));
        var usesY = entry.Result == Sort.Boolean || entry.Arguments.Length == 2 || entry.Arguments[0] == Sort.Boolean;
        return (usesY ? TwoScalars : OneScalar, node);
    }

    private static void AssertGradientChecks(Signature signature, Term body, double[] point, string what)
    {
        var lowered = Lowerer.Lower(signature, body);
        var at = $"{what}: {lowered.Lambda} at {lowered.FormatPoint(point)}";

        // The fixture must be a fair test: clear of kinks, finite (otherwise fix the points, not the engine).
        var unfit = PointScreen.Reject(lowered, point);
        Assert.True(unfit is null, $"test point unfit for {at}: {unfit}");

        Gradient gradient;
        try
        {
            gradient = Grad.Of(lowered.Lambda);
        }
        catch (ExprGradException e)
        {
            Assert.Fail($"Grad.Of rejected {at}: {e.Message}");
            return;
        }
        Assert.Equal(lowered.Dimension, gradient.Dimension);

        var analytic = new double[point.Length];
        var value = gradient.Evaluate(point, analytic);
        var expected = lowered.Value(point);
        Assert.True(value.Equals(expected) || Math.Abs(value - expected) <= 1e-15 * Math.Abs(expected),
            string.Create(CultureInfo.InvariantCulture, $"value {value:R}, Linq's Compile() gives {expected:R}: {at}"));
        Assert.True(!analytic.Any(double.IsNaN), $"NaN in the gradient [{string.Join(", ", analytic)}]: {at}\n{gradient.ToListing()}");

        var report = GradCheck.Check(gradient, point);
        Assert.True(report.Passed, $"{report}: {at}\n{gradient.ToListing()}");
    }
}
