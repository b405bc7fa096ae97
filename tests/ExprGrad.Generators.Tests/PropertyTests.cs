using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using ExprGrad.Tests.Properties;
using Xunit.Sdk;

namespace ExprGrad.Generators.Tests;

/// <summary>
/// Random functions over the whole operation catalogue, printed as C# [Differentiable] methods, generated, compiled and
/// run: value and gradient must equal, bit for bit, <c>Grad.Of</c> of the same C# text compiled as a lambda (the tree
/// the C# compiler builds, where a sub-expression written twice is two nodes). That checks the reader (C# to the
/// lambda the compiler would build) and the generated method (the staged listing as C#) together.
/// </summary>
public sealed class PropertyTests
{
    /// <summary>Set to a seed a failure printed (e.g. EXPRGRAD_GENERATOR_SEED=12345) to rerun exactly that run.</summary>
    public const string SeedVariable = "EXPRGRAD_GENERATOR_SEED";

    private const int Cases = 150;

    [Fact]
    public void Generated_gradients_of_random_functions_equal_the_run_time_gradients_bit_for_bit()
    {
        var replay = Environment.GetEnvironmentVariable(SeedVariable);
        var seed = string.IsNullOrWhiteSpace(replay) ? (ulong)Random.Shared.NextInt64() : ulong.Parse(replay.Trim(), CultureInfo.InvariantCulture);
        try
        {
            Check(seed, Cases);
        }
        catch (Exception e)
        {
            throw new XunitException($"Random functions from seed {seed} failed. Replay: set {SeedVariable}={seed} and rerun this test.\n{e.Message}", e);
        }
    }

    // The whole run follows from the seed: FsCheck draws the functions from it (at size 50, as Gen.Sample does by
    // default), each function's point from its own point seed (ExpressionGenerator.Point).
    private static void Check(ulong seed, int count)
    {
        // Half the functions name their parameters like what the generator writes (dx, dq, q1, a_0, ...): a gradient or
        // local that spelled one would not compile, or would read the wrong variable.
        var cases = FsCheck.Fluent.Gen.Sample(FsCheck.Fluent.Gen.OneOf(ExpressionGenerator.CaseGen(), ExpressionGenerator.NamedCaseGen()),
            count, new FsCheck.Rnd(seed), 50).ToList();
        Assert.True(cases.Count(c => c.CapturedValues().Length > 0) >= count * 2 / 15, "too few random functions read captured values");

        var printer = new CSharpSource();
        var source = new StringBuilder("using ExprGrad;\npublic static partial class Random\n{\n");
        for (var i = 0; i < cases.Count; i++)
            source.Append("    ").AppendLine(printer.Method($"F{i}", cases[i].Lowered.Lambda))
                .Append("    ").AppendLine(Shim(i, cases[i].Lowered.Lambda))
                .Append("    ").AppendLine(printer.Lambda($"L{i}", cases[i].Lowered.Lambda));
        source.Append(printer.Declarations()).AppendLine("}");
        var (output, diagnostics) = Driver.Run(source.ToString());
        Assert.Empty(diagnostics);
        var type = Driver.Load(output).GetType("Random")!;
        Compare(cases, type, output);

        // Captured values are read live: new values in the fields, the same comparison.
        foreach (var (name, value) in printer.Fields)
            type.GetField(name)!.SetValue(null, value == 0 ? 0.75 : -1.5 * value);
        foreach (var (name, value) in printer.Flags)
            type.GetField(name)!.SetValue(null, !value);
        var table = (double[])type.GetField(nameof(CapturedTable.Values))!.GetValue(null)!;
        for (var k = 0; k < table.Length; k++)
            table[k] = 1.25 - table[k];
        Compare(cases, type, output);
    }

    private static void Compare(List<GeneratedCase> cases, Type type, Microsoft.CodeAnalysis.Compilation output)
    {
        for (var i = 0; i < cases.Count; i++)
        {
            // The arguments at their generated lengths. The reference may read fewer elements than the generated
            // method checks for (an element read in a branch the C# compiler drops still counts for the generator),
            // so each side gets the point in its own layout, and the generated gradient beyond the reference's is 0.
            var arguments = cases[i].Lowered.Arguments(ExpressionGenerator.Point(cases[i], 0));
            var f = (LambdaExpression)type.GetMethod($"L{i}")!.Invoke(null, null)!;
            var g = Grad.Of(f);
            var layout = g.Graph.Parameters;
            var point = arguments.SelectMany((a, k) => a is double[] array ? array.Take(layout[k].Extent) : [(double)a]).ToArray();
            var expected = new double[g.Dimension];
            var value = g.Evaluate(point, expected);
            var generated = Driver.Generated(output).Single(file => file.Contains($" F{i}WithGradient("));
            var (actualValue, gradients) = Call(type.GetMethod($"C{i}")!, f, arguments, generated);
            var actual = gradients.SelectMany((d, k) => d.Take(layout[k].Extent)).ToArray();
            var beyond = gradients.SelectMany((d, k) => d.Skip(layout[k].Extent));
            // NaN == NaN here: a point outside the domain must give NaN in both.
            Assert.True(value.Equals(actualValue) && expected.SequenceEqual(actual) && beyond.All(d => d == 0),
                $"{f}\nat ({string.Join(", ", point)})\ngenerated {actualValue}, ({string.Join(", ", gradients.SelectMany(d => d))})\nGrad.Of   {value}, ({string.Join(", ", expected)})\n{generated}");
        }
    }

    // A Span<double> cannot be passed by reflection: each case is called through a shim that takes its gradients as
    // out doubles and double[] arrays, the same method otherwise. Its gradients are named g0, g1, ... (no pool name).
    private static string Shim(int i, LambdaExpression f)
    {
        var parameters = f.Parameters.Select(p => (p.Type == typeof(double) ? "double " : "double[] ") + p.Name)
            .Concat(f.Parameters.Select((p, k) => (p.Type == typeof(double) ? "out double g" : "double[] g") + k));
        var arguments = f.Parameters.Select(p => p.Name!)
            .Concat(f.Parameters.Select((p, k) => (p.Type == typeof(double) ? "out g" : "g") + k));
        return $"public static double C{i}({string.Join(", ", parameters)}) => F{i}WithGradient({string.Join(", ", arguments)});";
    }

    // The shim takes the arguments, then one gradient slot per parameter: an out double, or an array as long as its argument.
    private static (double Value, double[][] Gradients) Call(MethodInfo shim, LambdaExpression f, object[] inputs, string generated)
    {
        var arguments = inputs.Concat(inputs.Select(a => a is double[] array ? new double[array.Length] : null)).ToArray();
        double value;
        try
        {
            value = (double)shim.Invoke(null, arguments)!;
        }
        catch (TargetInvocationException e)
        {
            throw new InvalidOperationException($"{f}: {e.InnerException!.Message}\n{generated}", e.InnerException);
        }
        return (value, arguments[inputs.Length..].Select(d => d as double[] ?? [(double)d!]).ToArray());
    }
}
