using System.Linq.Expressions;
using System.Reflection;

namespace ExprGrad.Tests.Emit;

/// <summary>Size, depth and threads: the gradient stays linear, deep trees survive, calls are thread-safe.</summary>
public class ScaleTests
{
    [Fact]
    public void A_tree_that_shares_sub_trees_imports_once_per_shared_node()
    {
        // e = x; e = e * e - e, 60 times, with the same object reached twice at every level (as F# let-blocks and
        // parsed square(square(...)) give): written out the tree has ~2^60 nodes; staged it has 180 stages.
        var x = Expression.Parameter(typeof(double), "x");
        Expression e = x;
        for (var i = 0; i < 60; i++)
            e = Expression.Subtract(Expression.Multiply(e, e), e);
        var g = Grad.Of(Expression.Lambda<Func<double, double>>(e, x));
        Assert.InRange(g.StageCount, 60, 400);
        var gradient = new double[1];
        Assert.Equal(0.0, g.Evaluate([0.0], gradient));
        Assert.Equal(1.0, gradient[0]); // each level multiplies the derivative by 2e − 1 = −1 at e = 0
    }

    [Fact]
    public void A_100000_deep_sum_imports_differentiates_compiles_and_evaluates_on_a_1_MiB_stack()
    {
        // x + (x + (x + ... + x)): 100,000 additions. Run on a 1 MiB thread stack, as an unguarded walk would crash there.
        const int Depth = 100_000;
        var x = Expression.Parameter(typeof(double), "x");
        Expression body = x;
        for (var i = 0; i < Depth; i++)
            body = Expression.Add(x, body);
        var f = Expression.Lambda<Func<double, double>>(body, x);

        (double Value, double Dx) result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                var g = Grad.Of(f);
                var r = g.Evaluate(0.5);
                result = (r.Value, r.D1);
            }
            catch (Exception e) { error = e; }
        }, 1024 * 1024);
        thread.Start();
        thread.Join();

        Assert.Null(error);
        Assert.Equal((Depth + 1) * 0.5, result.Value);
        Assert.Equal(Depth + 1, result.Dx);
    }

    [Fact]
    public void A_100000_deep_chain_of_functions_differentiates_on_a_1_MiB_stack()
    {
        // sin(sin(...sin(x)...) * 1.0001): every stage has a real backward stage, and the graph is split into many methods.
        const int Depth = DeepChain.Depth;
        double value = 0, dx = 0;
        string code = "", formula = "";
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                var g = DeepChain.Gradient;
                (value, dx) = g.Evaluate(0.3);
                // The displays walk the same graph and must survive its depth: two stages a level each way.
                code = g.ToCode();
                formula = g.ToString();
            }
            catch (Exception e) { error = e; }
        }, 1024 * 1024);
        thread.Start();
        thread.Join();

        Assert.Null(error);
        // Two headings, two lines a level each way, less the outermost stage's adjoint: the constant 1.0001, written
        // where it is read, not as a dead line of its own.
        Assert.Equal(4 * Depth + 1, code.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("∂f/∂x = too large to display", formula);
        double v = 0.3, d = 1;
        for (var i = 0; i < Depth; i++)
        {
            d *= Math.Cos(v) * 1.0001;
            v = Math.Sin(v) * 1.0001;
        }
        Assert.Equal(v, value, 12);
        Assert.Equal(d, dx, 12);
    }

    [Fact]
    public void Conditionals_nested_10000_deep_differentiate_and_deeper_fail_cleanly_on_a_1_MiB_stack()
    {
        // x > 0 ? (x > 1 ? (... ? x·x : x) : x) : x: every level a region inside the last, on both passes.
        // (Deeper than 10,000 is refused by name, from the first level past it; the test goes no deeper because
        // Expression.Condition itself takes quadratic time to build such a tree: 100,000 levels take the BCL about 45 s.)
        static Expression<Func<double, double>> Nested(int depth)
        {
            var x = Expression.Parameter(typeof(double), "x");
            Expression body = Expression.Multiply(x, x);
            for (var i = depth - 1; i >= 0; i--)
                body = Expression.Condition(Expression.GreaterThan(x, Expression.Constant((double)i)), body, x);
            return Expression.Lambda<Func<double, double>>(body, x);
        }

        const int Deepest = ExprGrad.Import.Importer.MaxConditionalDepth;
        var results = new List<(double, double)>();
        Exception? error = null, tooDeep = null;
        var thread = new Thread(() =>
        {
            try
            {
                var g = Grad.Of(Nested(Deepest));
                foreach (var at in new[] { Deepest + 0.5, 0.5, -1.0 })
                {
                    var r = g.Evaluate(at);
                    results.Add((r.Value, r.D1));
                }
            }
            catch (Exception e) { error = e; }
            try { Grad.Of(Nested(Deepest + 1)); }
            catch (Exception e) { tooDeep = e; }
        }, 1024 * 1024);
        thread.Start();
        thread.Join();

        Assert.Null(error);
        Assert.Equal([((Deepest + 0.5) * (Deepest + 0.5), 2 * (Deepest + 0.5)), (0.5, 1.0), (-1.0, 1.0)], results);
        var e = Assert.IsType<ExprGradException>(tooDeep);
        Assert.Contains("nested more than 10,000 deep", e.Message);
    }

    [Fact]
    public void An_unsupported_node_deep_inside_a_100000_deep_tree_is_reported_without_crashing()
    {
        var x = Expression.Parameter(typeof(double), "x");
        Expression body = Expression.Modulo(x, Expression.Constant(3.0));
        for (var i = 0; i < 100_000; i++)
            body = Expression.Add(x, body);
        var f = Expression.Lambda<Func<double, double>>(body, x);

        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { Grad.Of(f); }
            catch (Exception e) { error = e; }
        }, 1024 * 1024);
        thread.Start();
        thread.Join();

        var e = Assert.IsType<ExprGradException>(error);
        Assert.Contains("Modulo", e.Message);
        Assert.Contains("in x % 3 (", e.Message);
    }

    [Fact]
    public void The_depth_m_net_gradient_grows_linearly_in_m()
    {
        // The problem set's net: O(m) staged gradient, not the O(m²) of differentiating each weight separately.
        int[] depths = [10, 50, 100, 250, 500, 1000];
        var sizes = depths.Select(m => CountNodes(Grad.Of(DepthNet(m)).Expression)).ToArray();
        var report = string.Join(", ", depths.Zip(sizes, (m, s) => $"m={m}: {s}"));

        // Doubling m doubles the size (O(m²) would quadruple it), both within one method and once split into several.
        Assert.InRange((double)sizes[1] / sizes[0], 4.0, 6.0);
        Assert.InRange((double)sizes[5] / sizes[4], 1.8, 2.2);
        // Nodes per layer stay bounded by a constant from m = 10 to m = 1,000 (splitting adds a little per layer).
        Assert.True((double)sizes[5] / 1000 < 1.5 * sizes[0] / 10, report);
        // And the gradient is a small multiple of the function itself.
        var primal = CountNodes(DepthNet(1000));
        Assert.InRange((double)sizes[5] / primal, 1, 8);
    }

    [Fact]
    public void Parallel_calls_give_bit_identical_results()
    {
        var g = Grad.Of(DepthNet(300));
        var points = Enumerable.Range(0, 64).Select(i => Enumerable.Range(0, 300).Select(k => Math.Sin(i + k) * 0.8).ToArray()).ToArray();
        var sequential = points.Select(p => g.Evaluate(p)).ToArray();

        var parallel = new ValueAndGradient<double[]>[points.Length];
        Parallel.For(0, points.Length * 20, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var k = i % points.Length;
            parallel[k] = g.Evaluate(points[k]);
        });
        var spans = new double[points.Length][];
        Parallel.For(0, points.Length, k =>
        {
            spans[k] = new double[g.Dimension];
            var v = g.Evaluate(points[k].AsSpan(), spans[k]);
            Assert.Equal(BitConverter.DoubleToInt64Bits(sequential[k].Value), BitConverter.DoubleToInt64Bits(v));
        });

        for (var k = 0; k < points.Length; k++)
        {
            Assert.Equal(BitConverter.DoubleToInt64Bits(sequential[k].Value), BitConverter.DoubleToInt64Bits(parallel[k].Value));
            Assert.Equal(sequential[k].D1, parallel[k].D1);
            Assert.Equal(sequential[k].D1, spans[k]);
        }
    }

    /// <summary>ŷ = f(...f(f(x w₀) w₁)...) w_{m−1} with f = σ, L = ½ (y − ŷ)², weights in one array.</summary>
    internal static Expression<Func<double[], double>> DepthNet(int m, double x = 0.7, double y = 0.3)
    {
        var w = Expression.Parameter(typeof(double[]), "w");
        var sigmoid = typeof(Fn).GetMethod(nameof(Fn.Sigmoid))!;
        Expression o = Expression.Constant(x);
        for (var k = 0; k < m - 1; k++)
            o = Expression.Call(sigmoid, Expression.Multiply(o, Expression.ArrayIndex(w, Expression.Constant(k))));
        var yhat = Expression.Multiply(o, Expression.ArrayIndex(w, Expression.Constant(m - 1)));
        var r = Expression.Subtract(Expression.Constant(y), yhat);
        return Expression.Lambda<Func<double[], double>>(Expression.Multiply(Expression.Multiply(Expression.Constant(0.5), r), r), w);
    }

    internal static int CountNodes(Expression e)
    {
        var counter = new NodeCounter();
        counter.Visit(e);
        return counter.Count;
    }

    private sealed class NodeCounter : ExpressionVisitor
    {
        public int Count { get; private set; }

        public override Expression? Visit(Expression? node)
        {
            if (node is not null)
                Count++;
            return base.Visit(node);
        }
    }
}

/// <summary>
/// The 100,000-deep chain sin(sin(...sin(x)...) * 1.0001), differentiated once for the tests that walk it (compiling
/// its 400,000 stages is most of their time). Built by the first test to ask, on that test's 1 MiB thread, so the
/// import, sweep and emission run on a small stack whichever test comes first; the gradient is immutable and safe to
/// share.
/// </summary>
internal static class DeepChain
{
    public const int Depth = 100_000;

    private static readonly Lazy<Gradient<double>> Shared = new(() => Grad.Of(Lambda()), LazyThreadSafetyMode.ExecutionAndPublication);

    public static Gradient<double> Gradient => Shared.Value;

    public static Expression<Func<double, double>> Lambda()
    {
        var x = Expression.Parameter(typeof(double), "x");
        var sin = typeof(Math).GetMethod(nameof(Math.Sin), [typeof(double)])!;
        Expression body = x;
        for (var i = 0; i < Depth; i++)
            body = Expression.Multiply(Expression.Call(sin, body), Expression.Constant(1.0001));
        return Expression.Lambda<Func<double, double>>(body, x);
    }
}
