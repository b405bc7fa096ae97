using System.Linq.Expressions;

namespace ExprGrad.Tests.Import;

/// <summary>
/// Data stays data: a sub-expression that reads no parameter is evaluated as written at every call, whatever it
/// calls, and never differentiated. Pure reads are one value however often written; each call is evaluated once per
/// occurrence, as C# evaluates it.
/// </summary>
public class DataTests
{
    private sealed class Source(double value)
    {
        public double Value = value;
        public int Calls;
        public bool Fail;

        public double Get()
        {
            Calls++;
            return Fail ? throw new InvalidOperationException("source failed") : Value;
        }

        public bool IsOn() => Value > 0;
    }

    [Fact]
    public void A_clamped_capture_is_read_at_every_call()
    {
        var k = 0.25;
        var g = Grad.Of((double x) => Math.Clamp(k, 0, 1) * x);
        // Math.Clamp(0.25, 0, 1) * 3 = 0.75, d/dx = 0.25.
        Assert.Equal((0.75, 0.25), (g.Evaluate(3).Value, g.Evaluate(3).D1));
        k = 7; // clamped to 1
        Assert.Equal((3.0, 1.0), (g.Evaluate(3).Value, g.Evaluate(3).D1));
        k = -2; // clamped to 0
        Assert.Equal((0.0, 0.0), (g.Evaluate(3).Value, g.Evaluate(3).D1));
    }

    [Fact]
    public void A_method_of_a_captured_object_runs_once_per_occurrence_per_evaluation()
    {
        var h = new Source(2);
        var g = Grad.Of((double x) => h.Get() * x);
        var (value, d) = g.Evaluate(3);
        Assert.Equal((6.0, 2.0), (value, d));
        Assert.Equal(1, h.Calls);

        h.Value = -0.5;
        Assert.Equal((-1.5, -0.5), (g.Evaluate(3).Value, g.Evaluate(3).D1));
        Assert.Equal(3, h.Calls);

        // Two occurrences, two calls (as C# makes them), and two values: the second call sees Value = 10.
        var twice = Grad.Of((double x) => h.Get() * x + h.Get() * x * x);
        h.Calls = 0;
        h.Value = 10;
        Assert.Equal((10 * 3 + 10 * 9.0, 10 + 10 * 2 * 3.0), (twice.Evaluate(3).Value, twice.Evaluate(3).D1));
        Assert.Equal(4, h.Calls);
    }

    [Fact]
    public void An_array_length_is_data_and_follows_a_replaced_array()
    {
        var w = new double[3];
        var g = Grad.Of((double x) => w.Length * x + w.Length);
        // 3 * 2 + 3 = 9, d/dx = 3; one read, however often it is written.
        Assert.Equal((9.0, 3.0), (g.Evaluate(2).Value, g.Evaluate(2).D1));
        Assert.Single(g.ToListing().Split('\n'), line => line.Contains("captured"));
        w = new double[5];
        Assert.Equal((15.0, 5.0), (g.Evaluate(2).Value, g.Evaluate(2).D1));
        Array.Resize(ref w, 1);
        Assert.Equal((3.0, 1.0), (g.Evaluate(2).Value, g.Evaluate(2).D1));
    }

    [Fact]
    public void Linq_and_integer_arithmetic_on_captured_data_are_data()
    {
        var w = new[] { 1.0, 2.0, 4.0 };
        var n = 3;
        var g = Grad.Of((double x) => w.Sum() * x + (n * 2 % 4) * x * x);
        // 7 * 2 + (6 % 4) * 4 = 22, d/dx = 7 + 2 * 2 * 2 = 15.
        Assert.Equal((22.0, 15.0), (g.Evaluate(2).Value, g.Evaluate(2).D1));
        w[2] = 0;
        n = 1;
        Assert.Equal((3.0 * 2 + 2 * 4, 3.0 + 2 * 2 * 2), (g.Evaluate(2).Value, g.Evaluate(2).D1));
    }

    [Fact]
    public void Data_in_an_untaken_branch_is_not_evaluated()
    {
        var h = new Source(4) { Fail = true };
        var w = new[] { 1.0 };
        var g = Grad.Of((double x) => x > 0 ? x * x : h.Get() * x + w[5]);
        Assert.Equal((4.0, 4.0), (g.Evaluate(2).Value, g.Evaluate(2).D1));
        Assert.Equal(0, h.Calls);

        // Taken, it throws, and the exception reaches the caller as the method threw it.
        var e = Assert.Throws<InvalidOperationException>(() => g.Evaluate(-1));
        Assert.Equal("source failed", e.Message);
        Assert.Equal(1, h.Calls);
        h.Fail = false;
        Assert.Throws<IndexOutOfRangeException>(() => g.Evaluate(-1));
    }

    [Fact]
    public void A_truth_value_from_a_method_is_a_test()
    {
        var h = new Source(1);
        var g = Grad.Of((double x) => h.IsOn() ? 3 * x : -x);
        Assert.Equal(3.0, g.Evaluate(1).D1);
        h.Value = -1;
        Assert.Equal(-1.0, g.Evaluate(1).D1);
    }

    [Fact]
    public void Data_prints_as_the_csharp_it_is()
    {
        var k = 0.5;
        var h = new Source(2);
        var g = Grad.Of((double x) => Math.Clamp(k, 0, 1) * x + h.Get() * Math.Sin(x));
        Assert.Contains("Math.Clamp(k, 0, 1)", g.ToCode());
        Assert.Contains("h.Get()", g.ToCode());
        Assert.Contains("Math.Clamp(k, 0, 1)", g.ToListing());
        Assert.Contains("h.Get()", string.Join("\n", g.Formulas));
        Assert.NotNull(g.ToLatex());
        var trace = g.Trace(1.0);
        Assert.Contains(trace.Nodes, n => n.Label.Contains("Math.Clamp(k, 0, 1)"));
    }

    [Fact]
    public void The_length_of_an_array_parameter_is_data_read_at_the_call()
    {
        var g = Grad.Of((double[] a) => a.Length * a[0]);
        // 2 · 3 = 6, d/da[0] = 2; then 4 · 3 = 12, d/da[0] = 4, and the gradient is as long as the argument.
        var (value, d) = g.Evaluate([3, 5]);
        Assert.Equal(6.0, value);
        Assert.Equal([2.0, 0], d);
        (value, d) = g.Evaluate([3, 5, 7, 9]);
        Assert.Equal(12.0, value);
        Assert.Equal([4.0, 0, 0, 0], d);
    }

    [Fact]
    public void A_call_that_reads_a_parameter_still_needs_a_rule()
    {
        var e = Assert.Throws<ExprGradException>(() => Grad.Of((double x) => Math.Clamp(x, 0, 1)));
        Assert.Contains("'Math.Clamp'", e.Message);
        Assert.Contains("no rule", e.Message);
    }

    [Fact]
    public void A_call_on_data_built_from_factories_is_one_node_per_object()
    {
        // The same expression object reached twice (as an F# let inlined twice) is one occurrence: one call.
        var h = new Source(5);
        var x = Expression.Parameter(typeof(double), "x");
        var get = Expression.Call(Expression.Constant(h), typeof(Source).GetMethod(nameof(Source.Get))!);
        var f = Expression.Lambda<Func<double, double>>(Expression.Add(Expression.Multiply(get, x), get), x);
        Assert.Equal((15.0 + 5, 5.0), (Grad.Of(f).Evaluate(3).Value, Grad.Of(f).Evaluate(3).D1));
        h.Calls = 0;
        Grad.Of(f).Evaluate(3);
        Assert.Equal(1, h.Calls);
    }
}
