using System.Linq.Expressions;
using System.Reflection;
using ExprGrad.Emit;
using ExprGrad.Kernels;
using ExprGrad.Staging;
using MathNet.Numerics.LinearAlgebra;
using static ExprGrad.Staging.Op;

namespace ExprGrad.Rules;

/// <summary>
/// The vector and matrix operations. Each pullback is found by dimension analysis (for D = W·X: W̄ = D̄·Xᵀ, X̄ = Wᵀ·D̄,
/// the only products of the right shapes) and is built from the same operations, so transposes stay flags of a
/// product and run as flags of <see cref="Gemm"/>'s kernel, never as transposed copies.
/// Element-wise operations are all <see cref="Map"/>: its body is a scalar graph, differentiated by the scalar rules.
/// </summary>
internal static partial class RuleTable
{
    private static IEnumerable<Rule> TensorRules()
    {
        yield return new Rule
        {
            Op = Map, Symbol = "map", Arity = -1,
            Infer = (_, _, _) => throw new InvalidOperationException("a Map is built by GraphBuilder.Map"),
            EmitTensor = MapWriter.Emit,
            Pullback = PullbackMap,
        };
        yield return new Rule
        {
            Op = MatMul, Symbol = "·", Arity = 2, Infer = InferProduct, EmitTensor = EmitProduct,
            Pullback = (b, y, yBar, x) =>
            {
                var (a, c) = (y.Args[0], y.Args[1]);
                var (ta, tc) = ((y.Param & 1) != 0, (y.Param & 2) != 0);
                if (c.Shape.Kind == Kind.Vector)
                {
                    // y = op(A)·v: Ā is an outer product, v̄ = op(A)ᵀ·ȳ.
                    if (Needs(y, 0)) x[0] = ta ? b.Apply(Outer, [c, yBar]) : b.Apply(Outer, [yBar, c]);
                    if (Needs(y, 1)) x[1] = b.MatMul(a, yBar, transposeA: !ta);
                    return;
                }
                // C = op(A)·op(B): Ā = C̄·op(B)ᵀ (transposed back when A was), B̄ = op(A)ᵀ·C̄ (likewise).
                if (Needs(y, 0)) x[0] = ta ? b.MatMul(c, yBar, tc, true) : b.MatMul(yBar, c, false, !tc);
                if (Needs(y, 1)) x[1] = tc ? b.MatMul(yBar, a, true, ta) : b.MatMul(a, yBar, !ta, false);
            },
        };
        yield return new Rule
        {
            Op = Outer, Symbol = "⊗", Arity = 2,
            Infer = (_, x, _) => Shape.Matrix(x[0].Shape.Rows, x[1].Shape.Rows),
            EmitTensor = (_, _, x) => Expression.Call(x[0], Method<Vector<double>>(nameof(Vector<double>.OuterProduct), typeof(Vector<double>)), x[1]),
            Pullback = (b, y, yBar, x) =>
            {
                if (Needs(y, 0)) x[0] = b.MatMul(yBar, y.Args[1]);
                if (Needs(y, 1)) x[1] = b.MatMul(yBar, y.Args[0], transposeA: true);
            },
        };
        yield return new Rule
        {
            Op = Transpose, Symbol = "ᵀ", Arity = 1,
            Infer = (_, x, _) => Shape.Matrix(x[0].Shape.Columns, x[0].Shape.Rows),
            EmitTensor = (_, _, x) => Expression.Call(x[0], Method<Matrix<double>>(nameof(Matrix<double>.Transpose))),
            Pullback = (b, _, yBar, x) => x[0] = b.Apply(Transpose, [yBar]),
        };
        yield return new Rule
        {
            Op = Sum, Symbol = "sum", Arity = 1, Infer = (_, _, _) => Shape.Scalar,
            EmitTensor = (_, n, x) => n.Args[0].Shape.Kind == Kind.Vector
                ? Expression.Call(x[0], Method<Vector<double>>(nameof(Vector<double>.Sum)))
                : Expression.Call(Kernel(nameof(Tensors.Sum)), x[0]),
            Pullback = (b, y, yBar, x) => x[0] = b.Fill(yBar, y.Args[0].Shape),
        };
        yield return new Rule
        {
            Op = Dot, Symbol = "dot", Arity = 2,
            Infer = (b, x, _) => { b.Elementwise(x[0].Shape, x[1].Shape, "a dot product"); return Shape.Scalar; },
            EmitTensor = (_, n, x) => n.Args[0].Shape.Kind == Kind.Vector
                ? Expression.Call(x[0], Method<Vector<double>>(nameof(Vector<double>.DotProduct), typeof(Vector<double>)), x[1])
                : Expression.Call(Kernel(nameof(Tensors.Dot)), x[0], x[1]),
            Pullback = (b, y, yBar, x) =>
            {
                if (Needs(y, 0)) x[0] = b.Multiply(yBar, y.Args[1]);
                if (Needs(y, 1)) x[1] = b.Multiply(yBar, y.Args[0]);
            },
        };
        yield return new Rule
        {
            Op = Norm, Symbol = "‖‖", Arity = 1, Infer = (_, _, _) => Shape.Scalar,
            EmitTensor = (_, n, x) => n.Args[0].Shape.Kind == Kind.Vector
                ? Expression.Call(x[0], Method<Vector<double>>(nameof(Vector<double>.L2Norm)))
                : Expression.Call(Kernel(nameof(Tensors.FrobeniusNorm)), x[0]),
            // ∂‖A‖/∂A = A/‖A‖; at A = 0, where that is 0/0, the subgradient 0 (as for abs at 0).
            Pullback = (b, y, yBar, x) =>
                x[0] = b.Multiply(b.If(b.Apply(Equal, y, b.Constant(0)), () => b.Constant(0), () => b.Divide(yBar, y)), y.Args[0]),
        };
        yield return new Rule
        {
            Op = RowSums, Symbol = "rowsums", Arity = 1,
            Infer = (_, x, _) => Shape.Vector(x[0].Shape.Rows),
            EmitTensor = (_, _, x) => Expression.Call(x[0], Method<Matrix<double>>(nameof(Matrix<double>.RowSums))),
            Pullback = (b, y, yBar, x) => x[0] = b.RepeatColumn(yBar, y.Args[0].Shape.Columns),
        };
        yield return new Rule
        {
            Op = ColumnSums, Symbol = "colsums", Arity = 1,
            Infer = (_, x, _) => Shape.Vector(x[0].Shape.Columns),
            EmitTensor = (_, _, x) => Expression.Call(x[0], Method<Matrix<double>>(nameof(Matrix<double>.ColumnSums))),
            Pullback = (b, y, yBar, x) => x[0] = b.RepeatRow(yBar, y.Args[0].Shape.Rows),
        };
        yield return new Rule
        {
            Op = RepeatRow, Symbol = "rows", Arity = 1,
            Infer = (_, x, rows) => Shape.Matrix(rows, x[0].Shape.Rows),
            EmitTensor = (c, n, x) => Scratched(c, n, x, target => Expression.Call(Kernel(nameof(Tensors.RepeatRowInto)), x[0], target)),
            Pullback = (b, _, yBar, x) => x[0] = b.Apply(ColumnSums, [yBar]),
        };
        yield return new Rule
        {
            Op = RepeatColumn, Symbol = "columns", Arity = 1,
            Infer = (_, x, columns) => Shape.Matrix(x[0].Shape.Rows, columns),
            EmitTensor = (c, n, x) => Expression.Call(Kernel(nameof(Tensors.RepeatColumn)), x[0], c.Dim(n.Param)),
            Pullback = (b, _, yBar, x) => x[0] = b.Apply(RowSums, [yBar]),
        };
        yield return new Rule
        {
            Op = Fill, Symbol = "fill", Arity = 1,
            Infer = (_, _, _) => throw new InvalidOperationException("a Fill is built by GraphBuilder.Fill"),
            EmitTensor = (c, n, x) => n.Shape.Kind == Kind.Vector
                ? Expression.Call(Kernel(nameof(Tensors.Fill), typeof(double), typeof(int)), x[0], c.Dim(n.Shape.Rows))
                : Expression.Call(Kernel(nameof(Tensors.Fill), typeof(double), typeof(int), typeof(int)), x[0], c.Dim(n.Shape.Rows), c.Dim(n.Shape.Columns)),
            Pullback = (b, _, yBar, x) => x[0] = b.Apply(Sum, [yBar]),
        };
        yield return new Rule
        {
            Op = Size, Symbol = "size", Arity = 0,
            Infer = (_, _, _) => throw new InvalidOperationException("a Size is built by GraphBuilder.Size"),
            EmitTensor = (c, n, _) => Expression.Convert(c.Dim(n.Param), typeof(double)),
        };
        yield return new Rule
        {
            Op = Element, Symbol = "at", Arity = 1,
            Infer = (_, _, _) => throw new InvalidOperationException("an Element is built by GraphBuilder.Element"),
            EmitTensor = (_, n, x) => n.Args[0].Shape.Kind == Kind.Vector
                ? Expression.Call(x[0], Method<Vector<double>>(nameof(Vector<double>.At), typeof(int)), Expression.Constant(n.Param))
                : Expression.Call(x[0], Method<Matrix<double>>(nameof(Matrix<double>.At), typeof(int), typeof(int)), Expression.Constant(n.Param), Expression.Constant(n.Element)),
            Pullback = (b, y, yBar, x) => x[0] = b.Scatter(yBar, y.Param, y.Element, y.Args[0].Shape),
        };
        yield return new Rule
        {
            Op = Scatter, Symbol = "onehot", Arity = 1,
            Infer = (_, _, _) => throw new InvalidOperationException("a Scatter is built by GraphBuilder.Scatter"),
            EmitTensor = (c, n, x) => n.Shape.Kind == Kind.Vector
                ? Expression.Call(Kernel(nameof(Tensors.OneHot), typeof(double), typeof(int), typeof(int)), x[0], Expression.Constant(n.Param), c.Dim(n.Shape.Rows))
                : Expression.Call(Kernel(nameof(Tensors.OneHot), typeof(double), typeof(int), typeof(int), typeof(int), typeof(int)),
                    x[0], Expression.Constant(n.Param), Expression.Constant(n.Element), c.Dim(n.Shape.Rows), c.Dim(n.Shape.Columns)),
            Pullback = (b, y, yBar, x) => x[0] = b.Element(yBar, y.Param, y.Element),
        };
        yield return new Rule
        {
            Op = Softmax, Symbol = "softmax", Arity = 1, Infer = (_, x, _) => x[0].Shape,
            EmitTensor = (c, n, x) => n.Shape.Kind == Kind.Matrix
                ? Scratched(c, n, x, target => Expression.Call(Kernel(nameof(Tensors.SoftmaxInto)), x[0], target))
                : Expression.Call(Library(nameof(Fn.Softmax), n.Args[0].Shape), x[0]),
            // x̄ = y ⊙ (ȳ − ⟨ȳ, y⟩), the inner product taken per column of a matrix.
            Pullback = (b, y, yBar, x) =>
            {
                var inner = y.Shape.Kind == Kind.Vector
                    ? b.Apply(Dot, [yBar, y])
                    : b.RepeatRow(b.Apply(ColumnSums, [b.Multiply(yBar, y)]), y.Shape.Rows);
                x[0] = b.Map(SoftmaxBackward, [y, yBar, inner]);
            },
        };
        yield return new Rule
        {
            Op = LogSumExp, Symbol = "logsumexp", Arity = 1,
            Infer = (_, x, _) => x[0].Shape.Kind == Kind.Vector ? Shape.Scalar : Shape.Vector(x[0].Shape.Columns),
            EmitTensor = (_, n, x) => Expression.Call(Library(nameof(Fn.LogSumExp), n.Args[0].Shape), x[0]),
            Pullback = (b, y, yBar, x) =>
            {
                var a = y.Args[0];
                var p = b.Apply(Softmax, [a]);
                x[0] = b.Multiply(a.Shape.Kind == Kind.Vector ? yBar : b.RepeatRow(yBar, a.Shape.Rows), p);
            },
        };
        yield return new Rule
        {
            Op = CrossEntropy, Symbol = "crossentropy", Arity = 2,
            Infer = (b, x, _) => { b.Elementwise(x[0].Shape, x[1].Shape, nameof(Fn.CrossEntropy)); return Shape.Scalar; },
            EmitTensor = (_, n, x) => Expression.Call(Library(nameof(Fn.CrossEntropy), n.Args[0].Shape, n.Args[0].Shape), x[0], x[1]),
            // Per column j with total target mass s_j = Σ_i t_ij: ∂/∂o = softmax(o)·s_j − t, ∂/∂t = logsumexp(o) − o; a matrix is the mean over columns.
            Pullback = (b, y, yBar, x) =>
            {
                var (o, t) = (y.Args[0], y.Args[1]);
                var k = PerExample(b, o, yBar);
                var isVector = o.Shape.Kind == Kind.Vector;
                if (Needs(y, 0))
                {
                    var mass = isVector ? b.Apply(Sum, [t]) : b.RepeatRow(b.Apply(ColumnSums, [t]), o.Shape.Rows);
                    x[0] = b.Map(CrossEntropyLogits, [b.Apply(Softmax, [o]), mass, t, k]);
                }
                if (Needs(y, 1))
                {
                    var lse = b.Apply(LogSumExp, [o]);
                    x[1] = b.Map(CrossEntropyTargets, [isVector ? lse : b.RepeatRow(lse, o.Shape.Rows), o, k]);
                }
            },
        };
        yield return new Rule
        {
            Op = SquaredError, Symbol = "squarederror", Arity = 2,
            Infer = (b, x, _) => { b.Elementwise(x[0].Shape, x[1].Shape, nameof(Fn.SquaredError)); return Shape.Scalar; },
            EmitTensor = (_, n, x) => Expression.Call(Library(nameof(Fn.SquaredError), n.Args[0].Shape, n.Args[0].Shape), x[0], x[1]),
            Pullback = (b, y, yBar, x) =>
            {
                var (p, t) = (y.Args[0], y.Args[1]);
                var k = PerExample(b, p, yBar);
                if (Needs(y, 0)) x[0] = b.Map(ScaledDifference, [p, t, k]);
                if (Needs(y, 1)) x[1] = b.Map(ScaledDifference, [t, p, k]);
            },
        };
    }

    // Bodies are built when a pullback asks (the rule table is not ready while its own initializer runs); equal names intern.

    // A loss over a matrix is the mean over its columns: each column's share of the adjoint.
    private static Node PerExample(GraphBuilder b, Node value, Node yBar) =>
        value.Shape.Kind == Kind.Vector ? yBar : b.Divide(yBar, b.Size(value.Shape.Columns));

    private static MapBody SoftmaxBackward => MapBody.Of("softmax'", 3, (b, x) => b.Multiply(x[0], b.Subtract(x[1], x[2])));

    private static MapBody CrossEntropyLogits => MapBody.Of("crossentropy'", 4,
        (b, x) => b.Multiply(b.Subtract(b.Multiply(x[0], x[1]), x[2]), x[3]));

    private static MapBody CrossEntropyTargets => MapBody.Of("crossentropy't", 3, (b, x) => b.Multiply(b.Subtract(x[0], x[1]), x[2]));

    private static MapBody ScaledDifference => MapBody.Of("(a-b)k", 3, (b, x) => b.Multiply(b.Subtract(x[0], x[1]), x[2]));

    /// <summary>
    /// A Map pulls back through its body: the contribution to argument k is the backward body ȳ·∂f/∂a_k applied element by
    /// element to the arguments, the cached forward values and ȳ; a scalar argument gets that summed.
    /// </summary>
    private static void PullbackMap(GraphBuilder b, Node y, Node yBar, Node?[] x)
    {
        var body = y.Body!;
        Node[]? args = null;
        for (var k = 0; k < y.Args.Length; k++)
        {
            if (!Needs(y, k) || body.Derivative(k) is not { } derivative)
                continue;
            args ??= [.. y.Args, y, yBar];
            var contribution = b.Map(derivative, args, y.Shape);
            x[k] = y.Args[k].Shape.IsTensor ? contribution : b.Apply(Sum, [contribution]);
        }
    }

    private static Shape InferProduct(GraphBuilder b, Node[] x, int flags)
    {
        var (a, c) = (x[0].Shape, x[1].Shape);
        var (rows, inner) = (flags & 1) != 0 ? (a.Columns, a.Rows) : (a.Rows, a.Columns);
        var left = Shape.Matrix(rows, inner);
        if (c.Kind == Kind.Vector)
        {
            b.Unify(inner, c.Rows, left, c, "a matrix times a vector needs as many columns as the vector has elements");
            return Shape.Vector(rows);
        }
        var (inner2, columns) = (flags & 2) != 0 ? (c.Columns, c.Rows) : (c.Rows, c.Columns);
        b.Unify(inner, inner2, left, Shape.Matrix(inner2, columns), "a matrix product needs the first's columns to match the second's rows");
        return Shape.Matrix(rows, columns);
    }

    // Every product runs on ExprGrad's own kernel, the transposes as flags (Aᵀ·Bᵀ too), never as copies.
    private static Expression EmitProduct(EmitContext context, Node n, Expression[] x)
    {
        var (ta, tb) = ((n.Param & 1) != 0, (n.Param & 2) != 0);
        if (n.Args[1].Shape.Kind == Kind.Vector)
            return Expression.Call(ProductMethod(typeof(Vector<double>), typeof(bool)), x[0], x[1], Expression.Constant(ta));
        var into = typeof(Gemm).GetMethod(nameof(Gemm.MultiplyInto), BindingFlags.NonPublic | BindingFlags.Static)!;
        return Scratched(context, n, x, target => Expression.Call(into, x[0], x[1], Expression.Constant(ta), Expression.Constant(tb), target));
    }

    // A matrix stage written into its per-thread scratch (Scratch): write(target) fills it; arguments read here for the
    // last time go back to theirs.
    private static Expression Scratched(EmitContext context, Node n, Expression[] x, Func<Expression, Expression> write)
    {
        var result = Expression.Variable(typeof(Matrix<double>), "scratch");
        return Expression.Block(typeof(Matrix<double>), [result],
        [
            Expression.Assign(result, write(Scratch.TakeFor(n, context.Dim(n.Shape.Rows), context.Dim(n.Shape.Columns)))),
            .. Scratch.GiveBack(context, n, x),
            result,
        ]);
    }

    private static MethodInfo ProductMethod(params Type[] rest) =>
        typeof(Gemm).GetMethod(nameof(Gemm.Multiply), [typeof(Matrix<double>), .. rest]) ?? throw new MissingMethodException(nameof(Gemm), nameof(Gemm.Multiply));

    private static MethodInfo Method<T>(string name, params Type[] parameters) =>
        typeof(T).GetMethod(name, parameters) ?? throw new MissingMethodException(typeof(T).Name, name);

    private static MethodInfo Kernel(string name, params Type[] parameters) =>
        (parameters.Length == 0 ? typeof(Tensors).GetMethod(name) : typeof(Tensors).GetMethod(name, parameters))
        ?? throw new MissingMethodException(nameof(Tensors), name);

    private static MethodInfo Library(string name, params Shape[] shapes) =>
        typeof(Fn).GetMethod(name, Array.ConvertAll(shapes, s => s.Type)) ?? throw new MissingMethodException(nameof(Fn), name);
}
