using MathNet.Numerics;

namespace ExprGrad.Tests.Rules;

/// <summary>
/// MathNet's special functions in Grad.Of: worked derivatives with exact numbers, a log-likelihood checked against
/// differences, formulas, LaTeX, staged code, traces, and the trigamma function against known values.
/// </summary>
public sealed class SpecialFunctionTests
{
    // The Euler–Mascheroni constant: ψ(1) = −γ.
    private const double EulerGamma = 0.57721566490153286;

    [Fact]
    public void Erf_and_erfc_at_half()
    {
        // erf′(x) = 2/√π·e^(−x²): at 0.5, 2/√π·e^(−1/4) = 0.87878257893544...; erfc′ = −erf′.
        var slope = 2 / Math.Sqrt(Math.PI) * Math.Exp(-0.25);
        Assert.Equal(slope, Grad.Of((double x) => SpecialFunctions.Erf(x)).Evaluate(0.5).D1, 15);
        Assert.Equal(-slope, Grad.Of((double x) => SpecialFunctions.Erfc(x)).Evaluate(0.5).D1, 15);
    }

    [Fact]
    public void Gamma_GammaLn_and_DiGamma_at_one()
    {
        // Γ(1) = 1, Γ′(1) = Γ(1)ψ(1) = −γ; (ln Γ)′(1) = ψ(1) = −γ; ψ′(1) = π²/6.
        var gamma = Grad.Of((double x) => SpecialFunctions.Gamma(x)).Evaluate(1);
        Assert.Equal(1, gamma.Value, 14);
        Assert.Equal(-EulerGamma, gamma.D1, 14);
        Assert.Equal(-EulerGamma, Grad.Of((double x) => SpecialFunctions.GammaLn(x)).Evaluate(1).D1, 14);
        Assert.Equal(Math.PI * Math.PI / 6, Grad.Of((double x) => SpecialFunctions.DiGamma(x)).Evaluate(1).D1, 14);
    }

    [Fact]
    public void Beta_and_BetaLn_at_2_3()
    {
        // B(2, 3) = 1/12; ψ(2) − ψ(5) = 1 − (1 + 1/2 + 1/3 + 1/4) = −13/12, ψ(3) − ψ(5) = −7/12:
        // ∂B/∂a = −13/144, ∂B/∂b = −7/144; ∂lnB/∂a = −13/12, ∂lnB/∂b = −7/12.
        var (value, da, db) = Grad.Of((double a, double b) => SpecialFunctions.Beta(a, b)).Evaluate(2, 3);
        Assert.Equal(1.0 / 12, value, 15);
        Assert.Equal(-13.0 / 144, da, 14);
        Assert.Equal(-7.0 / 144, db, 14);
        var (_, la, lb) = Grad.Of((double a, double b) => SpecialFunctions.BetaLn(a, b)).Evaluate(2, 3);
        Assert.Equal(-13.0 / 12, la, 14);
        Assert.Equal(-7.0 / 12, lb, 14);
    }

    [Fact]
    public void Logistic_and_logit()
    {
        // logistic′(0) = s(1 − s) = 1/4; logit′(1/4) = 1/(¼·¾) = 16/3; logit(logistic(x)) = x has slope 1.
        Assert.Equal(0.25, Grad.Of((double x) => SpecialFunctions.Logistic(x)).Evaluate(0).D1, 15);
        Assert.Equal(16.0 / 3, Grad.Of((double x) => SpecialFunctions.Logit(x)).Evaluate(0.25).D1, 14);
        Assert.Equal(1, Grad.Of((double x) => SpecialFunctions.Logit(SpecialFunctions.Logistic(x))).Evaluate(0.7).D1, 12);
    }

    [Fact]
    public void Gamma_distribution_log_likelihood_passes_GradCheck()
    {
        // −log L(k, θ) of a Gamma(shape k, scale θ) sample: Σ lnΓ(k) + k ln θ − (k − 1) ln x + x/θ.
        double[] data = [0.8, 1.9, 3.1, 0.4, 2.2];
        var g = Grad.Of((double k, double theta) =>
            data.Sum(x => SpecialFunctions.GammaLn(k) + k * Math.Log(theta) - (k - 1) * Math.Log(x) + x / theta));
        foreach (var point in new[] { new[] { 1.5, 1.2 }, [3.0, 0.6], [0.7, 2.5] })
        {
            var report = GradCheck.Check(g, point);
            Assert.True(report.Passed, report.ToString());
        }
    }

    [Fact]
    public void Beta_binomial_style_terms_pass_GradCheck()
    {
        var g = Grad.Of((double a, double b) => SpecialFunctions.BetaLn(a + 3, b + 2) - SpecialFunctions.BetaLn(a, b)
            + SpecialFunctions.Erf(a - b) * SpecialFunctions.Beta(a, b) + SpecialFunctions.DiGamma(a * b));
        foreach (var point in new[] { new[] { 1.5, 1.2 }, [3.0, 0.6], [0.7, 2.5] })
        {
            var report = GradCheck.Check(g, point);
            Assert.True(report.Passed, report.ToString());
        }
    }

    [Fact]
    public void Formulas_name_the_functions()
    {
        Assert.Equal("∂f/∂x = 2*exp(-x^2)/sqrt(pi)", Grad.Of((double x) => SpecialFunctions.Erf(x)).ToString());
        Assert.Equal("∂f/∂x = gamma(x)*digamma(x)", Grad.Of((double x) => SpecialFunctions.Gamma(x)).ToString());
        Assert.Equal("∂f/∂x = trigamma(x)", Grad.Of((double x) => SpecialFunctions.DiGamma(x)).ToString());
        Assert.Equal(["∂f/∂a = digamma(a) - digamma(a + b)", "∂f/∂b = digamma(b) - digamma(a + b)"],
            Grad.Of((double a, double b) => SpecialFunctions.BetaLn(a, b)).ToString().Split('\n'));
    }

    [Fact]
    public void Latex_uses_the_usual_symbols()
    {
        Assert.Equal(@"\frac{\partial f}{\partial x} = \Gamma\left(x\right) \psi\left(x\right)",
            Grad.Of((double x) => SpecialFunctions.Gamma(x)).Formulas[0].ToLatex());
        Assert.Equal(@"\frac{\partial f}{\partial x} = \psi^{(1)}\left(x\right)",
            Grad.Of((double x) => SpecialFunctions.DiGamma(x)).Formulas[0].ToLatex());
        Assert.Contains(@"\operatorname{erf}\left(x\right)", Grad.Of((double x) => x * SpecialFunctions.Erf(x)).Formulas[0].ToLatex(), StringComparison.Ordinal);
    }

    [Fact]
    public void ToCode_calls_MathNet_and_the_trace_labels_the_gates()
    {
        var g = Grad.Of((double x) => SpecialFunctions.GammaLn(x));
        var code = g.ToCode();
        Assert.Contains("SpecialFunctions.GammaLn(x)", code, StringComparison.Ordinal);
        Assert.Contains("SpecialFunctions.DiGamma(x)", code, StringComparison.Ordinal);
        var t = g.Trace(1);
        var gate = Assert.Single(t.Nodes, n => n.Label == "lnΓ");
        Assert.Equal(0, gate.Value, 15);
        Assert.Equal(-EulerGamma, t.Gradient[0], 14);
    }

    [Theory]
    [InlineData(1.0, 1.6449340668482264)]           // π²/6
    [InlineData(0.5, 4.934802200544679)]            // π²/2
    [InlineData(1.5, 0.9348022005446793)]           // π²/2 − 4
    [InlineData(-0.5, 8.934802200544679)]           // π²/2 + 4 (reflection)
    [InlineData(30.0, 0.03389506035773994)]         // asymptotic range directly (mpmath: 0.03389506035773994421)
    public void TriGamma_known_values(double x, double expected) =>
        Assert.Equal(expected, Fn.TriGamma(x), 13);

    [Fact]
    public void TriGamma_at_poles_and_NaN()
    {
        Assert.Equal(double.PositiveInfinity, Fn.TriGamma(0));
        Assert.Equal(double.PositiveInfinity, Fn.TriGamma(-3));
        Assert.True(double.IsNaN(Fn.TriGamma(double.NaN)));
    }

    [Theory]
    [InlineData(1.0, -2.4041138063191885)]          // −2ζ(3)
    [InlineData(0.5, -16.828796644234320)]          // −14ζ(3)
    [InlineData(2.0, -0.40411380631918857)]         // −2ζ(3) + 2
    [InlineData(-0.5, -0.8287966442343199)]         // −14ζ(3) + 16 (reflection)
    public void TetraGamma_known_values(double x, double expected) =>
        Assert.Equal(expected, Fn.TetraGamma(x), 12);

    [Fact]
    public void TetraGamma_at_poles_and_NaN()
    {
        Assert.True(double.IsNaN(Fn.TetraGamma(0)));
        Assert.True(double.IsNaN(Fn.TetraGamma(-3)));
        Assert.True(double.IsNaN(Fn.TetraGamma(double.NaN)));
    }

    [Fact]
    public void TetraGamma_is_the_slope_of_TriGamma()
    {
        foreach (var x in new[] { 0.3, 2.7, 11.9, 12.1, 57.0, -1.4 })
        {
            var numeric = GradCheck.Numeric(p => Fn.TriGamma(p[0]), [x])[0];
            Assert.True(Math.Abs(numeric - Fn.TetraGamma(x)) <= 1e-6 * Math.Max(1, Math.Abs(numeric)), $"ψ″({x}) = {Fn.TetraGamma(x):R}, differences {numeric:R}");
        }
    }

    [Fact]
    public void TriGamma_is_the_slope_of_DiGamma()
    {
        // Central differences of MathNet's DiGamma agree with TriGamma across the range the recurrence and series split.
        foreach (var x in new[] { 0.3, 2.7, 11.9, 12.1, 57.0, -1.4 })
        {
            var numeric = GradCheck.Numeric(p => SpecialFunctions.DiGamma(p[0]), [x])[0];
            Assert.Equal(numeric, Fn.TriGamma(x), 6);
        }
    }
}
