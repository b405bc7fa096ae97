using BenchmarkDotNet.Running;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

// Runs every benchmark class in this assembly (or the ones picked with --filter):
//   dotnet run -c Release --project tests/ExprGrad.Benchmarks -- --filter '*'
// or one class, e.g. the MLP of issue 4:
//   dotnet run -c Release --project tests/ExprGrad.Benchmarks -- --filter '*Mlp*'
// A console sanity run of some classes, without BenchmarkDotNet (Infrastructure/Smoke.cs):
//   dotnet run -c Release --project tests/ExprGrad.Benchmarks -- --smoke Loop [--expression]
// The display length of derivative formulas against sympy.simplify (issue 16, DisplayLength/):
//   dotnet run -c Release --project tests/ExprGrad.Benchmarks -- --display-length [--worst N]
public static class Program
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--smoke")
            Smoke.Run(args[1..]);
        else if (args.Length > 0 && args[0] == "--display-length")
            DisplayLength.DisplayLengthReport.Run(args[1..]);
        else
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create());
    }
}
