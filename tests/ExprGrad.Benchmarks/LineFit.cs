using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

// A least-squares line through eight points held as data: the parameters are the slope and the intercept, the points
// are captured (a closure for Grad.Of, static fields for the generated method), read live and never differentiated.
[NoisyBoxJob, MemoryDiagnoser]
public partial class LineFit
{
    public static readonly double[] X = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0];
    public static readonly double[] Y = [1.1, 1.9, 3.2, 3.9, 5.1, 6.2, 6.8, 8.1];

    private Gradient<double, double> _g = null!;
    private double _a = 1.5, _b = 0.25;
    private readonly double[] _point = [1.5, 0.25];
    private readonly double[] _gradient = new double[2];

    [Differentiable]
    public static double Loss(double a, double b) =>
        Fn.Square(a * X[0] + b - Y[0]) + Fn.Square(a * X[1] + b - Y[1]) + Fn.Square(a * X[2] + b - Y[2]) +
        Fn.Square(a * X[3] + b - Y[3]) + Fn.Square(a * X[4] + b - Y[4]) + Fn.Square(a * X[5] + b - Y[5]) +
        Fn.Square(a * X[6] + b - Y[6]) + Fn.Square(a * X[7] + b - Y[7]);

    // The seeds' style: the residuals forward, then 2·r back to a and b, summed over the points.
    public static double HandGrad(double a, double b, Span<double> gradient)
    {
        double loss = 0, da = 0, db = 0;
        for (var i = 0; i < X.Length; i++)
        {
            var r = a * X[i] + b - Y[i];
            loss += r * r;
            var dr = 2 * r;
            da += dr * X[i];
            db += dr;
        }
        gradient[0] = da;
        gradient[1] = db;
        return loss;
    }

    [GlobalSetup]
    public void Setup()
    {
        var (x, y) = (X, Y);
        _g = Grad.Of((double a, double b) =>
            Fn.Square(a * x[0] + b - y[0]) + Fn.Square(a * x[1] + b - y[1]) + Fn.Square(a * x[2] + b - y[2]) +
            Fn.Square(a * x[3] + b - y[3]) + Fn.Square(a * x[4] + b - y[4]) + Fn.Square(a * x[5] + b - y[5]) +
            Fn.Square(a * x[6] + b - y[6]) + Fn.Square(a * x[7] + b - y[7]));
        var expected = new double[2];
        var value = HandGrad(_a, _b, expected);
        Check.Close("primal", value, Loss(_a, _b));
        var g = new double[2];
        Check.Close("span", [value, .. expected], [_g.Evaluate(_point, g), .. g]);
        Check.Close("generated", [value, .. expected], [LossWithGradient(_a, _b, out g[0], out g[1]), .. g]);
    }

    [Benchmark]
    public double Primal() => Loss(_a, _b);

    [Benchmark(Baseline = true)]
    public double HandWritten() => HandGrad(_a, _b, _gradient);

    [Benchmark]
    public double ExprGradSpan() => _g.Evaluate(_point, _gradient);

    [Benchmark]
    public double ExprGradGenerated() => LossWithGradient(_a, _b, out _gradient[0], out _gradient[1]);
}
