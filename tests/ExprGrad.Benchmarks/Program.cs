using BenchmarkDotNet.Running;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

// Runs every benchmark class in this assembly (or the ones picked with --filter):
//   dotnet run -c Release --project tests/ExprGrad.Benchmarks -- --filter '*'
public static class Program
{
    public static void Main(string[] args) =>
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create());
}
