using Microsoft.CodeAnalysis;

namespace ExprGrad.Generators;

/// <summary>The errors the generator reports, each at the syntax it is about.</summary>
internal static class Diagnostics
{
    private const string Category = "ExprGrad";

    public static readonly DiagnosticDescriptor Unsupported = new(
        "EXG001", "Not differentiable", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotPartial = new(
        "EXG002", "The containing type must be partial",
        "'{0}' must be partial: the gradient of '{1}' is generated as another part of it", Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor Signature = new(
        "EXG003", "Unsupported signature", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor TooLarge = new(
        "EXG005", "Too large to generate", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor Rejected = new(
        "EXG004", "Outside the operation catalogue", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
}
