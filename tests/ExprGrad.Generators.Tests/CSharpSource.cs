using System.Globalization;
using System.Linq.Expressions;
using ExprGrad.Display;
using ExprGrad.Staging;
using ExprGrad.Tests.Properties;

namespace ExprGrad.Generators.Tests;

/// <summary>
/// Prints a lambda built with the Expression factories as the C# a user would write for it, fully parenthesized, so
/// the C# compiler parses it back into the same operations (the property tests feed it to the generator).
/// </summary>
/// <remarks>
/// A captured variable becomes a static field of the class the functions are printed into (<c>K0</c>, and <c>Table</c>
/// for the shared captured array): what the generated method reads live, and a lambda captures.
/// </remarks>
internal sealed class CSharpSource
{
    private readonly Dictionary<CapturedBox<double>, string> _boxes = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<CapturedBox<bool>, string> _flags = new(ReferenceEqualityComparer.Instance);

    /// <summary>The captured variables' static fields, by name, with their generated values.</summary>
    public IEnumerable<(string Name, double Value)> Fields => _boxes.Select(b => (b.Value, b.Key.Value));

    /// <summary>The captured truth values' static fields, by name, with their generated values.</summary>
    public IEnumerable<(string Name, bool Value)> Flags => _flags.Select(f => (f.Value, f.Key.Value));

    /// <summary>The declarations of the captured variables' fields, to print into the class.</summary>
    public string Declarations() =>
        string.Concat(Fields.Select(f => $"    public static double {f.Name} = {Literal(f.Value)};\n"))
        + string.Concat(Flags.Select(f => $"    public static bool {f.Name} = {(f.Value ? "true" : "false")};\n"))
        + $"    public static readonly double[] {nameof(CapturedTable.Values)} = new double[] {{ {string.Join(", ", CapturedTable.Shared.Values.Select(Literal))} }};\n";

    public string Method(string name, LambdaExpression f) =>
        $"[Differentiable] public static double {name}({string.Join(", ", f.Parameters.Select(p => (p.Type == typeof(double) ? "double " : "double[] ") + p.Name))}) =>\n        {Print(f.Body)};";

    /// <summary>The same function as a C# lambda the compiler turns into an expression tree, as <c>Grad.Of</c> receives it.</summary>
    public string Lambda(string name, LambdaExpression f)
    {
        var types = string.Join(", ", f.Parameters.Select(p => p.Type == typeof(double) ? "double" : "double[]").Append("double"));
        return $"public static System.Linq.Expressions.LambdaExpression {name}() =>\n        (System.Linq.Expressions.Expression<System.Func<{types}>>)(({string.Join(", ", f.Parameters.Select(p => p.Name))}) => {Print(f.Body)});";
    }

    public string Print(Expression e) => StackGuard.Run(() => Node(e));

    private string Node(Expression e) => e switch
    {
        MemberExpression { Expression: ConstantExpression { Value: CapturedBox<double> box } } => FieldName(_boxes, box, "K"),
        MemberExpression { Expression: ConstantExpression { Value: CapturedBox<bool> flag } } => FieldName(_flags, flag, "B"),
        MemberExpression { Expression: ConstantExpression { Value: CapturedTable }, Member.Name: var table } => table,
        ParameterExpression p => p.Name!,
        ConstantExpression { Value: double v } => Literal(v),
        ConstantExpression { Value: int i } => i.ToString(CultureInfo.InvariantCulture),
        ConstantExpression { Value: bool b } => b ? "true" : "false",
        UnaryExpression { NodeType: ExpressionType.Negate } u => $"(-{Print(u.Operand)})",
        UnaryExpression { NodeType: ExpressionType.UnaryPlus } u => Print(u.Operand),
        UnaryExpression { NodeType: ExpressionType.Not } u => $"(!{Print(u.Operand)})",
        UnaryExpression { NodeType: ExpressionType.Convert } u => $"(({Name(u.Type)}){Print(u.Operand)})",
        BinaryExpression { NodeType: ExpressionType.ArrayIndex } b => $"{Print(b.Left)}[{Print(b.Right)}]",
        BinaryExpression b => $"({Print(b.Left)} {Operator(b.NodeType)} {Print(b.Right)})",
        ConditionalExpression c => $"({Print(c.Test)} ? {Print(c.IfTrue)} : {Print(c.IfFalse)})",
        MethodCallExpression { Object: null } call =>
            $"global::{call.Method.DeclaringType!.FullName}.{call.Method.Name}({string.Join(", ", call.Arguments.Select(Print))})",
        _ => throw new NotSupportedException($"no C# for {e.NodeType}: {e}"),
    };

    // One static field per captured variable, named in order of first appearance: K0, K1 for numbers, B0 for truth values.
    private static string FieldName<T>(Dictionary<CapturedBox<T>, string> names, CapturedBox<T> box, string prefix)
    {
        if (!names.TryGetValue(box, out var name))
            names[box] = name = prefix + names.Count;
        return name;
    }

    // The d suffix keeps a whole number a double wherever it lands.
    private static string Literal(double v) =>
        double.IsFinite(v) ? $"({v.ToString("R", CultureInfo.InvariantCulture)}d)" : StagedCode.DoubleLiteral(v);

    private static string Name(Type type) => type == typeof(double) ? "double" : type == typeof(int) ? "int" : type.FullName!;

    private static string Operator(ExpressionType type) => type switch
    {
        ExpressionType.Add => "+",
        ExpressionType.Subtract => "-",
        ExpressionType.Multiply => "*",
        ExpressionType.Divide => "/",
        ExpressionType.Equal => "==",
        ExpressionType.NotEqual => "!=",
        ExpressionType.LessThan => "<",
        ExpressionType.LessThanOrEqual => "<=",
        ExpressionType.GreaterThan => ">",
        ExpressionType.GreaterThanOrEqual => ">=",
        ExpressionType.AndAlso => "&&",
        ExpressionType.OrElse => "||",
        _ => throw new NotSupportedException($"no C# operator for {type}"),
    };
}
