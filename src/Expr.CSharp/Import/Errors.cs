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
        new($"parameter '{p.Name}' has type {p.Type.Name}; parameters must be double, double[], Vector<double> or Matrix<double>", p);

    public static ExprGradException ResultType(LambdaExpression f) =>
        new($"the function returns {f.ReturnType.Name}; it must return double (sum or reduce a vector or matrix to one number)", f);

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
    /// The sub-expression as C#-like text, shortened for deep or large trees: Expression.ToString recurses without
    /// a guard, so it only sees trees known to be small.
    /// </summary>
    public static string Show(Expression e)
    {
        const int MaxDepth = 40, MaxNodes = 200, MaxLength = 300;
        if (!SizeProbe.IsSmall(e, MaxDepth, MaxNodes))
            return $"a {e.NodeType} expression of type {e.Type.Name} (too large to print)";
        // A captured variable prints as value(Program+<>c__DisplayClass0_0).X: the user wrote X.
        var text = System.Text.RegularExpressions.Regex.Replace(e.ToString(), @"value\([^()]*\)\.", "");
        return text.Length <= MaxLength ? text : text[..MaxLength] + "…";
    }

    // Visits at most MaxDepth levels and MaxNodes nodes, then stops: its recursion is bounded.
    private sealed class SizeProbe(int maxDepth, int maxNodes) : ExpressionVisitor
    {
        private int _depth, _nodes;
        private bool _large;

        public static bool IsSmall(Expression e, int maxDepth, int maxNodes)
        {
            var probe = new SizeProbe(maxDepth, maxNodes);
            probe.Visit(e);
            return !probe._large;
        }

        public override Expression? Visit(Expression? node)
        {
            if (node is null || _large)
                return node;
            if (++_nodes > maxNodes || _depth >= maxDepth)
            {
                _large = true;
                return node;
            }
            _depth++;
            base.Visit(node);
            _depth--;
            return node;
        }
    }
}
