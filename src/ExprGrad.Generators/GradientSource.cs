using System.Collections.Immutable;
using System.Linq.Expressions;
using System.Text;
using ExprGrad.Display;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ExprGrad.Generators;

/// <summary>
/// One <c>[Differentiable]</c> method to one source file: its signature checked, its body read into a lambda
/// (<see cref="LambdaReader"/>), the lambda staged and differentiated by the engine, and the staged code printed as a
/// method of the same type.
/// </summary>
internal static class GradientSource
{
    public const string Suffix = "WithGradient";

    // A stage takes one or two locals (its value, its adjoint): well inside C#'s 65,534.
    private const int MaxStages = 20_000;

    public static Generated For(MethodDeclarationSyntax syntax, IMethodSymbol method, SemanticModel model, CancellationToken cancel)
    {
        var hint = HintName(method);
        var problems = Check(syntax, method);
        if (problems.Length > 0)
            return new Generated(hint, null, new(problems));

        LambdaExpression lambda;
        LambdaReader reader;
        try
        {
            (lambda, reader) = LambdaReader.Read(syntax, method, model, cancel);
        }
        catch (UnsupportedSyntaxException e)
        {
            return new Generated(hint, null, new([Problem.At(Diagnostics.Unsupported, e.Syntax.GetLocation(), e.Message)]));
        }
        catch (InvalidCodeException)
        {
            return new Generated(hint, null, new([]));
        }

        string body;
        try
        {
            var graph = Grad.Differentiate(lambda);
            if (graph.StageCount > MaxStages)
                return new Generated(hint, null, new([Problem.At(Diagnostics.TooLarge, syntax.Identifier.GetLocation(),
                    $"'{method.Name}' has {graph.StageCount:N0} stages, more than {MaxStages:N0}: one C# method holds at most 65,534 locals, " +
                    "and the JIT stops optimizing long before; use Grad.Of, which splits a large gradient into methods and re-rolls its loops")]));
            body = StagedCode.PrintMethod(graph, method.Name + Suffix, Modifiers(method), new string(' ', 4 * Types(method).Count), reader.Source);
        }
        catch (ExprGradException e)
        {
            return new Generated(hint, null, new([Problem.At(Diagnostics.Rejected, syntax.Identifier.GetLocation(),
                $"'{method.Name}' cannot be differentiated: {e.Message}")]));
        }
        return new Generated(hint, Wrap(method, body), new([]));
    }

    private static ImmutableArray<Problem> Check(MethodDeclarationSyntax syntax, IMethodSymbol method)
    {
        var problems = ImmutableArray.CreateBuilder<Problem>();
        for (var type = method.ContainingType; type is not null; type = type.ContainingType)
            if (!type.DeclaringSyntaxReferences.Any(r => r.GetSyntax() is TypeDeclarationSyntax t && t.Modifiers.Any(SyntaxKind.PartialKeyword)))
                problems.Add(Problem.At(Diagnostics.NotPartial, syntax.Identifier.GetLocation(), type.Name, method.Name));
        if (method.ReturnType.SpecialType != SpecialType.System_Double || method.ReturnsByRef || method.ReturnsByRefReadonly)
            problems.Add(Problem.At(Diagnostics.Signature, syntax.ReturnType.GetLocation(),
                $"'{method.Name}' returns {method.ReturnType.ToDisplayString()}: a differentiable method returns double"));
        if (method.IsGenericMethod)
            problems.Add(Problem.At(Diagnostics.Signature, syntax.Identifier.GetLocation(),
                $"'{method.Name}' is generic: a differentiable method takes double and double[] parameters"));
        foreach (var p in method.Parameters)
            if (p.RefKind != RefKind.None || !(p.Type.SpecialType == SpecialType.System_Double || IsDoubleArray(p.Type)) || p.IsParams)
                problems.Add(Problem.At(Diagnostics.Signature, p.Locations.FirstOrDefault() ?? syntax.Identifier.GetLocation(),
                    $"parameter '{p.Name}' of '{method.Name}' is {Describe(p)}: a differentiable method takes double and double[] parameters"));
        if (method.Parameters.Length > 0 && method.Parameters.Any(p => method.Parameters.Any(q => q.Name == "d" + p.Name)))
            problems.Add(Problem.At(Diagnostics.Signature, syntax.ParameterList.GetLocation(),
                $"'{method.Name}' has parameters named x and dx: the gradient of x is generated as dx, rename one"));
        return problems.ToImmutable();
    }

    private static string Describe(IParameterSymbol p) =>
        (p.RefKind == RefKind.None ? "" : p.RefKind.ToString().ToLowerInvariant() + " ") + (p.IsParams ? "params " : "") + p.Type.ToDisplayString();

    public static bool IsDoubleArray(ITypeSymbol type) =>
        type is IArrayTypeSymbol { Rank: 1, ElementType.SpecialType: SpecialType.System_Double };

    private static string Modifiers(IMethodSymbol method)
    {
        var access = method.DeclaredAccessibility switch
        {
            Accessibility.Public => "public",
            Accessibility.Internal => "internal",
            Accessibility.Protected => "protected",
            Accessibility.ProtectedOrInternal => "protected internal",
            Accessibility.ProtectedAndInternal => "private protected",
            _ => "private",
        };
        // A readonly member of a struct gets a readonly gradient: it is called where the struct is readonly, uncopied.
        return method.IsStatic ? access + " static" : method.IsReadOnly ? access + " readonly" : access;
    }

    // The containing types, outermost first.
    private static List<INamedTypeSymbol> Types(IMethodSymbol method)
    {
        var types = new List<INamedTypeSymbol>();
        for (var type = method.ContainingType; type is not null; type = type.ContainingType)
            types.Insert(0, type);
        return types;
    }

    // The method inside the same chain of partial types, in the same namespace (file-scoped, so indentation starts at the type).
    private static string Wrap(IMethodSymbol method, string body)
    {
        var types = Types(method);
        var text = new StringBuilder()
            .AppendLine("// <auto-generated>ExprGrad: the gradient of a [Differentiable] method, staged reverse mode.</auto-generated>")
            .AppendLine("#nullable enable")
            // The listing names constant adjoints for the reader (dt = 1) and then writes the constant where it is read.
            .AppendLine("#pragma warning disable CS0219");
        if (!method.ContainingNamespace.IsGlobalNamespace)
            text.Append("namespace ").Append(method.ContainingNamespace.ToDisplayString()).AppendLine(";");
        for (var i = 0; i < types.Count; i++)
        {
            var indent = new string(' ', 4 * i);
            text.Append(indent).Append("partial ").Append(Keyword(types[i])).Append(' ').Append(types[i].Name);
            if (types[i].TypeParameters.Length > 0)
                text.Append('<').Append(string.Join(", ", types[i].TypeParameters.Select(t => t.Name))).Append('>');
            text.AppendLine().Append(indent).AppendLine("{");
        }
        text.Append(new string(' ', 4 * types.Count))
            .AppendLine($"/// <summary>The value of <see cref=\"{Cref(method)}\"/> and its gradient, by staged reverse mode.</summary>")
            .Append(body);
        for (var i = types.Count - 1; i >= 0; i--)
            text.Append(new string(' ', 4 * i)).AppendLine("}");
        return text.ToString();
    }

    private static string Cref(IMethodSymbol method) =>
        $"{method.Name}({string.Join(", ", method.Parameters.Select(p => p.Type.SpecialType == SpecialType.System_Double ? "double" : "double[]"))})";

    private static string Keyword(INamedTypeSymbol type) => (type.IsRecord, type.TypeKind) switch
    {
        (true, TypeKind.Struct) => "record struct",
        (true, _) => "record",
        (_, TypeKind.Struct) => "struct",
        (_, TypeKind.Interface) => "interface",
        _ => "class",
    };

    private static string HintName(IMethodSymbol method)
    {
        // Overloads differ in their parameters: one letter each, d for double, a for double[].
        var shape = string.Concat(method.Parameters.Select(p => p.Type.SpecialType == SpecialType.System_Double ? 'd' : 'a'));
        var name = $"{method.ContainingType.ToDisplayString()}.{method.Name}{Suffix}_{shape}";
        var safe = new StringBuilder(name.Length);
        foreach (var c in name)
            safe.Append(char.IsLetterOrDigit(c) || c == '.' || c == '_' ? c : '_');
        return safe.Append(".g.cs").ToString();
    }
}
