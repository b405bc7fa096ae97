using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ExprGrad.Generators.Tests;

/// <summary>The generator's results compare by value, so an edit that leaves a method's gradient unchanged writes nothing.</summary>
public sealed class IncrementalTests
{
    [Fact]
    public void An_edit_elsewhere_leaves_the_gradient_and_its_diagnostics_cached()
    {
        const string model = """
            using ExprGrad;
            public static partial class Model
            {
                [Differentiable] public static double F(double x, double y) => x * y;
                [Differentiable] public static double G(double x) => System.Math.FusedMultiplyAdd(x, x, 1);
            }
            """;
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var compilation = CSharpCompilation.Create("Incremental",
            [CSharpSyntaxTree.ParseText(model, parse), CSharpSyntaxTree.ParseText("class Other { int A; }", parse)],
            Driver.References, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        GeneratorDriver driver = CSharpGeneratorDriver.Create([new DifferentiableGenerator().AsSourceGenerator()],
            parseOptions: parse, driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGenerators(compilation);
        var first = driver.GetRunResult().Results.Single();
        Assert.Single(first.GeneratedSources);
        Assert.Single(first.Diagnostics);

        var other = compilation.SyntaxTrees.Last();
        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(other, CSharpSyntaxTree.ParseText("class Other { int A, B; }", parse)));
        var second = driver.GetRunResult().Results.Single();
        var outputs = second.TrackedSteps[DifferentiableGenerator.TrackingName].SelectMany(step => step.Outputs).ToList();
        Assert.Equal(2, outputs.Count);
        Assert.All(outputs, output => Assert.Contains(output.Reason, new[] { IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged }));
        Assert.Single(second.GeneratedSources);
        Assert.Equal(first.Diagnostics.Single().GetMessage(), second.Diagnostics.Single().GetMessage());
    }
}
