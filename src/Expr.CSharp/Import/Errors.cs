using System.Linq.Expressions;

namespace ExprGrad.Import;

/// <summary>Every error the importer raises, in one place: what is wrong, where, and what to do instead.</summary>
internal static class Errors
{
    public const string Catalogue =
        "+, -, *, /, unary -, Math.Exp, Log (1 and 2 arguments), Log10, Log2, Sqrt, Cbrt, Pow, Sin, Cos, Tan, Asin, Acos, Atan, Atan2, " +
        "Sinh, Cosh, Tanh, Asinh, Acosh, Atanh, Abs, Max, Min, Sign, Floor, Ceiling, Round, Truncate, Fn.Sigmoid, Fn.Relu, Fn.Softplus, " +
        "Fn.Square, MathNet's SpecialFunctions.Erf, Erfc, Gamma, GammaLn, DiGamma, Beta, BetaLn, Logistic, Logit, " +
        "static methods given a derivative rule (DerivativeRules.Register, [Derivative]), c ? a : b over comparisons with && || !, conversions from integer types, double[] parameters indexed by constants or loop variables, their Length, " +
        "loops (Enumerable.Range(start, count).Sum(i => ...), a.Sum(v => ...), Select, Zip, Max, Min, Aggregate), " +
        "captured variables and any sub-expression that reads no parameter (data, evaluated as written at every call), and on MathNet Vector<double>/Matrix<double>: + - * /, Transpose, TransposeAndMultiply, " +
        "TransposeThisAndMultiply, OuterProduct, Pointwise* functions, Map, Map2, Sum, DotProduct, L2Norm (vectors), FrobeniusNorm, " +
        "RowSums, ColumnSums, elements at constant indices, Fn.Softmax, Fn.LogSumExp, Fn.CrossEntropy, Fn.SquaredError";

    public static ExprGradException Unsupported(Expression e, string what) =>
        new($"cannot differentiate {what} in {Show(e)} (supported: {Catalogue})", e);

    public static ExprGradException UnsupportedNode(Expression e) => Unsupported(e, $"'{e.NodeType}'");

    public static ExprGradException NoRule(MethodCallExpression call) =>
        call.Method.IsDefined(typeof(DifferentiableAttribute), false)
        ? new($"cannot differentiate the [Differentiable] method '{call.Method.DeclaringType?.Name}.{call.Method.Name}' in {Show(call)}: " +
            "Grad.Of calls a [Differentiable] method through the rule the source generator registers for it, and it registers one only for a " +
            "static method of doubles in non-generic types the whole assembly can reach (not private or protected), whose gradient it " +
            $"generated without error; call it from another [Differentiable] method (read in place there), call {call.Method.Name}WithGradient " +
            "yourself, or give it a rule ([Derivative(nameof(...))], or DerivativeRules.Register)", call)
        : new($"cannot differentiate '{call.Method.DeclaringType?.Name}.{call.Method.Name}' in {Show(call)}: no rule for this method, " +
            $"and it reads a parameter (a call on data alone, like Math.Clamp(k, 0, 1) with a captured k, is evaluated as data) " +
            $"(supported: {Catalogue}); write the function inline in the lambda, or use an Fn function, or give the method its derivative: " +
            $"[Derivative(nameof({call.Method.Name}Derivative))] on {call.Method.Name} naming a static method that returns it, or " +
            $"DerivativeRules.Register(({string.Join(", ", call.Method.GetParameters().Select(p => $"double {p.Name}"))}) => " +
            $"{call.Method.DeclaringType?.Name}.{call.Method.Name}({string.Join(", ", call.Method.GetParameters().Select(p => p.Name))}), ...) " +
            "with one partial derivative per argument as a lambda", call);

    public static ExprGradException Invocation(InvocationExpression e) =>
        new($"cannot differentiate the delegate call {Show(e)}: ExprGrad sees only the lambda's own expression tree, not a delegate's " +
            "compiled body, and its arguments read a parameter (a delegate called on data alone is evaluated as data); write the function " +
            "inline in the lambda, or use an Fn function", e);

    public static ExprGradException ParameterType(ParameterExpression p) =>
        new(p.IsByRef
            ? $"parameter '{p.Name}' is a ref or out {TypeName(p.Type)}; parameters are passed by value and must be double, double[], Vector<double> or Matrix<double>"
            : $"parameter '{p.Name}' has type {TypeName(p.Type)}; parameters must be double, double[], Vector<double> or Matrix<double>", p);

    public static ExprGradException ResultType(LambdaExpression f) =>
        new($"the function returns {TypeName(f.ReturnType)}; it must return double (sum or reduce a vector or matrix to one number)", f);

    /// <summary>A type as C# writes it: <c>double</c>, <c>int[]</c>, <c>Vector&lt;double&gt;</c>, <c>Func&lt;double, double&gt;</c>.</summary>
    public static string TypeName(Type t) =>
        t.IsByRef ? TypeName(t.GetElementType()!)
        : t.IsArray ? TypeName(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]"
        : Nullable.GetUnderlyingType(t) is { } u ? TypeName(u) + "?"
        : t.IsGenericType ? $"{t.Name[..t.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", t.GetGenericArguments().Select(TypeName))}>"
        : Type.GetTypeCode(t) switch
        {
            TypeCode.Double => "double",
            TypeCode.Single => "float",
            TypeCode.Int32 => "int",
            TypeCode.Int64 => "long",
            TypeCode.Boolean => "bool",
            TypeCode.String => "string",
            TypeCode.Decimal => "decimal",
            TypeCode.Int16 => "short",
            TypeCode.Byte => "byte",
            TypeCode.Char => "char",
            _ => t == typeof(object) ? "object" : t == typeof(void) ? "void" : t.Name,
        };

    /// <summary>The loop forms, shown wherever loop-shaped code is refused.</summary>
    public const string LoopForms =
        "Enumerable.Range(start, count).Sum(i => ...), a.Sum(), a.Sum(v => ...), a.Select((v, i) => ...).Sum(), a.Zip(b, (u, v) => ...).Sum(), " +
        "Max and Min of these, and Enumerable.Range(0, n).Aggregate(seed, (acc, i) => ...)";

    public static ExprGradException UnindexedArray(ParameterExpression p) =>
        new($"the array parameter '{p.Name}' is used whole; index it ({p.Name}[0]), or loop over it: {p.Name}.Sum(), " +
            $"{p.Name}.Sum(v => v * v), Enumerable.Range(0, {p.Name}.Length).Sum(i => {p.Name}[i] * ...) (supported loops: {LoopForms})", p);

    public static ExprGradException ArrayIndex(Expression e, ParameterExpression p) =>
        new($"the index in {Show(e)} depends on a parameter's value, and has no derivative: read the array parameter '{p.Name}' at a " +
            $"constant ({p.Name}[0]), at an index known at the call ({p.Name}[{p.Name}.Length - 1], {p.Name}[k] of a captured k), or at an " +
            $"index of a loop's variable, Enumerable.Range(0, {p.Name}.Length).Sum(i => {p.Name}[i] * ...) (supported loops: {LoopForms})", e);

    public static ExprGradException LoopMethod(MethodCallExpression call) =>
        new($"cannot differentiate the LINQ method '{call.Method.Name}' in {Show(call)}: the loops ExprGrad differentiates are {LoopForms}", call);

    public static ExprGradException LoopSource(Expression e, MethodCallExpression loop) =>
        new($"cannot loop over {Show(e)} in {Show(loop)}: a loop runs over Enumerable.Range(start, count), an array parameter, " +
            $"a captured double[] or Vector<double>, or Select and Zip of these (supported loops: {LoopForms})", e);

    public static ExprGradException LoopFunction(Expression f, MethodCallExpression loop) =>
        new($"the function given to {Show(loop)} must be a lambda written in place (ExprGrad differentiates only what it can see), " +
            $"with the parameters LINQ passes: {Show(f)} is not one", f);

    public static ExprGradException IndexForm(Expression e) =>
        new($"the index or count {Show(e)} must be integer arithmetic (+, -, *, /, %, Math.Max, Math.Min) on loop variables, integer constants, array lengths " +
            "and captured integers: an index that depends on a parameter's value has no derivative", e);

    public static ExprGradException NestedTooDeep(ConditionalExpression e, int limit) =>
        new($"conditionals are nested more than {limit:N0} deep at {Show(e)}: a chain of else-ifs that long compiles to " +
            "one method the JIT cannot take; split the function, or look the piece up from data", e);

    public static ExprGradException ForeignParameter(ParameterExpression p) =>
        new($"'{p.Name}' is not a parameter of the lambda being differentiated (a nested lambda or a variable of a block?)", p);

    /// <summary>
    /// The sub-expression as the C# a person would write (<c>(W1 * X).Map(Fn.Relu)</c>, never Linq's own
    /// <c>ToString()</c>), shortened with an ellipsis past 300 characters or 40 levels, so a tree of any depth prints.
    /// </summary>
    public static string Show(Expression e) => Display.DataText.Of(e, 40, 300);

    /// <summary>
    /// An operation where shapes meet, its compound operands named and spelled after it: <c>(W2 * h) where h = (W1 *
    /// X).Map(Fn.Relu)</c>. The message is about the operation and what it was given, so the operation reads first.
    /// </summary>
    public static string ShowSite(Expression e)
    {
        var operands = e switch
        {
            BinaryExpression b => [b.Left, b.Right],
            MethodCallExpression c => (c.Object is { } o ? [o] : Array.Empty<Expression>()).Concat(c.Arguments).ToList(),
            _ => [],
        };
        var full = Show(e);
        var named = new List<(ParameterExpression Name, Expression Value)>();
        var replaced = operands.Select(operand =>
        {
            if (!IsCompound(operand))
                return operand;
            var name = "h";
            for (var k = 2; System.Text.RegularExpressions.Regex.IsMatch(full, $@"(?<![\w.]){name}(?!\w)") || named.Any(n => n.Name.Name == name); k++)
                name = "h" + k;
            var p = Expression.Parameter(operand.Type, name);
            named.Add((p, operand));
            return p;
        }).ToList();
        if (named.Count == 0)
            return e is BinaryExpression ? $"({full})" : full;
        string shown;
        try
        {
            shown = e switch
            {
                BinaryExpression b => $"({Show(Expression.MakeBinary(b.NodeType, replaced[0], replaced[1], b.IsLiftedToNull, b.Method))})",
                MethodCallExpression c => Show(c.Object is null ? Expression.Call(c.Method, replaced) : Expression.Call(replaced[0], c.Method, replaced.Skip(1))),
                _ => full,
            };
        }
        catch (ArgumentException)
        {
            return full; // an operand Linq will not take as a variable (by reference): the expression as it is
        }
        return $"{shown} where {string.Join(", ", named.Select(n => $"{n.Name.Name} = {Show(n.Value)}"))}";
    }

    // An operand worth naming: one with an operation of its own, not a variable, a constant or a method group.
    private static bool IsCompound(Expression e)
    {
        while (e is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked or ExpressionType.Quote } u)
            e = u.Operand;
        return e is not (ParameterExpression or ConstantExpression or MemberExpression or LambdaExpression)
            && e is not MethodCallExpression { Method.Name: nameof(System.Reflection.MethodInfo.CreateDelegate) };
    }
}
