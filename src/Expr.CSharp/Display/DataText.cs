using System.Globalization;
using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using System.Text;

namespace ExprGrad.Display;

/// <summary>
/// A data sub-expression (one that reads no parameter) as short C#, for display: <c>Math.Clamp(k, 0, 1)</c>,
/// <c>h.Get()</c>, <c>w.Length</c>. Closure objects are left out, as the user wrote the variable alone. The printer
/// stops at a fixed depth and length, so any tree prints, shortened with an ellipsis.
/// </summary>
internal static class DataText
{
    private const int MaxDepth = 12, MaxLength = 80;

    public static string Of(Expression e)
    {
        var text = new StringBuilder();
        Write(e, text, 0);
        return text.Length <= MaxLength ? text.ToString() : text.ToString(0, MaxLength - 1) + "…";
    }

    private static void Write(Expression e, StringBuilder text, int depth)
    {
        if (depth > MaxDepth || text.Length > MaxLength)
        {
            text.Append('…');
            return;
        }
        var d = depth + 1;
        switch (e)
        {
            case ConstantExpression c:
                text.Append(Literal(c.Value));
                break;
            case ParameterExpression p:
                text.Append(p.Name ?? "p");
                break;
            case MemberExpression m:
                if (m.Expression is null)
                    text.Append(m.Member.DeclaringType?.Name).Append('.');
                else if (!IsClosure(m.Expression) && !(m.Expression is MemberExpression scope && IsCompilerLink(scope)))
                {
                    Write(m.Expression, text, d);
                    text.Append('.');
                }
                text.Append(m.Member.Name);
                break;
            case MethodCallExpression call:
                var arguments = call.Arguments.AsEnumerable();
                if (call.Object is { } target)
                {
                    Write(target, text, d);
                    text.Append('.');
                }
                else if (call.Method.IsDefined(typeof(ExtensionAttribute), false) && call.Arguments.Count > 0)
                {
                    Write(call.Arguments[0], text, d);
                    text.Append('.');
                    arguments = arguments.Skip(1);
                }
                else
                    text.Append(call.Method.DeclaringType?.Name).Append('.');
                text.Append(call.Method.Name);
                List(arguments, text, d, '(', ')');
                break;
            case InvocationExpression invoke:
                Write(invoke.Expression, text, d);
                List(invoke.Arguments, text, d, '(', ')');
                break;
            case BinaryExpression { NodeType: ExpressionType.ArrayIndex } index:
                Write(index.Left, text, d);
                List([index.Right], text, d, '[', ']');
                break;
            case IndexExpression index when index.Object is not null:
                Write(index.Object, text, d);
                List(index.Arguments, text, d, '[', ']');
                break;
            case UnaryExpression { NodeType: ExpressionType.ArrayLength } length:
                Write(length.Operand, text, d);
                text.Append(".Length");
                break;
            case UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked or ExpressionType.Quote or ExpressionType.UnaryPlus } u:
                Write(u.Operand, text, depth);
                break;
            case UnaryExpression { NodeType: ExpressionType.Negate or ExpressionType.NegateChecked or ExpressionType.Not } u:
                text.Append(u.NodeType == ExpressionType.Not ? (u.Type == typeof(bool) ? "!" : "~") : "-");
                Operand(u.Operand, text, d);
                break;
            case BinaryExpression b when Symbol(b.NodeType) is { } symbol:
                Operand(b.Left, text, d);
                text.Append(' ').Append(symbol).Append(' ');
                Operand(b.Right, text, d);
                break;
            case ConditionalExpression c:
                Operand(c.Test, text, d);
                text.Append(" ? ");
                Operand(c.IfTrue, text, d);
                text.Append(" : ");
                Operand(c.IfFalse, text, d);
                break;
            case LambdaExpression lambda:
                if (lambda.Parameters.Count == 1)
                    text.Append(lambda.Parameters[0].Name);
                else
                    text.Append('(').AppendJoin(", ", lambda.Parameters.Select(p => p.Name)).Append(')');
                text.Append(" => ");
                Write(lambda.Body, text, d);
                break;
            case NewExpression n:
                text.Append("new ").Append(n.Type.Name);
                List(n.Arguments, text, d, '(', ')');
                break;
            default:
                text.Append(e.NodeType);
                break;
        }
    }

    private static void Operand(Expression e, StringBuilder text, int depth)
    {
        var strip = e;
        while (strip is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } u)
            strip = u.Operand;
        var bare = strip is not (BinaryExpression { NodeType: not ExpressionType.ArrayIndex } or ConditionalExpression or LambdaExpression);
        if (!bare)
            text.Append('(');
        Write(strip, text, depth);
        if (!bare)
            text.Append(')');
    }

    private static void List(IEnumerable<Expression> items, StringBuilder text, int depth, char open, char close)
    {
        text.Append(open);
        var first = true;
        foreach (var item in items)
        {
            if (!first)
                text.Append(", ");
            first = false;
            Write(item, text, depth);
        }
        text.Append(close);
    }

    // The compiler's closure object (value(Program+<>c__DisplayClass0_0)): the user wrote its fields as variables.
    /// <summary>
    /// A compiler's own link between scopes (a nested closure's <c>CS$&lt;&gt;8__locals1</c>, a notebook cell's
    /// <c>&lt;Submission#2&gt;</c>): not a name the user wrote, so a variable read through it is named alone.
    /// </summary>
    public static bool IsCompilerLink(MemberExpression m) => m.Member.Name.Contains('<');

    private static bool IsClosure(Expression e) =>
        e is ConstantExpression { Value: { } v } && v.GetType().IsDefined(typeof(CompilerGeneratedAttribute), false);

    private static string Literal(object? value) => value switch
    {
        null => "null",
        double v => StagedCode.DoubleLiteral(v),
        float v => v.ToString("R", CultureInfo.InvariantCulture) + "f",
        bool v => v ? "true" : "false",
        string v => "\"" + v + "\"",
        IFormattable v when value.GetType().IsPrimitive || value is decimal => v.ToString(null, CultureInfo.InvariantCulture),
        _ => value.GetType().Name,
    };

    private static string? Symbol(ExpressionType t) => t switch
    {
        ExpressionType.Add or ExpressionType.AddChecked => "+",
        ExpressionType.Subtract or ExpressionType.SubtractChecked => "-",
        ExpressionType.Multiply or ExpressionType.MultiplyChecked => "*",
        ExpressionType.Divide => "/",
        ExpressionType.Modulo => "%",
        ExpressionType.LessThan => "<",
        ExpressionType.LessThanOrEqual => "<=",
        ExpressionType.GreaterThan => ">",
        ExpressionType.GreaterThanOrEqual => ">=",
        ExpressionType.Equal => "==",
        ExpressionType.NotEqual => "!=",
        ExpressionType.AndAlso => "&&",
        ExpressionType.OrElse => "||",
        ExpressionType.And => "&",
        ExpressionType.Or => "|",
        ExpressionType.ExclusiveOr => "^",
        ExpressionType.Power => "**",
        ExpressionType.Coalesce => "??",
        _ => null,
    };
}
