using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Staging;

/// <summary>What a staged value is: a number, or a MathNet vector or matrix.</summary>
internal enum Kind
{
    Scalar,
    Vector,
    Matrix,
}

/// <summary>
/// The shape of a staged value. A dimension is an id in <see cref="Dimensions"/>: the sizes are not known until a call
/// (a captured minibatch may change its width between calls), but which sizes must be equal is known at
/// <c>Grad.Of</c> time, from the operations alone. That is the dimension analysis every matrix rule relies on.
/// </summary>
/// <param name="Kind">Scalar, vector or matrix.</param>
/// <param name="Rows">The row dimension of a matrix, the length of a vector; −1 for a scalar.</param>
/// <param name="Columns">The column dimension of a matrix; −1 otherwise.</param>
internal readonly record struct Shape(Kind Kind, int Rows, int Columns)
{
    public static Shape Scalar { get; } = new(Kind.Scalar, -1, -1);

    public static Shape Vector(int length) => new(Kind.Vector, length, -1);

    public static Shape Matrix(int rows, int columns) => new(Kind.Matrix, rows, columns);

    public bool IsTensor => Kind != Kind.Scalar;

    /// <summary>The .NET type of a value of this shape.</summary>
    public Type Type => TypeOf(Kind);

    public static Type TypeOf(Kind kind) => kind switch
    {
        Kind.Vector => typeof(Vector<double>),
        Kind.Matrix => typeof(Matrix<double>),
        _ => typeof(double),
    };

    /// <summary>The kind of a .NET type that can be staged, or null.</summary>
    public static Kind? KindOf(Type type) =>
        type == typeof(double) ? Kind.Scalar
        : type == typeof(Vector<double>) ? Kind.Vector
        : type == typeof(Matrix<double>) ? Kind.Matrix
        : null;
}

/// <summary>One equality of dimensions an operation requires, checked at every call before anything runs.</summary>
/// <param name="A">A dimension.</param>
/// <param name="B">The dimension it must equal.</param>
/// <param name="Operation">Where: the user's sub-expression, as text.</param>
/// <param name="Requirement">What must hold, in words (<c>the inner dimensions of a product must agree</c>).</param>
/// <param name="Left">The shape of the first operand.</param>
/// <param name="Right">The shape of the second operand.</param>
internal sealed record ShapeCheck(int A, int B, string Operation, string Requirement, Shape Left, Shape Right);

/// <summary>An element read at a constant index, checked against its dimension at every call.</summary>
/// <param name="Dimension">The dimension indexed.</param>
/// <param name="Index">The index read.</param>
/// <param name="Operation">Where: the user's sub-expression, as text.</param>
internal sealed record IndexCheck(int Dimension, int Index, string Operation);

/// <summary>
/// The dimensions of a graph: every one is read from a leaf (a parameter's or a captured value's <c>RowCount</c>,
/// <c>ColumnCount</c> or <c>Count</c>) and operations only relate them. A union-find keeps which must be equal; each
/// union that joins two classes is one <see cref="ShapeCheck"/>, so the checks are as few as the leaves' dimensions.
/// </summary>
internal sealed class Dimensions
{
    private readonly List<int> _parent = [];

    /// <summary>For each dimension: the leaf node it is read from and the property that reads it.</summary>
    public List<(Node Leaf, string Property)> Sources { get; } = [];

    public List<ShapeCheck> Checks { get; } = [];

    private readonly Dictionary<int, IndexCheck> _bounds = [];

    /// <summary>The index checks made at every call: one per dimension read by index, at its largest index.</summary>
    public IEnumerable<IndexCheck> Bounds => _bounds.Values;

    /// <summary>Records that <paramref name="index"/> is read in <paramref name="dimension"/> (<paramref name="site"/> names where, for the error).</summary>
    public void Bound(int dimension, int index, Func<string> site)
    {
        if (!_bounds.TryGetValue(dimension, out var largest) || index > largest.Index)
            _bounds[dimension] = new IndexCheck(dimension, index, site());
    }

    public int Count => _parent.Count;

    public int New(Node leaf, string property)
    {
        _parent.Add(_parent.Count);
        Sources.Add((leaf, property));
        return _parent.Count - 1;
    }

    public int Find(int d)
    {
        while (_parent[d] != d)
            d = _parent[d] = _parent[_parent[d]];
        return d;
    }

    /// <summary>Records that <paramref name="a"/> and <paramref name="b"/> must be equal.</summary>
    public void Unify(int a, int b, Func<ShapeCheck> check)
    {
        var (ra, rb) = (Find(a), Find(b));
        if (ra == rb)
            return;
        _parent[rb] = ra;
        Checks.Add(check() with { A = a, B = b });
    }

    /// <summary>A shape as the user reads it, given every dimension's size at a call.</summary>
    public static string Describe(Shape shape, int[] sizes) => shape.Kind switch
    {
        Kind.Matrix => $"{sizes[shape.Rows]}×{sizes[shape.Columns]} matrix",
        Kind.Vector => $"vector of length {sizes[shape.Rows]}",
        _ => "scalar",
    };
}
