using BenchmarkDotNet.Running;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

// Runs every benchmark class in this assembly (or the ones picked with --filter):
//   dotnet run -c Release --project tests/ExprGrad.Benchmarks -- --filter '*'
// or one class, e.g. the MLP of issue 4:
//   dotnet run -c Release --project tests/ExprGrad.Benchmarks -- --filter '*Mlp*'
public static class Program
{
    public static void Main(string[] args) =>
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create());
}
