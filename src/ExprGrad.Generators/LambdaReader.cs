using System.Linq.Expressions;
using System.Reflection;
using ExprGrad.Staging;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace ExprGrad.Generators;

/// <summary>A construct in a <c>[Differentiable]</c> method that the generator cannot read, at its syntax.</summary>
internal sealed class UnsupportedSyntaxException(SyntaxNode syntax, string message) : Exception(message)
{
    public SyntaxNode Syntax { get; } = syntax;
}

/// <summary>The method does not compile: the compiler reports why, and the generator writes nothing.</summary>
internal sealed class InvalidCodeException : Exception;

/// <summary>
/// Reads the body of a <c>[Differentiable]</c> method into the lambda the C# compiler would have built for
/// <c>Grad.Of</c>: the same parameters, the same <see cref="System.Linq.Expressions.Expression"/> nodes, the same <see cref="Math"/> and
/// <see cref="Fn"/> methods. Local variables are substituted where they are read (the engine stages a repeated
/// sub-expression once), and constants arrive folded, as the compiler folds them.
/// </summary>
internal sealed class LambdaReader
{
    private readonly Dictionary<IParameterSymbol, ParameterExpression> _parameters = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<ILocalSymbol, Expression> _locals = new(SymbolEqualityComparer.Default);
    private readonly CancellationToken _cancel;

    private LambdaReader(CancellationToken cancel) => _cancel = cancel;

    public static LambdaExpression Read(MethodDeclarationSyntax syntax, IMethodSymbol method, SemanticModel model, CancellationToken cancel)
    {
        var reader = new LambdaReader(cancel);
        var parameters = method.Parameters
            .Select(p => reader._parameters[p] = Expression.Parameter(p.Type.SpecialType == SpecialType.System_Double ? typeof(double) : typeof(double[]), p.Name))
            .ToList();
        var body = reader.Body(syntax, model);
        return Expression.Lambda(body, method.Name, parameters);
    }

    // => expression, or a block of local declarations ending in return.
    private Expression Body(MethodDeclarationSyntax syntax, SemanticModel model)
    {
        if (syntax.ExpressionBody is { } arrow)
            return Operation(arrow.Expression, model);
        if (syntax.Body is not { } block)
            throw new UnsupportedSyntaxException(syntax, $"'{syntax.Identifier.Text}' has no body to differentiate");
        foreach (var statement in block.Statements)
            switch (statement)
            {
                case LocalDeclarationStatementSyntax local:
                    foreach (var variable in local.Declaration.Variables)
                    {
                        if (variable.Initializer is null)
                            throw new UnsupportedSyntaxException(variable, $"'{variable.Identifier.Text}' is declared without a value: a differentiable method's locals are each assigned once, where they are declared");
                        var symbol = (ILocalSymbol)model.GetDeclaredSymbol(variable, _cancel)!;
                        _locals[symbol] = Operation(variable.Initializer.Value, model);
                    }
                    break;
                case ReturnStatementSyntax { Expression: { } value }:
                    return Operation(value, model);
                default:
                    throw new UnsupportedSyntaxException(statement,
                        $"'{Short(statement)}' is a {Describe(statement)}: a differentiable method is an expression, or local declarations and a return (loops and branches have no gradient here; write branches as c ? a : b)");
            }
        throw new UnsupportedSyntaxException(block, $"'{syntax.Identifier.Text}' does not end in a return");
    }

    private Expression Operation(ExpressionSyntax syntax, SemanticModel model)
    {
        // C# has no operation for parentheses: the expression inside is the operation.
        while (syntax is ParenthesizedExpressionSyntax parenthesized)
            syntax = parenthesized.Expression;
        return Read(model.GetOperation(syntax, _cancel)
            ?? throw new UnsupportedSyntaxException(syntax, $"'{Short(syntax)}' is not an expression the generator can read"));
    }

    // Recursion over the user's tree: a tree nested deeper than this thread's stack continues on a fresh one.
    private Expression Read(IOperation operation) =>
        StackGuard.HasRoom ? Node(operation) : StackGuard.OnLargeStack(() => Node(operation), 64 * 1024 * 1024);

    private Expression Node(IOperation operation)
    {
        _cancel.ThrowIfCancellationRequested();
        if (operation.Kind == OperationKind.Invalid)
            throw new InvalidCodeException();
        if (operation.ConstantValue is { HasValue: true, Value: { } constant } && operation.Type is { } constantType)
            return Constant(operation, constant, constantType);
        switch (operation)
        {
            case IParameterReferenceOperation p when _parameters.TryGetValue(p.Parameter, out var parameter):
                return parameter;
            case ILocalReferenceOperation l when _locals.TryGetValue(l.Local, out var local):
                return local;
            case IParenthesizedOperation parenthesized:
                return Read(parenthesized.Operand);
            case IConversionOperation conversion when conversion.OperatorMethod is null:
                var operand = Read(conversion.Operand);
                var to = Clr(conversion, conversion.Type!);
                return operand.Type == to ? operand : Expression.Convert(operand, to);
            case IUnaryOperation { OperatorMethod: null } unary:
                var argument = Read(unary.Operand);
                return unary.OperatorKind switch
                {
                    UnaryOperatorKind.Minus => Expression.Negate(argument),
                    UnaryOperatorKind.Plus => argument,
                    UnaryOperatorKind.Not => Expression.Not(argument),
                    _ => throw Unsupported(unary, "this operator"),
                };
            case IBinaryOperation { OperatorMethod: null } binary:
                return Binary(binary);
            case IConditionalOperation { WhenFalse: { } otherwise } conditional:
                return Expression.Condition(Read(conditional.Condition), Read(conditional.WhenTrue), Read(otherwise));
            case IInvocationOperation invocation:
                return Call(invocation);
            case IArrayElementReferenceOperation { Indices.Length: 1 } element:
                return Expression.ArrayIndex(Read(element.ArrayReference), Read(element.Indices[0]));
            case IFieldReferenceOperation or IPropertyReferenceOperation:
                var member = operation is IFieldReferenceOperation f ? (ISymbol)f.Field : ((IPropertyReferenceOperation)operation).Property;
                throw Unsupported(operation, $"it reads {member.Name}, which is neither a parameter nor a constant: " +
                    "a generated gradient reads only its parameters (pass the value as a parameter, or use Grad.Of, which reads captured values live)");
            default:
                throw Unsupported(operation, operation.Kind switch
                {
                    OperationKind.SimpleAssignment or OperationKind.CompoundAssignment or OperationKind.Increment or OperationKind.Decrement
                        => "it assigns: a differentiable method computes one value without side effects",
                    _ => $"{Article(operation.Kind)} has no derivative rule",
                });
        }
    }

    private Expression Binary(IBinaryOperation binary)
    {
        var left = Read(binary.LeftOperand);
        var right = Read(binary.RightOperand);
        return binary.OperatorKind switch
        {
            BinaryOperatorKind.Add => Expression.Add(left, right),
            BinaryOperatorKind.Subtract => Expression.Subtract(left, right),
            BinaryOperatorKind.Multiply => Expression.Multiply(left, right),
            BinaryOperatorKind.Divide => Expression.Divide(left, right),
            BinaryOperatorKind.Remainder => Expression.Modulo(left, right),
            BinaryOperatorKind.Equals => Expression.Equal(left, right),
            BinaryOperatorKind.NotEquals => Expression.NotEqual(left, right),
            BinaryOperatorKind.LessThan => Expression.LessThan(left, right),
            BinaryOperatorKind.LessThanOrEqual => Expression.LessThanOrEqual(left, right),
            BinaryOperatorKind.GreaterThan => Expression.GreaterThan(left, right),
            BinaryOperatorKind.GreaterThanOrEqual => Expression.GreaterThanOrEqual(left, right),
            BinaryOperatorKind.ConditionalAnd => Expression.AndAlso(left, right),
            BinaryOperatorKind.ConditionalOr => Expression.OrElse(left, right),
            _ => throw Unsupported(binary, $"the operator {binary.OperatorKind} has no derivative rule"),
        };
    }

    // Math.* and Fn.* by their runtime MethodInfo: the engine's rule table is keyed by those.
    private Expression Call(IInvocationOperation invocation)
    {
        var target = invocation.TargetMethod;
        var type = target.ContainingType.ToDisplayString() switch
        {
            "System.Math" => typeof(Math),
            "ExprGrad.Fn" => typeof(Fn),
            _ => null,
        };
        var parameterTypes = target.Parameters.Select(p => Clr(p.Type)).ToArray();
        var method = type is null || parameterTypes.Contains(null) || !target.IsStatic
            ? null
            : type.GetMethod(target.Name, BindingFlags.Public | BindingFlags.Static, parameterTypes!);
        if (method is null)
            throw Unsupported(invocation, $"{target.ContainingType.Name}.{target.Name} has no derivative rule (the catalogue is Math's functions and ExprGrad.Fn)");
        var arguments = invocation.Arguments.OrderBy(a => a.Parameter!.Ordinal).Select(a => Read(a.Value));
        return Expression.Call(method, arguments);
    }

    private Expression Constant(IOperation operation, object value, ITypeSymbol type) => type.SpecialType switch
    {
        SpecialType.System_Double => Expression.Constant(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)),
        SpecialType.System_Int32 => Expression.Constant((int)value),
        SpecialType.System_Boolean => Expression.Constant((bool)value),
        _ => Expression.Constant(value, Clr(operation, type)),
    };

    private static Type? Clr(ITypeSymbol type) => type.SpecialType switch
    {
        SpecialType.System_Double => typeof(double),
        SpecialType.System_Single => typeof(float),
        SpecialType.System_Decimal => typeof(decimal),
        SpecialType.System_Int32 => typeof(int),
        SpecialType.System_Int64 => typeof(long),
        SpecialType.System_Int16 => typeof(short),
        SpecialType.System_Byte => typeof(byte),
        SpecialType.System_SByte => typeof(sbyte),
        SpecialType.System_UInt32 => typeof(uint),
        SpecialType.System_UInt64 => typeof(ulong),
        SpecialType.System_UInt16 => typeof(ushort),
        SpecialType.System_Boolean => typeof(bool),
        _ when GradientSource.IsDoubleArray(type) => typeof(double[]),
        _ => null,
    };

    private static Type Clr(IOperation at, ITypeSymbol type) =>
        Clr(type) ?? throw Unsupported(at, $"its type {type.ToDisplayString()} is not a number ExprGrad differentiates");

    private static UnsupportedSyntaxException Unsupported(IOperation operation, string why) =>
        new(operation.Syntax, $"'{Short(operation.Syntax)}' is not differentiable: {why}");

    private static string Article(OperationKind kind)
    {
        var name = kind.ToString();
        return ("AEIOU".Contains(name[0]) ? "an " : "a ") + name;
    }

    private static string Describe(StatementSyntax statement) => statement.Kind().ToString().Replace("Statement", "").ToLowerInvariant() + " statement";

    private static string Short(SyntaxNode syntax)
    {
        var text = syntax.ToString().ReplaceLineEndings(" ");
        return text.Length <= 60 ? text : text[..57] + "...";
    }
}
