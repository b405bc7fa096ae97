using System.Text;
using ExprGrad.Staging;

namespace ExprGrad.Generators.Tests;

/// <summary>
/// A 100,000-term sum read by the generator: no stack overflow, and a clear error, since no C# method holds its
/// gradient. (The Roslyn 4.3 driver these tests run walks deep syntax recursively itself, so the driver gets a large
/// stack, as the compiler's own threads have; the generator's walk is guarded either way.)
/// </summary>
public sealed class DeepTests
{
    private static string Chain(int terms)
    {
        var source = new StringBuilder("using ExprGrad;\npublic static partial class Deep\n{\n    [Differentiable] public static double F(double x, double y) => x");
        for (var i = 1; i < terms; i++)
            source.Append(i % 2 == 0 ? " + x" : " * y");
        return source.AppendLine(";\n}").ToString();
    }

    [Fact]
    public void A_sum_of_100000_terms_is_read_and_refused_as_too_large()
    {
        var (_, diagnostics) = StackGuard.OnLargeStack(() => Driver.Run(Chain(100_000)));
        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal("EXG005", diagnostic.Id);
        Assert.Contains("use Grad.Of", diagnostic.GetMessage());
    }

    [Fact]
    public void A_sum_of_5000_terms_is_generated()
    {
        var (output, diagnostics) = StackGuard.OnLargeStack(() => Driver.Run(Chain(5_000)));
        Assert.Empty(diagnostics);
        Assert.Contains("public static double FWithGradient(double x, double y, out double dx, out double dy)", Assert.Single(Driver.Generated(output)));
    }
}
