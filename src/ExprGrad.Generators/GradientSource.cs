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
        return new Generated(hint, Wrap(method, body + RuleSource(method)), new([]));
    }

    // The most arguments a generated rule takes: the largest Func the partials' lambdas can be.
    private const int MaxRuleArity = 15;

    /// <summary>
    /// For a static method of doubles that code elsewhere in the module can reach: one method per argument returning
    /// that component of the generated gradient, and a module initializer that registers them as the method's rule
    /// (<see cref="DerivativeRules.RegisterGenerated"/>), so that a <c>Grad.Of</c> lambda can call the method. Empty
    /// for any other method: <c>Grad.Of</c> then says why it cannot call it.
    /// </summary>
    private static string RuleSource(IMethodSymbol method)
    {
        if (!HasGeneratedRule(method))
            return "";
        var n = method.Parameters.Length;
        var indent = new string(' ', 4 * Types(method).Count);
        var parameters = string.Join(", ", Enumerable.Range(0, n).Select(k => $"double x{k}"));
        var arguments = string.Join(", ", Enumerable.Range(0, n).Select(k => $"x{k}"));
        var text = new StringBuilder();
        for (var k = 0; k < n; k++)
        {
            var outs = string.Join(", ", Enumerable.Range(0, n).Select(j => j == k ? "out var partial" : "out _"));
            text.Append(indent).AppendLine($"/// <summary>∂{method.Name}/∂{method.Parameters[k].Name}: what <c>Grad.Of</c> uses where a lambda calls <see cref=\"{Cref(method)}\"/>.</summary>")
                .Append(indent).AppendLine("[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]")
                .Append(indent).AppendLine($"{Modifiers(method)} double {method.Name}Partial{k}({parameters})")
                .Append(indent).AppendLine("{")
                .Append(indent).AppendLine($"    {method.Name}{Suffix}({arguments}, {outs});")
                .Append(indent).AppendLine("    return partial;")
                .Append(indent).AppendLine("}");
        }
        var func = $"global::System.Linq.Expressions.Expression<global::System.Func<{string.Join(", ", Enumerable.Repeat("double", n + 1))}>>";
        var types = string.Join(", ", Enumerable.Repeat("typeof(double)", n));
        text.Append(indent).AppendLine($"/// <summary>Registers <see cref=\"{Cref(method)}\"/>'s rule when the assembly loads.</summary>")
            .Append(indent).AppendLine("[global::System.Runtime.CompilerServices.ModuleInitializer]")
            .Append(indent).AppendLine($"internal static void Register{method.Name}Rule{n}() =>")
            .Append(indent).AppendLine("    global::ExprGrad.DerivativeRules.RegisterGenerated(")
            .Append(indent).AppendLine($"        typeof({method.ContainingType.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat)}).GetMethod(nameof({method.Name}), " +
                "global::System.Reflection.BindingFlags.Public | global::System.Reflection.BindingFlags.NonPublic | global::System.Reflection.BindingFlags.Static, " +
                $"new[] {{ {types} }})!");
        for (var k = 0; k < n; k++)
            text.Append(indent).AppendLine($"        , ({func})(({arguments}) => {method.Name}Partial{k}({arguments}))");
        text.Append(indent).AppendLine("    );");
        return text.ToString();
    }

    // A static method of doubles (not too many) in non-generic types that the whole module can reach: a module
    // initializer must be reachable from the module, and must not sit in a generic type.
    private static bool HasGeneratedRule(IMethodSymbol method) =>
        method.IsStatic && method.Parameters.Length is > 0 and <= MaxRuleArity
        && method.Parameters.All(p => p.Type.SpecialType == SpecialType.System_Double)
        && Types(method).All(t => t.TypeParameters.Length == 0 && t.TypeKind != TypeKind.Interface
            && t.DeclaredAccessibility is Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal);

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
            .AppendLine("#pragma warning disable CS0219")
            // A [Differentiable] method's rule is registered by a module initializer, in a library too: that is its purpose.
            .AppendLine("#pragma warning disable CA2255");
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
