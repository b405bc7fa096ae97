using BenchmarkDotNet.Attributes;
using ExprGrad.Benchmarks.Infrastructure;

namespace ExprGrad.Benchmarks;

// Issue 15's figure: a user's method with a registered derivative rule against the same function written with
// built-in operations, both through Grad.Of's span API. The function is the perimeter of the triangle (0, 0), (x, y),
// (z, w): √(x² + y²) + √(z² + w²) + √((x − z)² + (y − w)²), three calls of Hypot(a, b) = √(a² + b²).
//
// The rules reuse the forward value: the Hypot(a, b) inside a partial is the forward stage itself (hash-consed), so
// no square root is computed twice. CustomRuleCall's partials are a·(1/h) and b·(1/h): the reciprocal is one shared
// stage, so each side costs one square root and one division, as in the built-in form's sweep (1/(2h), then
// products). CustomRuleTwoDivisions writes a/h and b/h, two divisions per side: the same rule written naturally,
// measured to show what the extra division costs.
[NoisyBoxJob, MemoryDiagnoser]
public class CustomRule
{
    /// <summary>√(a² + b²), with the rule a·(1/h), b·(1/h).</summary>
    public static double Hypot(double a, double b) => Math.Sqrt(a * a + b * b);

    /// <summary>√(a² + b²), with the rule a/h, b/h.</summary>
    public static double HypotDivided(double a, double b) => Math.Sqrt(a * a + b * b);

    private Gradient<double, double, double, double> _builtIn = null!, _custom = null!, _divided = null!;
    private readonly double[] _point = [3, 4, -1, 2.5];
    private readonly double[] _gradient = new double[4];

    public static double Perimeter(double x, double y, double z, double w) => Hypot(x, y) + Hypot(z, w) + Hypot(x - z, y - w);

    [GlobalSetup]
    public void Setup()
    {
        if (!DerivativeRules.HasRule(typeof(CustomRule).GetMethod(nameof(Hypot))!))
        {
            DerivativeRules.Register((double a, double b) => Hypot(a, b), (a, b) => a * (1 / Hypot(a, b)), (a, b) => b * (1 / Hypot(a, b)));
            DerivativeRules.Register((double a, double b) => HypotDivided(a, b), (a, b) => a / HypotDivided(a, b), (a, b) => b / HypotDivided(a, b));
        }
        _builtIn = Grad.Of((double x, double y, double z, double w) =>
            Math.Sqrt(x * x + y * y) + Math.Sqrt(z * z + w * w) + Math.Sqrt((x - z) * (x - z) + (y - w) * (y - w)));
        _custom = Grad.Of((double x, double y, double z, double w) => Hypot(x, y) + Hypot(z, w) + Hypot(x - z, y - w));
        _divided = Grad.Of((double x, double y, double z, double w) => HypotDivided(x, y) + HypotDivided(z, w) + HypotDivided(x - z, y - w));
        var expected = new double[4];
        var value = _builtIn.Evaluate(_point, expected);
        Check.Close("primal", value, Perimeter(3, 4, -1, 2.5));
        var g = new double[4];
        Check.Close("custom", [value, .. expected], [_custom.Evaluate(_point, g), .. g]);
        Check.Close("divided", [value, .. expected], [_divided.Evaluate(_point, g), .. g]);
    }

    [Benchmark]
    public double Primal() => Perimeter(_point[0], _point[1], _point[2], _point[3]);

    [Benchmark(Baseline = true)]
    public double BuiltIn() => _builtIn.Evaluate(_point, _gradient);

    [Benchmark]
    public double CustomRuleCall() => _custom.Evaluate(_point, _gradient);

    [Benchmark]
    public double CustomRuleTwoDivisions() => _divided.Evaluate(_point, _gradient);
}
