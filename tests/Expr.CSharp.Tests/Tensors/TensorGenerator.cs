using System.Globalization;
using System.Linq.Expressions;
using System.Text;
using ExprGrad.Tests.Properties;
using MathNet.Numerics.LinearAlgebra;
using M = MathNet.Numerics.LinearAlgebra.Matrix<double>;
using V = MathNet.Numerics.LinearAlgebra.Vector<double>;

namespace ExprGrad.Tests.Tensors;

internal enum Kind { Scalar, Vector, Matrix }

/// <summary>A value's shape: a scalar, a vector of Rows elements, or a Rows × Columns matrix.</summary>
internal readonly record struct Shape(Kind Kind, int Rows, int Columns)
{
    public static readonly Shape Scalar = new(Kind.Scalar, 1, 1);

    public static Shape Vector(int length) => new(Kind.Vector, length, 1);

    public static Shape Matrix(int rows, int columns) => new(Kind.Matrix, rows, columns);

    public int Size => Rows * Columns;

    public Type Type => Kind switch { Kind.Scalar => typeof(double), Kind.Vector => typeof(V), _ => typeof(M) };

    public override string ToString() => Kind switch
    {
        Kind.Scalar => "double",
        Kind.Vector => $"vector {Rows}",
        _ => $"{Rows}×{Columns}",
    };
}

/// <summary>
/// What an operation needs of an argument: any value of the shape; a positive one (log, sqrt, fractional powers,
/// divisors), made so by construction; or a plain scalar (a parameter or captured value, as a <c>Map</c> lambda may
/// close over).
/// </summary>
internal enum Domain { Any, Positive, Plain }

internal readonly record struct Arg(Shape Shape, Domain Domain = Domain.Any);

/// <summary>Where the function is not differentiable, as seen from the operation's first argument.</summary>
internal abstract record Kink
{
    /// <summary>Elements equal to the threshold (abs at 0, relu at 0, max/min against a constant).</summary>
    public sealed record Threshold(double At) : Kink;

    /// <summary>The whole tensor at zero (the norms).</summary>
    public sealed record ZeroTensor : Kink;
}

/// <summary>
/// One entry of the catalogue under test: its output kind, how it picks argument shapes for a wanted output shape
/// (null if it cannot make that shape), and a C# lambda that is the operation exactly as a user writes it, so the
/// generated trees hold what the C# compiler emits (operator methods, <c>Map</c> with its optional argument, method
/// groups converted to delegates).
/// </summary>
internal sealed record TensorOp(string Name, Kind Output, Func<Shape, Random, Arg[]?> Arguments, LambdaExpression Template, string Format, Kink? Kink = null)
{
    public override string ToString() => Name;
}

/// <summary>The catalogue of vector and matrix operations issue 4 supports, one <see cref="TensorOp"/> each.</summary>
internal static class TensorCatalogue
{
    public const int MaxDimension = 4;

    private static int Dim(Random rng) => rng.Next(1, MaxDimension + 1);

    private static Arg Mat(int r, int c, Domain d = Domain.Any) => new(Shape.Matrix(r, c), d);
    private static Arg Vec(int n, Domain d = Domain.Any) => new(Shape.Vector(n), d);
    private static readonly Arg Sca = new(Shape.Scalar);
    private static readonly Arg PositiveScalar = new(Shape.Scalar, Domain.Positive);
    private static readonly Arg PlainScalar = new(Shape.Scalar, Domain.Plain);

    private static TensorOp Op<TDelegate>(string name, Kind output, Func<Shape, Random, Arg[]?> arguments, Expression<TDelegate> template, string format, Kink? kink = null) =>
        new(name, output, arguments, template, format, kink);

    // Same-shape element-wise operations, written once for matrices and once for vectors (two rules in the engine).
    private static IEnumerable<TensorOp> Pointwise()
    {
        Arg[] Same(Shape s, Domain d = Domain.Any) => [new Arg(s, d)];
        Arg[] Two(Shape s, Domain second = Domain.Any) => [new Arg(s), new Arg(s, second)];

        yield return Op<Func<M, M, M>>("M.PointwiseMultiply", Kind.Matrix, (s, _) => Two(s), (a, b) => a.PointwiseMultiply(b), "{0}.PointwiseMultiply({1})");
        yield return Op<Func<V, V, V>>("v.PointwiseMultiply", Kind.Vector, (s, _) => Two(s), (a, b) => a.PointwiseMultiply(b), "{0}.PointwiseMultiply({1})");
        yield return Op<Func<M, M, M>>("M.PointwiseDivide", Kind.Matrix, (s, _) => Two(s, Domain.Positive), (a, b) => a.PointwiseDivide(b), "{0}.PointwiseDivide({1})");
        yield return Op<Func<V, V, V>>("v.PointwiseDivide", Kind.Vector, (s, _) => Two(s, Domain.Positive), (a, b) => a.PointwiseDivide(b), "{0}.PointwiseDivide({1})");
        yield return Op<Func<M, M>>("M.PointwiseExp", Kind.Matrix, (s, _) => Same(s), a => a.PointwiseExp(), "{0}.PointwiseExp()");
        yield return Op<Func<V, V>>("v.PointwiseExp", Kind.Vector, (s, _) => Same(s), a => a.PointwiseExp(), "{0}.PointwiseExp()");
        yield return Op<Func<M, M>>("M.PointwiseLog", Kind.Matrix, (s, _) => Same(s, Domain.Positive), a => a.PointwiseLog(), "{0}.PointwiseLog()");
        yield return Op<Func<V, V>>("v.PointwiseLog", Kind.Vector, (s, _) => Same(s, Domain.Positive), a => a.PointwiseLog(), "{0}.PointwiseLog()");
        yield return Op<Func<M, M>>("M.PointwiseTanh", Kind.Matrix, (s, _) => Same(s), a => a.PointwiseTanh(), "{0}.PointwiseTanh()");
        yield return Op<Func<V, V>>("v.PointwiseTanh", Kind.Vector, (s, _) => Same(s), a => a.PointwiseTanh(), "{0}.PointwiseTanh()");
        yield return Op<Func<M, M>>("M.PointwiseAbs", Kind.Matrix, (s, _) => Same(s), a => a.PointwiseAbs(), "{0}.PointwiseAbs()", new Kink.Threshold(0));
        yield return Op<Func<V, V>>("v.PointwiseAbs", Kind.Vector, (s, _) => Same(s), a => a.PointwiseAbs(), "{0}.PointwiseAbs()", new Kink.Threshold(0));
        yield return Op<Func<M, M>>("M.PointwiseSqrt", Kind.Matrix, (s, _) => Same(s, Domain.Positive), a => a.PointwiseSqrt(), "{0}.PointwiseSqrt()");
        yield return Op<Func<V, V>>("v.PointwiseSqrt", Kind.Vector, (s, _) => Same(s, Domain.Positive), a => a.PointwiseSqrt(), "{0}.PointwiseSqrt()");
        yield return Op<Func<M, M>>("M.PointwiseSin", Kind.Matrix, (s, _) => Same(s), a => a.PointwiseSin(), "{0}.PointwiseSin()");
        yield return Op<Func<V, V>>("v.PointwiseSin", Kind.Vector, (s, _) => Same(s), a => a.PointwiseSin(), "{0}.PointwiseSin()");
        yield return Op<Func<M, M>>("M.PointwiseCos", Kind.Matrix, (s, _) => Same(s), a => a.PointwiseCos(), "{0}.PointwiseCos()");
        yield return Op<Func<V, V>>("v.PointwiseCos", Kind.Vector, (s, _) => Same(s), a => a.PointwiseCos(), "{0}.PointwiseCos()");
        yield return Op<Func<M, M>>("M.PointwisePower(2)", Kind.Matrix, (s, _) => Same(s), a => a.PointwisePower(2.0), "{0}.PointwisePower(2.0)");
        yield return Op<Func<V, V>>("v.PointwisePower(2)", Kind.Vector, (s, _) => Same(s), a => a.PointwisePower(2.0), "{0}.PointwisePower(2.0)");
        yield return Op<Func<M, M>>("M.PointwisePower(3)", Kind.Matrix, (s, _) => Same(s), a => a.PointwisePower(3.0), "{0}.PointwisePower(3.0)");
        yield return Op<Func<V, V>>("v.PointwisePower(3)", Kind.Vector, (s, _) => Same(s), a => a.PointwisePower(3.0), "{0}.PointwisePower(3.0)");
        yield return Op<Func<M, M>>("M.PointwisePower(1.5)", Kind.Matrix, (s, _) => Same(s, Domain.Positive), a => a.PointwisePower(1.5), "{0}.PointwisePower(1.5)");
        yield return Op<Func<V, V>>("v.PointwisePower(-0.5)", Kind.Vector, (s, _) => Same(s, Domain.Positive), a => a.PointwisePower(-0.5), "{0}.PointwisePower(-0.5)");
        yield return Op<Func<M, M>>("M.PointwiseMaximum", Kind.Matrix, (s, _) => Same(s), a => a.PointwiseMaximum(0.25), "{0}.PointwiseMaximum(0.25)", new Kink.Threshold(0.25));
        yield return Op<Func<V, V>>("v.PointwiseMaximum", Kind.Vector, (s, _) => Same(s), a => a.PointwiseMaximum(-0.25), "{0}.PointwiseMaximum(-0.25)", new Kink.Threshold(-0.25));
        yield return Op<Func<M, M>>("M.PointwiseMinimum", Kind.Matrix, (s, _) => Same(s), a => a.PointwiseMinimum(-0.25), "{0}.PointwiseMinimum(-0.25)", new Kink.Threshold(-0.25));
        yield return Op<Func<V, V>>("v.PointwiseMinimum", Kind.Vector, (s, _) => Same(s), a => a.PointwiseMinimum(0.25), "{0}.PointwiseMinimum(0.25)", new Kink.Threshold(0.25));

        // Map: a scalar lambda differentiated by the scalar engine, one that closes over a plain scalar (a parameter
        // or a captured value: its gradient flows out of the lambda), and Fn's gates as method groups.
        yield return Op<Func<M, M>>("M.Map(t => Math.Tanh(t))", Kind.Matrix, (s, _) => Same(s), a => a.Map(t => Math.Tanh(t), Zeros.AllowSkip), "{0}.Map(t => Math.Tanh(t))");
        yield return Op<Func<V, V>>("v.Map(t => Math.Tanh(t))", Kind.Vector, (s, _) => Same(s), a => a.Map(t => Math.Tanh(t), Zeros.AllowSkip), "{0}.Map(t => Math.Tanh(t))");
        yield return Op<Func<M, M>>("M.Map(t => t * t + 0.5)", Kind.Matrix, (s, _) => Same(s), a => a.Map(t => t * t + 0.5, Zeros.AllowSkip), "{0}.Map(t => t * t + 0.5)");
        yield return Op<Func<V, V>>("v.Map(t => t * t + 0.5)", Kind.Vector, (s, _) => Same(s), a => a.Map(t => t * t + 0.5, Zeros.AllowSkip), "{0}.Map(t => t * t + 0.5)");
        yield return Op<Func<M, double, M>>("M.Map(t => s * Math.Sin(t) + t)", Kind.Matrix, (s, _) => [new Arg(s), PlainScalar], (a, c) => a.Map(t => c * Math.Sin(t) + t, Zeros.AllowSkip), "{0}.Map(t => {1} * Math.Sin(t) + t)");
        yield return Op<Func<V, double, V>>("v.Map(t => s * Math.Sin(t) + t)", Kind.Vector, (s, _) => [new Arg(s), PlainScalar], (a, c) => a.Map(t => c * Math.Sin(t) + t, Zeros.AllowSkip), "{0}.Map(t => {1} * Math.Sin(t) + t)");
        yield return Op<Func<M, M>>("M.Map(Fn.Relu)", Kind.Matrix, (s, _) => Same(s), a => a.Map(Fn.Relu, Zeros.AllowSkip), "{0}.Map(Fn.Relu)", new Kink.Threshold(0));
        yield return Op<Func<V, V>>("v.Map(Fn.Relu)", Kind.Vector, (s, _) => Same(s), a => a.Map(Fn.Relu, Zeros.AllowSkip), "{0}.Map(Fn.Relu)", new Kink.Threshold(0));
        yield return Op<Func<M, M>>("M.Map(Fn.Sigmoid)", Kind.Matrix, (s, _) => Same(s), a => a.Map(Fn.Sigmoid, Zeros.AllowSkip), "{0}.Map(Fn.Sigmoid)");
        yield return Op<Func<V, V>>("v.Map(Fn.Sigmoid)", Kind.Vector, (s, _) => Same(s), a => a.Map(Fn.Sigmoid, Zeros.AllowSkip), "{0}.Map(Fn.Sigmoid)");
    }

    private static IEnumerable<TensorOp> Arithmetic()
    {
        // matrices
        yield return Op<Func<M, M, M>>("M + M", Kind.Matrix, (s, _) => [new(s), new(s)], (a, b) => a + b, "({0} + {1})");
        yield return Op<Func<M, M, M>>("M - M", Kind.Matrix, (s, _) => [new(s), new(s)], (a, b) => a - b, "({0} - {1})");
        yield return Op<Func<M, double, M>>("M + s", Kind.Matrix, (s, _) => [new(s), Sca], (a, b) => a + b, "({0} + {1})");
        yield return Op<Func<double, M, M>>("s + M", Kind.Matrix, (s, _) => [Sca, new(s)], (a, b) => a + b, "({0} + {1})");
        yield return Op<Func<M, double, M>>("M - s", Kind.Matrix, (s, _) => [new(s), Sca], (a, b) => a - b, "({0} - {1})");
        yield return Op<Func<double, M, M>>("s - M", Kind.Matrix, (s, _) => [Sca, new(s)], (a, b) => a - b, "({0} - {1})");
        yield return Op<Func<double, M, M>>("s * M", Kind.Matrix, (s, _) => [Sca, new(s)], (a, b) => a * b, "({0} * {1})");
        yield return Op<Func<M, double, M>>("M * s", Kind.Matrix, (s, _) => [new(s), Sca], (a, b) => a * b, "({0} * {1})");
        yield return Op<Func<M, double, M>>("M / s", Kind.Matrix, (s, _) => [new(s), PositiveScalar], (a, b) => a / b, "({0} / {1})");
        yield return Op<Func<M, M>>("-M", Kind.Matrix, (s, _) => [new(s)], a => -a, "(-{0})");
        yield return Op<Func<M, M, M>>("M * M", Kind.Matrix, (s, r) => { var k = Dim(r); return [Mat(s.Rows, k), Mat(k, s.Columns)]; }, (a, b) => a * b, "({0} * {1})");
        yield return Op<Func<M, M>>("M.Transpose", Kind.Matrix, (s, _) => [Mat(s.Columns, s.Rows)], a => a.Transpose(), "{0}.Transpose()");
        yield return Op<Func<M, M, M>>("M.TransposeAndMultiply", Kind.Matrix, (s, r) => { var k = Dim(r); return [Mat(s.Rows, k), Mat(s.Columns, k)]; }, (a, b) => a.TransposeAndMultiply(b), "{0}.TransposeAndMultiply({1})");
        yield return Op<Func<M, M, M>>("M.TransposeThisAndMultiply", Kind.Matrix, (s, r) => { var k = Dim(r); return [Mat(k, s.Rows), Mat(k, s.Columns)]; }, (a, b) => a.TransposeThisAndMultiply(b), "{0}.TransposeThisAndMultiply({1})");
        yield return Op<Func<V, V, M>>("v.OuterProduct", Kind.Matrix, (s, _) => [Vec(s.Rows), Vec(s.Columns)], (a, b) => a.OuterProduct(b), "{0}.OuterProduct({1})");
        yield return Op<Func<M, M>>("Fn.Softmax(M)", Kind.Matrix, (s, _) => [new(s)], a => Fn.Softmax(a), "Fn.Softmax({0})");

        // vectors
        yield return Op<Func<V, V, V>>("v + v", Kind.Vector, (s, _) => [new(s), new(s)], (a, b) => a + b, "({0} + {1})");
        yield return Op<Func<V, V, V>>("v - v", Kind.Vector, (s, _) => [new(s), new(s)], (a, b) => a - b, "({0} - {1})");
        yield return Op<Func<V, double, V>>("v + s", Kind.Vector, (s, _) => [new(s), Sca], (a, b) => a + b, "({0} + {1})");
        yield return Op<Func<double, V, V>>("s + v", Kind.Vector, (s, _) => [Sca, new(s)], (a, b) => a + b, "({0} + {1})");
        yield return Op<Func<V, double, V>>("v - s", Kind.Vector, (s, _) => [new(s), Sca], (a, b) => a - b, "({0} - {1})");
        yield return Op<Func<double, V, V>>("s - v", Kind.Vector, (s, _) => [Sca, new(s)], (a, b) => a - b, "({0} - {1})");
        yield return Op<Func<double, V, V>>("s * v", Kind.Vector, (s, _) => [Sca, new(s)], (a, b) => a * b, "({0} * {1})");
        yield return Op<Func<V, double, V>>("v * s", Kind.Vector, (s, _) => [new(s), Sca], (a, b) => a * b, "({0} * {1})");
        yield return Op<Func<V, double, V>>("v / s", Kind.Vector, (s, _) => [new(s), PositiveScalar], (a, b) => a / b, "({0} / {1})");
        yield return Op<Func<V, V>>("-v", Kind.Vector, (s, _) => [new(s)], a => -a, "(-{0})");
        yield return Op<Func<M, V, V>>("M * v", Kind.Vector, (s, r) => { var k = Dim(r); return [Mat(s.Rows, k), Vec(k)]; }, (a, b) => a * b, "({0} * {1})");
        yield return Op<Func<V, M, V>>("v * M", Kind.Vector, (s, r) => { var k = Dim(r); return [Vec(k), Mat(k, s.Rows)]; }, (a, b) => a * b, "({0} * {1})");
        yield return Op<Func<M, V, V>>("M.TransposeThisAndMultiply(v)", Kind.Vector, (s, r) => { var k = Dim(r); return [Mat(k, s.Rows), Vec(k)]; }, (a, b) => a.TransposeThisAndMultiply(b), "{0}.TransposeThisAndMultiply({1})");
        yield return Op<Func<M, V>>("M.RowSums", Kind.Vector, (s, r) => [Mat(s.Rows, Dim(r))], a => a.RowSums(), "{0}.RowSums()");
        yield return Op<Func<M, V>>("M.ColumnSums", Kind.Vector, (s, r) => [Mat(Dim(r), s.Rows)], a => a.ColumnSums(), "{0}.ColumnSums()");
        yield return Op<Func<V, V>>("Fn.Softmax(v)", Kind.Vector, (s, _) => [new(s)], a => Fn.Softmax(a), "Fn.Softmax({0})");
        yield return Op<Func<M, V>>("Fn.LogSumExp(M)", Kind.Vector, (s, r) => [Mat(Dim(r), s.Rows)], a => Fn.LogSumExp(a), "Fn.LogSumExp({0})");

        // scalars out of tensors
        yield return Op<Func<V, double>>("v.Sum", Kind.Scalar, (_, r) => [Vec(Dim(r))], a => a.Sum(), "{0}.Sum()");
        // Elements at constant indices: the last one of a vector of at least 2, an inner one of a matrix of at least 2×2.
        yield return Op<Func<V, double>>("v[i]", Kind.Scalar, (_, r) => [Vec(r.Next(2, MaxDimension + 1))], a => a[1], "{0}[1]");
        yield return Op<Func<M, double>>("M[i, j]", Kind.Scalar, (_, r) => [Mat(r.Next(2, MaxDimension + 1), r.Next(2, MaxDimension + 1))], a => a[1, 0] + a.At(0, 1), "({0}[1, 0] + {0}.At(0, 1))");
        yield return Op<Func<V, V, double>>("v.DotProduct", Kind.Scalar, (_, r) => { var n = Dim(r); return [Vec(n), Vec(n)]; }, (a, b) => a.DotProduct(b), "{0}.DotProduct({1})");
        yield return Op<Func<V, V, double>>("v * v", Kind.Scalar, (_, r) => { var n = Dim(r); return [Vec(n), Vec(n)]; }, (a, b) => a * b, "({0} * {1})");
        yield return Op<Func<M, double>>("M.FrobeniusNorm", Kind.Scalar, (_, r) => [Mat(Dim(r), Dim(r))], a => a.FrobeniusNorm(), "{0}.FrobeniusNorm()", new Kink.ZeroTensor());
        yield return Op<Func<V, double>>("v.L2Norm", Kind.Scalar, (_, r) => [Vec(Dim(r))], a => a.L2Norm(), "{0}.L2Norm()", new Kink.ZeroTensor());
        yield return Op<Func<V, double>>("Fn.LogSumExp(v)", Kind.Scalar, (_, r) => [Vec(Dim(r))], a => Fn.LogSumExp(a), "Fn.LogSumExp({0})");
        yield return Op<Func<V, V, double>>("Fn.CrossEntropy(v, t)", Kind.Scalar, (_, r) => { var n = Dim(r); return [Vec(n), Vec(n)]; }, (a, b) => Fn.CrossEntropy(a, b), "Fn.CrossEntropy({0}, {1})");
        yield return Op<Func<M, M, double>>("Fn.CrossEntropy(M, T)", Kind.Scalar, (_, r) => { var (q, n) = (Dim(r), Dim(r)); return [Mat(q, n), Mat(q, n)]; }, (a, b) => Fn.CrossEntropy(a, b), "Fn.CrossEntropy({0}, {1})");
        yield return Op<Func<V, V, double>>("Fn.SquaredError(v, t)", Kind.Scalar, (_, r) => { var n = Dim(r); return [Vec(n), Vec(n)]; }, (a, b) => Fn.SquaredError(a, b), "Fn.SquaredError({0}, {1})");
        yield return Op<Func<M, M, double>>("Fn.SquaredError(M, T)", Kind.Scalar, (_, r) => { var (q, n) = (Dim(r), Dim(r)); return [Mat(q, n), Mat(q, n)]; }, (a, b) => Fn.SquaredError(a, b), "Fn.SquaredError({0}, {1})");

        // scalar arithmetic joining reductions
        yield return Op<Func<double, double, double>>("s + s", Kind.Scalar, (_, _) => [Sca, Sca], (a, b) => a + b, "({0} + {1})");
        yield return Op<Func<double, double, double>>("s * s", Kind.Scalar, (_, _) => [Sca, Sca], (a, b) => a * b, "({0} * {1})");
    }

    /// <summary>Every operation, by name.</summary>
    public static IReadOnlyList<TensorOp> All { get; } = [.. Arithmetic(), .. Pointwise()];

    /// <summary>The wrappers that make any value positive (for log, sqrt, fractional powers and divisors).</summary>
    public static TensorOp PositiveWrapper(Kind kind, Random rng) => kind switch
    {
        Kind.Scalar => rng.Next(2) == 0 ? PositiveScalarSquare : PositiveScalarExp,
        Kind.Vector => ByName(rng.Next(2) == 0 ? "v.PointwiseExp" : "v.Map(t => t * t + 0.5)"),
        _ => ByName(rng.Next(2) == 0 ? "M.PointwiseExp" : "M.Map(t => t * t + 0.5)"),
    };

    private static readonly TensorOp PositiveScalarSquare = Op<Func<double, double>>("s * s + 0.5", Kind.Scalar, (_, _) => [Sca], a => a * a + 0.5, "({0} * {0} + 0.5)");
    private static readonly TensorOp PositiveScalarExp = Op<Func<double, double>>("Math.Exp(s)", Kind.Scalar, (_, _) => [Sca], a => Math.Exp(a), "Math.Exp({0})");

    public static TensorOp ByName(string name) => All.Single(op => op.Name == name);
}

/// <summary>A leaf or operation of a generated expression, with its C#-like display text.</summary>
internal sealed record Node(Expression Expression, string Display, Shape Shape);

/// <summary>A parameter of the generated lambda (its position is its index in <see cref="TensorCase.Parameters"/>).</summary>
internal sealed record Parameter(ParameterExpression Expression, Shape Shape, int ArrayLength = 0)
{
    public bool IsArray => ArrayLength > 0;

    public int Size => IsArray ? ArrayLength : Shape.Size;

    public Type Type => IsArray ? typeof(double[]) : Shape.Type;

    public string Describe() => IsArray ? $"double[{ArrayLength}] {Expression.Name}" : $"{Shape} {Expression.Name}";
}

internal sealed record Captured(string Name, Shape Shape, object Value);

/// <summary>A kink site: the node whose value must keep clear of the kink, and which kink.</summary>
internal sealed record KinkSite(int NodeIndex, Kink Kink, string Operation);

/// <summary>
/// One generated function: <c>(p1, ..., pn) =&gt; body</c> over vector, matrix and scalar parameters, with
/// captured values, built from <see cref="TensorCatalogue"/> with random shapes (1 to 4).
/// </summary>
internal sealed class TensorCase
{
    private const int MaxParameters = 5;

    private readonly Random _rng;
    private readonly List<Parameter> _parameters = [];
    private readonly List<Captured> _captured = [];
    private readonly List<Node> _nodes = [];
    private readonly List<KinkSite> _kinks = [];
    private readonly List<string> _operations = [];

    public int Seed { get; }
    public int Depth { get; }
    public IReadOnlyList<Parameter> Parameters => _parameters;
    public IReadOnlyList<Captured> CapturedValues => _captured;

    /// <summary>Every node of the body, leaves and operations, each evaluated by the probe.</summary>
    public IReadOnlyList<Node> Nodes => _nodes;
    public IReadOnlyList<KinkSite> Kinks => _kinks;

    /// <summary>The catalogue operations in the body, by name (with repeats).</summary>
    public IReadOnlyList<string> Operations => _operations;

    public LambdaExpression Lambda { get; }
    public string Display { get; }

    /// <summary>
    /// What kinds of inputs the case has, beyond its operations: each parameter and captured type, a Map lambda that
    /// closes over a parameter (its gradient flows out of the lambda), a parameter read more than once (adjoints
    /// summed at a fork).
    /// </summary>
    public IEnumerable<string> Features
    {
        get
        {
            foreach (var p in _parameters)
                yield return $"parameter {(p.IsArray ? "double[]" : TypeName(p))}";
            foreach (var c in _captured)
                yield return $"captured {c.Shape.Kind}";
            if (_parameters.Any(p => System.Text.RegularExpressions.Regex.IsMatch(Display, $@"Map\(t => {p.Expression.Name} \*")))
                yield return "Map closing over a parameter";
            if (_parameters.Any(p => _nodes.Count(n => n.Expression == p.Expression) > 1))
                yield return "a parameter read twice";
        }
    }

    /// <summary>Every feature <see cref="Features"/> can report.</summary>
    public static IReadOnlyList<string> AllFeatures { get; } =
    [
        "parameter double", "parameter double[]", "parameter Vector<double>", "parameter Matrix<double>",
        "captured Scalar", "captured Vector", "captured Matrix", "Map closing over a parameter", "a parameter read twice",
    ];

    /// <summary>Generates the case of a seed: the same seed always gives the same function and captured values.</summary>
    public TensorCase(int seed, int depth)
    {
        (Seed, Depth) = (seed, depth);
        for (var attempt = 0; ; attempt++)
        {
            // Not HashCode.Combine: it is salted per process, and a seed must give the same case in every run.
            _rng = new Random(unchecked(seed * 7919 + attempt));
            _parameters.Clear();
            _captured.Clear();
            _nodes.Clear();
            _kinks.Clear();
            _operations.Clear();
            // The top is always an operation of tensors (a reduction to a scalar), never a bare leaf.
            var body = Operation(Shape.Scalar, depth, top: true);
            if (_parameters.Any(p => p.Shape.Kind != Kind.Scalar))
            {
                Lambda = Expression.Lambda(body.Expression, _parameters.Select(p => p.Expression));
                Display = $"({string.Join(", ", _parameters.Select(p => $"{TypeName(p)} {p.Expression.Name}"))}) => {body.Display}";
                return;
            }
        }
    }

    private static string TypeName(Parameter p) => p.IsArray ? "double[]" : p.Shape.Kind switch
    {
        Kind.Scalar => "double",
        Kind.Vector => "Vector<double>",
        _ => "Matrix<double>",
    };

    private Node Generate(Arg arg, int depth)
    {
        if (arg.Domain == Domain.Positive)
        {
            var wrapper = TensorCatalogue.PositiveWrapper(arg.Shape.Kind, _rng);
            return Apply(wrapper, [Generate(new Arg(arg.Shape), Math.Max(0, depth - 1))]);
        }
        if (arg.Domain == Domain.Plain)
            return ScalarLeaf(plain: true);
        // Leaves get likelier as depth runs out; a scalar is more often a leaf, so that tensors carry the structure.
        var leafChance = depth <= 0 ? 1.0 : arg.Shape.Kind == Kind.Scalar ? 0.4 : 0.15;
        return _rng.NextDouble() < leafChance ? Leaf(arg.Shape) : Operation(arg.Shape, depth, top: false);
    }

    private Node Operation(Shape shape, int depth, bool top)
    {
        // Below the top, a scalar is often scalar arithmetic joining two reductions (each operation is otherwise
        // equally likely): the one place where two tensor sub-expressions meet in a plain double.
        var candidates = TensorCatalogue.All.Where(op => op.Output == shape.Kind && !(top && IsScalarArithmetic(op))).ToList();
        while (true)
        {
            var op = shape.Kind == Kind.Scalar && !top && _rng.NextDouble() < 0.3
                ? TensorCatalogue.ByName(_rng.Next(2) == 0 ? "s + s" : "s * s")
                : candidates[_rng.Next(candidates.Count)];
            var args = op.Arguments(shape, _rng);
            if (args is null)
                continue;
            var inputs = args.Select(a => Generate(a, depth - 1)).ToArray();
            var node = Apply(op, inputs);
            if (op.Output != Kind.Scalar && node.Shape != shape)
                throw new InvalidOperationException($"generator: {op.Name} made {node.Shape}, wanted {shape}");
            return node;
        }
    }

    private static bool IsScalarArithmetic(TensorOp op) => op.Name is "s + s" or "s * s";

    private Node Apply(TensorOp op, Node[] inputs)
    {
        var replaced = new Dictionary<ParameterExpression, Expression>();
        for (var i = 0; i < inputs.Length; i++)
            replaced[op.Template.Parameters[i]] = inputs[i].Expression;
        var expression = new Substitute(replaced).Visit(op.Template.Body);
        var display = string.Format(CultureInfo.InvariantCulture, op.Format, inputs.Select(n => (object)n.Display).ToArray());
        _operations.Add(op.Name);
        if (op.Kink is not null)
            _kinks.Add(new KinkSite(_nodes.IndexOf(inputs[0]), op.Kink, op.Name));
        return Add(new Node(expression, display, ShapeOf(expression.Type, inputs, op)));
    }

    // The output shape from the inputs' (only used to cross-check the generator: the probe sees the real shapes).
    private static Shape ShapeOf(Type type, Node[] inputs, TensorOp op)
    {
        if (type == typeof(double))
            return Shape.Scalar;
        var (a, b) = (inputs[0].Shape, inputs.Length > 1 ? inputs[1].Shape : Shape.Scalar);
        return op.Name switch
        {
            "M * M" => Shape.Matrix(a.Rows, b.Columns),
            "M.Transpose" => Shape.Matrix(a.Columns, a.Rows),
            "M.TransposeAndMultiply" => Shape.Matrix(a.Rows, b.Rows),
            "M.TransposeThisAndMultiply" => Shape.Matrix(a.Columns, b.Columns),
            "v.OuterProduct" => Shape.Matrix(a.Rows, b.Rows),
            "M * v" => Shape.Vector(a.Rows),
            "v * M" => Shape.Vector(b.Columns),
            "M.TransposeThisAndMultiply(v)" => Shape.Vector(a.Columns),
            "M.RowSums" => Shape.Vector(a.Rows),
            "M.ColumnSums" or "Fn.LogSumExp(M)" => Shape.Vector(a.Columns),
            _ => inputs.First(n => n.Shape.Kind != Kind.Scalar).Shape,
        };
    }

    private Node Add(Node node)
    {
        _nodes.Add(node);
        return node;
    }

    private Node Leaf(Shape shape)
    {
        if (shape.Kind == Kind.Scalar)
            return ScalarLeaf(plain: false);
        var existing = _parameters.Where(p => p.Shape == shape && !p.IsArray).ToList();
        var roll = _rng.NextDouble();
        if (existing.Count > 0 && roll < 0.3)
            return ParameterLeaf(existing[_rng.Next(existing.Count)]);
        if (_parameters.Count < MaxParameters && roll < 0.8)
            return ParameterLeaf(NewParameter(shape, shape.Kind == Kind.Vector ? "v" : "W"));
        return CapturedLeaf(shape);
    }

    private Node ScalarLeaf(bool plain)
    {
        var roll = _rng.Next(plain ? 2 : 4);
        var scalars = _parameters.Where(p => p.Shape.Kind == Kind.Scalar && !p.IsArray).ToList();
        switch (roll)
        {
            case 0 when scalars.Count > 0 || _parameters.Count < MaxParameters:
                return ParameterLeaf(scalars.Count > 0 && (_parameters.Count >= MaxParameters || _rng.Next(2) == 0)
                    ? scalars[_rng.Next(scalars.Count)]
                    : NewParameter(Shape.Scalar, "s"));
            case 2 when _parameters.Count < MaxParameters || _parameters.Any(p => p.IsArray):
            {
                var array = _parameters.FirstOrDefault(p => p.IsArray) ?? NewParameter(Shape.Scalar, "a", _rng.Next(1, 4));
                var k = _rng.Next(array.ArrayLength);
                return Add(new Node(Expression.ArrayIndex(array.Expression, Expression.Constant(k)), $"{array.Expression.Name}[{k}]", Shape.Scalar));
            }
            case 3:
            {
                var c = Math.Round(3 * _rng.NextDouble() - 1.5, 2);
                return Add(new Node(Expression.Constant(c), c.ToString("R", CultureInfo.InvariantCulture), Shape.Scalar));
            }
            default:
                return CapturedLeaf(Shape.Scalar);
        }
    }

    private Parameter NewParameter(Shape shape, string prefix, int arrayLength = 0)
    {
        var type = arrayLength > 0 ? typeof(double[]) : shape.Type;
        var p = new Parameter(Expression.Parameter(type, $"{prefix}{_parameters.Count}"), shape, arrayLength);
        _parameters.Add(p);
        return p;
    }

    private Node ParameterLeaf(Parameter p) => Add(new Node(p.Expression, p.Expression.Name!, p.Shape));

    // A value in a closure object, and the generated lambda's read of it, as a C# closure reads a captured variable.
    private static (object Value, Expression Read) Capture<T>(T value) where T : notnull =>
        (value, Expression.Field(Expression.Constant(new CapturedBox<T> { Value = value }), nameof(CapturedBox<T>.Value)));

    // Captured values are drawn here, from the case's own seed, in the same range as the parameters.
    private Node CapturedLeaf(Shape shape)
    {
        var name = $"c{_captured.Count}";
        var (value, read) = shape.Kind switch
        {
            Kind.Scalar => Capture(Values.Draw(_rng)),
            Kind.Vector => Capture(V.Build.Dense(shape.Rows, _ => Values.Draw(_rng))),
            _ => Capture(M.Build.Dense(shape.Rows, shape.Columns, (_, _) => Values.Draw(_rng))),
        };
        _captured.Add(new Captured(name, shape, value));
        return Add(new Node(read, name, shape));
    }

    /// <summary>The point as the lambda's arguments, from a flat array in parameter order (matrices column-major).</summary>
    public object[] Arguments(ReadOnlySpan<double> flat)
    {
        var args = new object[_parameters.Count];
        var offset = 0;
        for (var i = 0; i < args.Length; i++)
        {
            var p = _parameters[i];
            var slice = flat.Slice(offset, p.Size).ToArray();
            args[i] = p.IsArray ? slice : p.Shape.Kind switch
            {
                Kind.Scalar => slice[0],
                Kind.Vector => V.Build.Dense(slice),
                _ => M.Build.DenseOfColumnMajor(p.Shape.Rows, p.Shape.Columns, slice),
            };
            offset += p.Size;
        }
        return args;
    }

    public int Dimension => _parameters.Sum(p => p.Size);

    /// <summary>The flat name of element k: <c>W0[1,2]</c>, <c>v1[3]</c>, <c>s2</c>, <c>a3[0]</c>.</summary>
    public string ElementName(int k)
    {
        foreach (var p in _parameters)
        {
            if (k < p.Size)
            {
                var name = p.Expression.Name;
                return p.IsArray || p.Shape.Kind == Kind.Vector ? $"{name}[{k}]"
                    : p.Shape.Kind == Kind.Scalar ? name!
                    : $"{name}[{k % p.Shape.Rows},{k / p.Shape.Rows}]";
            }
            k -= p.Size;
        }
        throw new ArgumentOutOfRangeException(nameof(k));
    }

    /// <summary>Parameters and captured values with their shapes and (for captured ones) values.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"  parameters: {string.Join(", ", _parameters.Select(p => p.Describe()))}");
        foreach (var c in _captured)
            sb.AppendLine($"  captured {c.Name} ({c.Shape}) = {Values.Format(c.Value)}");
        return sb.ToString();
    }

    public override string ToString() => $"case {Seed} (depth {Depth}): {Display}";

    private sealed class Substitute(Dictionary<ParameterExpression, Expression> map) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node) => map.TryGetValue(node, out var e) ? e : node;
    }
}

/// <summary>Random values for points and captured values, and their display.</summary>
internal static class Values
{
    public const double Range = 1.5;

    public static double Draw(Random rng) => Range * (2 * rng.NextDouble() - 1);

    public static string Format(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        double[] a => $"[{string.Join(", ", a.Select(x => x.ToString("R", CultureInfo.InvariantCulture)))}]",
        V v => $"[{string.Join(", ", v.Select(x => x.ToString("R", CultureInfo.InvariantCulture)))}]",
        M m => $"[{string.Join("; ", Enumerable.Range(0, m.RowCount).Select(i => string.Join(", ", m.Row(i).Select(x => x.ToString("R", CultureInfo.InvariantCulture)))))}]",
        _ => value.ToString() ?? "null",
    };
}
