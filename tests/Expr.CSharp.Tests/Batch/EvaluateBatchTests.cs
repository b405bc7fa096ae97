using MathNet.Numerics.LinearAlgebra;
using Xunit.Abstractions;

namespace ExprGrad.Tests.Batch;

/// <summary>
/// <c>EvaluateBatch</c>: many points on many threads, each point's value and gradient bit for bit those of a single
/// call, whatever the thread count; lengths that do not fit are refused naming the span.
/// </summary>
public class EvaluateBatchTests(ITestOutputHelper output)
{
    // The CS231n neuron, w then x: f = σ(w0 x0 + w1 x1 + w2).
    private static readonly Gradient Neuron =
        Grad.Of((double w0, double w1, double w2, double x0, double x1) => Fn.Sigmoid(w0 * x0 + w1 * x1 + w2));

    // An array of any length, the rest of each row: the chained Rosenbrock function.
    private static readonly Gradient Rosenbrock = Grad.Of((double[] x) =>
        Enumerable.Range(0, x.Length - 1).Sum(i => 100 * Fn.Square(x[i + 1] - x[i] * x[i]) + Fn.Square(1 - x[i])));

    /// <summary>Set to a seed a failure printed, this variable replays that run.</summary>
    public const string SeedVariable = "EXPRGRAD_BATCH_SEED";

    private int _seed;

    private double[] RandomPoints(int n, int d)
    {
        _seed = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out var replay) ? replay : Random.Shared.Next();
        output.WriteLine($"seed {_seed} (replay: {SeedVariable}={_seed})");
        var random = new Random(_seed);
        var points = new double[n * d];
        for (var k = 0; k < points.Length; k++)
            points[k] = random.NextDouble() * 6 - 3;
        return points;
    }

    private static (double[] Values, double[] Gradients) OneByOne(Gradient g, double[] points, int n, int d)
    {
        var values = new double[n];
        var gradients = new double[n * d];
        for (var i = 0; i < n; i++)
            values[i] = g.Evaluate(points.AsSpan(i * d, d), gradients.AsSpan(i * d, d));
        return (values, gradients);
    }

    // Bit for bit: compared as the 64-bit patterns, so that even a NaN's payload or the sign of a zero would differ.
    private void AssertBitIdentical(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var k = 0; k < expected.Length; k++)
            Assert.True(BitConverter.DoubleToInt64Bits(expected[k]) == BitConverter.DoubleToInt64Bits(actual[k]),
                $"{what}[{k}]: {expected[k]:R} one by one, {actual[k]:R} in the batch (seed {_seed}: {SeedVariable}={_seed} replays it)");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(-1)]
    public void Every_point_is_bit_identical_to_a_single_call_whatever_the_thread_count(int threads)
    {
        const int n = 10_007, d = 5; // not a multiple of the chunk count: the last chunk is short
        var points = RandomPoints(n, d);
        var (expectedValues, expectedGradients) = OneByOne(Neuron, points, n, d);

        var values = new double[n];
        var gradients = new double[n * d];
        Neuron.EvaluateBatch(points, values, gradients, threads);

        AssertBitIdentical(expectedValues, values, "values");
        AssertBitIdentical(expectedGradients, gradients, "gradients");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    public void An_array_of_any_length_takes_the_rest_of_each_row(int threads)
    {
        const int n = 3_001, d = 7;
        var points = RandomPoints(n, d);
        var (expectedValues, expectedGradients) = OneByOne(Rosenbrock, points, n, d);

        var values = new double[n];
        var gradients = new double[n * d];
        Rosenbrock.EvaluateBatch(points, values, gradients, threads);

        AssertBitIdentical(expectedValues, values, "values");
        AssertBitIdentical(expectedGradients, gradients, "gradients");
        // And the row is the whole point: at all ones the chained Rosenbrock function is 0, whatever its length.
        var ones = Enumerable.Repeat(1.0, 2 * 4).ToArray();
        var two = new double[2];
        Rosenbrock.EvaluateBatch(ones, two, new double[8], threads);
        Assert.Equal([0.0, 0.0], two);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    public void A_graph_split_into_several_methods_runs_on_each_threads_workspace_bit_for_bit(int threads)
    {
        // The depth-1,000 net is compiled as several methods passing values through a tape: no direct call.
        var g = Grad.Of(Emit.ScaleTests.DepthNet(1000));
        const int n = 1_200, d = 1000;
        var points = RandomPoints(n, d);
        var (expectedValues, expectedGradients) = OneByOne(g, points, n, d);

        var values = new double[n];
        var gradients = new double[n * d];
        g.EvaluateBatch(points, values, gradients, threads);

        AssertBitIdentical(expectedValues, values, "values");
        AssertBitIdentical(expectedGradients, gradients, "gradients");
    }

    [Fact]
    public void A_typed_gradient_batches_through_its_flat_layout()
    {
        // The typed kernel comes first; the batch compiles the flat one. Flat layout: w[0], w[1], then x.
        var g = Grad.Of((double[] w, double x) => w[0] * Math.Exp(-w[1] * x));
        const int n = 2_000, d = 3;
        var points = RandomPoints(n, d);
        var values = new double[n];
        var gradients = new double[n * d];
        g.EvaluateBatch(points, values, gradients, 2);

        var (expectedValues, expectedGradients) = OneByOne(g, points, n, d);
        AssertBitIdentical(expectedValues, values, "values");
        AssertBitIdentical(expectedGradients, gradients, "gradients");
        var (v, dw, dx) = g.Evaluate([points[3], points[4]], points[5]);
        Assert.Equal([v, dw[0], dw[1], dx], [values[1], .. gradients.AsSpan(3, 3)]);
    }

    [Fact]
    public void A_small_batch_gives_the_worked_example()
    {
        // (x + y) * z at (-2, 5, -4) → -12; ∇ = (-4, -4, 3); at (1, 2, 3) → 9; ∇ = (3, 3, 3).
        var g = Grad.Of((double x, double y, double z) => (x + y) * z);
        var values = new double[2];
        var gradients = new double[6];
        g.EvaluateBatch([-2, 5, -4, 1, 2, 3], values, gradients);
        Assert.Equal([-12.0, 9.0], values);
        Assert.Equal([-4.0, -4, 3, 3, 3, 3], gradients);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void A_matrix_of_points_has_one_point_per_row(int threads)
    {
        const int n = 2_000, d = 5;
        var flat = RandomPoints(n, d);
        var points = Matrix<double>.Build.DenseOfRowMajor(n, d, flat);
        var (expectedValues, expectedGradients) = OneByOne(Neuron, flat, n, d);

        var (values, gradients) = Neuron.EvaluateBatch(points, threads);

        Assert.Equal(n, gradients.RowCount);
        Assert.Equal(d, gradients.ColumnCount);
        AssertBitIdentical(expectedValues, values.ToArray(), "values");
        AssertBitIdentical(expectedGradients, gradients.ToRowMajorArray(), "gradients");
    }

    [Fact]
    public void An_empty_batch_does_nothing()
    {
        Neuron.EvaluateBatch([], [], []);
        Rosenbrock.EvaluateBatch([], [], [], 8);
        var (values, gradients) = Neuron.EvaluateBatch(Matrix<double>.Build.Dense(0, 5));
        Assert.Empty(values);
        Assert.Equal(0, gradients.RowCount);
    }

    [Fact]
    public void Wrong_lengths_are_refused_naming_the_span()
    {
        var points = new double[10];

        var e = Assert.Throws<ArgumentException>(() => Neuron.EvaluateBatch(points, new double[3], new double[10]));
        Assert.Equal("points", e.ParamName);
        Assert.Contains("3 points (values.Length) of dimension 5 need 15", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<ArgumentException>(() => Neuron.EvaluateBatch(points, new double[2], new double[5]));
        Assert.Equal("gradients", e.ParamName);
        Assert.Contains("gradients has room for 5 values but 2 gradients of length 5 need 10", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<ArgumentException>(() => Neuron.EvaluateBatch(points, [], []));
        Assert.Equal("points", e.ParamName);

        // A variable-length row must be a whole number of points, each at least the function's dimension long.
        e = Assert.Throws<ArgumentException>(() => Rosenbrock.EvaluateBatch(new double[7], new double[2], new double[7]));
        Assert.Equal("points", e.ParamName);

        e = Assert.Throws<ArgumentException>(() => Neuron.EvaluateBatch(Matrix<double>.Build.Dense(3, 4)));
        Assert.Equal("points", e.ParamName);
        Assert.Contains("4 columns", e.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentOutOfRangeException>(() => Neuron.EvaluateBatch(points, new double[2], new double[10], 0));
    }

    [Fact]
    public void Overlapping_spans_are_refused()
    {
        // In one call a gradient may overwrite its own point; across threads it would overwrite another thread's.
        var memory = new double[20];
        var e = Assert.Throws<ArgumentException>(() => Neuron.EvaluateBatch(memory.AsSpan(0, 10), new double[2], memory.AsSpan(10 - 1, 10)));
        Assert.Equal("gradients", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Neuron.EvaluateBatch(memory.AsSpan(0, 10), memory.AsSpan(8, 2), new double[10]));
        Assert.Equal("values", e.ParamName);
    }

    private sealed class Broken
    {
        public double Value => throw new InvalidOperationException("broken data");
    }

    [Fact]
    public void What_the_function_throws_reaches_the_caller_unwrapped()
    {
        // Captured data is read at every call; here it throws, on every thread, as it would in a single call.
        var broken = new Broken();
        var g = Grad.Of((double x) => x * broken.Value);
        var e = Assert.Throws<InvalidOperationException>(() => g.EvaluateBatch(new double[4_000], new double[4_000], new double[4_000], 2));
        Assert.Equal("broken data", e.Message);
    }

    [Fact]
    public void A_function_with_no_flat_layout_is_refused()
    {
        var g = Grad.Of((double[] a, double[] b) => a.Sum() * b.Sum());
        Assert.Throws<NotSupportedException>(() => g.EvaluateBatch(new double[4], new double[1], new double[4]));
    }
}
