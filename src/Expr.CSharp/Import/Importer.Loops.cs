using System.Linq.Expressions;
using ExprGrad.Display;
using ExprGrad.Staging;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Import;

/// <summary>
/// Import of loops over data written with LINQ: <c>Enumerable.Range(start, count).Sum(i =&gt; ...)</c>, <c>a.Sum()</c>,
/// <c>a.Select(...)</c>, <c>a.Zip(b, ...)</c>, <c>Max</c>, <c>Min</c> and <c>Aggregate(seed, (acc, x) =&gt; ...)</c>, over
/// array parameters, captured arrays and vectors, and ranges. Each becomes one <see cref="Op.Loop"/> whose body a nested
/// importer stages once: the loop is never unrolled, so the graph's size does not depend on the data's length.
/// </summary>
/// <remarks>
/// In a body, what does not depend on the loop's variables (a parameter, <c>Math.Exp(x)</c>, a captured value, a
/// length) is staged outside the loop, once, and read in as an invariant; an index is integer arithmetic (+, −, ·, /, %) on
/// the loop variables, integer constants, lengths and captured integers.
/// </remarks>
internal sealed partial class Importer
{
    private readonly Importer _root;
    private readonly bool _inLoop;
    private readonly int _loopDepth;
    private readonly Dictionary<ParameterExpression, Node> _bindings = [];
    private BindingReads? _bindingReads;
    // In the root importer: the array parameters whose length is read at the call.
    private readonly HashSet<int> _dynamic = [];

    private Importer(Importer outer, int loopDepth)
    {
        _outer = outer;
        _root = outer._root;
        _arity = 1; // input 0 is a fold's accumulator; invariants follow
        _inLoop = true;
        _loopDepth = loopDepth;
    }

    // The loop variables' default names, by depth.
    private static readonly string[] VariableNames = ["i", "j", "k", "l", "m"];

    /// <summary>A loop of <c>Enumerable</c>, or null if <paramref name="call"/> is some other method.</summary>
    private Node? TryLoop(MethodCallExpression call)
    {
        var m = call.Method;
        if (m.DeclaringType != typeof(Enumerable) || call.Type != typeof(double))
            return null;
        var kind = m.Name switch
        {
            nameof(Enumerable.Sum) => LoopKind.Sum,
            nameof(Enumerable.Max) => LoopKind.Max,
            nameof(Enumerable.Min) => LoopKind.Min,
            nameof(Enumerable.Aggregate) when call.Arguments.Count == 3 => LoopKind.Fold,
            _ => (LoopKind?)null,
        };
        if (kind is null)
            throw Errors.LoopMethod(call);
        var source = SequenceOf(call.Arguments[0], call);
        return kind switch
        {
            LoopKind.Fold => Loop(call, LoopKind.Fold, source, Function(call.Arguments[2], 2, call), call.Arguments[1]),
            _ when call.Arguments.Count == 2 => Loop(call, kind.Value, Select(source, Function(call.Arguments[1], 1, call)), null, null),
            _ => Loop(call, kind.Value, source, null, null),
        };
    }

    /// <summary>A sequence a loop runs over, built up from its source by Select and Zip.</summary>
    /// <param name="Start">The first value of a range (the loop variable's first value); null for an array (0).</param>
    /// <param name="Count">Stages the number of elements, in the importer that owns the loop.</param>
    /// <param name="Element">Stages the element at a position, in the body: (body, loop variable, position, primary).</param>
    /// <param name="Lambdas">The lambdas the sequence applies, whose parameters the body binds.</param>
    /// <param name="Variable">The name the user gave the loop variable or position, if any.</param>
    private sealed record Sequence(
        Expression? Start, Func<Importer, Node> Count, Func<Importer, Node, Node, bool, Node> Element, LambdaExpression[] Lambdas, string? Variable);

    private Sequence SequenceOf(Expression e, MethodCallExpression loop)
    {
        while (e is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.TypeAs } u && !u.Operand.Type.IsValueType)
            e = u.Operand;
        switch (e)
        {
            case MethodCallExpression { Method.Name: nameof(Enumerable.Range) } range when range.Method.DeclaringType == typeof(Enumerable):
            {
                var (start, count) = (range.Arguments[0], range.Arguments[1]);
                return new Sequence(start, importer => importer.Integer(count),
                    (body, index, position, primary) => primary ? index : body._b.Add(position, body.Integer(start)), [], null);
            }
            case MethodCallExpression { Method.Name: nameof(Enumerable.Select) } select when select.Method.DeclaringType == typeof(Enumerable):
            {
                var source = SequenceOf(select.Arguments[0], loop);
                var f = Function(select.Arguments[1], -1, loop);
                return Select(source, f);
            }
            case MethodCallExpression { Method.Name: nameof(Enumerable.Zip) } zip when zip.Method.DeclaringType == typeof(Enumerable) && zip.Arguments.Count == 3:
            {
                var (first, second) = (SequenceOf(zip.Arguments[0], loop), SequenceOf(zip.Arguments[1], loop));
                var f = Function(zip.Arguments[2], 2, loop);
                return new Sequence(first.Start,
                    importer => importer._b.Apply(Op.Min, first.Count(importer), second.Count(importer)),
                    (body, index, position, primary) =>
                    {
                        body._bindings[f.Parameters[0]] = first.Element(body, index, position, primary);
                        body._bindings[f.Parameters[1]] = second.Element(body, index, position, false);
                        return body.Value(f.Body);
                    },
                    [.. first.Lambdas, .. second.Lambdas, f], first.Variable);
            }
            case ParameterExpression p when _root._parameters.TryGetValue(p, out var info) && info.IsArray:
                return new Sequence(null, importer => importer.Integer(Expression.ArrayLength(p)),
                    (body, index, position, primary) => body.ReadElement(p, info.Index, null, [position], "i"), [], null);
            case var data when (data.Type == typeof(double[]) || data.Type == typeof(Vector<double>)) && ParameterFree.Check(data):
            {
                var length = data.Type == typeof(double[]) ? (Expression)Expression.ArrayLength(data) : Expression.Property(data, nameof(Vector<double>.Count));
                return new Sequence(null, importer => importer.Integer(length),
                    (body, index, position, primary) => body.ReadElement(null, -1, data, [position], "i"), [], null);
            }
            default:
                throw Errors.LoopSource(e, loop);
        }
    }

    // Select(source, v => ...) or Select(source, (v, k) => ...): k is the position.
    private static Sequence Select(Sequence source, LambdaExpression f) =>
        new(source.Start, source.Count,
            (body, index, position, primary) =>
            {
                body._bindings[f.Parameters[0]] = source.Element(body, index, position, primary);
                if (f.Parameters.Count == 2)
                    body._bindings[f.Parameters[1]] = position;
                return body.Value(f.Body);
            },
            [.. source.Lambdas, f],
            f.Parameters.Count == 2 ? f.Parameters[1].Name : source.Start is not null ? f.Parameters[0].Name : source.Variable);

    // The lambda given to a LINQ method, with its expected number of parameters (−1: 1 or 2).
    private static LambdaExpression Function(Expression f, int arity, MethodCallExpression loop)
    {
        if (f is LambdaExpression lambda && (arity < 0 ? lambda.Parameters.Count is 1 or 2 : lambda.Parameters.Count == arity))
            return lambda;
        // A static method, a.Sum(Fn.Square), as the lambda that calls it.
        return MethodGroup(f, Math.Max(arity, 1)) ?? throw Errors.LoopFunction(f, loop);
    }

    private Node Loop(MethodCallExpression call, LoopKind kind, Sequence sequence, LambdaExpression? fold, Expression? seed)
    {
        var start = sequence.Start is null ? _b.Constant(0) : Integer(sequence.Start);
        var count = sequence.Count(this);
        var body = new Importer(this, _loopDepth + 1);
        LambdaExpression[] lambdas = fold is null ? sequence.Lambdas : [.. sequence.Lambdas, fold];
        body._bindingReads = new BindingReads(lambdas.SelectMany(l => l.Parameters));

        var index = body._b.LoopIndex();
        var position = sequence.Start is null ? index : body._b.Subtract(index, body.Integer(sequence.Start));
        var element = sequence.Element(body, index, position, true);
        var output = element;
        if (fold is not null)
        {
            body._bindings[fold.Parameters[0]] = body._b.Input(0, -1);
            body._bindings[fold.Parameters[1]] = element;
            output = body.Value(fold.Body);
        }
        if (body._tooDeep is { } error)
            throw error;

        var variable = fold is not null && sequence.Start is not null && sequence.Lambdas.Length == 0 ? fold.Parameters[1].Name : sequence.Variable;
        var loopBody = new LoopBody(kind, body._b, index, output, body._outerArgs.Count,
            variable ?? VariableNames[Math.Min(_loopDepth, VariableNames.Length - 1)]) { Text = DataText.Of(call) };
        var init = seed is null ? _b.Constant(0) : Value(seed);
        return _b.Loop(loopBody, start, count, init, [.. body._outerArgs]);
    }

    /// <summary>
    /// An element of an array in a loop body: of array parameter <paramref name="param"/> (<paramref name="data"/>
    /// null), or of the captured array, vector or matrix <paramref name="data"/>.
    /// </summary>
    private Node ReadElement(ParameterExpression? array, int param, Expression? data, Node[] indices, string indexText)
    {
        if (array is not null)
            _root._dynamic.Add(param);
        return _b.Read(data is null ? param : -1, data, indices, indexText);
    }

    /// <summary>In a loop body: an element read at an index of the loop's variables, or null if <paramref name="e"/> is not one.</summary>
    private Node? TryLoopRead(Expression e)
    {
        var (array, indices) = e switch
        {
            BinaryExpression { NodeType: ExpressionType.ArrayIndex } index => (index.Left, (IReadOnlyList<Expression>)[index.Right]),
            IndexExpression { Object: { } o, Indexer: null } index => (o, index.Arguments),
            MethodCallExpression { Object: { } o, Method.Name: "Get" or "get_Item" or "At" } call
                when (o.Type == typeof(double[,]) || o.Type == typeof(Vector<double>) || o.Type == typeof(Matrix<double>))
                    && call.Arguments.All(a => a.Type == typeof(int)) => (o, call.Arguments),
            _ => (null, null),
        };
        if (array is null || indices is null)
            return null;
        var text = string.Join(", ", indices.Select(DataText.Of));
        if (array is ParameterExpression p && _root._parameters.TryGetValue(p, out var info) && info.IsArray)
            return indices.Count == 1 ? ReadElement(p, info.Index, null, [Integer(indices[0])], text) : null;
        if (!ParameterFree.Check(array))
            return null;
        var expected = array.Type == typeof(double[,]) || array.Type == typeof(Matrix<double>) ? 2 : 1;
        if (indices.Count != expected)
            return null;
        return ReadElement(null, -1, array, [.. indices.Select(Integer)], text);
    }

    /// <summary>
    /// An integer (an index, a count, a range's start) as a node: arithmetic (+, −, ·) on loop variables, integer
    /// constants, array lengths and captured integers. In a loop body, what reads none of its variables is staged outside.
    /// </summary>
    private Node Integer(Expression e)
    {
        if (!StackGuard.HasRoom)
            return StackGuard.Run(() => Integer(e));
        switch (e)
        {
            case ConstantExpression { Value: { } value } when IsNumeric(e.Type):
                return _b.Constant(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture));
            case ParameterExpression p when _bindings.TryGetValue(p, out var bound):
                return bound;
        }
        if (_inLoop && !_bindingReads!.Reads(e))
            return Invariant(_outer!.Integer(e));
        switch (e)
        {
            case UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } u when IsInteger(u.Operand.Type):
                return Integer(u.Operand);
            case UnaryExpression { NodeType: ExpressionType.Negate or ExpressionType.NegateChecked, Method: null } u:
                return _b.Negate(Integer(u.Operand));
            case BinaryExpression { Method: null } b when IntegerArithmetic(b.NodeType) is { } op:
                return _b.Apply(op, Integer(b.Left), Integer(b.Right));
            case UnaryExpression { NodeType: ExpressionType.ArrayLength, Operand: ParameterExpression p } when _parameters.TryGetValue(p, out var info) && info.IsArray && !_inLoop:
                _dynamic.Add(info.Index);
                return _b.Length(info.Index);
        }
        if (IsNumeric(e.Type) && Data(e) is { } data)
            return data;
        throw Errors.IndexForm(e);
    }

    // True if an expression reads parameters only through array lengths (a.Length - 1).
    private bool ReadsOnlyLengths(Expression e) =>
        ParameterFree.Check(new LengthsAsConstants(this).Visit(e)!);

    /// <summary>Replaces the lengths of array parameters by a constant, so that what is left can be checked for parameters.</summary>
    private sealed class LengthsAsConstants(Importer importer) : ExpressionVisitor
    {
        public override Expression? Visit(Expression? node) =>
            node is null ? null : StackGuard.HasRoom ? base.Visit(node) : StackGuard.Run(() => base.Visit(node));

        protected override Expression VisitUnary(UnaryExpression node) =>
            node is { NodeType: ExpressionType.ArrayLength, Operand: ParameterExpression p } && importer._parameters.ContainsKey(p)
                ? Expression.Constant(0)
                : base.VisitUnary(node);
    }

    private static Op? IntegerArithmetic(ExpressionType t) => t switch
    {
        ExpressionType.Add or ExpressionType.AddChecked => Op.Add,
        ExpressionType.Subtract or ExpressionType.SubtractChecked => Op.Subtract,
        ExpressionType.Multiply or ExpressionType.MultiplyChecked => Op.Multiply,
        ExpressionType.Divide => Op.IntegerDivide,
        ExpressionType.Modulo => Op.Remainder,
        _ => null,
    };

    private static bool IsInteger(Type t) =>
        t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) || t == typeof(sbyte)
        || t == typeof(uint) || t == typeof(ulong) || t == typeof(ushort);

    /// <summary>A value from outside a body (Map or loop), staged by the enclosing importer, read in as an input.</summary>
    private Node Invariant(Node outer)
    {
        // A constant is staged again in the body: the enclosing graph's node has an id of that graph, which may be the
        // id of a body stage, and the body's hash-consing keys stages by their arguments' ids.
        if (outer.Op == Op.Constant)
            return outer.IsBool ? _b.Boolean(outer.Value != 0) : _b.Constant(outer.Value);
        if (!_outerIndex.TryGetValue(outer, out var k))
        {
            _outerIndex[outer] = k = _arity + _outerArgs.Count;
            _outerArgs.Add(outer);
        }
        return _b.Input(k, -1);
    }

    /// <summary>
    /// True where a sub-expression of a loop body reads one of the body's own lambda parameters: what does not is
    /// loop-invariant. One walk answers for every sub-expression, so a deep body is walked once.
    /// </summary>
    private sealed class BindingReads(IEnumerable<ParameterExpression> bindings) : ExpressionVisitor
    {
        private readonly HashSet<ParameterExpression> _bindings = [.. bindings];
        private readonly Dictionary<Expression, bool> _reads = new(ReferenceEqualityComparer.Instance);
        private bool _current;

        public bool Reads(Expression e)
        {
            if (_reads.TryGetValue(e, out var known))
                return known;
            var saved = _current;
            Visit(e);
            _current = saved;
            return _reads[e];
        }

        public override Expression? Visit(Expression? node)
        {
            if (node is null)
                return null;
            if (_reads.TryGetValue(node, out var known))
            {
                _current |= known;
                return node;
            }
            var outer = _current;
            _current = false;
            if (StackGuard.HasRoom)
                base.Visit(node);
            else
                StackGuard.Run(() => base.Visit(node));
            _reads[node] = _current;
            _current |= outer;
            return node;
        }

        protected override Expression VisitParameter(ParameterExpression node)
        {
            _current |= _bindings.Contains(node);
            return node;
        }
    }
}
