using System.Linq.Expressions;
using System.Reflection;
using ExprGrad.Staging;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Import;

/// <summary>
/// Import of MathNet vectors and matrices: their operators and methods become tensor stages, element-wise ones a
/// <see cref="Op.Map"/>, and the lambda of a <c>Map</c> is imported by a nested importer into the Map's own scalar
/// graph. What the lambda reads from outside (a scalar parameter, or any number computed from vectors and matrices)
/// is staged out here and passed in as an argument.
/// </summary>
internal sealed partial class Importer
{
    // Set for the importer of a Map's lambda: the importer of the function it is part of, and what it passes in.
    private readonly Importer? _outer;
    private readonly int _arity;
    private readonly List<Node> _outerArgs = [];
    private readonly Dictionary<Node, int> _outerIndex = [];

    private Importer(Importer outer, LambdaExpression lambda)
    {
        _outer = outer;
        _root = outer._root;
        _arity = lambda.Parameters.Count;
        for (var i = 0; i < lambda.Parameters.Count; i++)
            _parameters[lambda.Parameters[i]] = (i, false);
    }

    private static bool IsTensor(Type t) => Shape.KindOf(t) is Kind.Vector or Kind.Matrix;

    /// <summary>Stages <paramref name="e"/> if it is a vector or matrix operation (or a number made from one); else null.</summary>
    private Node? TryTensor(Expression e)
    {
        if (_outer is not null && e.Type == typeof(double) && ReadsTensor(e))
            return OuterInput(e);
        switch (e)
        {
            case ConstantExpression when IsTensor(e.Type):
                return Live(e);
            // By the operands' types, not the operator method's: F# types W * X with its own generic op_Multiply.
            case BinaryExpression binary when IsTensor(binary.Left.Type) || IsTensor(binary.Right.Type):
                return Operator(binary);
            case UnaryExpression { NodeType: ExpressionType.Negate or ExpressionType.NegateChecked } negate when IsTensor(negate.Operand.Type):
                return _b.Negate(Value(negate.Operand));
            case UnaryExpression { NodeType: ExpressionType.UnaryPlus } plus when IsTensor(plus.Operand.Type):
                return Value(plus.Operand);
            case MethodCallExpression call when call.Method.DeclaringType == typeof(Fn) && call.Arguments.Any(a => IsTensor(a.Type)):
                return Library(call);
            case MethodCallExpression call when call.Method.DeclaringType is { } type && IsTensor(type):
                return Method(call) ?? throw Errors.NoRule(call);
            case MethodCallExpression or NewExpression or InvocationExpression when IsTensor(e.Type) && ParameterFree.Check(e):
                // Matrix<double>.Build.Dense(2, X.ColumnCount): made from captured values only, so it is one too, made at each call.
                return _b.Captured(e, e, "built");
            default:
                return null;
        }
    }

    // A number that reads a vector or matrix directly: inside a Map's lambda it is computed once, outside the loop.
    private static bool ReadsTensor(Expression e) => e switch
    {
        MethodCallExpression call => (call.Object is { } o && IsTensor(o.Type)) || call.Arguments.Any(a => IsTensor(a.Type)),
        BinaryExpression binary => IsTensor(binary.Left.Type) || IsTensor(binary.Right.Type),
        _ => false,
    };

    /// <summary>In a Map's lambda: a value from outside, staged by the enclosing importer and passed in as an argument.</summary>
    private Node OuterInput(Expression e)
    {
        var node = _outer!.Value(e);
        if (node.Shape.IsTensor)
            throw _inLoop
                ? Errors.Unsupported(e, "a whole vector or matrix inside a loop's lambda (read its elements at indices of the loop variable)")
                : Errors.Unsupported(e, "a whole vector or matrix inside a Map's lambda (which sees one element at a time)");
        return Invariant(node);
    }

    private Node Operator(BinaryExpression e)
    {
        var (l, r) = (Value(e.Left), Value(e.Right));
        _b.Site = e;
        return e.NodeType switch
        {
            ExpressionType.Add or ExpressionType.AddChecked => _b.Add(l, r),
            ExpressionType.Subtract or ExpressionType.SubtractChecked => _b.Subtract(l, r),
            ExpressionType.Divide => _b.Divide(l, r),
            ExpressionType.Multiply or ExpressionType.MultiplyChecked => (l.Shape.Kind, r.Shape.Kind) switch
            {
                (Kind.Vector, Kind.Vector) => _b.Apply(Op.Dot, [l, r]),
                (Kind.Vector, Kind.Matrix) => _b.MatMul(r, l, transposeA: true), // vᵀM = Mᵀv
                (Kind.Matrix, not Kind.Scalar) => _b.MatMul(l, r),
                _ => _b.Multiply(l, r),
            },
            _ => throw Errors.Unsupported(e, $"the operator '{e.NodeType}' on vectors or matrices"),
        };
    }

    private Node Library(MethodCallExpression call)
    {
        var op = call.Method.Name switch
        {
            nameof(Fn.Softmax) => Op.Softmax,
            nameof(Fn.LogSumExp) => Op.LogSumExp,
            nameof(Fn.CrossEntropy) => Op.CrossEntropy,
            nameof(Fn.SquaredError) => Op.SquaredError,
            _ => throw Errors.NoRule(call),
        };
        var args = call.Arguments.Select(Value).ToArray();
        _b.Site = call;
        return _b.Apply(op, args);
    }

    private static readonly Dictionary<string, Op> Pointwise = new()
    {
        ["PointwiseExp"] = Op.Exp, ["PointwiseLog"] = Op.Log, ["PointwiseLog10"] = Op.Log10, ["PointwiseSqrt"] = Op.Sqrt,
        ["PointwiseAbs"] = Op.Abs, ["PointwiseSign"] = Op.Sign, ["PointwiseSin"] = Op.Sin, ["PointwiseCos"] = Op.Cos,
        ["PointwiseTan"] = Op.Tan, ["PointwiseAsin"] = Op.Asin, ["PointwiseAcos"] = Op.Acos, ["PointwiseAtan"] = Op.Atan,
        ["PointwiseSinh"] = Op.Sinh, ["PointwiseCosh"] = Op.Cosh, ["PointwiseTanh"] = Op.Tanh, ["PointwiseFloor"] = Op.Floor,
        ["PointwiseCeiling"] = Op.Ceiling, ["PointwiseRound"] = Op.Round,
        ["PointwiseMultiply"] = Op.Multiply, ["PointwiseDivide"] = Op.Divide, ["PointwisePower"] = Op.Pow,
        ["PointwiseMaximum"] = Op.Max, ["PointwiseMinimum"] = Op.Min, ["PointwiseAtan2"] = Op.Atan2,
    };

    /// <summary>A method of Vector&lt;double&gt; or Matrix&lt;double&gt;; null if it has no rule.</summary>
    private Node? Method(MethodCallExpression call)
    {
        var (m, a) = (call.Method, call.Arguments);
        if (call.Object is null)
        {
            // Vector<double>.OuterProduct(u, v), the static form.
            if (m.Name != nameof(Vector<double>.OuterProduct) || a.Count != 2)
                return null;
            var (u, v) = (Value(a[0]), Value(a[1]));
            _b.Site = call;
            return _b.Apply(Op.Outer, [u, v]);
        }
        if (m.Name is "Map" or "Map2")
            return MapOf(call);
        if (m.Name is "get_Item" or "At" && a.Count is 1 or 2 && call.Type == typeof(double))
            return ElementOf(call);

        var self = Value(call.Object);
        if (a.Any(arg => Shape.KindOf(arg.Type) is null))
            return null;
        var x = a.Select(Value).ToArray();
        var isMatrix = self.Shape.Kind == Kind.Matrix;
        _b.Site = call;
        return (m.Name, x.Length) switch
        {
            ("Add", 1) => _b.Add(self, x[0]),
            ("Subtract", 1) => _b.Subtract(self, x[0]),
            ("SubtractFrom", 1) => _b.Subtract(x[0], self),
            ("Multiply", 1) when x[0].Shape.IsTensor => _b.MatMul(self, x[0]),
            ("Multiply", 1) => _b.Multiply(self, x[0]),
            ("Divide", 1) => _b.Divide(self, x[0]),
            ("DivideByThis", 1) => _b.Divide(x[0], self),
            ("Negate", 0) => _b.Negate(self),
            ("Clone", 0) => self,
            ("Transpose", 0) when isMatrix => _b.Apply(Op.Transpose, [self]),
            ("TransposeAndMultiply", 1) => _b.MatMul(self, x[0], transposeB: true),
            ("TransposeThisAndMultiply", 1) => _b.MatMul(self, x[0], transposeA: true),
            ("LeftMultiply", 1) => _b.MatMul(self, x[0], transposeA: true),
            ("OuterProduct", 1) => _b.Apply(Op.Outer, [self, x[0]]),
            ("Sum", 0) when !isMatrix => _b.Apply(Op.Sum, [self]),
            ("DotProduct", 1) => _b.Apply(Op.Dot, [self, x[0]]),
            ("L2Norm", 0) when !isMatrix => _b.Apply(Op.Norm, [self]),
            ("L2Norm", 0) => throw Errors.Unsupported(call, "the spectral norm of a matrix (L2Norm); FrobeniusNorm has a rule"),
            ("FrobeniusNorm", 0) when isMatrix => _b.Apply(Op.Norm, [self]),
            ("RowSums", 0) when isMatrix => _b.Apply(Op.RowSums, [self]),
            ("ColumnSums", 0) when isMatrix => _b.Apply(Op.ColumnSums, [self]),
            (_, _) when Pointwise.TryGetValue(m.Name, out var op) && x.Length == RuleArity(op) - 1 => _b.Apply(op, [self, .. x]),
            _ => null,
        };
    }

    // v[i], m[i, j], v.At(i), m.At(i, j) at indices known when Grad.Of runs, like the elements of a double[] parameter.
    private Node ElementOf(MethodCallExpression call)
    {
        var self = Value(call.Object!);
        var indices = new int[call.Arguments.Count];
        for (var k = 0; k < indices.Length; k++)
            if (!TryConstantIndex(call.Arguments[k], out indices[k]) || indices[k] < 0)
                throw Errors.Unsupported(call, "an element at an index that is not a constant (a vector or matrix is read at indices known when Grad.Of runs)");
        if (indices.Length != (self.Shape.Kind == Kind.Matrix ? 2 : 1))
            throw Errors.NoRule(call);
        _b.Site = call;
        return _b.Element(self, indices[0], indices.Length > 1 ? indices[1] : -1);
    }

    private static int RuleArity(Op op) => Rules.RuleTable.Get(op).Arity;

    /// <summary>
    /// <c>m.Map(f)</c> or <c>m.Map2(f, other)</c>: the function's body imported into the Map's own graph, whose inputs
    /// are the elements of the vectors or matrices and then whatever the body reads from outside.
    /// </summary>
    private Node MapOf(MethodCallExpression call)
    {
        var tensors = new List<Node> { Value(call.Object!) };
        if (call.Method.Name == "Map2")
            tensors.Add(Value(call.Arguments[1]));
        if (call.Type != call.Object!.Type)
            throw Errors.Unsupported(call, $"a Map to {Errors.TypeName(call.Type)}: the function must map double to double");
        var lambda = MapFunction(call.Arguments[0], tensors.Count, call);

        var inner = new Importer(this, lambda);
        var output = inner.Value(lambda.Body);
        if (inner._tooDeep is { } error)
            throw error;
        var body = new MapBody(inner._b, tensors.Count + inner._outerArgs.Count, output, name: null);
        _b.Site = call;
        return _b.Map(body, [.. tensors, .. inner._outerArgs]);
    }

    /// <summary>
    /// A static method passed as a delegate (<c>Fn.Relu</c>, <c>Fn.Square</c>) as the lambda that calls it, or null.
    /// In an expression tree a method group is <c>MethodInfo.CreateDelegate(type, target)</c> on the method as a constant.
    /// </summary>
    private static LambdaExpression? MethodGroup(Expression f, int arity)
    {
        if (f is UnaryExpression { NodeType: ExpressionType.Convert } convert)
            f = convert.Operand;
        if (f is MethodCallExpression { Method.Name: nameof(MethodInfo.CreateDelegate) } create
            && (create.Object as ConstantExpression ?? create.Arguments.OfType<ConstantExpression>().FirstOrDefault(c => c.Value is MethodInfo))
                is { Value: MethodInfo { IsStatic: true } method }
            && method.GetParameters().Length == arity)
        {
            var parameters = method.GetParameters().Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
            return Expression.Lambda(Expression.Call(method, parameters), parameters);
        }
        return null;
    }

    /// <summary>The function given to Map: a lambda written in place, or a method group (<c>Fn.Relu</c>) made into one.</summary>
    private static LambdaExpression MapFunction(Expression f, int arity, MethodCallExpression call)
    {
        if (f is LambdaExpression lambda)
            return lambda.Parameters.Count == arity && lambda.Parameters.All(p => p.Type == typeof(double)) && lambda.ReturnType == typeof(double)
                ? lambda
                : throw Errors.Unsupported(call, "a Map whose function does not map doubles to a double");
        if (MethodGroup(f, arity) is { } group)
            return group;
        throw Errors.Unsupported(call, "a Map of a delegate value: ExprGrad differentiates only what it can see, so pass a lambda " +
            "(t => Math.Tanh(t)) or a static method (Fn.Relu)");
    }
}
