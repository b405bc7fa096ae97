using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using ExprGrad.Staging;
using MathNet.Numerics;

namespace ExprGrad.Import;

/// <summary>
/// Import: walks the user's lambda once and stages it. Parameters become inputs, captured variables become live
/// reads, constants fold, and anything outside the catalogue stops here with an <see cref="ExprGradException"/>.
/// The walk recurses through <see cref="StackGuard"/>, so it survives trees of any depth.
/// </summary>
internal sealed partial class Importer
{
    private readonly GraphBuilder _b = new();
    private readonly Dictionary<ParameterExpression, (int Index, bool IsArray)> _parameters = [];
    private readonly Dictionary<(Expression, Region), Node> _staged = new(ReferenceKeys.Instance);
    private readonly Dictionary<object, int> _liveIndexRoots = new(ReferenceEqualityComparer.Instance);
    private int _conditionalDepth;
    private ExprGradException? _tooDeep;

    /// <summary>The deepest nesting of conditionals accepted (a chain of else-ifs nests as deep as it is long).</summary>
    internal const int MaxConditionalDepth = 10_000;

    private Importer(LambdaExpression f)
    {
        _root = this;
        for (var i = 0; i < f.Parameters.Count; i++)
        {
            var p = f.Parameters[i];
            if (p.IsByRef || (p.Type != typeof(double[]) && Shape.KindOf(p.Type) is null))
                throw Errors.ParameterType(p);
            _parameters[p] = (i, p.Type == typeof(double[]));
        }
    }

    // The importer of a partial derivative given for a user's method, staging into the graph being differentiated.
    private Importer(GraphBuilder b, LambdaExpression partial, Node[] args)
    {
        _root = this;
        _b = b;
        _opaque = true;
        for (var i = 0; i < partial.Parameters.Count; i++)
            _bindings[partial.Parameters[i]] = args[i];
    }

    // In a partial derivative: a method without a rule is called as it is (see CustomRules.Opaque).
    private readonly bool _opaque;

    /// <summary>
    /// Stages the body of <paramref name="partial"/> (a user's partial derivative) into <paramref name="b"/>'s current
    /// region, its parameters bound to <paramref name="args"/> in order; returns its value.
    /// </summary>
    public static Node Inline(GraphBuilder b, LambdaExpression partial, Node[] args)
    {
        var site = b.Site;
        var importer = new Importer(b, partial, args);
        var value = importer.Value(partial.Body);
        if (importer._tooDeep is { } error)
            throw error;
        b.Site = site;
        return value;
    }

    /// <summary>True if calls of <paramref name="m"/> are an operation of the catalogue (Math.Exp, Fn.Sigmoid, SpecialFunctions.Erf, ...).</summary>
    public static bool IsBuiltIn(MethodInfo m) =>
        m.DeclaringType is { } type && Methods.ContainsKey((type, m.Name, m.GetParameters().Length))
        && CustomRules.IsNumeric(m);

    public static StagedGraph Import(LambdaExpression f)
    {
        if (f.ReturnType != typeof(double))
            throw Errors.ResultType(f);
        var importer = new Importer(f);
        var output = importer.Value(f.Body);
        if (importer._tooDeep is { } error)
            throw error;
        if (output.Shape.IsTensor)
            throw Errors.ResultType(f);
        importer._b.Site = null; // what the sweep builds is checked, but no user expression is to blame
        return new StagedGraph(f, importer._b, output, importer.Layout(f));
    }

    // Scalars take one slot; an array takes as many as its highest index read plus one (for an array whose length is
    // read at the call, the fewest it may have).
    private ParameterLayout[] Layout(LambdaExpression f)
    {
        var extents = new int[f.Parameters.Count];
        foreach (var input in _b.Inputs)
            extents[input.Param] = Math.Max(extents[input.Param], input.Element + 1);
        var layout = new ParameterLayout[f.Parameters.Count];
        var offset = 0;
        for (var i = 0; i < layout.Length; i++)
        {
            var p = f.Parameters[i];
            var isArray = p.Type == typeof(double[]);
            var extent = isArray ? extents[i] : 1;
            layout[i] = new ParameterLayout(p.Name ?? $"p{i}", isArray, offset, extent, Shape.KindOf(p.Type) ?? Kind.Scalar, _dynamic.Contains(i));
            offset += extent;
        }
        return layout;
    }

    /// <summary>Stages a double-valued expression.</summary>
    private Node Value(Expression e)
    {
        if (_tooDeep is not null)
            return _b.Constant(0); // the import has failed: finish quickly, the error is thrown at the top
        if (!StackGuard.HasRoom)
            return StackGuard.Run(() => Value(e));
        if (Shape.KindOf(e.Type) is null)
            throw Errors.Unsupported(e, $"a value of type {Errors.TypeName(e.Type)} where a double, Vector<double> or Matrix<double> is needed");
        if (e is ConstantExpression or ParameterExpression)
            return ValueOf(e);
        // In a loop body, what reads none of the loop's variables is computed once, before the loop (not inside a
        // branch of the body, which may not run).
        if (_inLoop && _b.Current == _b.Root && !_bindingReads!.Reads(e))
            return Invariant(_outer!.Value(e));

        // A tree may reach one sub-tree object many times (F# let-blocks inlined, parsed square(square(...))):
        // each is staged once per region, so a shared DAG imports in linear time, not exponential.
        var key = (e, _b.Current);
        if (_staged.TryGetValue(key, out var staged))
            return staged;
        staged = ValueOf(e);
        _staged[key] = staged;
        return staged;
    }

    private Node ValueOf(Expression e)
    {
        if (_inLoop && TryLoopRead(e) is { } read)
            return read;
        if (TryTensor(e) is { } tensor)
            return tensor;
        switch (e)
        {
            case ConstantExpression c when c.Type == typeof(double):
                return _b.Constant((double)c.Value!);
            case ParameterExpression p:
                return Parameter(p);
            case BinaryExpression { NodeType: ExpressionType.ArrayIndex } index:
                return Element(index, index.Left, [index.Right]);
            case IndexExpression { Object: not null, Indexer: null } index:
                return Element(index, index.Object, index.Arguments);
            case BinaryExpression binary when Arithmetic(binary.NodeType) is { } op:
                return _b.Apply(op, Value(binary.Left), Value(binary.Right));
            case UnaryExpression { NodeType: ExpressionType.Negate or ExpressionType.NegateChecked } u:
                return _b.Negate(Value(u.Operand));
            case UnaryExpression { NodeType: ExpressionType.UnaryPlus } u:
                return Value(u.Operand);
            case UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } u:
                return Conversion(u);
            case ConditionalExpression c:
                return Conditional(c);
            case MethodCallExpression call:
                return Call(call);
            case MemberExpression:
                return Live(e);
            case InvocationExpression invoke:
                return Data(invoke) ?? throw Errors.Invocation(invoke);
            default:
                return Data(e) ?? throw Errors.UnsupportedNode(e);
        }
    }

    /// <summary>Stages a boolean test of a conditional.</summary>
    private Node Test(Expression e)
    {
        if (!StackGuard.HasRoom)
            return StackGuard.Run(() => Test(e));
        if (e.Type != typeof(bool))
            throw Errors.Unsupported(e, $"a test of type {Errors.TypeName(e.Type)}");

        switch (e)
        {
            case ConstantExpression c:
                return _b.Boolean((bool)c.Value!);
            case BinaryExpression { NodeType: ExpressionType.AndAlso or ExpressionType.OrElse } logical:
                return _b.Apply(logical.NodeType == ExpressionType.AndAlso ? Op.AndAlso : Op.OrElse, Test(logical.Left), Test(logical.Right));
            case UnaryExpression { NodeType: ExpressionType.Not } not:
                return _b.Apply(Op.Not, Test(not.Operand));
            case BinaryExpression comparison when Comparison(comparison.NodeType) is { } op && comparison.Method is null:
                return _b.Apply(op, Number(comparison.Left), Number(comparison.Right));
            case MemberExpression or BinaryExpression { NodeType: ExpressionType.ArrayIndex } when TryLive(e, out var root, out var path):
                return _b.Captured(e, root, path);
            default:
                return Data(e) ?? throw Errors.Unsupported(e, $"the test '{e.NodeType}'");
        }
    }

    // An operand of a comparison: a double, or any numeric value converted to double by the comparison's own rules.
    private Node Number(Expression e) =>
        e.Type == typeof(double) ? Value(e)
        : IsNumeric(e.Type) ? Value(Expression.Convert(e, typeof(double)))
        : throw Errors.Unsupported(e, $"a comparison of {Errors.TypeName(e.Type)} values");

    private Node Parameter(ParameterExpression p)
    {
        if (_bindings.TryGetValue(p, out var bound))
            return bound;
        if (!_parameters.TryGetValue(p, out var info))
            return _outer is not null ? OuterInput(p) : throw Errors.ForeignParameter(p);
        if (info.IsArray)
            throw Errors.UnindexedArray(p);
        return Shape.KindOf(p.Type) is { } kind && kind != Kind.Scalar ? _b.TensorInput(info.Index, kind) : _b.Input(info.Index, -1);
    }

    private Node Element(Expression e, Expression array, IReadOnlyList<Expression> indices)
    {
        if (array is ParameterExpression p && _parameters.TryGetValue(p, out var info) && info.IsArray)
        {
            if (indices.Count != 1)
                throw Errors.ArrayIndex(e, p);
            if (TryConstantIndex(indices[0], out var index) && index >= 0)
                return _b.Input(info.Index, index);
            // An index known only at the call (a[a.Length - 1], a[k] of a captured k): read there, checked, and the
            // array has any length.
            if (ParameterFree.Check(indices[0]) || ReadsOnlyLengths(indices[0]))
                return ReadElement(p, info.Index, null, [Integer(indices[0])], Display.DataText.Of(indices[0]));
            throw Errors.ArrayIndex(e, p);
        }
        return Live(e);
    }

    private Node Conversion(UnaryExpression u)
    {
        var operand = u.Operand;
        if (operand.Type == typeof(double))
            return Value(operand);
        if (operand is MethodCallExpression { Method.Name: nameof(Math.Sign) } sign
            && sign.Method.DeclaringType == typeof(Math) && sign.Arguments[0].Type == typeof(double))
            return _b.Apply(Op.Sign, Value(sign.Arguments[0]));
        if (operand is ConditionalExpression choice && IsNumeric(operand.Type))
        {
            // (double)(c ? 1 : 0), as C# types x > 0 ? 1 : 0: the conversion moves into the branches.
            return Conditional(Expression.Condition(choice.Test,
                Expression.Convert(choice.IfTrue, typeof(double)), Expression.Convert(choice.IfFalse, typeof(double))));
        }
        if (operand is ConstantExpression { Value: { } constant } && IsNumeric(operand.Type))
            return _b.Constant(Convert.ToDouble(constant, System.Globalization.CultureInfo.InvariantCulture));
        // A loop variable, an array parameter's length, or arithmetic on them.
        if (IsInteger(operand.Type) && !ParameterFree.Check(operand))
            return Integer(operand);
        if (IsNumeric(operand.Type) && TryLive(operand, out var root, out var path))
            return _b.Captured(u, root, path);
        return Data(u) ?? throw Errors.Unsupported(u, $"the conversion from {Errors.TypeName(operand.Type)}");
    }

    private Node Conditional(ConditionalExpression c)
    {
        if (c.Type != typeof(double))
            throw Errors.Unsupported(c, "a conditional choosing between vectors or matrices (choose between numbers, inside a Map if need be)");
        var test = Test(c.Test);
        if (test.Op == Op.Constant)
        {
            // The untaken branch is still imported, into a region nothing reads: it is checked like the rest, and its
            // array reads count in the layout, so a point's layout never depends on what folded away.
            _b.BeginRegion();
            Value(test.Value != 0 ? c.IfFalse : c.IfTrue);
            _b.EndRegion([]);
            return Value(test.Value != 0 ? c.IfTrue : c.IfFalse);
        }

        // Each level of nesting is an if/else inside the last in one compiled method, and the JIT rejects methods
        // nested beyond some tens of thousands of levels: stop with a clear error well before.
        if (++_conditionalDepth > MaxConditionalDepth)
        {
            // Thrown from the top, not from here: unwinding tens of thousands of frames takes .NET seconds.
            _tooDeep ??= Errors.NestedTooDeep(c, MaxConditionalDepth);
            _conditionalDepth--;
            return _b.Constant(0);
        }
        var value = _b.If(test, () => Value(c.IfTrue), () => Value(c.IfFalse));
        _conditionalDepth--;
        return value;
    }

    private Node Call(MethodCallExpression call)
    {
        var m = call.Method;
        if (m.DeclaringType == typeof(Enumerable) && !ParameterFree.Check(call))
            return TryLoop(call) ?? throw Errors.NoRule(call);
        if (m.DeclaringType == typeof(SourceCalls) && call.Arguments[0] is ConstantExpression { Value: string function }
            && call.Arguments[1] is ConstantExpression { Value: string partials })
            return _b.Call(SourceCalls.RuleOf(function, partials, call.Arguments.Count - 2), [.. call.Arguments.Skip(2).Select(Value)]);
        if (!m.IsStatic || m.ReturnType != typeof(double) || !Array.TrueForAll(m.GetParameters(), p => p.ParameterType == typeof(double)))
            return Data(call) ?? throw Errors.NoRule(call);
        if (Methods.TryGetValue((m.DeclaringType!, m.Name, call.Arguments.Count), out var op))
            return call.Arguments.Count == 1
                ? _b.Apply(op, Value(call.Arguments[0]))
                : _b.Apply(op, Value(call.Arguments[0]), Value(call.Arguments[1]));
        if (!CustomRules.IsNumeric(m))
            return Data(call) ?? throw Errors.NoRule(call);
        Rules.Rule? rule;
        try
        {
            rule = CustomRules.Find(m);
        }
        catch (ExprGradException e)
        {
            throw new ExprGradException($"{e.Message} (in {Errors.Show(call)})", call);
        }
        if (rule is null && Data(call) is { } data)
            return data;
        rule ??= _opaque ? CustomRules.Opaque(m) : throw Errors.NoRule(call);
        return _b.Call(rule, [.. call.Arguments.Select(Value)]);
    }

    private Node Live(Expression e) =>
        TryLive(e, out var root, out var path)
            ? _b.Captured(e, root, path)
            : Data(e) ?? throw Errors.UnsupportedNode(e);

    /// <summary>
    /// A captured variable: a chain of field and property reads (and array elements and lengths) from a constant or
    /// a static member, or conversions and operators on such reads (<c>(double)(n * 2)</c>, an index <c>w[i + 1]</c>).
    /// It is read live at every call and never differentiated; equal reads of the same objects are one node.
    /// </summary>
    private bool TryLive(Expression e, out object? root, out string path)
    {
        var text = new StringBuilder();
        var ok = TryLive(e, text, out root);
        path = text.ToString();
        return ok;
    }

    private bool TryLive(Expression e, StringBuilder path, out object? root)
    {
        root = null;
        if (!StackGuard.HasRoom)
        {
            object? r = null;
            var ok = StackGuard.Run(() => TryLive(e, path, out r));
            root = r;
            return ok;
        }
        switch (e)
        {
            case ConstantExpression c:
                root = c.Value;
                path.Append("const:").Append(c.Type.FullName);
                return true;
            case MemberExpression { Member: FieldInfo or PropertyInfo } m:
                if (m.Expression is not null && !TryLive(m.Expression, path, out root))
                    return false;
                path.Append('.').Append(m.Member.DeclaringType?.FullName).Append("::").Append(m.Member.Name);
                return true;
            case BinaryExpression { NodeType: ExpressionType.ArrayIndex } index:
                if (!TryLive(index.Left, path, out root))
                    return false;
                // The index is part of the variable's identity: its value if constant, else its own live path and
                // root (w[a.K] and w[b.K] are two variables when a and b are two objects).
                path.Append('[');
                if (!TryConstantIndexText(index.Right, path))
                {
                    if (!TryLive(index.Right, path, out var indexRoot))
                        return false;
                    path.Append(" of #").Append(indexRoot is null ? -1 : RootNumber(indexRoot));
                }
                path.Append(']');
                return true;
            case UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } u when IsNumeric(u.Type):
                if (!TryLive(u.Operand, path, out root))
                    return false;
                path.Append(" as ").Append(u.Type.Name);
                return true;
            case UnaryExpression { NodeType: ExpressionType.ArrayLength } length:
                if (!TryLive(length.Operand, path, out root))
                    return false;
                path.Append(".Length");
                return true;
            // Operators on reads are reads too (no method runs): the source generator shares them by their text.
            case UnaryExpression { NodeType: ExpressionType.Negate or ExpressionType.UnaryPlus or ExpressionType.Not, Method: null } u:
                path.Append(u.NodeType).Append('(');
                return TryLiveOperand(u.Operand, path, ref root) && Close(path);
            case BinaryExpression { Method: null, Conversion: null } b when b.NodeType != ExpressionType.ArrayIndex:
                path.Append(b.NodeType).Append('(');
                return TryLiveOperand(b.Left, path, ref root) && Comma(path) && TryLiveOperand(b.Right, path, ref root) && Close(path);
            case ConditionalExpression c:
                path.Append("If(");
                return TryLiveOperand(c.Test, path, ref root) && Comma(path) && TryLiveOperand(c.IfTrue, path, ref root)
                    && Comma(path) && TryLiveOperand(c.IfFalse, path, ref root) && Close(path);
            default:
                return false;
        }

        static bool Comma(StringBuilder path) => path.Append(", ") is not null;
        static bool Close(StringBuilder path) => path.Append(')') is not null;
    }

    // An operand of an operator on reads: a number written out, or a read whose root is the expression's root or
    // is numbered in its path.
    private bool TryLiveOperand(Expression e, StringBuilder path, ref object? root)
    {
        if (e is ConstantExpression { Value: var value } && (value is null || value.GetType().IsPrimitive || value is decimal))
        {
            path.Append(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)).Append(':').Append(e.Type.Name);
            return true;
        }
        if (!TryLive(e, path, out var own))
            return false;
        if (root is null)
            root = own;
        else if (own is not null && !ReferenceEquals(own, root))
            path.Append(" of #").Append(RootNumber(own));
        return true;
    }

    // The same number for the same object (by reference) within one import.
    private int RootNumber(object root)
    {
        if (!_liveIndexRoots.TryGetValue(root, out var number))
            _liveIndexRoots[root] = number = _liveIndexRoots.Count;
        return number;
    }

    private bool TryConstantIndexText(Expression e, StringBuilder path)
    {
        if (!TryConstantIndex(e, out var index))
            return false;
        path.Append(index);
        return true;
    }

    /// <summary>An index known when Grad.Of runs: an integer constant, or arithmetic on such constants.</summary>
    private static bool TryConstantIndex(Expression e, out int index)
    {
        index = 0;
        if (!StackGuard.HasRoom)
        {
            var i = 0;
            var ok = StackGuard.Run(() => TryConstantIndex(e, out i));
            index = i;
            return ok;
        }
        switch (e)
        {
            case ConstantExpression { Value: int or long or short or byte or sbyte or ushort or uint } c:
                var value = Convert.ToInt64(c.Value, System.Globalization.CultureInfo.InvariantCulture);
                if (value is < int.MinValue or > int.MaxValue)
                    return false;
                index = (int)value;
                return true;
            case UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } u:
                return TryConstantIndex(u.Operand, out index);
            case BinaryExpression { NodeType: ExpressionType.Add or ExpressionType.Subtract or ExpressionType.Multiply or ExpressionType.Divide } b
                when TryConstantIndex(b.Left, out var l) && TryConstantIndex(b.Right, out var r):
                long result = b.NodeType switch
                {
                    ExpressionType.Add => (long)l + r,
                    ExpressionType.Subtract => (long)l - r,
                    ExpressionType.Multiply => (long)l * r,
                    _ => r == 0 ? long.MinValue : l / r,
                };
                if (result is < int.MinValue or > int.MaxValue)
                    return false;
                index = (int)result;
                return true;
            default:
                return false;
        }
    }

    private static bool IsNumeric(Type t) =>
        t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) || t == typeof(sbyte)
        || t == typeof(uint) || t == typeof(ulong) || t == typeof(ushort) || t == typeof(float) || t == typeof(double)
        || t == typeof(decimal);

    private static Op? Arithmetic(ExpressionType t) => t switch
    {
        ExpressionType.Add or ExpressionType.AddChecked => Op.Add,
        ExpressionType.Subtract or ExpressionType.SubtractChecked => Op.Subtract,
        ExpressionType.Multiply or ExpressionType.MultiplyChecked => Op.Multiply,
        ExpressionType.Divide => Op.Divide,
        ExpressionType.Power => Op.Pow,
        _ => null,
    };

    private static Op? Comparison(ExpressionType t) => t switch
    {
        ExpressionType.LessThan => Op.LessThan,
        ExpressionType.LessThanOrEqual => Op.LessThanOrEqual,
        ExpressionType.GreaterThan => Op.GreaterThan,
        ExpressionType.GreaterThanOrEqual => Op.GreaterThanOrEqual,
        ExpressionType.Equal => Op.Equal,
        ExpressionType.NotEqual => Op.NotEqual,
        _ => null,
    };

    // The methods with rules, by declaring type, name and argument count (all arguments double, result double).
    private static readonly Dictionary<(Type, string, int), Op> Methods = BuildMethods();

    private static Dictionary<(Type, string, int), Op> BuildMethods()
    {
        var methods = new Dictionary<(Type, string, int), Op>();
        foreach (var (name, op) in new[]
        {
            ("Exp", Op.Exp), ("Log", Op.Log), ("Log10", Op.Log10), ("Log2", Op.Log2), ("Sqrt", Op.Sqrt), ("Cbrt", Op.Cbrt),
            ("Sin", Op.Sin), ("Cos", Op.Cos), ("Tan", Op.Tan), ("Asin", Op.Asin), ("Acos", Op.Acos), ("Atan", Op.Atan),
            ("Sinh", Op.Sinh), ("Cosh", Op.Cosh), ("Tanh", Op.Tanh), ("Asinh", Op.Asinh), ("Acosh", Op.Acosh), ("Atanh", Op.Atanh),
            ("Abs", Op.Abs), ("Floor", Op.Floor), ("Ceiling", Op.Ceiling), ("Round", Op.Round), ("Truncate", Op.Truncate),
        })
        {
            methods[(typeof(Math), name, 1)] = op;
            methods[(typeof(double), name, 1)] = op;
        }
        foreach (var (name, op) in new[] { ("Log", Op.LogBase), ("Pow", Op.Pow), ("Atan2", Op.Atan2), ("Max", Op.Max), ("Min", Op.Min) })
        {
            methods[(typeof(Math), name, 2)] = op;
            methods[(typeof(double), name, 2)] = op;
        }
        methods[(typeof(Fn), nameof(Fn.Sigmoid), 1)] = Op.Sigmoid;
        methods[(typeof(Fn), nameof(Fn.Relu), 1)] = Op.Relu;
        methods[(typeof(Fn), nameof(Fn.Softplus), 1)] = Op.Softplus;
        methods[(typeof(Fn), nameof(Fn.Square), 1)] = Op.Square;
        methods[(typeof(Fn), nameof(Fn.Sign), 1)] = Op.Sign;
        foreach (var (name, op) in new[]
        {
            (nameof(SpecialFunctions.Erf), Op.Erf), (nameof(SpecialFunctions.Erfc), Op.Erfc), (nameof(SpecialFunctions.Gamma), Op.Gamma),
            (nameof(SpecialFunctions.GammaLn), Op.GammaLn), (nameof(SpecialFunctions.DiGamma), Op.DiGamma),
            (nameof(SpecialFunctions.Logistic), Op.Sigmoid), (nameof(SpecialFunctions.Logit), Op.Logit),
        })
            methods[(typeof(SpecialFunctions), name, 1)] = op;
        methods[(typeof(SpecialFunctions), nameof(SpecialFunctions.Beta), 2)] = Op.Beta;
        methods[(typeof(SpecialFunctions), nameof(SpecialFunctions.BetaLn), 2)] = Op.BetaLn;
        return methods;
    }
}

/// <summary>Compares (expression, region) keys by reference: two equal-looking sub-trees are different objects.</summary>
file sealed class ReferenceKeys : IEqualityComparer<(Expression, Region)>
{
    public static readonly ReferenceKeys Instance = new();

    public bool Equals((Expression, Region) a, (Expression, Region) b) =>
        ReferenceEquals(a.Item1, b.Item1) && ReferenceEquals(a.Item2, b.Item2);

    public int GetHashCode((Expression, Region) key) =>
        HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(key.Item1), System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(key.Item2));
}
