using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Double;
using MathNet.Numerics.LinearAlgebra.Storage;
using MathNet.Numerics.Optimization;

namespace ExprGrad.Optimization;

/// <summary>
/// A <see cref="Gradient"/> as MathNet's <see cref="IObjectiveFunction"/>: one span call per <see cref="EvaluateAt"/>,
/// writing the gradient into a vector this object owns. The Hessian, if the caller gave one, is computed on first read
/// after each evaluation (only Newton's method reads it; line searches never do).
/// </summary>
/// <remarks>
/// Invariant: <see cref="Gradient"/> is this object's own vector, overwritten by its next <see cref="EvaluateAt"/>.
/// MathNet's minimizers keep an evaluation they need by <see cref="CreateNew"/> (each line search evaluates a new
/// object) or <see cref="Fork"/> (which copies the gradient), never by holding the vector across a re-evaluation of
/// the same object, so each evaluation allocates nothing beyond what the caller's point costs.
/// </remarks>
internal sealed class GradientObjectiveFunction(Gradient gradient, Func<Vector<double>, Matrix<double>>? hessian) : IObjectiveFunction
{
    private Vector<double>? _point;
    private double _value;
    private DenseVector? _gradient;
    private Matrix<double>? _hessian;
    // A point not stored as a dense array is copied here for the span call.
    private double[]? _scratch;

    public Vector<double> Point => _point ?? throw NotEvaluated();

    public double Value => _point is null ? throw NotEvaluated() : _value;

    public bool IsGradientSupported => true;

    public Vector<double> Gradient => _point is null ? throw NotEvaluated() : _gradient!;

    public bool IsHessianSupported => hessian is not null;

    public Matrix<double> Hessian
    {
        get
        {
            if (hessian is null)
                throw new NotSupportedException("this objective function has no Hessian: pass one to ToObjectiveFunction(hessian) for NewtonMinimizer");
            var point = Point;
            if (_hessian is null)
            {
                var h = hessian(point) ?? throw new InvalidOperationException("the Hessian function returned null");
                if (h.RowCount != point.Count || h.ColumnCount != point.Count)
                    throw new InvalidOperationException($"the Hessian function returned a {h.RowCount} × {h.ColumnCount} matrix at a point of {point.Count} values");
                _hessian = h;
            }
            return _hessian;
        }
    }

    public void EvaluateAt(Vector<double> point)
    {
        ArgumentNullException.ThrowIfNull(point);
        var n = point.Count;
        if (n != gradient.Dimension && !(gradient.HasVariableLength && n > gradient.Dimension))
            throw new ArgumentException($"the point has {n} values but the function takes {(gradient.HasVariableLength ? "at least " : "")}{gradient.Dimension}", nameof(point));

        double[] x;
        if (point.Storage is DenseVectorStorage<double> dense)
            x = dense.Data;
        else
        {
            x = _scratch is { } s && s.Length == n ? s : _scratch = new double[n];
            point.CopyTo(Vector<double>.Build.Dense(x));
        }
        if (_gradient is null || _gradient.Count != n)
            _gradient = new DenseVector(n);
        _value = gradient.Evaluate(x.AsSpan(0, n), _gradient.Values);
        _point = point;
        _hessian = null;
    }

    public IObjectiveFunction CreateNew() => new GradientObjectiveFunction(gradient, hessian);

    public IObjectiveFunction Fork()
    {
        var copy = new GradientObjectiveFunction(gradient, hessian);
        if (_point is not null)
        {
            copy._point = _point;
            copy._value = _value;
            copy._gradient = (DenseVector)_gradient!.Clone();
            copy._hessian = _hessian;
        }
        return copy;
    }

    private static InvalidOperationException NotEvaluated() =>
        new("the objective function has not been evaluated: call EvaluateAt(point) first");
}
