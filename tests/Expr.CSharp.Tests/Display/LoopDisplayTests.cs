using System.Linq.Expressions;
using ExprGrad.Symbolic;
using Microsoft.FSharp.Core;
using Xunit.Abstractions;

namespace ExprGrad.Tests.Display;

/// <summary>
/// Display of loops over data: the listing shows a loop as one stage with its body once; a trace evaluates sums, folds,
/// max/min and nested loops, shows each as one gate, and its gradient equals the compiled one bit for bit; formulas
/// refuse loops with a message that points at the listing and the trace.
/// </summary>
public sealed class LoopDisplayTests(ITestOutputHelper output)
{
    private static Gradient Rosenbrock() =>
        Grad.Of((double[] a) => Enumerable.Range(0, a.Length - 1).Sum(i => 100 * Math.Pow(a[i + 1] - a[i] * a[i], 2) + Math.Pow(1 - a[i], 2)));

    private static readonly double[] W = [0.5, -1.0, 2.0];

    private static readonly double[,] X = { { 1, 2 }, { -1, 0.5 }, { 0.25, -3 } };

    private const double Lambda = 0.125;

    private static Gradient Net()
    {
        var w = W;
        return Grad.Of((double x) => Enumerable.Range(0, w.Length).Aggregate(x, (o, k) => Fn.Sigmoid(o * w[k])));
    }

    private static Gradient Pairs() =>
        Grad.Of((double[] x) => Enumerable.Range(0, x.Length).Sum(i => Enumerable.Range(i + 1, x.Length - i - 1).Sum(j => (x[i] - x[j]) * (x[i] - x[j]))));

    private static Gradient ScaledMax() => Grad.Of((double y, double[] x) => y * x.Max(v => v * v) + x[0]);

    private static Trace AssertSameAsCompiled(Gradient g, double[] point)
    {
        var t = g.Trace(point);
        var gradient = new double[point.Length];
        var value = g.Evaluate(point, gradient);
        Assert.Equal(BitConverter.DoubleToInt64Bits(value), BitConverter.DoubleToInt64Bits(t.Value));
        Assert.Equal(gradient.Select(BitConverter.DoubleToInt64Bits), t.Gradient.Select(BitConverter.DoubleToInt64Bits));
        foreach (var input in t.Inputs)
            Assert.Equal(BitConverter.DoubleToInt64Bits(gradient[SlotOf(t, input)]), BitConverter.DoubleToInt64Bits(input.Adjoint!.Value));
        return t;
    }

    // Where three or more values meet in one element of an array of any length, the trace adds them in the root's order
    // and the compiled code in its schedule's, which may differ in the last bit.
    private static void AssertCloseToCompiled(Gradient g, double[] point)
    {
        var t = g.Trace(point);
        var gradient = new double[point.Length];
        Assert.Equal(BitConverter.DoubleToInt64Bits(g.Evaluate(point, gradient)), BitConverter.DoubleToInt64Bits(t.Value));
        for (var k = 0; k < gradient.Length; k++)
            Assert.True(Math.Abs(t.Gradient[k] - gradient[k]) <= 1e-14 * Math.Max(1, Math.Abs(gradient[k])), $"slot {k}: {t.Gradient[k]} but compiled {gradient[k]}");
    }

    // The slot of an input by its name: x, or a[k] after the scalars.
    private static int SlotOf(Trace t, TraceNode input)
    {
        var names = t.ToString().Split('\n')[0];
        var point = names[(names.IndexOf(" at ", StringComparison.Ordinal) + 4)..names.IndexOf(": f =", StringComparison.Ordinal)];
        var slots = point.Split(", ").Select(p => p[..p.IndexOf(" = ", StringComparison.Ordinal)]).ToList();
        return slots.IndexOf(input.Name);
    }

    [Fact]
    public void Listing_shows_a_sum_as_one_stage_with_its_body_once_and_its_scatters()
    {
        Assert.Equal("""
            v1 = length a
            v3 = v1 - 1
            v4 = sum i in range(0, v3):  # Enumerable.Range(0, a.Length - 1).Sum(i => (100 * Math.Pow(a[i + 1] - (a[i] * a…
                b0 = i
                b4 = b0 + 1
                b5 = a[i + 1]
                b6 = a[i]
                b7 = b6²
                b8 = b5 - b7
                b10 = b8²
                b11 = 100 * b10
                b12 = 1 - b6
                b13 = b12²
                b14 = b11 + b13
                => b14
            # backward
            pullback v4 with 1:
                b15 = 2 * b12
                b17 = -2 * b12
                b18 = 2 * b8
                b20 = 200 * b8
                b22 = -200 * b8
                b23 = 2 * b6
                b24 = b20 * b23
                b25 = - b24
                b26 = b17 - b24
                da[i] += b26
                da[i + 1] += b20
            value = v4
            da: any length, cleared, then added to by the loops' scatters

            """.ReplaceLineEndings("\n"), Rosenbrock().ToListing().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Listing_of_a_fold_passes_the_accumulator_back_and_a_nested_sum_names_its_body_one_level_deeper()
    {
        var fold = Net().ToListing();
        output.WriteLine(fold);
        Assert.Contains("v3 = fold k in range(0, v1) from v2:  # Enumerable.Range(0, w.Length).Aggregate(x, (o, k) => Fn.Sigmoid(o * w[k]))\n", fold);
        Assert.Contains("    b2 = accumulator\n    b3 = w[k]\n    b4 = b2 * b3\n    b5 = σ b4\n    => b5\n", fold);
        Assert.Contains("v6 = pullback v3 with 1 for dv2, backwards:\n    b6 = adjoint of the accumulator\n", fold);
        Assert.Contains("    => b11 (to the previous iteration)\nvalue = v3\ndx = v6\n", fold);

        var nested = Pairs().ToListing();
        Assert.Contains("    b8 = sum j in range(b3, b6):", nested);
        Assert.Contains("        c4 = x[j]\n", nested);
        Assert.Contains("    b10 = pullback b8 with 1 for db7:\n        c9 = 2 * c5\n        c11 = -2 * c5\n", nested);
        Assert.Contains("        dx[j] += c11\n", nested);
        Assert.Contains("    dx[i] += b10\n", nested);
    }

    [Fact]
    public void Rosenbrock_traced_is_one_sum_gate_reading_each_element_with_the_compiled_gradient()
    {
        // f(0.5, 0.5, 2) = (100·0.25² + 0.5²) + (100·1.75² + 0.5²) = 313; ∇ = (-51, -301, 350).
        var t = AssertSameAsCompiled(Rosenbrock(), [0.5, 0.5, 2]);
        output.WriteLine(t.ToString());
        Assert.Equal(313, t.Value);
        Assert.Equal([-51.0, -301, 350], t.Gradient);
        var sum = Assert.Single(t.Nodes, n => n.Label == "Σ i");
        Assert.Same(t.Output, sum);
        Assert.Equal(1, sum.Adjoint);
        Assert.Equal(["0", "v3", "a[0]", "a[1]", "a[2]"], sum.Inputs.Select(n => n.Name));
        Assert.Equal(["a[0]", "a[1]", "a[2]"], t.Inputs.Select(n => n.Name));
        Assert.Equal([-51.0, -301, 350], t.Inputs.Select(n => n.Adjoint!.Value));
        Assert.Equal("""
            trace at a[0] = 0.5, a[1] = 0.5, a[2] = 2: f = 313
              a.Length: value 3
              v3 = a.Length - 1: value 2, gradient 0
              a[0]: value 0.5, gradient -51
              a[1]: value 0.5, gradient -301
              a[2]: value 2, gradient 350
              v4 = Σ 0 v3 a[0] a[1] a[2]: value 313, gradient 1  (f)

            """.ReplaceLineEndings("\n"), t.ToString().ReplaceLineEndings("\n"));
        Assert.Contains(">Σ i</text>", t.ToSvg());
        Assert.Contains("n4 [label=\"Σ i\"];", t.ToDot());
        Assert.Contains("n5 -->|", t.ToMermaid().Replace("n" + (Rosenbrock().Graph.Builder.Count) + " ", "n5 "));
    }

    [Fact]
    public void A_fold_traced_is_one_gate_and_its_seed_gets_the_compiled_gradient()
    {
        var t = AssertSameAsCompiled(Net(), [1.0]);
        var fold = Assert.Single(t.Nodes, n => n.Label == "fold k");
        double o = 1;
        foreach (var wk in W) o = 1 / (1 + Math.Exp(-o * wk));
        Assert.Equal(o, fold.Value);
        Assert.Contains(t.Inputs[0], fold.Inputs);
        Assert.Equal("x", t.Inputs[0].Name);
    }

    [Fact]
    public void Nested_sums_and_max_trace_with_the_compiled_gradient()
    {
        var pairs = AssertSameAsCompiled(Pairs(), [1, 2, 4]);
        Assert.Equal(14, pairs.Value);
        Assert.Equal([-8.0, -2, 10], pairs.Gradient);
        Assert.Single(pairs.Nodes, n => n.Label == "Σ i"); // the inner sum is inside the gate

        // y·max(x²) + x[0] at y = 3, x = (1, -5, 4): max is 25 at x[1]; x[0] is read outside the loop too, listed before it.
        var max = AssertSameAsCompiled(ScaledMax(), [3, 1, -5, 4]);
        Assert.Equal(76, max.Value);
        Assert.Equal([25.0, 1, -30, 0], max.Gradient);
        var gate = Assert.Single(max.Nodes, n => n.Label == "max i");
        Assert.Equal(3, gate.Adjoint);
        Assert.Equal(["y", "x.Length", "x[0]", "x[1]", "x[2]", "v3", "v4", "v6"], max.Nodes.Select(n => n.Name));
        Assert.Equal(max.Nodes.Count, max.Nodes.Distinct().Count());

        var min = AssertSameAsCompiled(Grad.Of((double[] x) => Enumerable.Range(0, x.Length).Min(i => (x[i] - 1) * (x[i] - 1))), [3, 1, 1, -2]);
        Assert.Equal([0.0, 0, 0, 0], min.Gradient); // the first of the tied minima, at x[1], whose derivative is 0
        Assert.Single(min.Nodes, n => n.Label == "min i");
    }

    [Fact]
    public void A_loop_in_a_branch_pulls_back_to_what_it_reads_from_outside()
    {
        var g = Grad.Of((double x, double[] a) => x > 0 ? x * a.Sum(v => v * x) : -x);
        var t = AssertSameAsCompiled(g, [2, 1, 3]);
        output.WriteLine(t.ToString());
        Assert.Equal(16, t.Value);
        Assert.Equal([16.0, 4, 4], t.Gradient); // d/dx x²·Σa = 2x·Σa
        Assert.Equal(2, Assert.Single(t.Nodes, n => n.Operation == "Σ").Adjoint); // ∂f/∂Σ = x
        AssertSameAsCompiled(g, [-2, 1, 3]);
    }

    [Fact]
    public void Random_points_give_the_compiled_gradient_bit_for_bit()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        Gradient[] functions = [Rosenbrock(), Pairs(), Net(),
            Grad.Of((double[] a) => a.Select((v, i) => Math.Sin(v) * (i + 1)).Sum() + a[0] * a[0] * a[1]),
            Grad.Of((double y, double[] x) => Enumerable.Range(0, x.Length).Aggregate(y, (acc, k) => Math.Tanh(acc * x[k] + y))),
            // Three or more values meet in one element: a read outside the loops and two loops' scatters.
            Grad.Of((double[] a) => Math.Sin(a[0]) * a[1] + a.Sum(v => v * v) + Enumerable.Range(0, a.Length - 1).Sum(i => Math.Exp(a[i] - a[i + 1])))];
        for (var run = 0; run < 60; run++)
        {
            var g = functions[run % functions.Length];
            var length = g.Graph.EndsDynamic ? Math.Max(g.Dimension, random.Next(2, 8)) : g.Dimension;
            var point = Enumerable.Range(0, length).Select(_ => random.NextDouble() * 4 - 2).ToArray();
            try
            {
                if (g == functions[^1])
                    AssertCloseToCompiled(g, point);
                else
                    AssertSameAsCompiled(g, point);
            }
            catch
            {
                output.WriteLine($"failed at run {run}, point [{string.Join(", ", point.Select(p => p.ToString("R")))}] (seed {seed})");
                throw;
            }
        }
    }

    [Fact]
    public void Empty_ranges_and_bad_indices_trace_as_the_compiled_code_runs()
    {
        var sum = Grad.Of((double[] a) => a.Sum(v => v * v));
        var t = AssertSameAsCompiled(sum, []);
        Assert.Equal(0, t.Value);
        Assert.Empty(t.Inputs);

        var past = Grad.Of((double[] a) => Enumerable.Range(0, a.Length).Sum(i => a[i + 1]));
        var compiled = Assert.Throws<IndexOutOfRangeException>(() => past.Evaluate([1.0, 2.0]));
        var traced = Assert.Throws<IndexOutOfRangeException>(() => past.Trace(1, 2));
        Assert.Equal(compiled.Message, traced.Message);

        // Rosenbrock of no elements: the range's count is -1.
        Assert.Equal(Assert.Throws<ArgumentOutOfRangeException>(() => Rosenbrock().Evaluate(Array.Empty<double>(), Array.Empty<double>())).Message,
            Assert.Throws<ArgumentOutOfRangeException>(() => Rosenbrock().Trace()).Message);

        var empty = Grad.Of((double[] a) => a.Max());
        Assert.Equal(Assert.Throws<InvalidOperationException>(() => empty.Evaluate(Array.Empty<double>())).Message,
            Assert.Throws<InvalidOperationException>(() => empty.Trace()).Message);
    }

    [Fact]
    public void Functions_without_a_flat_layout_are_refused_by_name()
    {
        var two = Grad.Of((double[] a, double[] b) => a.Zip(b, (u, v) => u * v).Sum());
        Assert.Contains("parameter 'a'", Assert.Throws<NotSupportedException>(() => two.Trace(1, 2, 3, 4)).Message);
    }

    [Fact]
    public void Formulas_of_sums_print_with_sigma_and_an_array_of_any_length_has_one_formula_in_k()
    {
        // Σ a[i]² ⇒ ∂f/∂a[k] = Σ_i (k == i ? 2 a[i] : 0).
        var squares = Grad.Of((double[] a) => a.Sum(v => v * v));
        Assert.Equal("∂f/∂a[k] = sum(i = 0..a.Length - 1, (k == i ? 2*a[i] : 0))", squares.ToString());
        Assert.Equal("""
            \begin{aligned}
            \frac{\partial f}{\partial a_{k}} &= \sum_{i=0}^{\mathrm{a.Length} - 1} \begin{cases} 2 a_{i} & \text{if } k = i \\ 0 & \text{otherwise} \end{cases}
            \end{aligned}
            """.ReplaceLineEndings("\n"), squares.ToLatex());

        Assert.Equal("∂f/∂a[k] = sum(i = 0..a.Length - 2, (k == i ? 2*a[i] - 2 - 400*a[i]*(a[1 + i] - a[i]^2) : 0) + (k == 1 + i ? 200*(a[1 + i] - a[i]^2) : 0))",
            Rosenbrock().ToString());

        // Least squares over captured data: the scalars' partials are sums over the data.
        var xs = new[] { 1.0, 2.0, 3.0 };
        var ys = new[] { 2.0, 4.1, 5.9 };
        var fit = Grad.Of((double w, double b) => Enumerable.Range(0, xs.Length).Sum(i => Math.Pow(w * xs[i] + b - ys[i], 2)));
        Assert.Equal("∂f/∂w = sum(i = 0..xs.Length - 1, 2*xs[i]*(b - ys[i] + w*xs[i]))\n∂f/∂b = sum(i = 0..xs.Length - 1, 2*(b - ys[i] + w*xs[i]))", fit.ToString());
        Assert.Equal(@"\frac{\partial f}{\partial w} = \sum_{i=0}^{\mathrm{xs.Length} - 1} 2 \mathrm{xs}_{i} \left(b - \mathrm{ys}_{i} + w \mathrm{xs}_{i}\right)", fit.Formulas[0].ToLatex());

        // A read outside the loop is a delta at its index; the scalar's partial is the sum it multiplies.
        var mixed = Grad.Of((double y, double[] x) => y * x.Sum(v => Math.Sin(v)) + x[0]);
        Assert.Equal("∂f/∂y = sum(i = 0..x.Length - 1, sin(x[i]))\n∂f/∂x[k] = (k == 0 ? 1 : 0) + sum(i = 0..x.Length - 1, (k == i ? y*cos(x[i]) : 0))", mixed.ToString());

        // A sum in a branch scatters under the branch's test; the two contributions to ∂f/∂x are like terms.
        var branch = Grad.Of((double x, double[] a) => x > 0 ? x * a.Sum(v => v * x) : -x);
        Assert.Equal("∂f/∂x = (x > 0 ? 2*(sum(i = 0..a.Length - 1, x*a[i])) : -1)\n∂f/∂a[k] = (x > 0 ? sum(i = 0..a.Length - 1, (k == i ? x^2 : 0)) : 0)", branch.ToString());

        // Nested sums: the inner sum's range depends on the outer index.
        Assert.Equal("∂f/∂x[k] = sum(i = 0..x.Length - 1, (k == i ? sum(j = 1 + i..x.Length - 1, 2*x[i] - 2*x[j]) : 0) + sum(j = 1 + i..x.Length - 1, (k == j ? 2*x[j] - 2*x[i] : 0)))",
            Pairs().ToString());
    }

    [Fact]
    public void Formulas_of_sums_evaluate_to_the_compiled_gradient()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var xs = new[] { 1.0, 2.0, 3.0 };
        var ys = new[] { 2.0, 4.1, 5.9 };
        var data = new Dictionary<string, double> { ["xs.Length"] = 3 };
        for (var i = 0; i < 3; i++)
            (data[$"xs[{i}]"], data[$"ys[{i}]"]) = (xs[i], ys[i]);
        Gradient[] functions = [Rosenbrock(), Pairs(),
            Grad.Of((double w, double b) => Enumerable.Range(0, xs.Length).Sum(i => Math.Pow(w * xs[i] + b - ys[i], 2))),
            Grad.Of((double y, double[] x) => y * x.Sum(v => Math.Sin(v)) + x[0] * x[1]),
            Grad.Of((double[] a) => a.Select((v, i) => Math.Exp(v) * (i + 1)).Sum()),
            // A sum in a branch: its scatters happen under the test.
            Grad.Of((double x, double[] a) => x > 0 ? x * a.Sum(v => v * x) : -x),
            // Logistic loss over a captured 3×2 data set (nested sums, a matrix read, a captured scalar in the body).
            Grad.Of((double[] w) => Enumerable.Range(0, X.GetLength(0)).Sum(i =>
                Math.Log(1 + Math.Exp(-ys[i] * Enumerable.Range(0, X.GetLength(1)).Sum(j => X[i, j] * w[j])))) + Lambda * w.Sum(v => v * v))];
        foreach (var g in functions)
            output.WriteLine(g.ToString());
        foreach (var (name, value) in new[] { ("LoopDisplayTests.X.GetLength(0)", 3.0), ("LoopDisplayTests.X.GetLength(1)", 2.0) })
            data[name] = value;
        for (var r = 0; r < 3; r++)
            for (var c = 0; c < 2; c++)
                data[$"X[{r}, {c}]"] = X[r, c];
        foreach (var g in functions)
            for (var run = 0; run < 5; run++)
            {
                var graph = g.Graph;
                var last = graph.Parameters[^1];
                var length = graph.EndsDynamic ? Math.Max(g.Dimension, random.Next(2, 7)) : g.Dimension;
                var point = Enumerable.Range(0, length).Select(_ => Math.Round(random.NextDouble() * 4 - 2, 3)).ToArray();
                if (run == 0)
                    point[0] = -point[0]; // both branches
                var gradient = new double[length];
                g.Evaluate(point, gradient);
                var env = new Dictionary<string, double>(data);
                foreach (var p in graph.Parameters)
                {
                    var extent = p.IsDynamic ? length - p.Offset : p.Extent;
                    if (p.IsArray)
                        env[p.Name + ".Length"] = extent;
                    for (var e = 0; e < extent; e++)
                        env[p.SlotName(e)] = point[p.Offset + e];
                }
                var formulas = g.Formulas;
                var slot = 0;
                foreach (var d in formulas)
                {
                    var dynamic = d.Variable.EndsWith("[k]", StringComparison.Ordinal);
                    for (var k = slot; k < (dynamic ? length : slot + 1); k++)
                    {
                        env["k"] = k - (dynamic ? last.Offset : 0);
                        var value = FormulaModule.Evaluate(FSharpFunc<string, double>.FromConverter(name => env[name]), d.Formula!);
                        Assert.True(Math.Abs(value - gradient[k]) <= 1e-12 * Math.Max(1, Math.Abs(gradient[k])),
                            $"{d} at k = {k}: {value} but the compiled gradient is {gradient[k]} (seed {seed}, point [{string.Join(", ", point)}])");
                    }
                    slot = dynamic ? length : slot + 1;
                }
            }
    }

    [Fact]
    public void Folds_max_and_min_have_no_formula_and_say_so()
    {
        foreach (var (g, kind) in new[] { (Net(), "is a fold"), (ScaledMax(), "is a Max") })
        {
            var refused = Assert.Throws<NotSupportedException>(() => g.Formulas);
            Assert.Contains(kind, refused.Message);
            Assert.Contains("ToListing()", refused.Message);
            Assert.Throws<NotSupportedException>(() => g.ToLatex());
            Assert.Equal(g.ToListing(), g.ToString());
        }
    }

    [Fact]
    public void A_sum_whose_body_is_a_10000_deep_chain_lists_traces_and_refuses_its_formula_on_a_1_MiB_stack()
    {
        // Σ_i sin(sin(...sin(a[i])...)), 10,000 deep (a body of 100,000 does not compile yet: Emit gives each body stage a local of its own): the listing, the trace and the formula's size walk the body without recursion.
        const int depth = 10_000;
        var a = Expression.Parameter(typeof(double[]), "a");
        var i = Expression.Parameter(typeof(int), "i");
        Expression body = Expression.ArrayIndex(a, i);
        var sin = typeof(Math).GetMethod(nameof(Math.Sin), [typeof(double)])!;
        for (var d = 0; d < depth; d++)
            body = Expression.Call(sin, body);
        var range = Expression.Call(typeof(Enumerable), nameof(Enumerable.Range), null, Expression.Constant(0), Expression.ArrayLength(a));
        var sum = Expression.Call(typeof(Enumerable), nameof(Enumerable.Sum), [typeof(int)], range, Expression.Lambda<Func<int, double>>(body, i));
        var g = Grad.Of(Expression.Lambda<Func<double[], double>>(sum, a));

        (int Lines, Trace? Trace, Derivative? Formula) result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = (g.ToListing().Split('\n').Length, g.Trace(0.5, -0.25), g.Formulas[0]);
            }
            catch (Exception e) { error = e; }
        }, 1024 * 1024);
        thread.Start();
        thread.Join();

        Assert.Null(error);
        Assert.True(result.Lines > 2 * depth, $"{result.Lines} lines"); // the body's forward and backward stages, once
        AssertSameAsCompiled(g, [0.5, -0.25]);
        Assert.Equal(["a[0]", "a[1]"], result.Trace!.Inputs.Select(n => n.Name));
        Assert.Null(result.Formula!.Formula);
        Assert.StartsWith("∂f/∂a[k] = too large to display", result.Formula.ToString());
    }
}
