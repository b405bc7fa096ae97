using System.Linq.Expressions;
using System.Reflection;
using ExprGrad.Display;
using ExprGrad.Rules;
using ExprGrad.Staging;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
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
/// A <c>for</c> loop becomes the LINQ sum or fold <c>Grad.Of</c> accepts (see the Loops part).
/// </summary>
/// <remarks>
/// A sub-expression that reads no parameter and is not a constant (<c>this.scale</c>, <c>Data.W[2]</c>,
/// <c>(double)this.count</c>, integer arithmetic on them, <c>Math.Clamp(this.k, 0, 1)</c>, <c>this.h.Get()</c>,
/// <c>this.w.Length</c>) is a captured value, data as it is to <c>Grad.Of</c>; double arithmetic and the catalogue's
/// functions on such values are staged operations, as in the compiler's lambda (<see cref="IsStaged"/>). A captured
/// value is read live at every call, never differentiated. A pure read is one value however often it is written; one
/// that calls a method is one value per occurrence, evaluated once per call as C# evaluates it (as in <c>Grad.Of</c>). The engine sees it as the element of a marker array (<see cref="Source"/> gives back its C#), so it
/// is staged and hash-consed like any captured value, and the generated method reads it once, as the user wrote it.
/// </remarks>
internal sealed partial class LambdaReader
{
    private readonly Dictionary<IParameterSymbol, ParameterExpression> _parameters = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<ILocalSymbol, Expression> _locals = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<ILocalSymbol, IOperation> _localValues = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<IOperation, Facts> _facts = [];
    private readonly Dictionary<(string Text, string Kind), int> _capturedAt = [];
    private readonly List<(string Name, string Text, bool Once)> _captured = [];
    // The engine's stand-ins for captured values: element k of one of these is captured value k.
    private readonly double[] _numbers = [];
    private readonly bool[] _flags = [];
    private readonly int[] _integers = [];
    private readonly double[][] _arrays = [];
    private readonly CancellationToken _cancel;

    private LambdaReader(CancellationToken cancel) => _cancel = cancel;

    /// <summary>The lambda the compiler would build for <c>Grad.Of</c>, and the reader that knows its captured values.</summary>
    public static (LambdaExpression Lambda, LambdaReader Reader) Read(MethodDeclarationSyntax syntax, IMethodSymbol method, SemanticModel model, CancellationToken cancel)
    {
        var reader = new LambdaReader(cancel);
        var parameters = method.Parameters
            .Select(p => reader._parameters[p] = Expression.Parameter(p.Type.SpecialType == SpecialType.System_Double ? typeof(double) : typeof(double[]), p.Name))
            .ToList();
        var body = reader.Body(syntax, model);
        return (Expression.Lambda(body, method.Name, parameters), reader);
    }

    /// <summary>
    /// A captured value's C# (<c>this.scale</c>), a name for the local that holds it (<c>scale</c>), and whether it
    /// calls a method, so must run once per call however often the gradient reads it.
    /// </summary>
    public (string Name, string Text, bool Once) Source(Expression live)
    {
        // An integer captured value reaches the engine converted to double.
        while (live is UnaryExpression { NodeType: ExpressionType.Convert } conversion)
            live = conversion.Operand;
        return live is BinaryExpression { Left: ConstantExpression { Value: var markers }, Right: ConstantExpression { Value: int k } }
            && (markers == _numbers || markers == _flags || markers == _integers || markers == _arrays)
            ? _captured[k]
            : throw new ArgumentException($"'{live}' is not a value this reader captured", nameof(live));
    }

    // => expression, or a block of statements ending in return.
    private Expression Body(MethodDeclarationSyntax syntax, SemanticModel model)
    {
        if (syntax.ExpressionBody is { } arrow)
            return Operation(arrow.Expression, model);
        if (syntax.Body is not { } block)
            throw new UnsupportedSyntaxException(syntax, $"'{syntax.Identifier.Text}' has no body to differentiate");
        FindAssigned(block, model);
        return Statements(block.Statements, model, loop: null)
            ?? throw new UnsupportedSyntaxException(block, $"'{syntax.Identifier.Text}' does not end in a return");
    }

    // A local declaration: each variable's value is read where it is declared (and substituted where it is read).
    private void Declare(LocalDeclarationStatementSyntax local, SemanticModel model)
    {
        foreach (var variable in local.Declaration.Variables)
        {
            if (variable.Initializer is null)
                throw new UnsupportedSyntaxException(variable, $"'{variable.Identifier.Text}' is declared without a value: a differentiable method's locals are assigned where they are declared");
            var symbol = (ILocalSymbol)model.GetDeclaredSymbol(variable, _cancel)!;
            var value = Unwrap(variable.Initializer.Value, model);
            _localValues[symbol] = value;
            // A captured array or object (var w = this.weights) is only ever part of a captured value's C#.
            if (IsScalar(value.Type) || Varies(Of(value)))
                _locals[symbol] = As(Read(value), symbol.Type);
        }
    }

    private Expression Operation(ExpressionSyntax syntax, SemanticModel model) => Read(Unwrap(syntax, model));

    // A value as the local it is stored in has it: double s = 0 is the double 0 (the conversion is the declaration's).
    private static Expression As(Expression value, ITypeSymbol type)
    {
        if (Clr(type) is not { } clr || value.Type == clr || !IsScalar(type))
            return value;
        return value is ConstantExpression { Value: { } constant }
            ? Expression.Constant(Convert.ChangeType(constant, clr, System.Globalization.CultureInfo.InvariantCulture), clr)
            : Expression.Convert(value, clr);
    }

    private IOperation Unwrap(ExpressionSyntax syntax, SemanticModel model)
    {
        // C# has no operation for parentheses: the expression inside is the operation.
        while (syntax is ParenthesizedExpressionSyntax parenthesized)
            syntax = parenthesized.Expression;
        return model.GetOperation(syntax, _cancel)
            ?? throw new UnsupportedSyntaxException(syntax, $"'{Short(syntax)}' is not an expression the generator can read");
    }

    // Recursion over the user's tree: a tree nested deeper than this thread's stack continues on a fresh one.
    private Expression Read(IOperation operation) =>
        StackGuard.HasRoom ? Node(operation) : StackGuard.OnLargeStack(() => Node(operation), 64 * 1024 * 1024);

    // As the compiler builds a lambda: a conditional whose test is a constant is the branch it takes (the engine
    // would keep the other branch as a region, and a captured value read only there would make a live test of it).
    private static IOperation Taken(IOperation operation)
    {
        while (operation is IConditionalOperation { Condition.ConstantValue: { HasValue: true, Value: bool test }, WhenFalse: { } otherwise } conditional)
            operation = test ? conditional.WhenTrue : otherwise;
        return operation;
    }

    private Expression Node(IOperation operation)
    {
        _cancel.ThrowIfCancellationRequested();
        operation = Taken(operation);
        if (operation.Kind == OperationKind.Invalid)
            throw new InvalidCodeException();
        if (operation.ConstantValue is { HasValue: true, Value: { } constant } && operation.Type is { } constantType)
            return Constant(operation, constant, constantType);
        switch (operation)
        {
            case IParameterReferenceOperation p when _parameters.TryGetValue(p.Parameter, out var parameter):
                return parameter;
            case IParameterReferenceOperation p when _arguments.TryGetValue(p.Parameter, out var bound):
                return bound;
            case ILocalReferenceOperation l when _locals.TryGetValue(l.Local, out var local):
                return local;
            case var live when IsCaptured(live) && !IsStaged(live):
                return Captured(live);
            case IPropertyReferenceOperation length when IsParameterLength(length):
                return Expression.ArrayLength(Read(length.Instance!));
            case IArrayElementReferenceOperation { Indices.Length: 1 } element when !Varies(Of(element.ArrayReference)):
                // A captured array read at a loop's variable: the engine reads it at every iteration.
                if (Of(element.Indices[0]).HasFlag(Facts.ReadsParameter))
                    throw Unsupported(element.Indices[0], ParameterIndex);
                if (!Varies(Of(element.Indices[0])))
                    throw Unsupported(element, "a captured array is read at indices known without the parameters: the generated gradient has no rule for an index that depends on them");
                return Expression.ArrayIndex(CapturedArray(element.ArrayReference), Read(element.Indices[0]));
            case IArrayElementReferenceOperation element when !Varies(Of(element.ArrayReference)):
                throw Unsupported(element, "a captured array is read at indices known without the parameters: the generated gradient has no rule for an index that depends on them");
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
            {
                var index = element.Indices[0];
                if (Of(index).HasFlag(Facts.ReadsParameter))
                    throw Unsupported(index, ParameterIndex);
                // In a loop, an index is integer arithmetic on its variables, lengths and captured integers (a[i + 1]).
                if (index.ConstantValue is not { HasValue: true } && !(_loopDepth > 0 && index.Type?.SpecialType == SpecialType.System_Int32))
                    throw Unsupported(index, "it is read when the method runs, and outside a loop a parameter array is indexed by constants (the layout of the gradient is fixed when it is generated); " +
                        "in a for loop, index by its variable: for (int i = 0; i < a.Length; i++) s += a[i];");
                return Expression.ArrayIndex(Read(element.ArrayReference), Read(index));
            }
            case IFieldReferenceOperation or IPropertyReferenceOperation when operation.Type is { } type && !IsScalar(type):
                throw Unsupported(operation, $"its type {type.ToDisplayString()} is not a number: a captured value is read where it is a number (an element, a field)");
            default:
                throw Unsupported(operation, operation.Kind switch
                {
                    OperationKind.SimpleAssignment or OperationKind.CompoundAssignment or OperationKind.Increment or OperationKind.Decrement
                        => "it assigns: a differentiable method computes one value without side effects",
                    _ => $"{Article(operation.Kind)} has no derivative rule",
                });
        }
    }

    [Flags]
    private enum Facts
    {
        None = 0,
        ReadsParameter = 1,
        ReadsMember = 2,
        Calls = 4,
        // A loop's variable, or a local a statement assigns: known only as the method runs, never data.
        ReadsLoop = 8,
        // An array parameter's length: data to the engine, but not a captured value.
        ReadsLength = 16,
    }

    // Not data: reads a parameter, its length, or a loop's variable.
    private static bool Varies(Facts facts) => (facts & (Facts.ReadsParameter | Facts.ReadsLoop | Facts.ReadsLength)) != 0;

    // What a sub-expression reads, once per operation (the reader asks at every level of a deep tree).
    private Facts Of(IOperation operation)
    {
        if (_facts.TryGetValue(operation, out var facts))
            return facts;
        if (Taken(operation) is var taken && taken != operation)
            return _facts[operation] = Of(taken);
        if (!StackGuard.HasRoom)
            return StackGuard.OnLargeStack(() => Of(operation), 64 * 1024 * 1024);
        if (IsParameterLength(operation))
            return _facts[operation] = Facts.ReadsLength;
        facts = operation switch
        {
            IParameterReferenceOperation => Facts.ReadsParameter,
            ILocalReferenceOperation l when _assigned.Contains(l.Local) => Facts.ReadsLoop,
            ILocalReferenceOperation l => _localValues.TryGetValue(l.Local, out var value) ? Of(value) : Facts.None,
            IFieldReferenceOperation or IPropertyReferenceOperation when operation.ConstantValue is not { HasValue: true } => Facts.ReadsMember,
            IInvocationOperation => Facts.Calls,
            _ => Facts.None,
        };
        foreach (var child in operation.ChildOperations)
            facts |= Of(child);
        return _facts[operation] = facts;
    }

    // Data: reads no parameter, but a member or a method's result (a constant alone is folded by C# or staged).
    private bool IsCaptured(IOperation operation) =>
        Of(operation) is var facts && !Varies(facts) && (facts & (Facts.ReadsMember | Facts.Calls)) != 0
        && IsScalar(operation.Type);

    // The functions the engine has a rule for, by the runtime method the compiler's lambda calls.
    private static readonly HashSet<MethodInfo> RuleMethods =
        [.. RuleTable.ScalarOperations.Select(op => RuleTable.Get(op).Method).OfType<MethodInfo>()];

    /// <summary>
    /// True for an operation on captured values that Grad.Of stages as an operation when it meets it in the compiler's
    /// lambda (double arithmetic, tests of doubles, the catalogue's functions, a conditional choosing a double), so the
    /// reader builds the same node rather than one captured value: only member reads, elements and conversions are
    /// captured leaves, as in the importer. Read by its text as one captured value, K0 * K1 and K1 * K0 were two values
    /// where the engine shares one product, and a conditional written twice was one value where the engine stages two:
    /// the graphs differed, so the adjoints at a fork were summed in another order, one ulp off Grad.Of.
    /// </summary>
    private static bool IsStaged(IOperation operation) => operation switch
    {
        IBinaryOperation { OperatorMethod: null } binary => Symbol(binary.OperatorKind) is not (null or "%")
            && IsNumberOrTruth(binary.Type) && IsNumberOrTruth(binary.LeftOperand.Type) && IsNumberOrTruth(binary.RightOperand.Type),
        IUnaryOperation { OperatorMethod: null, OperatorKind: UnaryOperatorKind.Minus or UnaryOperatorKind.Plus or UnaryOperatorKind.Not } unary =>
            IsNumberOrTruth(unary.Type) && IsNumberOrTruth(unary.Operand.Type),
        IConditionalOperation { WhenFalse: not null } conditional => conditional.Type?.SpecialType == SpecialType.System_Double,
        IInvocationOperation invocation => TryMethod(invocation) is { } method
            && (RuleMethods.Contains(method) || method == MathSign && invocation.Parent is IConversionOperation { Type.SpecialType: SpecialType.System_Double }),
        // (double)Math.Sign(k): the importer stages it as the sign of k, one node however often it is written.
        IConversionOperation { OperatorMethod: null, Type.SpecialType: SpecialType.System_Double, Operand: IInvocationOperation sign } =>
            TryMethod(sign) == MathSign,
        _ => false,
    };

    private static readonly MethodInfo MathSign = typeof(Math).GetMethod(nameof(Math.Sign), [typeof(double)])!;

    private static bool IsNumberOrTruth(ITypeSymbol? type) =>
        type?.SpecialType is SpecialType.System_Double or SpecialType.System_Boolean;

    // Captured value k is element k of a marker array: one per distinct C# text, so a value read twice is staged once;
    // but one per occurrence if it calls a method, which C# runs once per occurrence (as Grad.Of's importer does).
    private Expression Captured(IOperation operation)
    {
        var type = operation.Type!;
        var isBool = type.SpecialType == SpecialType.System_Boolean;
        var text = Text(operation);
        // An integer (a count, a captured array's length) bounds and indexes loops: it stays an int.
        // (Integer arithmetic with a parameter's value is no index: it stays refused below.)
        if (type.SpecialType == SpecialType.System_Int32 && !(operation.Parent is IBinaryOperation parent && Of(parent).HasFlag(Facts.ReadsParameter)))
            return Expression.ArrayIndex(Expression.Constant(_integers), Expression.Constant(CapturedIndex(operation, text, "int")));
        if (!isBool && type.SpecialType != SpecialType.System_Double)
            throw Unsupported(operation, $"'{text}' is a {type.ToDisplayString()} read when the method runs, in integer arithmetic with a parameter: convert it to double first");
        var k = CapturedIndex(operation, text, isBool ? "bool" : "double");
        return Expression.ArrayIndex(Expression.Constant(isBool ? _flags : _numbers), Expression.Constant(k));
    }

    private int CapturedIndex(IOperation operation, string text, string kind)
    {
        var once = Of(operation).HasFlag(Facts.Calls);
        if (once || !_capturedAt.TryGetValue((text, kind), out var k))
        {
            k = _captured.Count;
            if (!once)
                _capturedAt[(text, kind)] = k;
            _captured.Add((NameOf(operation) ?? $"c{k}", text, once));
        }
        return k;
    }

    // The C# of a captured value, valid anywhere in the method's type: members through this. or global::, every
    // conversion written out (an implicit one too, since the text may land where C# would not insert it), every
    // operator parenthesized.
    private string Text(IOperation operation)
    {
        if (!StackGuard.HasRoom)
            return StackGuard.OnLargeStack(() => Text(operation), 64 * 1024 * 1024);
        operation = Taken(operation);
        if (operation.Kind == OperationKind.Invalid)
            throw new InvalidCodeException();
        if (operation.ConstantValue is { HasValue: true, Value: var constant } && operation.Type is { } constantType)
            return Literal(constant, constantType) ?? throw Unsupported(operation, $"a {constantType.ToDisplayString()} constant is not a number");
        switch (operation)
        {
            case IInstanceReferenceOperation { ReferenceKind: InstanceReferenceKind.ContainingTypeInstance }:
                return "this";
            case IFieldReferenceOperation field:
                return Member(field.Instance, field.Field);
            case IPropertyReferenceOperation { Arguments.Length: 0 } property:
                return Member(property.Instance, property.Property);
            case IArrayElementReferenceOperation element:
                return $"{Text(element.ArrayReference)}[{string.Join(", ", element.Indices.Select(Text))}]";
            case ILocalReferenceOperation local when _localValues.TryGetValue(local.Local, out var value):
                return $"({Text(value)})";
            case IParenthesizedOperation parenthesized:
                return Text(parenthesized.Operand);
            case IConversionOperation { OperatorMethod: null } conversion:
                return Checked(conversion.IsChecked, $"(({conversion.Type!.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat)}){Text(conversion.Operand)})");
            case IUnaryOperation { OperatorMethod: null, OperatorKind: UnaryOperatorKind.Minus or UnaryOperatorKind.Plus or UnaryOperatorKind.Not } unary:
                var sign = unary.OperatorKind switch { UnaryOperatorKind.Minus => "-", UnaryOperatorKind.Plus => "+", _ => "!" };
                return Checked(unary.IsChecked, $"({sign}{Text(unary.Operand)})");
            case IBinaryOperation { OperatorMethod: null } binary when Symbol(binary.OperatorKind) is { } symbol:
                return Checked(binary.IsChecked, $"({Text(binary.LeftOperand)} {symbol} {Text(binary.RightOperand)})");
            case IConditionalOperation { WhenFalse: { } otherwise } conditional:
                return $"({Text(conditional.Condition)} ? {Text(conditional.WhenTrue)} : {Text(otherwise)})";
            case IInvocationOperation invocation:
                return Invocation(invocation);
            default:
                throw Unsupported(operation, $"{Article(operation.Kind)} is not something a captured value can be (fields, properties, elements, arithmetic and Math functions of them)");
        }
    }

    // Any method on data, as written: static ones through global::, generic ones with their type arguments.
    private string Invocation(IInvocationOperation invocation)
    {
        var target = invocation.TargetMethod;
        if (invocation.Arguments.Any(a => a.Parameter is null || a.Parameter.RefKind != RefKind.None || a.ArgumentKind == ArgumentKind.ParamArray))
            throw Unsupported(invocation, "a call with ref, out or params arguments is not something a captured value can be");
        var arguments = string.Join(", ", invocation.Arguments.OrderBy(a => a.Parameter!.Ordinal).Select(a => Text(a.Value)));
        var name = Verbatim(target.Name);
        if (target.IsGenericMethod)
            name += $"<{string.Join(", ", target.TypeArguments.Select(t => t.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat)))}>";
        var receiver = invocation.Instance is { } instance
            ? Text(instance)
            : target.ContainingType.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
        return $"{receiver}.{name}({arguments})";
    }

    private string Member(IOperation? instance, ISymbol member)
    {
        var name = Verbatim(member.Name);
        return (instance is null ? member.ContainingType.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) : Text(instance)) + "." + name;
    }

    private static string Checked(bool isChecked, string text) => isChecked ? $"checked{text}" : text;

    private static string? Symbol(BinaryOperatorKind kind) => kind switch
    {
        BinaryOperatorKind.Add => "+",
        BinaryOperatorKind.Subtract => "-",
        BinaryOperatorKind.Multiply => "*",
        BinaryOperatorKind.Divide => "/",
        BinaryOperatorKind.Remainder => "%",
        BinaryOperatorKind.Equals => "==",
        BinaryOperatorKind.NotEquals => "!=",
        BinaryOperatorKind.LessThan => "<",
        BinaryOperatorKind.LessThanOrEqual => "<=",
        BinaryOperatorKind.GreaterThan => ">",
        BinaryOperatorKind.GreaterThanOrEqual => ">=",
        BinaryOperatorKind.ConditionalAnd => "&&",
        BinaryOperatorKind.ConditionalOr => "||",
        _ => null,
    };

    // A literal of exactly its type: 2.0 stays a double where it meets an int (this.n / 2.0).
    private static string? Literal(object? value, ITypeSymbol type)
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        var text = type.TypeKind == TypeKind.Enum
            ? $"(({type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat)})({Convert.ToString(value, invariant)}))"
            : value switch
        {
            // 2.0 keeps its decimal point: this.n / 2.0 must not become an integer division.
            double d => StagedCode.DoubleLiteral(d) is var r && r.All(c => char.IsDigit(c) || c == '-') ? r + ".0" : r,
            float f when float.IsNaN(f) || float.IsInfinity(f) => $"((float){StagedCode.DoubleLiteral(f)})",
            float f => f.ToString("R", invariant) + "f",
            bool b => b ? "true" : "false",
            int or long or uint or ulong or decimal => Convert.ToString(value, invariant) + value switch { long => "L", uint => "u", ulong => "UL", decimal => "m", _ => "" },
            short or ushort or byte or sbyte => $"(({type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat)})({Convert.ToString(value, invariant)}))",
            _ => null,
        };
        // Every negative literal is parenthesized, so that it reads as one operand.
        return text is null ? null : text.StartsWith('-') ? $"({text})" : text;
    }

    // A name for the local that holds a captured value: the member it reads (scale, w_2), if it reads one.
    private static string? NameOf(IOperation operation) => Taken(operation) switch
    {
        IConversionOperation conversion => NameOf(conversion.Operand),
        IParenthesizedOperation parenthesized => NameOf(parenthesized.Operand),
        IFieldReferenceOperation field => Identifier(field.Field.Name),
        IPropertyReferenceOperation { Property.Name: "Length", Instance: { } array } when NameOf(array) is { } name => name + "Length",
        IPropertyReferenceOperation property => Identifier(property.Property.Name),
        ILocalReferenceOperation local => Identifier(local.Local.Name),
        IInvocationOperation invocation => Identifier(char.ToLowerInvariant(invocation.TargetMethod.Name[0]) + invocation.TargetMethod.Name[1..]),
        IArrayElementReferenceOperation element => NameOf(element.ArrayReference) is { } array
            ? array + (element.Indices.All(i => i.ConstantValue.HasValue) ? "_" + string.Join("_", element.Indices.Select(i => i.ConstantValue.Value)) : "")
            : null,
        _ => null,
    };

    // A member's name as C# must write it: a keyword (a field named `class`) with @.
    private static string Verbatim(string name) => SyntaxFacts.GetKeywordKind(name) == SyntaxKind.None ? name : "@" + name;

    private static string? Identifier(string name) =>
        SyntaxFacts.GetKeywordKind(name) == SyntaxKind.None && SyntaxFacts.IsValidIdentifier(name) ? name : null;

    // A number or a truth value: what a captured value or a local of the method can be.
    private static bool IsScalar(ITypeSymbol? type) => type is not null && (type.SpecialType is SpecialType.System_Boolean
        or SpecialType.System_Double or SpecialType.System_Single or SpecialType.System_Decimal
        or SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Int16 or SpecialType.System_Byte
        or SpecialType.System_SByte or SpecialType.System_UInt32 or SpecialType.System_UInt64 or SpecialType.System_UInt16);

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

    // Math.*, Fn.* and MathNet's SpecialFunctions by their runtime MethodInfo: the engine's rule table is keyed by
    // those. Another [Differentiable] method is read in place (see Inline).
    private Expression Call(IInvocationOperation invocation)
    {
        if (TryMethod(invocation) is not { } method)
            return Inline(invocation);
        var arguments = invocation.Arguments.OrderBy(a => a.Parameter!.Ordinal).Select(a => Read(a.Value));
        return Expression.Call(method, arguments);
    }

    // The [Differentiable] methods being read in place, innermost last: a method that reaches itself is refused.
    private readonly List<IMethodSymbol> _inlining = [];
    // A [Differentiable] callee's parameters, bound to the caller's argument expressions while its body is read.
    private readonly Dictionary<IParameterSymbol, Expression> _arguments = new(SymbolEqualityComparer.Default);

    /// <summary>
    /// A call of a method with a <c>[Derivative]</c> attribute: staged as a call of it whose pullback calls the partial
    /// methods the attribute names (found in the method's type as the run-time rule finds them: static, returning double,
    /// taking the arguments, or those and the value), all printed by their qualified names (see SourceCalls).
    /// </summary>
    private Expression RuleCall(IInvocationOperation invocation, IMethodSymbol target, AttributeData attribute)
    {
        var name = $"{target.ContainingType.Name}.{target.Name}";
        var arity = target.Parameters.Length;
        if (!target.IsStatic || target.IsGenericMethod || target.ReturnType.SpecialType != SpecialType.System_Double || arity == 0
            || target.Parameters.Any(p => p.RefKind != RefKind.None || p.Type.SpecialType != SpecialType.System_Double))
            throw Unsupported(invocation, $"{name} has [Derivative], but a rule is for a static method from doubles to a double");
        if (arity > ExprGrad.Import.SourceCalls.MaxArguments)
            throw Unsupported(invocation, $"{name} takes {arity} arguments: [Differentiable] methods call [Derivative] methods of at most {ExprGrad.Import.SourceCalls.MaxArguments} (Grad.Of takes any number)");
        var names = attribute.ConstructorArguments.SelectMany(a => a.Kind == TypedConstantKind.Array ? a.Values : [a])
            .Select(v => v.Value as string).ToList();
        if (names.Count != arity || names.Any(n => n is null))
            throw Unsupported(invocation, $"[Derivative] on {name} must name {arity} partial-derivative method(s), one per argument");
        var partials = new List<string>();
        foreach (var partialName in names)
        {
            var partial = target.ContainingType.GetMembers(partialName!).OfType<IMethodSymbol>()
                .Where(m => m.IsStatic && m.ReturnType.SpecialType == SpecialType.System_Double
                    && (m.Parameters.Length == arity || m.Parameters.Length == arity + 1)
                    && m.Parameters.All(p => p.RefKind == RefKind.None && p.Type.SpecialType == SpecialType.System_Double))
                .OrderBy(m => m.Parameters.Length)
                .FirstOrDefault()
                ?? throw Unsupported(invocation, $"[Derivative] on {name} names '{partialName}', which must be a static method of {target.ContainingType.Name} " +
                    $"returning double and taking the method's {arity} double argument(s), or those and the method's value after them");
            partials.Add($"{Qualified(partial)}/{partial.Parameters.Length}");
        }
        var marker = typeof(ExprGrad.Import.SourceCalls).GetMethods().Single(m => m.Name == "Call" && m.GetParameters().Length == arity + 2);
        var arguments = invocation.Arguments.OrderBy(a => a.Parameter!.Ordinal).Select(a => Read(a.Value));
        return Expression.Call(marker, [Expression.Constant(Qualified(target)), Expression.Constant(string.Join(";", partials)), .. arguments]);

        static string Qualified(IMethodSymbol m) => $"{m.ContainingType.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat)}.{Verbatim(m.Name)}";
    }

    /// <summary>
    /// A call of another static <c>[Differentiable]</c> method of the compilation: its body is read here, its parameters
    /// bound to the arguments, so the gradient is staged through it as if it were written in place (what JAX's tracing
    /// does with a called function). Its own <c>WithGradient</c> is not called: inlined, nothing is computed twice and
    /// the JIT sees one method.
    /// </summary>
    private Expression Inline(IInvocationOperation invocation)
    {
        var target = invocation.TargetMethod.OriginalDefinition;
        var name = $"{target.ContainingType.Name}.{target.Name}";
        if (target.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == "ExprGrad.DerivativeAttribute") is { } rule)
            return RuleCall(invocation, target, rule);
        var differentiable = target.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == "ExprGrad.DifferentiableAttribute");
        if (!differentiable)
            throw Unsupported(invocation,
                $"{name} has no derivative rule (the catalogue is Math's functions, ExprGrad.Fn, MathNet's SpecialFunctions, methods with a " +
                "[Derivative] attribute, and other [Differentiable] methods; rules registered with DerivativeRules exist only at run time, for Grad.Of)");
        if (!target.IsStatic || target.IsGenericMethod
            || target.Parameters.Any(p => p.RefKind != RefKind.None || p.Type.SpecialType != SpecialType.System_Double))
            throw Unsupported(invocation, $"{name} is [Differentiable], but only static ones taking double parameters are read in place");
        if (_inlining.Contains(target, SymbolEqualityComparer.Default))
            throw Unsupported(invocation, $"{name} calls itself (through {string.Join(" → ", _inlining.Select(m => m.Name))}): a recursive method has no staged gradient");
        if (target.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_cancel)).OfType<MethodDeclarationSyntax>().FirstOrDefault() is not { } syntax
            || invocation.SemanticModel is not { } callerModel)
            throw Unsupported(invocation, $"{name} is [Differentiable] but its source is not in this compilation, so it cannot be read in place");

        // Arguments are read in the caller's scope, before the callee's parameters shadow anything.
        var arguments = invocation.Arguments.OrderBy(a => a.Parameter!.Ordinal).Select(a => Read(a.Value)).ToList();
        for (var i = 0; i < target.Parameters.Length; i++)
            _arguments[target.Parameters[i]] = arguments[i];
        _inlining.Add(target);
        try
        {
            return Body(syntax, callerModel.Compilation.GetSemanticModel(syntax.SyntaxTree));
        }
        finally
        {
            _inlining.RemoveAt(_inlining.Count - 1);
            foreach (var p in target.Parameters)
                _arguments.Remove(p);
        }
    }

    private static MethodInfo? TryMethod(IInvocationOperation invocation)
    {
        var target = invocation.TargetMethod;
        var type = target.ContainingType.ToDisplayString() switch
        {
            "System.Math" => typeof(Math),
            "ExprGrad.Fn" => typeof(Fn),
            "MathNet.Numerics.SpecialFunctions" => typeof(MathNet.Numerics.SpecialFunctions),
            _ => null,
        };
        var parameterTypes = target.Parameters.Select(p => Clr(p.Type)).ToArray();
        return type is null || parameterTypes.Contains(null) || !target.IsStatic
            ? null
            : type.GetMethod(target.Name, BindingFlags.Public | BindingFlags.Static, parameterTypes!);
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
