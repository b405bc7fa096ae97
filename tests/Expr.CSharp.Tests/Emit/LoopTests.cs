using System.Linq.Expressions;
using System.Reflection;
using ExprGrad.Emit;
using ExprGrad.Import;
using ExprGrad.Reverse;
using ExprGrad.Staging;
using ExprGrad.Tests.Properties;
using FsCheck;
using FsCheck.Fluent;

namespace ExprGrad.Tests.Emit;

/// <summary>
/// Re-rolled loops (<see cref="LoopFinder"/>): a loop runs the stages the straight-line code runs, in the same order,
/// so its value and gradient are bit for bit those of the unrolled code, whatever the function.
/// </summary>
public class LoopTests
{
    private static readonly MethodInfo Square = typeof(Fn).GetMethod(nameof(Fn.Square))!;

    // Σ_{i<n-1} 100 (a[i+1] − a[i]²)² + (1 − a[i])², a left-leaning sum built with factories, as the benchmarks build it.
    internal static Expression<Func<double[], double>> Rosenbrock(int n)
    {
        var a = Expression.Parameter(typeof(double[]), "a");
        Expression At(int i) => Expression.ArrayIndex(a, Expression.Constant(i));
        Expression sum = Expression.Constant(0.0);
        for (var i = 0; i < n - 1; i++)
        {
            var t = Expression.Subtract(At(i + 1), Expression.Call(Square, At(i)));
            sum = Expression.Add(sum, Expression.Add(
                Expression.Multiply(Expression.Constant(100.0), Expression.Call(Square, t)),
                Expression.Call(Square, Expression.Subtract(Expression.Constant(1.0), At(i)))));
        }
        return Expression.Lambda<Func<double[], double>>(sum, a);
    }

    [Fact]
    public void Rosenbrock_in_1000_dimensions_becomes_one_method_with_a_loop_and_keeps_its_gradient_bit_for_bit()
    {
        var graph = Differentiate(Rosenbrock(1000));
        var rolled = Emitter.Compile(graph, rollFrom: 0);
        var unrolled = Emitter.Compile(graph, rollFrom: int.MaxValue);
        Assert.Equal(1, rolled.MethodCount);
        Assert.InRange(rolled.LoopCount, 1, 3);
        Assert.True(unrolled.MethodCount > 1);
        Assert.Equal(0, unrolled.LoopCount);

        var point = Enumerable.Range(0, 1000).Select(i => 0.5 + 0.01 * i).ToArray();
        AssertSame(Run(unrolled, point), Run(rolled, point), "Rosenbrock n = 1000");

        // The hand-written gradient (the benchmarks' baseline) agrees too.
        var (value, gradient) = Run(rolled, point);
        var expected = new double[1000];
        var f = 0.0;
        for (var i = 0; i < 999; i++)
        {
            var (t, u) = (point[i + 1] - point[i] * point[i], 1 - point[i]);
            f += 100 * t * t + u * u;
            expected[i] += -400 * t * point[i] - 2 * u;
            expected[i + 1] += 200 * t;
        }
        Assert.Equal(f, value, 1e-9 * Math.Abs(f));
        for (var i = 0; i < 1000; i++)
            Assert.Equal(expected[i], gradient[i], 1e-9 * (1 + Math.Abs(expected[i])));
    }

    [Fact]
    public void A_loop_larger_than_a_method_stays_in_one_method()
    {
        // A loop body of more stages than one method's budget: its first iteration fills a method alone, and the
        // later iterations (which cost nothing, being the same code) must not open another.
        var graph = Differentiate(Rosenbrock(40));
        var rolled = Emitter.Compile(graph, stagesPerMethod: 7, rollFrom: 0);
        Assert.True(rolled.LoopCount > 0);
        var point = Enumerable.Range(0, 40).Select(i => 0.5 + 0.01 * i).ToArray();
        AssertSame(Run(Emitter.Compile(graph, rollFrom: int.MaxValue), point), Run(rolled, point), "Rosenbrock n = 40, 7 stages per method");
    }

    [Fact]
    public void The_typed_form_of_a_rolled_graph_is_one_method_that_reads_the_array_parameter()
    {
        var graph = Differentiate(Rosenbrock(1000));
        var typed = Emitter.CompileTyped(graph, typeof(TypedKernel<double[]>), out var compiled, out var flat, rollFrom: 0);
        Assert.NotNull(typed);
        Assert.Null(flat);
        var point = Enumerable.Range(0, 1000).Select(i => Math.Cos(i)).ToArray();
        var value = ((TypedKernel<double[]>)compiled!)(point, out var gradient);
        var result = new ValueAndGradient<double[]>(value, gradient);
        AssertSame(Run(Emitter.Compile(graph, rollFrom: int.MaxValue), point), (result.Value, result.D1), "typed");

        // Through the public API, with the default threshold.
        var g = Grad.Of(Rosenbrock(1000));
        var viaApi = g.Evaluate(point);
        AssertSame((result.Value, result.D1), (viaApi.Value, viaApi.D1), "Grad.Of");
    }

    [Fact]
    public void A_large_typed_gradient_is_zero_wherever_the_function_does_not_reach()
    {
        // The typed API allocates the gradient array without zeroing it and writes every slot up to the highest
        // index read (zeros included), then clears the rest: heap memory left dirty by earlier arrays must never show.
        var g = Grad.Of((double[] a) => a[0] * a[999] + Math.Sin(a[500]));
        var point = new double[1200];
        point[0] = 2;
        point[999] = 3;
        for (var round = 0; round < 50; round++)
        {
            var litter = new double[64][];
            for (var i = 0; i < litter.Length; i++)
                Array.Fill(litter[i] = new double[1200], double.NaN);
            litter = null;
            GC.Collect();
            var gradient = g.Evaluate(point).D1;
            Assert.Equal(1200, gradient.Length);
            for (var i = 0; i < gradient.Length; i++)
                Assert.Equal(i switch { 0 => 3.0, 999 => 2.0, 500 => 1.0, _ => 0.0 }, gradient[i]);
        }
    }

    [Fact]
    public void Small_graphs_stay_straight_line_code()
    {
        var graph = Differentiate(Rosenbrock(10));
        Assert.True(graph.StageCount < Emitter.RollFrom);
        Assert.Equal(0, Emitter.Compile(graph).LoopCount);
    }

    [Fact]
    public void A_value_read_after_the_loop_ends_it_there()
    {
        // (Σ terms) · term₁₀: the tenth term's stages are read again at the end, so no loop may run past it
        // with its values overwritten.
        var a = Expression.Parameter(typeof(double[]), "a");
        Expression Term(int i) => Expression.Call(typeof(Math).GetMethod(nameof(Math.Sin), [typeof(double)])!,
            Expression.Multiply(Expression.ArrayIndex(a, Expression.Constant(i)), Expression.ArrayIndex(a, Expression.Constant(i + 1))));
        Expression sum = Expression.Constant(0.0);
        for (var i = 0; i < 60; i++)
            sum = Expression.Add(sum, Term(i));
        var f = Expression.Lambda<Func<double[], double>>(Expression.Multiply(sum, Term(10)), a);

        var graph = Differentiate(f);
        var rolled = Emitter.Compile(graph, rollFrom: 0);
        Assert.True(rolled.LoopCount >= 1);
        var point = Enumerable.Range(0, 61).Select(i => 0.3 + 0.05 * i).ToArray();
        AssertSame(Run(Emitter.Compile(graph, rollFrom: int.MaxValue), point), Run(rolled, point), "sum times a term");
    }

    [Fact]
    public void Rolled_code_equals_unrolled_code_bit_for_bit_on_random_repeated_functions()
    {
        var rolledCases = 0;
        PropertyRunner.Check(
            Prop.ForAll(Gen.Choose(0, int.MaxValue).ToArbitrary(), seed =>
            {
                var f = RepeatedFunction.Build(seed);
                var graph = Differentiate(f);
                var rolled = Emitter.Compile(graph, rollFrom: 0);
                if (rolled.LoopCount > 0)
                    rolledCases++;
                var random = new Random(seed);
                var point = Enumerable.Range(0, graph.Dimension).Select(_ => random.NextDouble() * 2 - 1).ToArray();
                AssertSame(Run(Emitter.Compile(graph, rollFrom: int.MaxValue), point), Run(rolled, point), $"seed {seed}: {f}");
            }),
            PropertyRunner.Scaled(150), "rolled loops agree with straight-line code");
        // Plain sums roll. A product or a recurrence does not, nor does a sum whose backward pass reads a term's
        // intermediate values after the whole forward run (that would need the values kept per iteration, in an
        // array), nor a term with a conditional or one too short to be worth a loop: about a third roll.
        Assert.True(rolledCases >= 30, $"only {rolledCases} of 150 random functions rolled");
    }

    private static StagedGraph Differentiate(LambdaExpression f)
    {
        var graph = Importer.Import(f);
        ReverseSweep.Run(graph);
        return graph;
    }

    private static (double Value, double[] Gradient) Run(Kernel kernel, double[] point)
    {
        var work = Workspace.Rent(point.Length, kernel.TapeLength);
        point.CopyTo(work.X, 0);
        var value = kernel.Run(work, point.Length);
        var gradient = work.G[..point.Length];
        Workspace.Return(work);
        return (value, gradient);
    }

    private static void AssertSame((double Value, double[] Gradient) expected, (double Value, double[] Gradient) actual, string what)
    {
        Assert.True(BitConverter.DoubleToInt64Bits(expected.Value) == BitConverter.DoubleToInt64Bits(actual.Value),
            $"{what}: value {actual.Value:R}, straight-line {expected.Value:R}");
        for (var i = 0; i < expected.Gradient.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(expected.Gradient[i]) == BitConverter.DoubleToInt64Bits(actual.Gradient[i]),
                $"{what}: gradient[{i}] {actual.Gradient[i]:R}, straight-line {expected.Gradient[i]:R}");
    }
}

/// <summary>
/// Random functions made of one term repeated along an array, as a loop of <c>Expression</c> factories writes
/// them: a term reads elements at a stride and offset, a scalar parameter, a captured value and constants, through
/// a random mix of operations (conditionals included), and the terms are combined as a sum, a sum under an outer
/// function, a running product or a recurrence <c>o = f(o, term)</c>.
/// </summary>
internal static class RepeatedFunction
{
    public static LambdaExpression Build(int seed)
    {
        var random = new Random(seed);
        var terms = random.Next(16, 60);
        var stride = random.Next(1, 3);
        var a = Expression.Parameter(typeof(double[]), "a");
        var w = Expression.Parameter(typeof(double), "w");
        var captured = Expression.Field(Expression.Constant(new CapturedBox<double> { Value = 0.5 + random.NextDouble() }), nameof(CapturedBox<double>.Value));
        var template = Template(random, depth: 3);

        Expression Term(int i) => template(i * stride, a, w, captured);
        // 0–3 a plain sum (whose terms' adjoints are constants), 4 a sum under log(1 + s²), 5 a product, 6 a recurrence.
        var combine = random.Next(7);
        Expression acc = combine == 5 ? Expression.Constant(1.0) : Expression.Constant(0.0);
        for (var i = 0; i < terms; i++)
        {
            var term = Term(i);
            acc = combine switch
            {
                5 => Expression.Multiply(acc, Expression.Add(Expression.Constant(1.0), Expression.Multiply(Expression.Constant(0.1), term))),
                6 => Expression.Call(Method(typeof(Math), nameof(Math.Tanh)), Expression.Add(Expression.Multiply(acc, w), term)),
                _ => Expression.Add(acc, term),
            };
        }
        if (combine == 4)
            acc = Expression.Call(Method(typeof(Math), nameof(Math.Log)), Expression.Add(Expression.Constant(1.0), Expression.Call(Square, acc)));
        return Expression.Lambda<Func<double[], double, double>>(acc, a, w);
    }

    private static readonly MethodInfo Square = typeof(Fn).GetMethod(nameof(Fn.Square))!;

    private static MethodInfo Method(Type type, string name) => type.GetMethod(name, [typeof(double)])!;

    // A term template: given the iteration's first element, the array, the scalar and the captured value, the term.
    private delegate Expression Builder(int first, ParameterExpression a, ParameterExpression w, Expression captured);

    private static Builder Template(Random random, int depth)
    {
        if (depth == 0 || random.Next(4) == 0)
        {
            switch (random.Next(7))
            {
                case 0:
                case 1:
                case 2:
                case 3:
                    var offset = random.Next(3);
                    return (first, a, _, _) => Expression.ArrayIndex(a, Expression.Constant(first + offset));
                case 4:
                    return (_, _, w, _) => w;
                case 5:
                    return (_, _, _, c) => c;
                default:
                    var value = Math.Round(random.NextDouble() * 4 - 2, 2);
                    return (_, _, _, _) => Expression.Constant(value);
            }
        }
        var left = Template(random, depth - 1);
        switch (random.Next(16))
        {
            case 0: { var r = Template(random, depth - 1); return (f, a, w, c) => Expression.Add(left(f, a, w, c), r(f, a, w, c)); }
            case 1: { var r = Template(random, depth - 1); return (f, a, w, c) => Expression.Subtract(left(f, a, w, c), r(f, a, w, c)); }
            case 2: { var r = Template(random, depth - 1); return (f, a, w, c) => Expression.Multiply(left(f, a, w, c), r(f, a, w, c)); }
            case 3:
            {
                var r = Template(random, depth - 1);
                return (f, a, w, c) => Expression.Divide(left(f, a, w, c),
                    Expression.Add(Expression.Constant(1.0), Expression.Call(Square, r(f, a, w, c))));
            }
            case 4: return (f, a, w, c) => Expression.Call(Method(typeof(Math), nameof(Math.Sin)), left(f, a, w, c));
            case 5: return (f, a, w, c) => Expression.Call(Method(typeof(Math), nameof(Math.Tanh)), left(f, a, w, c));
            case 6: return (f, a, w, c) => Expression.Call(Method(typeof(Fn), nameof(Fn.Sigmoid)), left(f, a, w, c));
            case 7: return (f, a, w, c) => Expression.Call(Square, left(f, a, w, c));
            case 8: { var r = Template(random, depth - 1); return (f, a, w, c) => Expression.Multiply(left(f, a, w, c), r(f, a, w, c)); }
            case 9: { var r = Template(random, depth - 1); return (f, a, w, c) => Expression.Add(left(f, a, w, c), r(f, a, w, c)); }
            case 10:
            {
                var r = Template(random, depth - 1);
                return (f, a, w, c) => Expression.Call(typeof(Math).GetMethod(nameof(Math.Max), [typeof(double), typeof(double)])!, left(f, a, w, c), r(f, a, w, c));
            }
            case 11: return (f, a, w, c) => Expression.Call(Method(typeof(Math), nameof(Math.Cos)), left(f, a, w, c));
            case 12: return (f, a, w, c) => Expression.Call(Method(typeof(Math), nameof(Math.Abs)), left(f, a, w, c));
            case 13: return (f, a, w, c) => Expression.Negate(left(f, a, w, c));
            case 14:
                return (f, a, w, c) => Expression.Call(Method(typeof(Math), nameof(Math.Exp)),
                    Expression.Call(Method(typeof(Math), nameof(Math.Sin)), left(f, a, w, c)));
            default:
            {
                var (then, otherwise) = (Template(random, depth - 1), Template(random, depth - 1));
                return (f, a, w, c) => Expression.Condition(
                    Expression.GreaterThan(left(f, a, w, c), Expression.Constant(0.0)), then(f, a, w, c), otherwise(f, a, w, c));
            }
        }
    }
}
