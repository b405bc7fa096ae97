using System.Linq.Expressions;

namespace ExprGrad.Generators.Tests;

/// <summary>
/// <c>for</c> loops in [Differentiable] methods: read as the LINQ sum or fold <c>Grad.Of</c> accepts, generated as the
/// plain loops a person writes. Worked examples with their numbers; bit identity with <c>Grad.Of</c> of the LINQ form
/// and with the method itself at random points of random lengths; the generated source; and the loops that stay
/// unsupported, refused at their syntax with the form to write instead.
/// </summary>
public sealed partial class LoopTests
{
    private static readonly double[] Weights = [0.5, -1.0, 2.0, 0.25];

    // Enumerable.Range(0, a.Length - 1).Sum(i => ...): a sum from 0, one term per iteration.
    [Differentiable]
    private static double Rosenbrock(double[] a)
    {
        double s = 0;
        for (int i = 0; i + 1 < a.Length; i++)
            s += 100 * (a[i + 1] - a[i] * a[i]) * (a[i + 1] - a[i] * a[i]) + (1 - a[i]) * (1 - a[i]);
        return s;
    }

    // Enumerable.Range(0, w.Length).Aggregate(x, (o, k) => Fn.Sigmoid(o * w[k])): the seeds' depth-m net as a fold.
    [Differentiable]
    private static double Net(double x, double[] w)
    {
        var o = x;
        for (int k = 0; k < w.Length; k++)
            o = Fn.Sigmoid(o * w[k]);
        return o;
    }

    // s -= e from 0 is a sum of -e; the sum is read twice after the loop.
    [Differentiable]
    private static double Residual(double s, double[] a)
    {
        double r = 0;
        for (int i = 1; i < a.Length; i++)
            r -= s * a[i] * a[i - 1];
        return r * r;
    }

    // A sum of sums: the inner loop sums its own local, the outer adds it.
    [Differentiable]
    private static double Pairs(double[] x)
    {
        double e = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double row = 0;
            for (int j = i + 1; j < x.Length; j++)
            {
                var d = x[i] - x[j];
                row += d * d;
            }
            e += row;
        }
        return e;
    }

    // The inner loop adds to the outer loop's local: a fold over a fold, the additions in the order written.
    [Differentiable]
    private static double Triangle(double[] x)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++)
            for (int j = 0; j < i; j++)
                s += x[i] * x[j];
        return s;
    }

    // A captured array and its length bound the loop; a sum that does not start at 0 is a fold.
    [Differentiable]
    private static double Weighted(double x, double[] a)
    {
        var s = x;
        for (int i = 0; i < Weights.Length; ++i)
            s += Weights[i] * Math.Exp(x * a[i]);
        return s;
    }

    // i <= bound, and the loop variable as a number.
    [Differentiable]
    private static double Harmonic(double[] a)
    {
        double s = 0;
        for (int i = 1; i <= a.Length - 1; i += 1)
            s += a[i] / i;
        return s;
    }

    // A length read as a number, and a local assigned again after its loop.
    [Differentiable]
    private static double MeanSquared(double[] a)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
            s += a[i];
        s = s / a.Length;
        return s * s;
    }

    // A fold whose bound can be below its start.
    [Differentiable]
    private static double Recurrence(double x, double[] w)
    {
        var o = x;
        for (int k = 0; k + 2 < w.Length; k++)
            o = o * w[k] + w[k + 1];
        return o;
    }

    [Fact]
    public void Rosenbrock_gives_its_worked_numbers()
    {
        var da = new double[2];
        Assert.Equal(1.0, RosenbrockWithGradient([0, 0], da));
        Assert.Equal([-2.0, 0.0], da);
        da = new double[3];
        Assert.Equal(0.0, RosenbrockWithGradient([1, 1, 1], da));
        Assert.Equal([0.0, 0.0, 0.0], da);
        // (1 - 0.5)^2 + 100 (2 - 0.25)^2 = 306.5; da[0] = -400·0.5·1.75 - 2·0.5; da[1] = 200·1.75.
        da = new double[2];
        Assert.Equal(306.5, RosenbrockWithGradient([0.5, 2], da));
        Assert.Equal([-351.0, 350.0], da);
    }

    [Fact]
    public void The_net_fold_gives_the_loop_value_and_a_gradient_that_agrees_with_central_differences()
    {
        double[] w = [0.5, -1.0, 2.0];
        var dw = new double[3];
        var value = NetWithGradient(1.0, w, out var dx, dw);
        Assert.Equal(Net(1.0, w), value);
        var h = 1e-6;
        Assert.Equal((Net(1 + h, w) - Net(1 - h, w)) / (2 * h), dx, 8);
        for (var k = 0; k < 3; k++)
        {
            var (up, down) = ((double[])w.Clone(), (double[])w.Clone());
            up[k] += h;
            down[k] -= h;
            Assert.Equal((Net(1, up) - Net(1, down)) / (2 * h), dw[k], 8);
        }
    }

    [Fact]
    public void Pairs_give_the_worked_numbers()
    {
        var dx = new double[3];
        Assert.Equal(14.0, PairsWithGradient([1, 2, 4], dx));
        Assert.Equal([-8.0, -2.0, 10.0], dx);
    }

    [Fact]
    public void Each_loop_is_bit_identical_to_Grad_Of_of_its_LINQ_form_and_to_the_method_itself()
    {
        var rosenbrock = Grad.Of((double[] a) => Enumerable.Range(0, a.Length - 1).Sum(i => 100 * (a[i + 1] - a[i] * a[i]) * (a[i + 1] - a[i] * a[i]) + (1 - a[i]) * (1 - a[i])));
        var net = Grad.Of((double x, double[] w) => Enumerable.Range(0, w.Length).Aggregate(x, (o, k) => Fn.Sigmoid(o * w[k])));
        // r * r reads one loop twice: the same expression object, as the method's local is.
        Expression<Func<double, double[], double>> sum = (s, a) => Enumerable.Range(1, a.Length - 1).Sum(i => -(s * a[i] * a[i - 1]));
        var residual = Grad.Of(Expression.Lambda<Func<double, double[], double>>(Expression.Multiply(sum.Body, sum.Body), sum.Parameters));
        var pairs = Grad.Of((double[] x) => Enumerable.Range(0, x.Length).Sum(i => Enumerable.Range(i + 1, x.Length - (i + 1)).Sum(j => (x[i] - x[j]) * (x[i] - x[j]))));
        var weighted = Grad.Of((double x, double[] a) => Enumerable.Range(0, Weights.Length).Aggregate(x, (s, i) => s + Weights[i] * Math.Exp(x * a[i])));
        var harmonic = Grad.Of((double[] a) => Enumerable.Range(1, a.Length - 1).Sum(i => a[i] / i));
        Expression<Func<double[], double>> mean = a => Enumerable.Range(0, a.Length).Sum(i => a[i]) / a.Length;
        var meanSquared = Grad.Of(Expression.Lambda<Func<double[], double>>(Expression.Multiply(mean.Body, mean.Body), mean.Parameters));

        var seed = Environment.TickCount;
        var random = new Random(seed);
        double Draw() => Math.Round(random.NextDouble() * 4 - 2, 3);
        double[] Draws(int n) => [.. Enumerable.Range(0, n).Select(_ => Draw())];
        for (var trial = 0; trial < 30; trial++)
        {
            var why = $"seed {seed}, trial {trial}";
            var n = random.Next(1, 9);
            var a = Draws(n);
            var x = Draw();

            var d = new double[n];
            var (v, g) = rosenbrock.Evaluate(a);
            Assert.True(v == RosenbrockWithGradient(a, d) && g.SequenceEqual(d) && v == Rosenbrock(a), $"Rosenbrock, {why}");

            var (nv, ndx, ndw) = net.Evaluate(x, a);
            Assert.True(nv == NetWithGradient(x, a, out var dx, d) && ndx == dx && ndw.SequenceEqual(d) && nv == Net(x, a), $"Net, {why}");

            var (rv, rds, rda) = residual.Evaluate(x, a);
            Assert.True(rv == ResidualWithGradient(x, a, out var ds, d) && rds == ds && rda.SequenceEqual(d) && rv == Residual(x, a), $"Residual, {why}");

            var (pv, pd) = pairs.Evaluate(a);
            Assert.True(pv == PairsWithGradient(a, d) && pd.SequenceEqual(d) && pv == Pairs(a), $"Pairs, {why}");

            var (hv, hd) = harmonic.Evaluate(a);
            Assert.True(hv == HarmonicWithGradient(a, d) && hd.SequenceEqual(d) && hv == Harmonic(a), $"Harmonic, {why}");

            var (mv, md) = meanSquared.Evaluate(a);
            Assert.True(mv == MeanSquaredWithGradient(a, d) && md.SequenceEqual(d) && mv == MeanSquared(a), $"MeanSquared, {why}");

            var wide = Draws(Weights.Length + n);
            var wd = new double[wide.Length];
            var (wv, wdx, wda) = weighted.Evaluate(x, wide);
            Assert.True(wv == WeightedWithGradient(x, wide, out var wx, wd) && wdx == wx && wda.SequenceEqual(wd) && wv == Weighted(x, wide), $"Weighted, {why}");
        }
    }

    [Fact]
    public void A_fold_over_a_fold_is_bit_identical_to_Grad_Of_and_to_the_method()
    {
        // x = (1, 2, 3), the pairs j < i: 2·1 + 3·1 + 3·2 = 11; ds/dx = (2 + 3, 1 + 3, 1 + 2).
        var dx = new double[3];
        Assert.Equal(11.0, TriangleWithGradient([1, 2, 3], dx));
        Assert.Equal([5.0, 4.0, 3.0], dx);
        var triangle = Grad.Of((double[] x) => Enumerable.Range(0, x.Length).Aggregate(0.0, (s, i) => Enumerable.Range(0, i).Aggregate(s, (t, j) => t + x[i] * x[j])));
        var seed = Environment.TickCount;
        var random = new Random(seed);
        for (var trial = 0; trial < 10; trial++)
        {
            var a = Enumerable.Range(0, random.Next(0, 7)).Select(_ => Math.Round(random.NextDouble() * 4 - 2, 3)).ToArray();
            var d = new double[a.Length];
            var (v, g) = triangle.Evaluate(a);
            Assert.True(v == TriangleWithGradient(a, d) && g.SequenceEqual(d) && v == Triangle(a), $"seed {seed}, trial {trial}");
        }
    }

    [Fact]
    public void Arrays_of_any_length_get_gradients_of_their_length_and_an_empty_sum_is_zero()
    {
        var dx = new double[0];
        Assert.Equal(0.0, PairsWithGradient([], dx));
        // A bound below the start runs no iterations, as the method's own for loop does.
        Assert.Equal(0.0, RosenbrockWithGradient([], dx));
        Assert.Equal(Rosenbrock([]), RosenbrockWithGradient([], dx));
        Assert.Equal(1.5, RecurrenceWithGradient(1.5, [2.0], out var dr, new double[1]));
        Assert.Equal(1.0, dr);
        // o1 = 1.5·2 + 3 = 6, o = o1·3 + 4 = 22; do/dx = 2·3; do/dw0 = 1.5·3, do/dw1 = o1 + 3·1, do/dw2 = 1.
        var dw = new double[4];
        Assert.Equal(22.0, RecurrenceWithGradient(1.5, [2.0, 3.0, 4.0, 5.0], out dr, dw));
        Assert.Equal(6.0, dr);
        Assert.Equal([1.5 * 3, 6.0 + 3, 1.0, 0.0], dw);
        var big = Enumerable.Range(0, 1000).Select(k => Math.Sin(k)).ToArray();
        var d = new double[1000];
        Array.Fill(d, double.NaN); // the gradient is cleared first: nothing stale survives
        RosenbrockWithGradient(big, d);
        var (_, expected) = Grad.Of((double[] a) => Enumerable.Range(0, a.Length - 1).Sum(i => 100 * (a[i + 1] - a[i] * a[i]) * (a[i + 1] - a[i] * a[i]) + (1 - a[i]) * (1 - a[i]))).Evaluate(big);
        Assert.Equal(expected, d);
    }

    /// <summary>Set to a seed a failure printed (EXPRGRAD_LOOP_SEED=12345) to rerun exactly that run.</summary>
    public const string SeedVariable = "EXPRGRAD_LOOP_SEED";

    // Random bodies over the whole catalogue as loop terms: the first parameter x0 becomes x0 * a[i] in a sum
    // (s += ...) or s * a[i] in a fold (s = ...), written as a for loop and as its LINQ form; the generated method
    // equals Grad.Of of the LINQ lambda (as the C# compiler builds it) bit for bit.
    [Fact]
    public void Random_loop_bodies_generate_what_Grad_Of_of_their_LINQ_form_computes_bit_for_bit()
    {
        var replay = Environment.GetEnvironmentVariable(SeedVariable);
        var seed = string.IsNullOrWhiteSpace(replay) ? (ulong)Random.Shared.NextInt64() : ulong.Parse(replay.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var why = $"seed {seed} (replay: set {SeedVariable}={seed})";
        var cases = FsCheck.Fluent.Gen.Sample(ExprGrad.Tests.Properties.ExpressionGenerator.CaseGen(), 120, new FsCheck.Rnd(seed), 50)
            .Where(c => c.Lowered.Lambda.Parameters.All(p => p.Type == typeof(double))).Take(40).ToList();
        var printer = new CSharpSource();
        var source = new System.Text.StringBuilder("using System.Linq;\nusing ExprGrad;\npublic static partial class Loops\n{\n");
        var index = Expression.Parameter(typeof(int), "i");
        var array = Expression.Parameter(typeof(double[]), "a");
        var acc = Expression.Parameter(typeof(double), "s");
        for (var k = 0; k < cases.Count; k++)
        {
            var f = cases[k].Lowered.Lambda;
            var x0 = f.Parameters[0];
            var fold = k % 2 == 1;
            var term = printer.Print(new Substitute(x0, Expression.Multiply(fold ? acc : x0, Expression.ArrayIndex(array, index))).Visit(f.Body));
            var parameters = string.Join(", ", f.Parameters.Select(p => "double " + p.Name).Append("double[] a"));
            var names = string.Join(", ", f.Parameters.Select(p => p.Name).Append("a"));
            source.AppendLine(fold
                ? $"    [Differentiable] public static double F{k}({parameters}) {{ var s = x0; for (int i = 0; i < a.Length; i++) s = {term}; return s; }}"
                : $"    [Differentiable] public static double F{k}({parameters}) {{ double s = 0; for (int i = 0; i < a.Length; i++) s += {term}; return s; }}");
            source.AppendLine($"    public static double C{k}({parameters}, double[] d) => F{k}WithGradient({names}, {string.Join(", ", f.Parameters.Skip(1).Select((p, j) => $"out d[{j + 1}]").Prepend("out d[0]"))}, new System.Span<double>(d, {f.Parameters.Count}, a.Length));");
            var types = string.Join(", ", f.Parameters.Select(_ => "double").Append("double[]").Append("double"));
            source.AppendLine(fold
                ? $"    public static System.Linq.Expressions.LambdaExpression L{k}() => (System.Linq.Expressions.Expression<System.Func<{types}>>)(({names}) => Enumerable.Range(0, a.Length).Aggregate(x0, (s, i) => {term}));"
                : $"    public static System.Linq.Expressions.LambdaExpression L{k}() => (System.Linq.Expressions.Expression<System.Func<{types}>>)(({names}) => Enumerable.Range(0, a.Length).Sum(i => {term}));");
        }
        source.Append(printer.Declarations()).AppendLine("}");
        var (output, diagnostics) = Driver.Run(source.ToString());
        Assert.True(diagnostics.IsEmpty, $"{why}: {string.Join("\n", diagnostics)}");
        var type = Driver.Load(output).GetType("Loops")!;
        double[] data = [1.0, 1.0000001, 0.9999995];
        for (var k = 0; k < cases.Count; k++)
        {
            var point = ExprGrad.Tests.Properties.ExpressionGenerator.Point(cases[k], 0);
            var f = (LambdaExpression)type.GetMethod($"L{k}")!.Invoke(null, null)!;
            var g = Grad.Of(f);
            var flat = point.Concat(data).ToArray();
            var expected = new double[flat.Length];
            var value = g.Evaluate(flat, expected);
            var actual = new double[flat.Length];
            object[] arguments = [.. point.Cast<object>(), data, actual];
            var generated = (double)type.GetMethod($"C{k}")!.Invoke(null, arguments)!;
            Assert.True(value.Equals(generated) && expected.SequenceEqual(actual),
                $"{why}, case {k}: {f}\nat ({string.Join(", ", flat)})\ngenerated {generated}, ({string.Join(", ", actual)})\nGrad.Of   {value}, ({string.Join(", ", expected)})\n"
                + Driver.Generated(output).Single(file => file.Contains($" F{k}WithGradient(")));
        }
    }

    private sealed class Substitute(ParameterExpression from, Expression to) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node) => node == from ? to : node;
    }

    private static string InClass(string members) => $$"""
        using System;
        using ExprGrad;
        namespace User;
        public static partial class Model
        {
            public static int N = 3;
            {{members}}
        }
        """;

    [Fact]
    public void The_generated_method_is_the_plain_loop()
    {
        var (output, diagnostics) = Driver.Run(InClass("""
            [Differentiable]
            public static double F(double[] a)
            {
                double s = 0;
                for (int i = 0; i < a.Length - 1; i++)
                    s += (a[i + 1] - a[i]) * (a[i + 1] - a[i]);
                return s;
            }
            """));
        Assert.Empty(diagnostics);
        var source = Assert.Single(Driver.Generated(output));
        Assert.Contains("public static double FWithGradient(double[] a, global::System.Span<double> da)", source);
        // The loop is the first write: it clears only what it never writes (da[0], and nothing past a.Length − 1 + 1),
        // and stores the first write of each next element, as a hand-written loop does.
        Assert.DoesNotContain("da.Slice(0, a.Length).Clear();", source);
        Assert.Contains("da[..global::System.Math.Clamp(0 + 1, 0, a.Length)].Clear();", source);
        Assert.Contains("for (int i = 0; i < a.Length - 1; i++)", source);
        // Indices checked before the loop (and da's length at the top) are not checked again in every iteration.
        Assert.Contains("Unsafe.Add(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(da), i + 1) = ", source);
        Assert.Contains("Unsafe.Add(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(da), i) += ", source);
        Assert.Contains("Unsafe.Add(ref global::System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(a), i + 1)", source);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(source, @"for \("));
        Driver.Load(output);
    }

    [Fact]
    public void A_captured_count_bounds_the_loop_and_is_read_at_every_call()
    {
        var (output, diagnostics) = Driver.Run(InClass("""
            [Differentiable]
            public static double F(double x, double[] a)
            {
                double s = 0;
                for (int i = 0; i < N; i++)
                    s += x * a[i];
                return s;
            }
            public static double Call(double x, double[] a, double[] d) => FWithGradient(x, a, out d[0], d.AsSpan(1));
            """));
        Assert.Empty(diagnostics);
        var type = Driver.Load(output).GetType("User.Model")!;
        var d = new double[5];
        double Call(double x, double[] a) => (double)type.GetMethod("Call")!.Invoke(null, [x, a, d])!;
        Assert.Equal(2 * (1 + 2 + 3), Call(2, [1, 2, 3, 4]));
        Assert.Equal([6.0, 2, 2, 2, 0], d);
        type.GetField("N")!.SetValue(null, 4);
        Assert.Equal(2 * (1 + 2 + 3 + 4), Call(2, [1, 2, 3, 4]));
        Assert.Equal([10.0, 2, 2, 2, 2], d);
    }

    [Fact]
    public void An_index_out_of_range_throws_naming_the_array_and_the_index_before_anything_is_written()
    {
        var (output, diagnostics) = Driver.Run(InClass("""
            [Differentiable]
            public static double F(double[] a)
            {
                double s = 0;
                for (int i = 0; i < a.Length; i++)
                    s += a[i] * a[i + 1];
                return s;
            }
            public static double Call(double[] a, double[] d) => FWithGradient(a, d);
            """));
        Assert.Empty(diagnostics);
        var type = Driver.Load(output).GetType("User.Model")!;
        var d = new double[] { 7, 7, 7 };
        var e = Assert.Throws<System.Reflection.TargetInvocationException>(() => type.GetMethod("Call")!.Invoke(null, [new double[] { 1, 2, 3 }, d]));
        var error = Assert.IsType<IndexOutOfRangeException>(e.InnerException);
        Assert.Equal("a[i + 1]: the index is 3, but a has 3 elements", error.Message);
        Assert.Equal([7.0, 7, 7], d);
    }

    [Theory]
    [InlineData("while (i < a.Length) { s += a[i]; i++; }", "while (i < a.Length)", "is a while loop")]
    [InlineData("do { s += a[i]; i++; } while (i < a.Length);", "do {", "is a do loop")]
    [InlineData("foreach (var v in a) s += v;", "foreach (var v in a)", "is a foreach loop: loop over the indices instead")]
    [InlineData("for (int k = 0; k < a.Length; k++) { if (a[k] > 0) break; s += a[k]; }", "if (a[k] > 0) break;", "is an if statement")]
    [InlineData("for (int k = 0; k < a.Length; k++) { s += a[k]; break; }", "break;", "ends an iteration early")]
    [InlineData("for (int k = 0; k < a.Length; k++) { s += a[k]; continue; }", "continue;", "ends an iteration early")]
    [InlineData("for (int k = 0; k < a.Length; k++) s += a[(int)x];", "(int)x", "the index depends on the value of a parameter")]
    [InlineData("for (int k = 0; k < x; k++) s += a[k];", "k < x", "depends on a parameter's value")]
    [InlineData("int n = a.Length; for (int k = 0; k < n; k++) { s += a[k]; n = n - 1; }", "k < n", "which its body assigns")]
    [InlineData("double t = 0; for (int k = 0; k < a.Length; k++) { s += a[k]; t += a[k]; }", "for (int k", "a differentiable loop carries one value")]
    [InlineData("for (int k = 0; k < a.Length; k += 2) s += a[k];", "k += 2", "does not step by i++")]
    [InlineData("for (int k = a.Length - 1; k >= 0; k--) s += a[k];", "k >= 0", "does not test i < bound")]
    [InlineData("for (int k = 0; k < a.Length; k++) { s += a[k]; k = k + 1; }", "{ s += a[k]; k = k + 1; }", "assigns its variable 'k'")]
    public void An_unsupported_loop_is_refused_at_its_syntax_with_the_supported_form(string loop, string at, string message)
    {
        var (diagnostic, where) = Driver.Single(InClass($$"""
            [Differentiable]
            public static double F(double x, double[] a)
            {
                double s = 0;
                int i = 0;
                {{loop}}
                return s + x;
            }
            """));
        Assert.Equal("EXG001", diagnostic.Id);
        Assert.StartsWith(at, where);
        Assert.Contains(message, diagnostic.GetMessage());
        // A loop's own form is shown wherever the loop itself is at fault (not an index, a branch, an early exit).
        if (!message.StartsWith("the index", StringComparison.Ordinal) && !message.StartsWith("is an if", StringComparison.Ordinal) && message != "ends an iteration early")
            Assert.Contains("for (int i = start; i < bound; i++)", diagnostic.GetMessage());
    }
}
