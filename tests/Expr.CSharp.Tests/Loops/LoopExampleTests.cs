namespace ExprGrad.Tests.Loops;

/// <summary>Worked examples of loops: sums, folds, nested sums and Max, with exact numbers.</summary>
public class LoopExampleTests
{
    [Fact]
    public void Sum_of_squares()
    {
        var g = Grad.Of((double[] a) => a.Sum(v => v * v));
        var (value, d) = g.Evaluate([1, 2, 3]);
        Assert.Equal(14, value);
        Assert.Equal([2, 4, 6], d);
    }

    [Fact]
    public void Rosenbrock()
    {
        var g = Grad.Of((double[] a) => Enumerable.Range(0, a.Length - 1).Sum(i => 100 * Math.Pow(a[i + 1] - a[i] * a[i], 2) + Math.Pow(1 - a[i], 2)));
        var (value, d) = g.Evaluate([0, 0]);
        Assert.Equal(1, value);
        Assert.Equal([-2, 0], d);
        var grad = new double[3];
        var v = g.Evaluate(new double[] { 0.5, 0.5, 2 }, grad);
        Assert.Equal(100 * 0.0625 + 0.25 + 100 * Math.Pow(2 - 0.25, 2) + 0.25, v, 12);
    }

    [Fact]
    public void Fold()
    {
        var w = new[] { 0.5, -1.0, 2.0 };
        var g = Grad.Of((double x) => Enumerable.Range(0, w.Length).Aggregate(x, (o, k) => Fn.Sigmoid(o * w[k])));
        var (value, dx) = g.Evaluate(1.0);
        double o = 1;
        foreach (var wk in w) o = 1 / (1 + Math.Exp(-o * wk));
        Assert.Equal(o, value);
        var h = 1e-6;
        Assert.Equal((g.Evaluate(1 + h).Value - g.Evaluate(1 - h).Value) / (2 * h), dx, 8);
    }

    [Fact]
    public void Nested_and_max()
    {
        var g = Grad.Of((double[] x) => Enumerable.Range(0, x.Length).Sum(i => Enumerable.Range(i + 1, x.Length - i - 1).Sum(j => (x[i] - x[j]) * (x[i] - x[j]))));
        var (value, d) = g.Evaluate([1, 2, 4]);
        Assert.Equal(1 + 9 + 4, value);
        Assert.Equal([2 * (1 - 2) + 2 * (1 - 4), -2 * (1 - 2) + 2 * (2 - 4), -2 * (1 - 4) - 2 * (2 - 4)], d);
        var m = Grad.Of((double[] x) => x.Max(v => v * v));
        var (top, dm) = m.Evaluate([1, 2, 4]);
        Assert.Equal(16.0, top);
        Assert.Equal([0, 0, 8], dm);
    }
}

/// <summary>The README's loop examples, with their numbers; and the loop forms' refusals.</summary>
public class LoopReadmeTests
{
    [Fact]
    public void The_readme_rosenbrock_runs_at_any_length_and_through_the_span_api()
    {
        var rosenbrock = Grad.Of((double[] a) => Enumerable.Range(0, a.Length - 1)
            .Sum(i => 100 * Math.Pow(a[i + 1] - a[i] * a[i], 2) + Math.Pow(1 - a[i], 2)));
        var (f, df) = rosenbrock.Evaluate([0.0, 0.0]);
        Assert.Equal(1, f);
        Assert.Equal([-2, 0], df);
        Assert.True(rosenbrock.HasVariableLength);
        Assert.Equal(0, rosenbrock.Dimension);

        // At 0 every term is 100·0² + 1² = 1 and d/da[i] = −2 for all but the last element.
        var gradient = new double[1_000_000];
        Assert.Equal(999_999, rosenbrock.Evaluate(new double[1_000_000], gradient));
        Assert.Equal(-2, gradient[0]);
        Assert.Equal(-2, gradient[999_998]);
        Assert.Equal(0, gradient[999_999]);
    }

    [Fact]
    public void The_readme_fold_is_the_depth_m_net()
    {
        var w = new[] { 0.5, -1.0, 2.0 };
        var net = Grad.Of((double x) => Enumerable.Range(0, w.Length).Aggregate(x, (o, k) => Fn.Sigmoid(o * w[k])));
        var (value, dx) = net.Evaluate(1.0);
        // Forward as written; backward by hand: do/dx = Π σ'(o_k·w_k)·w_k with σ' = σ(1 − σ).
        double o = 1, d = 1;
        foreach (var wk in w)
        {
            var s = 1 / (1 + Math.Exp(-o * wk));
            d *= s * (1 - s) * wk;
            o = s;
        }
        Assert.Equal(o, value);
        Assert.Equal(d, dx, 15);
    }

    [Fact]
    public void A_static_method_can_be_the_loops_function()
    {
        var g = Grad.Of((double[] a) => a.Sum(Fn.Square));
        var (value, d) = g.Evaluate([1, -2, 3]);
        Assert.Equal(14, value);
        Assert.Equal([2, -4, 6], d);
    }

    [Fact]
    public void Refusals_of_loop_shaped_code_show_the_supported_forms()
    {
        var where = Assert.Throws<ExprGradException>(() => Grad.Of((double[] a) => a.Where(v => v > 0).Sum()));
        Assert.Contains("cannot loop over a.Where(", where.Message);
        Assert.Contains("Enumerable.Range(start, count).Sum(i => ...)", where.Message);

        var byValue = Assert.Throws<ExprGradException>(() => Grad.Of((double[] a, double x) => Enumerable.Range(0, a.Length).Sum(i => a[(int)x + i])));
        Assert.Contains("must be integer arithmetic", byValue.Message);
        Assert.Contains("depends on a parameter's value", byValue.Message);
    }

    [Fact]
    public void An_index_out_of_range_names_the_array_the_index_and_the_length()
    {
        var g = Grad.Of((double[] a) => Enumerable.Range(0, a.Length).Sum(i => a[i] * a[i + 1]));
        var e = Assert.Throws<IndexOutOfRangeException>(() => g.Evaluate([1.0, 2.0, 3.0]));
        Assert.Equal("a[i + 1]: the index is 3, but a has 3 elements", e.Message);

        var empty = Grad.Of((double[] a) => a.Max(v => v * v));
        Assert.Throws<InvalidOperationException>(() => empty.Evaluate([]));
        var negative = Grad.Of((double[] a) => Enumerable.Range(0, a.Length - 2).Sum(i => a[i]));
        Assert.Throws<ArgumentOutOfRangeException>(() => negative.Evaluate([1.0]));
    }
}

/// <summary>Loops inside conditionals: only the branch taken runs its loop, forward and backward.</summary>
public class LoopBranchTests
{
    [Fact]
    public void A_fold_and_a_max_in_a_branch_keep_their_state_for_the_backward_branch()
    {
        var g = Grad.Of((double[] a, double x) => x > 0
            ? Enumerable.Range(0, a.Length).Aggregate(x, (o, k) => o * a[k])
            : a.Max(v => v * x));
        // x = 2 > 0: 2·a0·a1 = 2·3·4 = 24; d/da = [8, 6], d/dx = 12.
        var (value, da, dx) = g.Evaluate([3, 4], 2);
        Assert.Equal(24, value);
        Assert.Equal([8, 6], da);
        Assert.Equal(12, dx);
        // x = −1: max(−3, −4) = −3 at a0; d/da = [−1, 0], d/dx = 3.
        (value, da, dx) = g.Evaluate([3, 4], -1);
        Assert.Equal(-3, value);
        Assert.Equal([-1, 0], da);
        Assert.Equal(3, dx);
    }

    [Fact]
    public void A_fold_inside_a_branch_of_a_sum_body()
    {
        var g = Grad.Of((double[] a) => Enumerable.Range(0, a.Length).Sum(i => i % 2 == 0 ? a[i] : a[i] * a[i]));
        var (value, d) = g.Evaluate([1, 2, 3, 4]);
        Assert.Equal(1 + 4 + 3 + 16, value);
        Assert.Equal([1, 4, 1, 8], d);
    }
}

/// <summary>Integer division and remainder in indices and tests, as C# computes them on ints.</summary>
public class LoopIntegerTests
{
    [Fact]
    public void Halved_and_odd_indices()
    {
        // Σ x[i / 2] over i = 0..3 reads x0, x0, x1, x1: 2·(1 + 2) = 6, d/dx = [2, 2, 0].
        var g = Grad.Of((double[] x) => Enumerable.Range(0, 4).Sum(i => x[i / 2]));
        var (value, d) = g.Evaluate([1, 2, 3]);
        Assert.Equal(6, value);
        Assert.Equal([2, 2, 0], d);
        // Odd positions squared, even ones as they are; −7 % 2 is −1 in C#, not 1.
        var h = Grad.Of((double[] x) => Enumerable.Range(-3, 3).Sum(i => i % 2 == -1 ? x[i + 3] * x[i + 3] : x[i + 3]));
        (value, d) = h.Evaluate([2, 3, 4]);
        Assert.Equal(4 + 3 + 16, value);
        Assert.Equal([4, 1, 8], d);
    }
}

/// <summary>An element at an index known only at the call, outside any loop.</summary>
public class CallIndexTests
{
    [Fact]
    public void The_last_element_and_a_captured_index()
    {
        var g = Grad.Of((double[] a) => a[a.Length - 1] * a[0]);
        var (value, d) = g.Evaluate([2, 5, 7]);
        Assert.Equal(14, value);
        Assert.Equal([7, 0, 2], d);
        (value, d) = g.Evaluate([3]);
        Assert.Equal(9, value);
        Assert.Equal([6], d);

        var k = 1;
        var h = Grad.Of((double[] a) => a[k] * a[k]);
        (value, d) = h.Evaluate([2, 5, 7]);
        Assert.Equal((25.0, new double[] { 0, 10, 0 }), (value, d), new ValueAndGradientComparer());
        k = 3;
        var e = Assert.Throws<IndexOutOfRangeException>(() => h.Evaluate([2, 5, 7]));
        Assert.Equal("a[k]: the index is 3, but a has 3 elements", e.Message);
    }

    private sealed class ValueAndGradientComparer : IEqualityComparer<(double, double[])>
    {
        public bool Equals((double, double[]) x, (double, double[]) y) => x.Item1.Equals(y.Item1) && x.Item2.SequenceEqual(y.Item2);

        public int GetHashCode((double, double[]) obj) => obj.Item1.GetHashCode();
    }
}

/// <summary>Arrays of any length in the flat layout: only the last parameter, which takes the rest of the point.</summary>
public class VariableLengthLayoutTests
{
    [Fact]
    public void A_scalar_then_an_array_of_any_length()
    {
        var g = Grad.Of((double s, double[] a) => s * a.Sum());
        Assert.True(g.HasVariableLength);
        Assert.Equal(1, g.Dimension);
        var gradient = new double[4];
        // s = 2, a = [1, 2, 3]: 12; d/ds = 6, d/da = [2, 2, 2].
        Assert.Equal(12, g.Evaluate(new double[] { 2, 1, 2, 3 }, gradient));
        Assert.Equal([6, 2, 2, 2], gradient);
        var short_ = Assert.Throws<ArgumentException>(() => g.Evaluate(new double[] { 2, 1, 2, 3 }, new double[3]));
        Assert.Contains("room for 3 values but the function has 4", short_.Message);
    }

    [Fact]
    public void Two_arrays_of_any_length_evaluate_through_the_typed_api_only()
    {
        var g = Grad.Of((double[] a, double[] b) => a.Zip(b, (u, v) => u * v).Sum());
        var (value, da, db) = g.Evaluate([1, 2, 3], [4, 5]);
        Assert.Equal(14, value);
        Assert.Equal([4, 5, 0], da);
        Assert.Equal([1, 2], db);
        var e = Assert.Throws<NotSupportedException>(() => g.Evaluate((ReadOnlySpan<double>)new double[5], (Span<double>)new double[5]));
        Assert.Contains("parameter 'a' is an array whose length is read at the call", e.Message);

        var a = System.Linq.Expressions.Expression.Parameter(typeof(double[]), "a");
        var b = System.Linq.Expressions.Expression.Parameter(typeof(double[]), "b");
        var sum = typeof(Enumerable).GetMethod(nameof(Enumerable.Sum), [typeof(IEnumerable<double>)])!;
        var lambda = System.Linq.Expressions.Expression.Lambda(System.Linq.Expressions.Expression.Add(
            System.Linq.Expressions.Expression.Call(sum, a), System.Linq.Expressions.Expression.Call(sum, b)), a, b);
        var refused = Assert.Throws<ExprGradException>(() => Grad.Of(lambda));
        Assert.Contains("parameter 'a' is an array of any length", refused.Message);
    }
}

/// <summary>An index out of range throws before anything is written to the caller's gradient span.</summary>
public class CheckBeforeWriteTests
{
    public static TheoryData<string> Cases => ["fused", "after another loop", "nested", "outside a loop", "in a branch"];

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_gradient_span_is_untouched_when_an_index_is_out_of_range(string which)
    {
        Gradient g = which switch
        {
            "fused" => Grad.Of((double s, double[] a) => Enumerable.Range(0, a.Length).Sum(i => s * a[i] * a[i + 1])),
            "after another loop" => Grad.Of((double s, double[] a) => s * a.Sum(v => v * v) + Enumerable.Range(0, a.Length).Sum(i => a[i] * a[i + 1])),
            "nested" => Grad.Of((double s, double[] a) => s + Enumerable.Range(0, a.Length).Sum(i => Enumerable.Range(0, i + 2).Sum(j => a[i] * a[j]))),
            "outside a loop" => Grad.Of((double s, double[] a) => s * a.Sum() + a[a.Length]),
            _ => Grad.Of((double s, double[] a) => s > 0 ? s * a.Sum() : Enumerable.Range(0, a.Length).Sum(i => a[i + 1])),
        };
        double[] point = [-1, 1, 2, 3];
        var gradient = new[] { 7.0, 7.0, 7.0, 7.0 };
        Assert.Throws<IndexOutOfRangeException>(() => g.Evaluate(point, gradient));
        Assert.Equal([7.0, 7.0, 7.0, 7.0], gradient);
    }
}

/// <summary>Folds nested in folds and sums: each backward loop finds the state its forward loop kept.</summary>
public class NestedFoldTests
{
    [Fact]
    public void A_fold_whose_body_is_a_fold()
    {
        // o ← Π_j (o · w[j]) twice over: x · (w0 w1)² with x = 2, w = [3, 0.5]: 2 · 2.25 = 4.5.
        var g = Grad.Of((double x, double[] w) => Enumerable.Range(0, 2).Aggregate(x, (o, k) => Enumerable.Range(0, w.Length).Aggregate(o, (p, j) => p * w[j])));
        var (value, dx, dw) = g.Evaluate(2, [3, 0.5]);
        Assert.Equal(4.5, value);
        Assert.Equal(2.25, dx);
        // d/dw0 = x · 2 w0 w1² = 2 · 2 · 3 · 0.25 = 3; d/dw1 = x · 2 w1 w0² = 2 · 2 · 0.5 · 9 = 18.
        Assert.Equal([3, 18], dw);
    }
}

/// <summary>Display of what arrays of any length add outside loops: elements at indices known at the call, integer / and %.</summary>
public class CallIndexDisplayTests
{
    [Fact]
    public void An_element_at_a_call_index_traces_as_an_input_and_has_a_formula_in_k()
    {
        var g = Grad.Of((double[] a) => a[a.Length - 1] * a[0]);
        var trace = g.Trace(2, 5, 7);
        Assert.Equal(g.Evaluate([2, 5, 7]).D1, trace.Gradient);
        Assert.Contains(trace.Nodes, n => n.Name == "a[2]" && n.Adjoint == 2);
        Assert.Equal("(k == 0 ? a[a.Length - 1] : 0) + (k == a.Length - 1 ? a[0] : 0)", g.Formulas.Single().Infix);
    }

    [Fact]
    public void Integer_division_and_remainder_print_with_truncate()
    {
        var g = Grad.Of((double[] x) => Enumerable.Range(0, 4).Sum(i => i % 2 == 0 ? x[i / 2] : 0));
        Assert.Equal("sum(i = 0..3, (0 == i - 2*truncate(i/2) ? (k == truncate(i/2) ? 1 : 0) : 0))", g.Formulas.Single().Infix);
        Assert.Equal(g.Evaluate([1, 2, 3]).D1, g.Trace(1, 2, 3).Gradient);
    }
}

/// <summary>A loop body as deep as any other tree: 100,000 nested operations differentiate, compile and run.</summary>
public class DeepBodyTests
{
    [Fact]
    public void A_sum_whose_body_is_100000_deep()
    {
        const int depth = 100_000;
        var a = System.Linq.Expressions.Expression.Parameter(typeof(double[]), "a");
        var i = System.Linq.Expressions.Expression.Parameter(typeof(int), "i");
        System.Linq.Expressions.Expression body = System.Linq.Expressions.Expression.ArrayIndex(a, i);
        var scale = System.Linq.Expressions.Expression.Constant(0.5);
        for (var d = 0; d < depth; d++)
            body = System.Linq.Expressions.Expression.Add(System.Linq.Expressions.Expression.Multiply(scale, body), scale);
        var sum = System.Linq.Expressions.Expression.Call(typeof(Enumerable), nameof(Enumerable.Sum), [typeof(int)],
            System.Linq.Expressions.Expression.Call(typeof(Enumerable), nameof(Enumerable.Range), null,
                System.Linq.Expressions.Expression.Constant(0), System.Linq.Expressions.Expression.ArrayLength(a)),
            System.Linq.Expressions.Expression.Lambda<Func<int, double>>(body, i));
        var g = Grad.Of(System.Linq.Expressions.Expression.Lambda<Func<double[], double>>(sum, a));
        // Each term is x·2^-depth + (1 − 2^-depth), which is 1 in doubles; d/dx = 2^-depth, which underflows to 0.
        var gradient = new double[2];
        Assert.Equal(2, g.Evaluate(new double[] { 3, 4 }, gradient));
        Assert.Equal([0.0, 0.0], gradient);
    }
}
