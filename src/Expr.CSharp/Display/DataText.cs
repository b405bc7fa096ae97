using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace ExprGrad.Display;

/// <summary>
/// A sub-expression as the C# a person would write, for display and for error messages: <c>Math.Clamp(k, 0, 1)</c>,
/// <c>h.Get()</c>, <c>w.Length</c>, <c>(W1 * X).Map(Fn.Relu)</c>. Closure objects are left out, as the user wrote the
/// variable alone; a method group is its name (<c>Fn.Relu</c>, not the <c>CreateDelegate</c> call the compiler
/// builds); arguments left at their defaults are left out, as the user did. The printer stops at a fixed depth and
/// length, so any tree prints (a 100,000-deep one too), shortened with an ellipsis.
/// </summary>
internal static class DataText
{
    private const int MaxDepth = 12, MaxLength = 80;

    public static string Of(Expression e) => Of(e, MaxDepth, MaxLength);

    /// <summary>The expression as C#, at most <paramref name="maxDepth"/> levels and about <paramref name="maxLength"/> characters.</summary>
    public static string Of(Expression e, int maxDepth, int maxLength)
    {
        var text = new StringBuilder();
        new Writer(text, maxDepth, maxLength).Write(e, 0);
        return text.Length <= maxLength ? text.ToString() : text.ToString(0, maxLength - 1) + "…";
    }

    private readonly record struct Writer(StringBuilder Text, int MaxDepth, int MaxLength)
    {
        public void Write(Expression e, int depth)
        {
            var text = Text;
            if (depth > MaxDepth || text.Length > MaxLength)
            {
                text.Append('…');
                return;
            }
            var d = depth + 1;
            switch (e)
            {
                case ConstantExpression { Value: Enum value }:
                    text.Append(value.GetType().Name).Append('.').Append(value);
                    break;
                case ConstantExpression c:
                    text.Append(Literal(c.Value));
                    break;
                // A method group: C# builds MethodInfo.CreateDelegate(type, target) on the method's constant.
                case MethodCallExpression { Method.Name: nameof(MethodInfo.CreateDelegate), Object: ConstantExpression { Value: MethodInfo group } } call:
                    if (call.Arguments.Count > 1 && call.Arguments[1] is not ConstantExpression { Value: null } && !IsClosure(call.Arguments[1]))
                        Operand(call.Arguments[1], d);
                    else
                        text.Append(group.DeclaringType?.Name);
                    text.Append('.').Append(group.Name);
                    break;
                case ParameterExpression p:
                    text.Append(p.Name ?? "p");
                    break;
                case MemberExpression m:
                    if (m.Expression is null)
                        text.Append(m.Member.DeclaringType?.Name).Append('.');
                    else if (!IsClosure(m.Expression) && !(m.Expression is MemberExpression scope && IsCompilerLink(scope)))
                    {
                        Write(m.Expression, d);
                        text.Append('.');
                    }
                    text.Append(m.Member.Name);
                    break;
                case MethodCallExpression call:
                    var arguments = WithoutDefaults(call);
                    if (call.Object is { } target)
                    {
                        Operand(target, d);
                        text.Append('.');
                    }
                    else if (call.Method.IsDefined(typeof(ExtensionAttribute), false) && call.Arguments.Count > 0)
                    {
                        Operand(call.Arguments[0], d);
                        text.Append('.');
                        arguments = arguments.Skip(1);
                    }
                    else
                        text.Append(call.Method.DeclaringType?.Name).Append('.');
                    text.Append(call.Method.Name);
                    List(arguments, d, '(', ')');
                    break;
                case InvocationExpression invoke:
                    Write(invoke.Expression, d);
                    List(invoke.Arguments, d, '(', ')');
                    break;
                case BinaryExpression { NodeType: ExpressionType.ArrayIndex } index:
                    Write(index.Left, d);
                    List([index.Right], d, '[', ']');
                    break;
                case IndexExpression index when index.Object is not null:
                    Write(index.Object, d);
                    List(index.Arguments, d, '[', ']');
                    break;
                case UnaryExpression { NodeType: ExpressionType.ArrayLength } length:
                    Write(length.Operand, d);
                    text.Append(".Length");
                    break;
                case UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked or ExpressionType.Quote or ExpressionType.UnaryPlus } u:
                    Write(u.Operand, depth);
                    break;
                case UnaryExpression { NodeType: ExpressionType.Negate or ExpressionType.NegateChecked or ExpressionType.Not } u:
                    text.Append(u.NodeType == ExpressionType.Not ? (u.Type == typeof(bool) ? "!" : "~") : "-");
                    Operand(u.Operand, d);
                    break;
                case BinaryExpression b when Symbol(b.NodeType) is { } symbol:
                    Operand(b.Left, d);
                    text.Append(' ').Append(symbol).Append(' ');
                    Operand(b.Right, d);
                    break;
                case ConditionalExpression c:
                    Operand(c.Test, d);
                    text.Append(" ? ");
                    Operand(c.IfTrue, d);
                    text.Append(" : ");
                    Operand(c.IfFalse, d);
                    break;
                case LambdaExpression lambda:
                    if (lambda.Parameters.Count == 1)
                        text.Append(lambda.Parameters[0].Name);
                    else
                        text.Append('(').AppendJoin(", ", lambda.Parameters.Select(p => p.Name)).Append(')');
                    text.Append(" => ");
                    Write(lambda.Body, d);
                    break;
                case NewExpression n:
                    text.Append("new ").Append(n.Type.Name);
                    List(n.Arguments, d, '(', ')');
                    break;
                default:
                    text.Append(e.NodeType);
                    break;
            }
        }

        private void Operand(Expression e, int depth)
        {
            var text = Text;
            var strip = e;
            while (strip is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } u)
                strip = u.Operand;
            var bare = strip is not (BinaryExpression { NodeType: not ExpressionType.ArrayIndex } or ConditionalExpression or LambdaExpression);
            if (!bare)
                text.Append('(');
            Write(strip, depth);
            if (!bare)
                text.Append(')');
        }

        private void List(IEnumerable<Expression> items, int depth, char open, char close)
        {
            var text = Text;
            text.Append(open);
            var first = true;
            foreach (var item in items)
            {
                if (text.Length > MaxLength)
                    break; // cut off anyway: a wide list is not walked to its end
                if (!first)
                    text.Append(", ");
                first = false;
                Write(item, depth);
            }
            text.Append(close);
        }
    }

    // The arguments up to the last one the user wrote: trailing ones equal to their optional parameter's default
    // value are the compiler's (Map(f) is Map(f, Zeros.AllowSkip)).
    private static IEnumerable<Expression> WithoutDefaults(MethodCallExpression call)
    {
        var parameters = call.Method.GetParameters();
        var count = call.Arguments.Count;
        while (count > 0 && parameters[count - 1].HasDefaultValue && call.Arguments[count - 1] is ConstantExpression { Value: var v }
            && Equals(v, Default(parameters[count - 1], v)))
            count--;
        return call.Arguments.Take(count);
    }

    // An enum parameter's default value may be stored as its underlying integer.
    private static object? Default(ParameterInfo parameter, object? like) =>
        parameter.DefaultValue is { } d && like is Enum && d is not Enum ? Enum.ToObject(like.GetType(), d) : parameter.DefaultValue;

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
