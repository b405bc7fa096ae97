using System.Linq.Expressions;
using ExprGrad.Display;
using ExprGrad.Import;
using ExprGrad.Reverse;
using ExprGrad.Symbolic;
using ExprGrad.Tests.Emit;
using ExprGrad.Tests.Properties;
using FsCheck.Fluent;

namespace ExprGrad.Tests.Display;

/// <summary>
/// g.Formulas: golden formulas of the seeds and classic simplifications; on random functions every simplified
/// partial evaluates to what the unsimplified, inlined staged graph gives; formulas stay linear on the depth-m net.
/// </summary>
public sealed class FormulaTests
{
    private static string[] Lines(Gradient g) => g.ToString().Split('\n');

    [Fact]
    public void Seed_x_times_y() =>
        Assert.Equal(["∂f/∂x = y", "∂f/∂y = x"], Lines(Grad.Of((double x, double y) => x * y)));

    [Fact]
    public void Seed_sum_times_z() =>
        Assert.Equal(["∂f/∂x = z", "∂f/∂y = z", "∂f/∂z = x + y"], Lines(Grad.Of((double x, double y, double z) => (x + y) * z)));

    [Fact]
    public void Product_rule_on_x_sin_x() =>
        Assert.Equal(["∂f/∂x = sin(x) + x*cos(x)"], Lines(Grad.Of((double x) => x * Math.Sin(x))));

    [Fact]
    public void The_sigmoid_gate_shows_its_fused_rule() =>
        Assert.Equal(["∂f/∂x = sigmoid(x)*(1 - sigmoid(x))"], Lines(Grad.Of((double x) => Fn.Sigmoid(x))));

    [Fact]
    public void The_sigmoid_gate_keeps_its_fused_rule_inside_shapes_that_group_terms() =>
        // (x + σ(y))/(σ(x) + (x + y)²): the common denominator groups the terms with x + σ(y), never σ(x) out of σ(x)(1 − σ(x)).
        Assert.Equal(
            [
                "∂f/∂x = ((x + sigmoid(y))*(-2*x - 2*y - sigmoid(x)*(1 - sigmoid(x))) + sigmoid(x) + (x + y)^2)/(sigmoid(x) + (x + y)^2)^2",
                "∂f/∂y = sigmoid(y)*(1 - sigmoid(y))/(sigmoid(x) + (x + y)^2) - 2*(x + y)*(x + sigmoid(y))/(sigmoid(x) + (x + y)^2)^2",
            ], Lines(Grad.Of((double x, double y) => (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + (x + y) * (x + y)))));

    [Fact]
    public void The_neuron_written_with_exp()
    {
        var g = Grad.Of((double[] w, double[] x) => 1 / (1 + Math.Exp(-(w[0] * x[0] + w[1] * x[1] + w[2]))));
        const string E = "exp(-w[2] - w[0]*x[0] - w[1]*x[1])";
        Assert.Equal(
            [
                $"∂f/∂w[0] = x[0]*{E}/(1 + {E})^2",
                $"∂f/∂w[1] = x[1]*{E}/(1 + {E})^2",
                $"∂f/∂w[2] = {E}/(1 + {E})^2",
                $"∂f/∂x[0] = w[0]*{E}/(1 + {E})^2",
                $"∂f/∂x[1] = w[1]*{E}/(1 + {E})^2",
            ], Lines(g));
    }

    [Fact]
    public void The_depth_three_net_with_the_sign_the_seed_drops()
    {
        // ∂L/∂w3 = (ŷ − y)·o₂ with o₂ = σ(w2 σ(w1 x)): the seed's (y − ŷ)·o₂ has the wrong sign. x and y are
        // captured: they print by name and are never differentiated.
        double x = 0.5, y = 0.2;
        var g = Grad.Of((double w1, double w2, double w3) =>
            0.5 * (y - Fn.Sigmoid(Fn.Sigmoid(x * w1) * w2) * w3) * (y - Fn.Sigmoid(Fn.Sigmoid(x * w1) * w2) * w3));
        Assert.Equal(
            [
                "∂f/∂w1 = w2*w3*x*sigmoid(w1*x)*sigmoid(w2*sigmoid(w1*x))*(1 - sigmoid(w1*x))*(1 - sigmoid(w2*sigmoid(w1*x)))*(w3*sigmoid(w2*sigmoid(w1*x)) - y)",
                "∂f/∂w2 = w3*sigmoid(w1*x)*sigmoid(w2*sigmoid(w1*x))*(1 - sigmoid(w2*sigmoid(w1*x)))*(w3*sigmoid(w2*sigmoid(w1*x)) - y)",
                "∂f/∂w3 = sigmoid(w2*sigmoid(w1*x))*(w3*sigmoid(w2*sigmoid(w1*x)) - y)",
            ], Lines(g));
    }

    [Fact]
    public void A_conditional_prints_piecewise() =>
        Assert.Equal(["∂f/∂x = (x > y ? y : 0)", "∂f/∂y = (x > y ? x : 1/y)"], Lines(Grad.Of((double x, double y) => x > y ? x * y : Math.Log(y))));

    [Fact]
    public void Latex_aligns_the_partials_under_their_headers()
    {
        Assert.Equal("\\begin{aligned}\n\\frac{\\partial f}{\\partial w_{0}} &= w_{1} \\\\\n\\frac{\\partial f}{\\partial w_{1}} &= w_{0}\n\\end{aligned}",
            Grad.Of((double[] w) => w[0] * w[1]).ToLatex());
        Assert.Equal("\\frac{\\partial f}{\\partial x} = \\sigma\\left(x\\right) \\left(1 - \\sigma\\left(x\\right)\\right)",
            Grad.Of((double x) => Fn.Sigmoid(x)).Formulas[0].ToLatex());
    }

    [Fact]
    public void A_partial_the_function_does_not_depend_on_is_zero() =>
        Assert.Equal(["∂f/∂x = 0", "∂f/∂y = cos(y)"], Lines(Grad.Of((double x, double y) => Math.Floor(x) + Math.Sin(y))));

    [Fact]
    public void A_folded_constant_shows_how_it_was_computed()
    {
        // Import folds exp(e) to 15.154262241479262 and the sweep 1/exp(e) to 0.06598803584531254: the staged code
        // runs that number; the formula shows how it was computed (issue 16: a decimal only as the user wrote it).
        var g = Grad.Of((double x) => x / Math.Exp(Math.E));
        Assert.Equal(["∂f/∂x = 1/exp(e)"], Lines(g));
        Assert.Contains("x / 15.154262241479262", g.ToCode());
        var gradient = new double[1];
        g.Evaluate([2.0], gradient);
        Assert.Equal(0.06598803584531254, gradient[0]);
        Assert.Equal(gradient[0], FormulaModule.Evaluate(Microsoft.FSharp.Core.FSharpFunc<string, double>.FromConverter(_ => 2.0), g.Formulas[0].Formula!), 1e-16);
        // Kept symbolic, the constant cancels: x/(exp(sin(4))·x) has derivative 0, not the −4.44e-16/x of rounding.
        Assert.Equal(["∂f/∂x = 0"], Lines(Grad.Of((double x) => x / (Math.Exp(Math.Sin(4)) * x))));
        Assert.Equal(["∂f/∂x = asinh(pi)"], Lines(Grad.Of((double x) => (x + 4) * Math.Asinh(Math.PI))));
        // A constant the symbolic module knows stays as it knows it (atan(1) = pi/4), and a non-finite one as its
        // value: acos(5) is NaN, and its formula says so rather than hide it in a symbol.
        Assert.Equal(["∂f/∂x = pi/4"], Lines(Grad.Of((double x) => x * Math.Atan(1))));
        Assert.Equal(["∂f/∂x = NaN"], Lines(Grad.Of((double x) => x * Math.Acos(5))));
    }

    [Fact]
    public void Identities_hide_no_NaN()
    {
        // sin(acos(x))' = -cos(acos(x))/sqrt(1 - x^2): the root is NaN wherever acos is, so cos(acos(x)) may be x there.
        Assert.Equal(["∂f/∂x = -x/sqrt(1 - x^2)"], Lines(Grad.Of((double x) => Math.Sin(Math.Acos(x)))));
        // sin(asin(x))' is NaN for |x| > 1, as the compiled gradient is: not 1.
        Assert.Equal(["∂f/∂x = cos(asin(x))/sqrt(1 - x^2)"], Lines(Grad.Of((double x) => Math.Sin(Math.Asin(x)))));
        var gradient = new double[1];
        Grad.Of((double x) => Math.Sin(Math.Asin(x))).Evaluate([2.0], gradient);
        Assert.True(double.IsNaN(gradient[0]));
        // tan(atan2(u, v)) = u/v, NaN only at u = v = 0 where atan2 picks 0 (sympy's simplification, and shorter).
        Assert.Equal(["∂f/∂y = -5*exp(-1)/(2*y^2)"], Lines(Grad.Of((double y) => Math.Tan(Math.Atan2(2.5, y * y / (y / Math.E))))));
        // sqrt(x)*sqrt(x) + sqrt(x)/sqrt(x) is NaN for x < 0, and so is its derivative: not 1.
        var roots = Grad.Of((double x) => Math.Sqrt(x) * Math.Sqrt(x) + Math.Sqrt(x) / Math.Sqrt(x));
        roots.Evaluate([-2.0], gradient);
        Assert.True(double.IsNaN(gradient[0]));
        var shown = Assert.Single(Lines(roots));
        Assert.DoesNotContain("= 1", shown);
        Assert.True(double.IsNaN(FormulaModule.Evaluate(Microsoft.FSharp.Core.FSharpFunc<string, double>.FromConverter(_ => -2.0), roots.Formulas[0].Formula!)), shown);
        Assert.Equal(1.0, FormulaModule.Evaluate(Microsoft.FSharp.Core.FSharpFunc<string, double>.FromConverter(_ => 3.0), roots.Formulas[0].Formula!), 1e-15);
        // Defined for every x on both sides: cos(y)^2' = -sin(2*y), tanh(asinh(2x))' = 2/(1 + 4x^2)^(3/2).
        Assert.Equal(["∂f/∂y = -sin(2*y)"], Lines(Grad.Of((double y) => Math.Cos(y) * Math.Cos(y))));
        Assert.Equal(["∂f/∂x = 2/(1 + 4*x^2)^(3/2)"], Lines(Grad.Of((double x) => Math.Tanh(Math.Asinh(x + x)))));
    }

    [Fact]
    public void A_folded_constant_shows_a_bounded_origin()
    {
        // sin(sin(...sin(1))) folds to one number. 10 deep, the formula shows the sines; 200 deep, a constant remembers
        // at most 24 operations, the one below them shows as its decimal, and the symbolic module evaluates sines of a
        // decimal: the formula is that number, whatever the depth.
        foreach (var (depth, shown) in new[] { (10, "sin(sin(sin(sin(sin(sin(sin(sin(sin(sin(1))))))))))"), (200, "0.12078769194088672") })
        {
            var x = Expression.Parameter(typeof(double), "x");
            Expression c = Expression.Constant(1.0);
            for (var i = 0; i < depth; i++)
                c = Expression.Call(typeof(Math).GetMethod(nameof(Math.Sin))!, c);
            var g = Grad.Of(Expression.Lambda<Func<double, double>>(Expression.Multiply(x, c), x));
            Assert.Equal(shown, g.Formulas[0].Infix);
            var gradient = new double[1];
            g.Evaluate([1.0], gradient);
            Assert.Equal(gradient[0], FormulaModule.Evaluate(Microsoft.FSharp.Core.FSharpFunc<string, double>.FromConverter(_ => 1.0), g.Formulas[0].Formula!), 1e-15);
        }
    }

    [Fact]
    public void Formulas_stay_linear_in_the_depth_of_the_net()
    {
        // ∂L/∂w_{m−1} = (ŷ − y)·o_{m−1}: o_{m−1} nests m − 1 sigmoids, so the printed formula grows linearly in m.
        var lengths = new[] { 25, 50, 100, 200 }.Select(m => Grad.Of(ScaleTests.DepthNet(m)).Formulas[m - 1].Infix.Length).ToArray();
        for (var i = 1; i < lengths.Length; i++)
            Assert.InRange(lengths[i] / (double)lengths[i - 1], 1.8, 2.2);
    }

    [Fact]
    public void A_formula_too_large_to_write_out_says_so_instead_of_printing()
    {
        // e ← e·e, 40 times: the staged graph has 40 stages; the formula written out would have ~2^40 nodes.
        var x = Expression.Parameter(typeof(double), "x");
        Expression e = x;
        for (var i = 0; i < 40; i++)
            e = Expression.Multiply(Expression.Call(typeof(Math).GetMethod(nameof(Math.Sin))!, e), e);
        var d = Grad.Of(Expression.Lambda<Func<double, double>>(e, x)).Formulas[0];
        Assert.Null(d.Formula);
        Assert.True(d.WrittenSize > Gradient.MaxFormulaSize);
        Assert.StartsWith("∂f/∂x = too large to display", d.ToString());
    }

    [Fact]
    public void Simplified_partials_evaluate_to_the_inlined_graph_on_random_functions()
    {
        var cases = Gen.Sample(ExpressionGenerator.CaseGen(), 300).Where(c => c.CapturedValues().Length == 0).Take(200).ToList();
        var compared = 0;
        foreach (var c in cases)
        {
            var lambda = c.Lowered.Lambda;
            var graph = Importer.Import(lambda);
            ReverseSweep.Run(graph);
            var trees = new FormulaTrees(graph);
            var g = Grad.Of(lambda);
            var names = graph.SlotNames.ToArray();
            var point = ExpressionGenerator.Point(c, 0);
            var parameters = names.Select(n => trees.Parameters.TryGetValue(n, out var p) ? p : Expression.Parameter(typeof(double), n)).ToArray();
            var symbols = parameters.ToDictionary(p => p.Name!, p => (Expression)p);
            for (var k = 0; k < names.Length; k++)
            {
                var d = g.Formulas[k];
                if (d.Formula is null)
                    continue;
                var inlined = Evaluate(trees.Partial(k), parameters, point);
                var simplified = Evaluate(d.ToExpression(symbols), parameters, point);
                if (!double.IsFinite(inlined))
                    continue;
                compared++;
                Assert.True(Math.Abs(inlined - simplified) <= 1e-9 * Math.Max(1, Math.Abs(inlined)),
                    $"{lambda}\n∂f/∂{names[k]}: inlined {inlined:R}, simplified {simplified:R} = {d.Infix}");
            }
        }
        Assert.True(compared >= 200, $"only {compared} partials compared");
    }

    private static double Evaluate(Expression body, ParameterExpression[] parameters, double[] point)
    {
        var f = Expression.Lambda(body, parameters).Compile();
        try
        {
            return (double)f.DynamicInvoke(point.Cast<object>().ToArray())!;
        }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is ArithmeticException)
        {
            return double.NaN; // Math.Sign(NaN) throws: a non-finite value
        }
    }
}
