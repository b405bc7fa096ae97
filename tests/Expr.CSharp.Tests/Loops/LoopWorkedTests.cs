using System.Linq.Expressions;
using ExprGrad.Tests.Emit;

namespace ExprGrad.Tests.Loops;

/// <summary>
/// The worked checks of loops over data (issue 14): the seeds' depth-m net as a fold and Rosenbrock as a sum against
/// today's written-out trees, empty and one-element ranges, captured data that changes length, indices out of range,
/// threads, Max/Min ties and NaN, and negative counts.
/// </summary>
public class LoopWorkedTests
{
    private const double X = 0.7, Y = 0.3;

    // The depth-m net's ŷ as a fold over the weights: o = x; o = σ(o·w[k]) for k < m − 1; ŷ = o·w[m − 1]; L = ½(y − ŷ)².
    // The residual r is one node used twice, (0.5·r)·r, as ScaleTests.DepthNet builds the written-out tree.
    // The last weight is read as w[w.Length − 1] after the fold, or by the fold's last step.
    private static Expression<Func<double[], double>> DepthNetFold(bool lastStepInFold)
    {
        Expression<Func<double[], double>> yhat = lastStepInFold
            ? w => Enumerable.Range(0, w.Length).Aggregate(X, (o, k) => k < w.Length - 1 ? Fn.Sigmoid(o * w[k]) : o * w[k])
            : w => Enumerable.Range(0, w.Length - 1).Aggregate(X, (o, j) => Fn.Sigmoid(o * w[j])) * w[w.Length - 1];
        var r = Expression.Subtract(Expression.Constant(Y), yhat.Body);
        return Expression.Lambda<Func<double[], double>>(Expression.Multiply(Expression.Multiply(Expression.Constant(0.5), r), r), yhat.Parameters);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(10, false)]
    [InlineData(200, false)]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(10, true)]
    [InlineData(200, true)]
    public void Depth_m_net_as_a_fold_agrees_with_the_written_out_net_bit_for_bit(int m, bool lastStepInFold)
    {
        // The fold runs the same operations in the same order as the written-out chain, forward and backward, so
        // value and gradient are the same bits (the issue allows 1e-14; none is needed).
        var fold = Grad.Of(DepthNetFold(lastStepInFold));
        var written = Grad.Of(ScaleTests.DepthNet(m, X, Y));
        var w = Enumerable.Range(0, m).Select(k => Math.Sin(3 * k + 1) * 1.3).ToArray();

        var (value, d) = fold.Evaluate(w);
        var expected = new double[m];
        var expectedValue = written.Evaluate(w, expected);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expectedValue), BitConverter.DoubleToInt64Bits(value));
        Assert.Equal(expected, d);

        // And through the span API (w is the last, dynamic parameter: the whole span).
        var g = new double[m];
        Assert.Equal(expectedValue, fold.Evaluate(w.AsSpan(), g));
        Assert.Equal(expected, g);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(50)]
    [InlineData(1000)]
    public void Rosenbrock_as_a_range_sum_agrees_with_the_factory_built_tree(int n)
    {
        // The written-out tree is a left-leaning sum from 0.0, the loop adds its terms in the same order: the value
        // is the same bits. a[k] gets two contributions (from a[i] in term k and a[i + 1] in term k − 1), which the
        // loop adds in iteration order and the reverse sweep of the tree in its own order: 1e-12 relative to the sum of
        // their magnitudes (the bound of a reordered two-term sum is one ulp of it).
        var loop = Grad.Of((double[] a) => Enumerable.Range(0, a.Length - 1).Sum(i => 100 * Fn.Square(a[i + 1] - Fn.Square(a[i])) + Fn.Square(1 - a[i])));
        var tree = Grad.Of(LoopTests.Rosenbrock(n));
        var a = Enumerable.Range(0, n).Select(k => Math.Cos(0.7 * k) * 1.4).ToArray();

        var (value, d) = loop.Evaluate(a);
        var expected = new double[n];
        var expectedValue = tree.Evaluate(a, expected);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expectedValue), BitConverter.DoubleToInt64Bits(value));
        var bitForBit = 0;
        for (var k = 0; k < n; k++)
        {
            var fromOwnTerm = k < n - 1 ? Math.Abs(-400 * (a[k + 1] - a[k] * a[k]) * a[k]) + Math.Abs(2 * (1 - a[k])) : 0;
            var fromTermBefore = k > 0 ? Math.Abs(200 * (a[k] - a[k - 1] * a[k - 1])) : 0;
            Assert.True(Math.Abs(d[k] - expected[k]) <= 1e-12 * (fromOwnTerm + fromTermBefore), $"a[{k}]: loop {d[k]:R}, tree {expected[k]:R}");
            if (d[k].Equals(expected[k]))
                bitForBit++;
        }
        Assert.True(bitForBit > 0);
    }

    [Fact]
    public void A_length_0_range_is_its_empty_value_and_a_zero_gradient()
    {
        var sum = Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length).Sum(i => x * a[i]) + a.Sum() + x);
        var (value, dx, da) = sum.Evaluate(2.0, []);
        Assert.Equal(2.0, value);
        Assert.Equal(1.0, dx);
        Assert.Empty(da);
        var g = new[] { 99.0 };
        Assert.Equal(2.0, sum.Evaluate([2.0], g));
        Assert.Equal([1.0], g);

        // A fold of no iterations is its seed, and the seed's adjoint is the fold's.
        var fold = Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length).Aggregate(Math.Sin(x), (acc, k) => acc * a[k]));
        var (v, dxFold, daFold) = fold.Evaluate(0.5, []);
        Assert.Equal(Math.Sin(0.5), v);
        Assert.Equal(Math.Cos(0.5), dxFold);
        Assert.Empty(daFold);

        // Max and Min of nothing throw as LINQ throws.
        var max = Grad.Of((double[] a) => a.Max(v => v * v));
        var e = Assert.Throws<InvalidOperationException>(() => max.Evaluate([]));
        Assert.Contains("no elements", e.Message);
        var min = Grad.Of((double[] a) => Enumerable.Range(0, a.Length).Min(i => a[i]));
        Assert.Throws<InvalidOperationException>(() => min.Evaluate(Array.Empty<double>().AsSpan(), Span<double>.Empty));
    }

    [Fact]
    public void A_length_1_range_is_its_one_term()
    {
        var g = Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length).Sum(i => Math.Exp(x * a[i])));
        var (value, dx, da) = g.Evaluate(0.5, [3.0]);
        Assert.Equal(Math.Exp(1.5), value);
        Assert.Equal(3 * Math.Exp(1.5), dx);
        Assert.Equal([0.5 * Math.Exp(1.5)], da);

        var fold = Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length).Aggregate(x, (acc, k) => Math.Sin(acc * a[k])));
        var (v, dxFold, daFold) = fold.Evaluate(0.5, [3.0]);
        Assert.Equal(Math.Sin(1.5), v);
        Assert.Equal(3 * Math.Cos(1.5), dxFold);
        Assert.Equal([0.5 * Math.Cos(1.5)], daFold);

        var max = Grad.Of((double[] a) => a.Max(v => v * v * v));
        var (top, dTop) = max.Evaluate([-2.0]);
        Assert.Equal(-8.0, top);
        Assert.Equal([12.0], dTop);
    }

    private static void AssertResult(double value, double slope, ValueAndGradient<double> actual)
    {
        Assert.Equal(value, actual.Value);
        Assert.Equal(slope, actual.D1);
    }

    [Fact]
    public void A_captured_array_whose_length_changes_between_calls_is_read_at_each_call()
    {
        var data = new[] { 1.0, 2.0, 3.0 };
        var weights = new[] { 0.5, -1.0, 2.0 };
        var g = Grad.Of((double x) => Enumerable.Range(0, data.Length).Sum(i => weights[i] * Math.Sin(x * data[i])) + data.Sum(v => v * x));
        double Value(double x) => Enumerable.Range(0, data.Length).Sum(i => weights[i] * Math.Sin(x * data[i])) + data.Sum(v => v * x);
        double Slope(double x) => Enumerable.Range(0, data.Length).Sum(i => weights[i] * data[i] * Math.Cos(x * data[i])) + data.Sum();

        AssertResult(Value(0.3), Slope(0.3), g.Evaluate(0.3));
        data = [4.0, -1.0];
        AssertResult(Value(0.3), Slope(0.3), g.Evaluate(0.3));
        data = [];
        AssertResult(0.0, 0.0, g.Evaluate(0.3));
        data = [0.25, 0.5, 0.75];
        weights = [1.0, 1.0, 1.0, 1.0];
        AssertResult(Value(-1.1), Slope(-1.1), g.Evaluate(-1.1));

        // Longer than the weights: the read of weights[3] is out of range, named as such.
        data = [1, 2, 3, 4, 5];
        var e = Assert.Throws<IndexOutOfRangeException>(() => g.Evaluate(0.3));
        Assert.Contains("weights[i]", e.Message);
        Assert.Contains("4 elements", e.Message);
    }

    [Fact]
    public void An_index_out_of_range_names_the_array_the_index_and_the_length()
    {
        var g = Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length).Sum(i => x * a[i + 1]));
        var e = Assert.Throws<IndexOutOfRangeException>(() => g.Evaluate(2.0, [1.0, 2.0, 3.0]));
        Assert.Equal("a[i + 1]: the index is 3, but a has 3 elements", e.Message);

        // An index that is not affine in the loop variable is checked where it is read.
        var squares = Grad.Of((double[] a) => Enumerable.Range(0, a.Length).Sum(i => a[i * i]));
        var s = Assert.Throws<IndexOutOfRangeException>(() => squares.Evaluate([1.0, 2.0, 3.0]));
        Assert.Equal("a[i * i]: the index is 4, but a has 3 elements", s.Message);

        // A captured matrix names its dimension's length.
        var m = new double[2, 3];
        var rows = Grad.Of((double[] a) => Enumerable.Range(0, a.Length).Sum(i => m[i, 0] * a[i]));
        var r = Assert.Throws<IndexOutOfRangeException>(() => rows.Evaluate([1.0, 2.0, 3.0]));
        Assert.Contains("the index is 2, but", r.Message);
        Assert.Contains("has 2 elements", r.Message);
    }

    public static TheoryData<string> OutOfRangeFunctions => ["affine", "not affine", "after a fused sum", "after a fold", "constant slot", "nested"];

    // Fails today for every case but "after a fold": the flat method's prologue clears the dynamic array's gradient
    // (and writes constant slots) before any loop runs, and a fused sum adds to the gradient before a later loop's
    // check; the checks all run before anything is written only in the typed API. The fix belongs in Emitter/Frame
    // (or a hoisting of every loop's checks to the top), outside this branch's files: see the report.
    [Theory]
    [MemberData(nameof(OutOfRangeFunctions))]
    public void With_the_span_API_nothing_is_written_to_the_gradient_before_an_index_out_of_range_throws(string which)
    {
        var g = which switch
        {
            "affine" => Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length).Sum(i => x * a[i + 1])),
            "not affine" => Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length).Sum(i => x * a[i * i])),
            "after a fused sum" => Grad.Of((double x, double[] a) => a.Sum(v => v * v * x) + Enumerable.Range(0, a.Length).Sum(i => x * a[i + 1])),
            "after a fold" => Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length).Aggregate(x, (o, k) => o * a[k]) + Enumerable.Range(0, a.Length).Sum(i => x * a[i + 1])),
            "constant slot" => Grad.Of((double x, double[] a) => 2 * x + Enumerable.Range(0, a.Length).Sum(i => a[i + 1])),
            _ => Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length).Sum(i => Enumerable.Range(0, a.Length).Sum(j => x * a[i] * a[i + j]))),
        };
        // A call that succeeds first (a is empty): the first call may run on a scratch workspace, later ones in place.
        var once = new double[1];
        g.Evaluate([2.0], once);
        Assert.Equal(which switch { "constant slot" => 2.0, "after a fold" => 1.0, _ => 0.0 }, once[0]);
        var point = new[] { 2.0, 1.0, 2.0, 3.0 };
        var gradient = new[] { -7.0, -7.0, -7.0, -7.0 };
        Assert.Throws<IndexOutOfRangeException>(() => g.Evaluate(point.AsSpan(), gradient));
        Assert.Equal([-7.0, -7.0, -7.0, -7.0], gradient);
    }

    [Fact]
    public void A_negative_count_throws_as_Enumerable_Range_does_and_writes_nothing()
    {
        var g = Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length - 2).Sum(i => x * a[i]));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => g.Evaluate(1.0, [5.0]));
        Assert.Equal("count", e.ParamName);
        Assert.Contains("-1", e.Message);
        var gradient = new[] { -7.0, -7.0 };
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Evaluate([1.0, 5.0], gradient));
        Assert.Equal([-7.0, -7.0], gradient);

        // From captured data, and in a fold.
        var count = -3;
        var fold = Grad.Of((double x) => Enumerable.Range(0, count).Aggregate(x, (o, k) => o * x));
        Assert.Throws<ArgumentOutOfRangeException>(() => fold.Evaluate(1.0));
        count = 2;
        AssertResult(8.0, 12.0, fold.Evaluate(2.0));
    }

    [Fact]
    public void Max_and_Min_send_the_gradient_to_the_first_of_tied_elements()
    {
        var max = Grad.Of((double[] a) => a.Max(v => v * v));
        var (top, d) = max.Evaluate([1.0, -3.0, 3.0, 2.0]);
        Assert.Equal(9.0, top);
        Assert.Equal([0.0, -6.0, 0.0, 0.0], d);

        var min = Grad.Of((double x, double[] a) => Enumerable.Range(0, a.Length).Min(i => x * a[i]));
        var (bottom, dx, da) = min.Evaluate(2.0, [3.0, 1.0, 4.0, 1.0]);
        Assert.Equal(2.0, bottom);
        Assert.Equal(1.0, dx);
        Assert.Equal([0.0, 2.0, 0.0, 0.0], da);

        // Every element tied.
        var (same, dSame) = max.Evaluate([2.0, 2.0, 2.0]);
        Assert.Equal(4.0, same);
        Assert.Equal([4.0, 0.0, 0.0], dSame);
    }

    public static TheoryData<double[]> NaNSequences =>
    [
        [1.0, double.NaN, 3.0, double.NaN],
        [double.NaN, 5.0, -1.0],
        [5.0, -1.0, double.NaN],
        [double.NaN, double.NaN, double.NaN],
        [double.NaN],
        [2.0, double.NaN, 2.0],
    ];

    // LINQ orders NaN below every number in Max (the result is NaN only if every value is) and lets the first NaN win
    // in Min. The gradient goes to the element whose value is the result: for Max of all NaN, the last one, as LINQ
    // keeps replacing a NaN by the next value.
    [Theory]
    [MemberData(nameof(NaNSequences))]
    public void Max_and_Min_with_NaN_agree_with_LINQ(double[] a)
    {
        var max = Grad.Of((double[] a) => a.Max(v => 2 * v));
        var min = Grad.Of((double[] a) => Enumerable.Range(0, a.Length).Min(i => 2 * a[i]));
        var (top, dTop) = max.Evaluate(a);
        var (bottom, dBottom) = min.Evaluate(a);
        Assert.Equal(a.Max(v => 2 * v), top);
        Assert.Equal(a.Min(v => 2 * v), bottom);

        var firstNaN = Array.FindIndex(a, double.IsNaN);
        var firstNumber = Array.FindIndex(a, v => !double.IsNaN(v));
        int maxAt;
        if (firstNumber < 0)
        {
            maxAt = a.Length - 1;
        }
        else
        {
            maxAt = firstNumber;
            for (var k = firstNumber + 1; k < a.Length; k++)
                if (a[k] > a[maxAt])
                    maxAt = k;
        }
        var minAt = firstNaN >= 0 ? firstNaN : Array.IndexOf(a, a.Min());
        Assert.Equal(a.Select((_, k) => k == maxAt ? 2.0 : 0.0), dTop);
        Assert.Equal(a.Select((_, k) => k == minAt ? 2.0 : 0.0), dBottom);
    }

    [Fact]
    public void One_compiled_loop_gradient_called_from_8_threads_gives_bit_identical_results()
    {
        var captured = Enumerable.Range(0, 40).Select(k => Math.Cos(k)).ToArray();
        var g = Grad.Of((double x, double[] a) =>
            Enumerable.Range(0, a.Length - 1).Sum(i => Fn.Square(a[i + 1] - a[i] * a[i]) * captured[i])
            + Enumerable.Range(0, a.Length).Aggregate(x, (o, k) => Math.Tanh(o * a[k] + captured[k]))
            + Enumerable.Range(0, a.Length).Sum(i => Enumerable.Range(i + 1, a.Length - i - 1).Sum(j => Math.Exp(-Fn.Square(a[i] - a[j]))))
            + a.Max(v => Math.Sin(v * x)));
        var points = Enumerable.Range(0, 32).Select(p => Enumerable.Range(0, 1 + p % 40).Select(k => Math.Sin(p + 0.37 * k)).Prepend(0.1 * p).ToArray()).ToArray();
        var expected = points.Select(p =>
        {
            var gradient = new double[p.Length];
            return (Value: g.Evaluate(p.AsSpan(), gradient), Gradient: gradient);
        }).ToArray();

        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var start = new ManualResetEventSlim();
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            start.Wait();
            for (var round = 0; round < 50; round++)
            {
                var k = (round * 7 + t * 5) % points.Length;
                var p = points[k];
                var gradient = new double[p.Length];
                var value = g.Evaluate(p.AsSpan(), gradient);
                var (typed, dx, da) = g.Evaluate(p[0], p[1..]);
                if (!value.Equals(expected[k].Value) || !gradient.AsSpan().SequenceEqual(expected[k].Gradient)
                    || !typed.Equals(value) || !dx.Equals(gradient[0]) || !da.AsSpan().SequenceEqual(gradient.AsSpan(1)))
                    failures.Enqueue($"thread {t}, point {k}: results differ");
            }
        })).ToList();
        foreach (var thread in threads)
            thread.Start();
        start.Set();
        foreach (var thread in threads)
            thread.Join();
        Assert.Empty(failures);
    }
}
