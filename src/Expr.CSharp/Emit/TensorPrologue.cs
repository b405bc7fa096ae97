using System.Linq.Expressions;
using ExprGrad.Display;
using ExprGrad.Staging;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Emit;

/// <summary>
/// What a method with vectors and matrices does first: makes its vector and matrix parameters and captured values
/// dense (a null one is named), reads every dimension once, and checks the dimension analysis's equalities, so a shape
/// error is reported before anything runs, naming the operation and both shapes.
/// </summary>
internal sealed class TensorPrologue
{
    private readonly Dictionary<Node, ParameterExpression> _captured = [];
    private readonly ParameterExpression[] _dims;

    public TensorPrologue(StagedGraph graph, Frame frame)
    {
        var dims = graph.Builder.Dims;
        var statements = new List<Expression>();
        var locals = new List<ParameterExpression>();

        foreach (var p in graph.Parameters.Where(p => p.Kind != Kind.Scalar))
        {
            var input = frame.Input(p.Offset);
            statements.Add(Expression.Assign(input, Dense(input, p.Name)));
        }

        var leaves = new Dictionary<Node, Expression>();
        foreach (var (leaf, _) in dims.Sources)
        {
            if (leaves.ContainsKey(leaf))
                continue;
            if (leaf.Op == Op.Input)
            {
                leaves[leaf] = frame.Input(graph.Slot(leaf));
                continue;
            }
            var name = StagedCode.CapturedName(leaf.Live!);
            var local = Expression.Variable(leaf.Shape.Type, name);
            locals.Add(local);
            statements.Add(Expression.Assign(local, Dense(leaf.Live!, name)));
            leaves[leaf] = _captured[leaf] = local;
        }

        _dims = new ParameterExpression[dims.Count];
        for (var d = 0; d < dims.Count; d++)
        {
            var (leaf, property) = dims.Sources[d];
            _dims[d] = Expression.Variable(typeof(int), $"n{d}");
            statements.Add(Expression.Assign(_dims[d], Expression.Property(leaves[leaf], property)));
        }
        locals.AddRange(_dims);

        foreach (var check in dims.Checks)
            statements.Add(Expression.IfThen(
                Expression.NotEqual(_dims[check.A], _dims[check.B]),
                Expression.Throw(Expression.Call(typeof(TensorPrologue), nameof(Mismatch), null,
                    Expression.Constant(check), Expression.NewArrayInit(typeof(int), _dims)))));

        foreach (var bound in dims.Bounds)
            statements.Add(Expression.IfThen(
                Expression.LessThanOrEqual(_dims[bound.Dimension], Expression.Constant(bound.Index)),
                Expression.Throw(Expression.Call(typeof(TensorPrologue), nameof(OutOfRange), null,
                    Expression.Constant(bound), _dims[bound.Dimension]))));

        Locals = locals;
        Statements = statements;
    }

    public IReadOnlyList<ParameterExpression> Locals { get; }

    public IReadOnlyList<Expression> Statements { get; }

    /// <summary>The size of a dimension, read on entry.</summary>
    public Expression Dim(int dimension) => _dims[dimension];

    /// <summary>The dense value of a captured vector or matrix, read once on entry.</summary>
    public Expression? Captured(Node node) => _captured.GetValueOrDefault(node);

    private static Expression Dense(Expression value, string name) =>
        Expression.Call(typeof(Tensors).GetMethod(nameof(Tensors.Dense), [value.Type == typeof(Vector<double>) ? typeof(Vector<double>) : typeof(Matrix<double>), typeof(string)])!,
            value, Expression.Constant(name));

    /// <summary>The error for an index past its dimension.</summary>
    public static ExprGradException OutOfRange(IndexCheck check, int size) =>
        new($"{check.Operation}: index {check.Index} is outside a dimension of size {size}");

    /// <summary>The error for a failed check, given every dimension's size at the call.</summary>
    public static ExprGradException Mismatch(ShapeCheck check, int[] sizes) =>
        new($"{check.Operation}: a {Dimensions.Describe(check.Left, sizes)} and a {Dimensions.Describe(check.Right, sizes)} do not fit: {check.Requirement}");
}
