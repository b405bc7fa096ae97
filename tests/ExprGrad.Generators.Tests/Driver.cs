using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ExprGrad.Generators.Tests;

/// <summary>Runs the generator in process on a source text, as the compiler does when a project builds.</summary>
internal static class Driver
{
    public static readonly MetadataReference[] References =
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
        .Append(typeof(Fn).Assembly.Location)
        .Distinct()
        .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
        .ToArray();

    private static int _count;

    /// <summary>The compilation with the generated files added, and what the generator reported.</summary>
    public static (Compilation Output, ImmutableArray<Diagnostic> Generator) Run(string source)
    {
        var tree = CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest));
        var compilation = CSharpCompilation.Create($"Generated{Interlocked.Increment(ref _count)}", [tree], References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable,
                optimizationLevel: OptimizationLevel.Release));
        CSharpGeneratorDriver.Create(new DifferentiableGenerator())
            .RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        return (output, diagnostics);
    }

    /// <summary>The generated source files' texts.</summary>
    public static string[] Generated(Compilation output) =>
        output.SyntaxTrees.Skip(1).Select(t => t.ToString()).ToArray();

    /// <summary>The one diagnostic the generator reports, and the source text it points at.</summary>
    public static (Diagnostic Diagnostic, string At) Single(string source)
    {
        var (_, diagnostics) = Run(source);
        var diagnostic = Assert.Single(diagnostics);
        // The generator reports by path and span (its results are cached as data): the span is in the one source.
        return (diagnostic, source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
    }

    /// <summary>Compiles the output (generated files included) to an assembly in memory, failing on any compiler error.</summary>
    public static Assembly Load(Compilation output)
    {
        using var image = new MemoryStream();
        var result = output.Emit(image);
        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10).ToList();
        Assert.True(result.Success, string.Join("\n", errors) + "\n" + string.Join("\n", errors.Select(e => e.Location.SourceTree).Distinct().Select(t => t!.ToString())));
        return Assembly.Load(image.ToArray());
    }
}
