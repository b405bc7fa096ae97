using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ExprGrad.Generators;

/// <summary>
/// Writes <c>NameWithGradient</c> next to every method marked <c>[Differentiable]</c>: the staged value and gradient
/// as plain C#, compiled with the caller, so the JIT can inline it as it inlines backprop written by hand.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class DifferentiableGenerator : IIncrementalGenerator
{
    /// <summary>The name of the step that differentiates each method, as the compiler's step tracking reports it.</summary>
    public const string TrackingName = "Gradients";

    /// <summary>Registers the generator for methods carrying <c>ExprGrad.DifferentiableAttribute</c>.</summary>
    /// <param name="context">The compiler's pipeline.</param>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var methods = context.SyntaxProvider.ForAttributeWithMetadataName(
            "ExprGrad.DifferentiableAttribute",
            static (node, _) => node is MethodDeclarationSyntax,
            static (target, cancel) => GradientSource.For(
                (MethodDeclarationSyntax)target.TargetNode, (IMethodSymbol)target.TargetSymbol, target.SemanticModel, cancel))
            .WithTrackingName(TrackingName);
        context.RegisterSourceOutput(methods, static (output, generated) =>
        {
            foreach (var problem in generated.Problems)
                output.ReportDiagnostic(problem.ToDiagnostic());
            if (generated.Source is { } source)
                output.AddSource(generated.HintName, source);
        });
    }
}

/// <summary>
/// What one <c>[Differentiable]</c> method gives: a source file, or the problems that say why not. Compared by value, so
/// an edit elsewhere that leaves it unchanged writes nothing.
/// </summary>
internal sealed record Generated(string HintName, string? Source, EquatableArray<Problem> Problems);
