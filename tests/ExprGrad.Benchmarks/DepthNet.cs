using System.Linq.Expressions;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

// The depth-m one-dimensional net, the seed yhat = f(f(x*w1)*w2)*w3 grown to m weights:
//   o = x;  o = σ(o * w[k]) for k = 0 .. m-2;  yhat = o * w[m-1];  loss = 0.5 * (y - yhat) * (y - yhat)
// with the data point (x, y) = (0.7, 0.3) and the weights w[0 .. m-1] as the one double[] parameter.
[NoisyBoxJob, MemoryDiagnoser]
public class DepthNet
{
    // The data, read by every version from these fields. The ExprGrad lambda reads them the way a C# closure
    // reads a captured variable, as a field of a constant object (Expression.Field(Expression.Constant(this),
    // ...)), so they are live reads on every call, not constants folded into the compiled gradient.
    private double _x = 0.7;
    private double _y = 0.3;

    private double[] _w = [];
    private double[] _o = [];
    private double[] _gradient = [];
    private Gradient<double[]> _g = null!;

    [Params(10, 50, 200)]
    public int M { get; set; }

    public static double Loss(double[] w, double x, double y)
    {
        var m = w.Length;
        var o = x;
        for (var k = 0; k < m - 1; k++)
            o = Fn.Sigmoid(o * w[k]);
        var r = y - o * w[m - 1];
        return 0.5 * r * r;
    }

    // o is caller-owned scratch of length m (the cached layer outputs), reused across calls.
    public static double HandGrad(double[] w, double x, double y, double[] o, Span<double> gradient)
    {
        var m = w.Length;

        // forward, caching every layer's output: o[k+1] = σ(o[k] * w[k])
        o[0] = x;
        for (var k = 0; k < m - 1; k++)
            o[k + 1] = Fn.Sigmoid(o[k] * w[k]);
        var yhat = o[m - 1] * w[m - 1];
        var r = y - yhat;
        var loss = 0.5 * r * r;

        // backward: d is the derivative of the loss with respect to the value being back-propagated through
        var d = -r;                      // d loss / d yhat
        gradient[m - 1] = o[m - 1] * d;  // yhat = o[m-1] * w[m-1]
        d *= w[m - 1];                   // d loss / d o[m-1]
        for (var k = m - 2; k >= 0; k--)
        {
            var s = o[k + 1];
            d *= s * (1 - s);            // through o[k+1] = σ(h): σ' = σ(1 - σ)
            gradient[k] = o[k] * d;      // h = o[k] * w[k]
            d *= w[k];                   // d loss / d o[k]
        }

        return loss;
    }

    // Built with Expression factories: a C# lambda cannot loop. yhat, and y - yhat, are built once and the same
    // node is used twice in 0.5 * (y - yhat) * (y - yhat), as a factory-built tree naturally would.
    public Expression<Func<double[], double>> Lambda(int m)
    {
        var sigmoid = typeof(Fn).GetMethod(nameof(Fn.Sigmoid))!;
        var self = Expression.Constant(this);
        var x = Expression.Field(self, Field(nameof(_x)));
        var y = Expression.Field(self, Field(nameof(_y)));
        var w = Expression.Parameter(typeof(double[]), "w");

        Expression o = x;
        for (var k = 0; k < m - 1; k++)
            o = Expression.Call(sigmoid, Expression.Multiply(o, Expression.ArrayIndex(w, Expression.Constant(k))));
        var yhat = Expression.Multiply(o, Expression.ArrayIndex(w, Expression.Constant(m - 1)));
        var r = Expression.Subtract(y, yhat);
        var loss = Expression.Multiply(Expression.Multiply(Expression.Constant(0.5), r), r);
        return Expression.Lambda<Func<double[], double>>(loss, w);

        static FieldInfo Field(string name) =>
            typeof(DepthNet).GetField(name, BindingFlags.Instance | BindingFlags.NonPublic)!;
    }

    [GlobalSetup]
    public void Setup()
    {
        // Weights in [0.5, 1.5]: the early-layer gradients shrink like (w σ')^k but stay far from subnormal
        // (~1e-120 at m = 200 at worst), so no version pays for denormal arithmetic.
        _w = new double[M];
        for (var k = 0; k < M; k++)
            _w[k] = 1.0 + 0.5 * Math.Cos(k);
        _o = new double[M];
        _gradient = new double[M];
        _g = Grad.Of(Lambda(M));

        var expected = new double[M];
        var value = HandGrad(_w, _x, _y, _o, expected);
        Check.Close("primal", value, Loss(_w, _x, _y));
        Check.ArrayGradient(_g, _w, value, expected);
        Console.WriteLine($"// DepthNet m={M}: {_g.StageCount} stages, loss {value:R}, dw[0] {expected[0]:R}");
    }

    [Benchmark]
    public double Primal() => Loss(_w, _x, _y);

    [Benchmark(Baseline = true)]
    public double HandWritten() => HandGrad(_w, _x, _y, _o, _gradient);

    [Benchmark]
    public ValueAndGradient<double[]> ExprGradTyped() => _g.Evaluate(_w);

    [Benchmark]
    public double ExprGradSpan() => _g.Evaluate(_w, _gradient);
}
