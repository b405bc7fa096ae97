using System.Diagnostics;
using System.Linq.Expressions;
using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace ExprGrad.Benchmarks.Infrastructure;

/// <summary>
/// A console sanity run of benchmark classes, without BenchmarkDotNet: for each <c>[Params]</c> value, the
/// <c>[GlobalSetup]</c> (which checks ExprGrad against the hand-written gradient) and a few calls of every
/// <c>[Benchmark]</c> method, timed roughly with a stopwatch. For checking that a class runs, not for figures.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project tests/ExprGrad.Benchmarks -- --smoke Loop</c> runs the classes whose name
/// contains <c>Loop</c>; add <c>--expression</c> to print each compiled gradient's Linq lambda (its debug view).
/// </remarks>
public static class Smoke
{
    /// <summary>Runs the classes named in <paramref name="args"/> (after <c>--smoke</c>).</summary>
    public static void Run(string[] args)
    {
        var names = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        var expression = args.Contains("--expression");
        var types = typeof(Smoke).Assembly.GetTypes()
            .Where(t => t.GetMethods().Any(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null))
            .Where(t => names.Length == 0 || names.Any(n => t.Name.Contains(n, StringComparison.Ordinal)))
            .OrderBy(t => t.Name);
        foreach (var type in types)
        {
            var parameter = type.GetProperties().FirstOrDefault(p => p.GetCustomAttribute<ParamsAttribute>() is not null);
            var values = parameter?.GetCustomAttribute<ParamsAttribute>()!.Values ?? [null];
            foreach (var value in values)
            {
                var instance = Activator.CreateInstance(type)!;
                parameter?.SetValue(instance, value);
                Console.WriteLine($"{type.Name}{(parameter is null ? "" : $" {parameter.Name}={value}")}");
                foreach (var setup in Methods<GlobalSetupAttribute>(type))
                    setup.Invoke(instance, null);
                if (expression && type.GetField("_g", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(instance) is Gradient g)
                {
                    Console.WriteLine("// Gradient.Expression (the typed kernel, if there is one):");
                    Console.WriteLine(DebugView(g.Expression));
                    if (FlatKernel(g) is { } flat)
                    {
                        Console.WriteLine("// the flat kernel, which the span API runs:");
                        Console.WriteLine(DebugView(flat));
                    }
                }
                var perCall = Methods<IterationSetupAttribute>(type);
                foreach (var method in Methods<BenchmarkAttribute>(type))
                    Console.WriteLine($"  {method.Name,-24} {Time(instance, method, perCall),12:N1} ns/call (stopwatch, rough)");
            }
        }
    }

    // The fastest of a few timed batches, after a first call that compiles and warms up.
    private static double Time(object instance, MethodInfo method, MethodInfo[] perCall)
    {
        // A compiled call rather than MethodInfo.Invoke, whose cost would swamp a nanosecond method (the boxing stays).
        // (A method that returns nothing returns null here.)
        Expression invoke = Expression.Call(Expression.Constant(instance), method);
        invoke = method.ReturnType == typeof(void) ? Expression.Block(invoke, Expression.Constant(null)) : Expression.Convert(invoke, typeof(object));
        var call = Expression.Lambda<Func<object>>(invoke).Compile();
        foreach (var setup in perCall)
            setup.Invoke(instance, null);
        call();
        var best = double.MaxValue;
        for (var batch = 0; batch < 5; batch++)
        {
            var calls = 0;
            var watch = Stopwatch.StartNew();
            do
            {
                foreach (var setup in perCall)
                    setup.Invoke(instance, null);
                call();
                calls++;
            } while (watch.ElapsedMilliseconds < 20);
            best = Math.Min(best, watch.Elapsed.TotalNanoseconds / calls);
        }

        return best;
    }

    private static MethodInfo[] Methods<TAttribute>(Type type) where TAttribute : Attribute =>
        [.. type.GetMethods().Where(m => m.GetCustomAttribute<TAttribute>() is not null)];

    // The span API's kernel, compiled on the first span call (the set-up's check makes one). Internal to the
    // engine, so read through reflection: Gradient._kernel.Expression.
    private static LambdaExpression? FlatKernel(Gradient g)
    {
        var kernel = typeof(Gradient).GetField("_kernel", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(g);
        return kernel?.GetType().GetProperty("Expression", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)?.GetValue(kernel) as LambdaExpression;
    }

    /// <summary>The debug view of a Linq expression (what the debugger shows), read through reflection.</summary>
    public static string DebugView(Expression e) =>
        (string)typeof(Expression).GetProperty("DebugView", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(e)!;
}
