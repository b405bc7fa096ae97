using System.Linq.Expressions;
using ExprGrad.Display;
using ExprGrad.Import;
using ExprGrad.Reverse;
using ExprGrad.Staging;
using ExprGrad.Tests.Properties;
using ExprGrad.Tests.Staging;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ExprGrad.Tests.Display;

/// <summary>
/// Traces of the CS231n circuits: every node's value and gradient as the notes draw them, the inputs' gradients equal
/// to the compiled gradient bit for bit, conditionals showing the branch taken, and deep graphs.
/// </summary>
public sealed class TraceTests
{
    private static TraceNode Node(Trace t, string label) => Assert.Single(t.Nodes, n => n.Label == label);

    private static void AssertNode(TraceNode n, double value, double? adjoint, int digits = 2)
    {
        Assert.Equal(value, n.Value, digits);
        if (adjoint is null)
            Assert.Null(n.Adjoint);
        else
            Assert.Equal(adjoint.Value, Assert.NotNull(n.Adjoint), digits);
    }

    private static IEnumerable<long> Bits(IEnumerable<double> values) => values.Select(BitConverter.DoubleToInt64Bits);

    private static void AssertSameGradient(Gradient g, Trace t, double[] point)
    {
        var gradient = new double[g.Dimension];
        var value = g.Evaluate(point, gradient);
        Assert.Equal(BitConverter.DoubleToInt64Bits(value), BitConverter.DoubleToInt64Bits(t.Value));
        Assert.Equal(gradient.Select(BitConverter.DoubleToInt64Bits), t.Gradient.Select(BitConverter.DoubleToInt64Bits));
        foreach (var input in t.Inputs)
            Assert.Contains(input.Adjoint!.Value, gradient);
    }

    [Fact]
    public void Sum_times_z_at_minus2_5_minus4_carries_the_numbers_of_the_notes()
    {
        // x = −2, y = 5, z = −4: q = x + y = 3, f = q z = −12; ∂f/∂q = z = −4 flows to x and y; ∂f/∂z = q = 3.
        var g = Grad.Of((double x, double y, double z) => (x + y) * z);
        var t = g.Trace(-2, 5, -4);

        Assert.Equal(["x", "y", "+", "z", "*"], t.Nodes.Select(n => n.Label));
        AssertNode(Node(t, "x"), -2, -4);
        AssertNode(Node(t, "y"), 5, -4);
        AssertNode(Node(t, "z"), -4, 3);
        AssertNode(Node(t, "+"), 3, -4);
        AssertNode(Node(t, "*"), -12, 1);
        Assert.Same(Node(t, "*"), t.Output);
        // Stages are named by their id, as the listing names them; inputs by their parameter.
        Assert.All(t.Nodes.Where(n => n.Kind == TraceNodeKind.Gate), n => Assert.Equal($"v{n.Id}", n.Name));
        Assert.Contains($"v{t.Output.Id} = ", g.ToListing(), StringComparison.Ordinal);
        Assert.Equal(["x", "y", "z"], t.Inputs.Select(n => n.Name));
        Assert.All(t.Inputs, n => Assert.Equal(TraceNodeKind.Input, n.Kind));
        Assert.Equal([Node(t, "+"), Node(t, "z")], t.Output.Inputs);
        Assert.Equal(TraceNodeKind.Gate, t.Output.Kind);
        Assert.Equal("*", t.Output.Operation);
        AssertSameGradient(g, t, [-2, 5, -4]);
    }

    [Fact]
    public void The_sigmoid_neuron_written_out_has_the_gates_and_numbers_of_the_notes()
    {
        // The notes' circuit: w0 x0 + w1 x1 + w2 = 1, *−1, exp, +1, 1/x → 0.73; gradients −0.53 before 1/x, 0.20 on the dot product.
        var g = Grad.Of((double w0, double x0, double w1, double x1, double w2) => 1 / (1 + Math.Exp(-(w0 * x0 + w1 * x1 + w2))));
        var t = g.Trace(2, -1, -3, -2, -3);

        AssertNode(Node(t, "w0"), 2, -0.20);
        AssertNode(Node(t, "x0"), -1, 0.39);
        AssertNode(Node(t, "w1"), -3, -0.39);
        AssertNode(Node(t, "x1"), -2, -0.59);
        AssertNode(Node(t, "w2"), -3, 0.20);
        var products = t.Nodes.Where(n => n.Label == "*").ToList();
        Assert.Equal([-2.0, 6.0], products.Select(p => p.Value).Order());
        Assert.All(products, p => Assert.Equal(0.20, p.Adjoint!.Value, 2));
        Assert.Equal([4.0, 1.0], t.Nodes.Where(n => n.Label == "+").Select(n => n.Value));
        AssertNode(Node(t, "-x"), -1, -0.20);
        AssertNode(Node(t, "exp"), 0.37, -0.53);
        AssertNode(Node(t, "+1"), 1.37, -0.53);
        AssertNode(Node(t, "1/x"), 0.73, 1.00);
        Assert.Equal("/", Node(t, "1/x").Operation);
        Assert.Equal(TraceNodeKind.Constant, Node(t, "1/x").Inputs[0].Kind);
        AssertSameGradient(g, t, [2, -1, -3, -2, -3]);
    }

    [Fact]
    public void The_sigmoid_gate_is_one_node_with_the_local_gradient_of_the_notes()
    {
        // σ(1) = 0.73 with local gradient (1 − σ)σ = 0.20.
        var g = Grad.Of((double w0, double x0, double w1, double x1, double w2) => Fn.Sigmoid(w0 * x0 + w1 * x1 + w2));
        var t = g.Trace(2, -1, -3, -2, -3);
        AssertNode(Node(t, "σ"), 0.73, 1);
        Assert.Equal(0.20, t.Nodes.Single(n => n.Label == "+" && n.Value == 1).Adjoint!.Value, 2);
        AssertSameGradient(g, t, [2, -1, -3, -2, -3]);
    }

    [Fact]
    public void The_staged_example_matches_backprop_written_out()
    {
        // The notes' staged backprop of (x + σ(y)) / (σ(x) + (x + y)²) at (3, −4), line by line.
        var g = Grad.Of((double x, double y) => (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + (x + y) * (x + y)));
        var t = g.Trace(3, -4);

        double x0 = 3, y0 = -4;
        var sigy = 1.0 / (1 + Math.Exp(-y0));
        var num = x0 + sigy;
        var sigx = 1.0 / (1 + Math.Exp(-x0));
        var xpy = x0 + y0;
        var xpysqr = xpy * xpy;
        var den = sigx + xpysqr;
        var invden = 1.0 / den;
        var dnum = invden;
        var dden = -1.0 / (den * den) * num;
        var dxpy = 2 * xpy * dden;

        var sigmas = t.Nodes.Where(n => n.Label == "σ").ToDictionary(n => n.Inputs[0].Name);
        AssertNode(sigmas["y"], sigy, dnum * 1, 12);
        AssertNode(sigmas["x"], sigx, dden, 12);
        var sums = t.Nodes.Where(n => n.Label == "+").ToDictionary(n => string.Join(" ", n.Inputs.Select(i => i.Label)));
        AssertNode(sums["x y"], xpy, dxpy, 12);
        AssertNode(sums["x σ"], num, dnum, 12);
        AssertNode(sums["σ x²"], den, dden, 12);
        AssertNode(Node(t, "x²"), xpysqr, dden, 12);
        AssertNode(Node(t, "/"), num * invden, 1, 12);
        AssertSameGradient(g, t, [3, -4]);
    }

    [Fact]
    public void Add_distributes_max_routes_multiply_swaps()
    {
        // 2 (xy + max(z, w)) at (3, −4, 2, −1): the notes' patterns in backward flow.
        var g = Grad.Of((double x, double y, double z, double w) => 2 * (x * y + Math.Max(z, w)));
        var t = g.Trace(3, -4, 2, -1);
        AssertNode(Node(t, "x"), 3, -8);
        AssertNode(Node(t, "y"), -4, 6);
        AssertNode(Node(t, "z"), 2, 2);
        AssertNode(Node(t, "w"), -1, 0);
        AssertNode(Node(t, "*"), -12, 2);
        AssertNode(Node(t, "max"), 2, 2);
        AssertNode(Node(t, "+"), -10, 2);
        AssertNode(Node(t, "*2"), -20, 1);
        AssertSameGradient(g, t, [3, -4, 2, -1]);
    }

    [Fact]
    public void Constants_fold_into_gate_labels()
    {
        var g = Grad.Of((double x) => Math.Max(x - 3, 0) / 2 + (5 - x) + Math.Pow(x, 3) + (x > 1 ? 1 : 0));
        var labels = g.Trace(4).Nodes.Select(n => n.Label).ToList();
        Assert.Contains("-3", labels);
        Assert.Contains("max(x,0)", labels);
        Assert.Contains("/2", labels);
        Assert.Contains("5-x", labels);
        Assert.Contains("pow(x,3)", labels);
        Assert.Contains(">1", labels);
    }

    [Fact]
    public void A_conditional_shows_the_branch_taken_and_no_NaN_from_the_other()
    {
        // x > 0 ? log x : x² at x = −3: the test is false, x² runs, ∂f/∂x = 2x = −6; log(−3) is never evaluated.
        var g = Grad.Of((double x) => x > 0 ? Math.Log(x) : x * x);
        var t = g.Trace(-3);
        Assert.DoesNotContain(t.Nodes, n => n.Label == "log");
        var test = Node(t, ">0");
        Assert.Equal(TraceNodeKind.Test, test.Kind);
        Assert.Equal(0, test.Value);
        Assert.Null(test.Adjoint);
        AssertNode(Node(t, "x²"), 9, 1);
        var branch = Node(t, "if");
        Assert.Equal(TraceNodeKind.Branch, branch.Kind);
        Assert.Equal([test, Node(t, "x²")], branch.Inputs);
        AssertNode(branch, 9, 1);
        AssertNode(Node(t, "x"), -3, -6);
        AssertSameGradient(g, t, [-3]);

        var other = g.Trace(2);
        AssertNode(Node(other, "log"), Math.Log(2), 1, 12);
        AssertNode(Node(other, "x"), 2, 0.5, 12);
        Assert.DoesNotContain(other.Nodes, n => n.Label == "x²");
    }

    [Fact]
    public void Stages_inside_a_branch_get_the_adjoints_they_would_get_outside_it()
    {
        // Inside the taken branch the sweep runs on numbers; it must agree with the same stages traced unconditionally.
        var branchy = Grad.Of((double x, double y) => x > 0 ? (y > 1 ? Math.Sin(x * y) * y : Math.Exp(x * y)) : y);
        var plain = Grad.Of((double x, double y) => Math.Sin(x * y) * y);
        var inside = branchy.Trace(0.7, 1.5);
        var outside = plain.Trace(0.7, 1.5);
        foreach (var label in new[] { "sin", "*" })
        {
            var a = inside.Nodes.Where(n => n.Label == label).Select(n => (n.Value, n.Adjoint)).Order();
            var b = outside.Nodes.Where(n => n.Label == label).Select(n => (n.Value, n.Adjoint)).Order();
            Assert.Equal(b, a);
        }
        Assert.Equal(2, inside.Nodes.Count(n => n.Kind == TraceNodeKind.Branch));
        AssertSameGradient(branchy, inside, [0.7, 1.5]);
        Assert.Equal(outside.Gradient, inside.Gradient);
    }

    [Fact]
    public void A_rule_with_a_conditional_in_its_pullback_is_swept_inside_a_branch()
    {
        // pow's pullback for the exponent is itself a conditional (u = 0); inside a branch it runs on numbers.
        var g = Grad.Of((double u, double p) => p > 0 ? Math.Pow(u, p) : 0);
        var t = g.Trace(2, 3);
        AssertNode(Node(t, "pow"), 8, 1);
        AssertNode(Node(t, "u"), 2, 12, 12);
        AssertNode(Node(t, "p"), 3, 8 * Math.Log(2), 12);
        AssertSameGradient(g, t, [2, 3]);
    }

    [Fact]
    public void Captured_values_carry_no_gradient()
    {
        var scale = 2.5;
        var g = Grad.Of((double x) => scale * x);
        var t = g.Trace(4);
        var captured = Assert.Single(t.Nodes, n => n.Kind == TraceNodeKind.Captured);
        Assert.Equal("scale", captured.Name);
        AssertNode(captured, 2.5, null);
        AssertNode(Node(t, "x"), 4, 2.5);
    }

    [Fact]
    public void Array_elements_are_inputs_named_by_index()
    {
        var g = Grad.Of((double[] w) => w[0] * w[2]);
        var t = g.Trace(3, 100, 5);
        Assert.Equal(["w[0]", "w[2]"], t.Inputs.Select(n => n.Name));
        Assert.Equal([5.0, 0, 3], t.Gradient);
    }

    [Fact]
    public void A_point_shorter_than_the_layout_is_refused()
    {
        var g = Grad.Of((double x, double y) => x * y);
        var e = Assert.Throws<ArgumentException>(() => g.Trace(1));
        Assert.Contains("1 values", e.Message);
    }

    [Fact]
    public void An_operation_outside_the_scalar_catalogue_is_named()
    {
        // A graph holding an operation traces cannot evaluate (as a matrix operation would be) fails with its name.
        var b = new GraphBuilder();
        var x = b.Input(0, -1);
        var odd = new Node(b.Count, (Op)999, [x], b.Root);
        b.Root.Nodes.Add(odd);
        var graph = new StagedGraph(Expression.Lambda(Expression.Constant(0.0)), b, odd, [new("x", false, 0, 1)])
        {
            ForwardCount = 2,
            Adjoints = [null],
        };
        var e = Assert.Throws<NotSupportedException>(() => Tracer.Run(graph, [1.0]));
        Assert.Contains("cannot trace the operation '999'", e.Message);
    }

    [Fact]
    public void ToString_is_a_table_of_values_and_gradients()
    {
        var t = Grad.Of((double x, double y, double z) => (x + y) * z).Trace(-2, 5, -4);
        var lines = t.ToString().ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("trace at x = -2, y = 5, z = -4: f = -12", lines[0]);
        Assert.Contains("  x: value -2, gradient -4", lines);
        Assert.Contains(lines, l => l.StartsWith("  v", StringComparison.Ordinal) && l.EndsWith("* z: value -12, gradient 1  (f)", StringComparison.Ordinal));

        var staged = Grad.Of((double x, double y) => Fn.Sigmoid(-x) / ((x + y) * (x + y))).Trace(3, -4).ToString();
        Assert.Matches(@"\n  v\d+ = -x: value -3, gradient", staged);
        Assert.Matches(@"\n  v\d+ = σ v\d+: value", staged);
        Assert.Matches(@"\n  v\d+ = v\d+²: value 1, gradient", staged);
    }

    [Fact]
    public void A_100000_deep_chain_traces_on_a_1_MiB_stack()
    {
        // sin(sin(...sin(x)...) * 1.0001), shared with ScaleTests: every walk of the trace must be iterative or guarded.
        (int Nodes, bool Drawable, string Svg, string Text, double Gradient, double Expected) result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                var g = ExprGrad.Tests.Emit.DeepChain.Gradient;
                var t = g.Trace(0.5);
                var expected = new double[1];
                g.Evaluate([0.5], expected);
                result = (t.Nodes.Count, t.IsDrawable, t.ToSvg(), t.ToString(), t.Gradient[0], expected[0]);
                _ = t.ToDot();
                _ = t.ToMermaid();
            }
            catch (Exception e) { error = e; }
        }, 1024 * 1024);
        thread.Start();
        thread.Join();

        Assert.Null(error);
        Assert.Equal(2 * ExprGrad.Tests.Emit.DeepChain.Depth + 1, result.Nodes); // x, and a sine and a product a level
        Assert.False(result.Drawable);
        Assert.Contains("more than 60", result.Svg);
        Assert.Contains("stages not listed", result.Text);
        Assert.Equal(result.Expected, result.Gradient);
    }

    // Every traced value is the reference interpreter's, and the inputs' adjoints are the compiled gradient, bit for bit.
    [Property(MaxTest = 300, MaxRejected = 300, QuietOnSuccess = true)]
    public Property Traces_agree_with_the_compiled_gradient_and_the_interpreter_on_random_expressions() =>
        Prop.ForAll(ExpressionGenerator.Cases(), c =>
        {
            var point = PointScreen.FindPoint(c, 10, out _);
            return Prop.When(point is not null, () =>
            {
                var graph = Importer.Import(c.Lowered.Lambda);
                ReverseSweep.Run(graph);
                var t = Tracer.Run(graph, point!);
                var (interpreted, interpretedGradient) = Interpreter.Run(graph, point!);
                var g = Grad.Of(c.Lowered.Lambda);
                var gradient = new double[g.Dimension];
                var value = g.Evaluate(point, gradient);
                return value.Equals(t.Value) && interpreted.Equals(t.Value)
                    && Bits(gradient).SequenceEqual(Bits(t.Gradient)) && Bits(interpretedGradient).SequenceEqual(Bits(t.Gradient))
                    && t.Output.Adjoint is null or 1;
            });
        });
}
