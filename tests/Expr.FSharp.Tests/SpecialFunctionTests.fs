module ExprGrad.Symbolic.Tests.SpecialFunctionTests

open System
open System.Linq.Expressions
open Xunit
open MathNet.Numerics
open ExprGrad
open ExprGrad.Symbolic

let private x = Formula.symbol "x"
let private y = Formula.symbol "y"
let private f g (args: Formula list) = Formula.apply g args

let private both (expectedInfix: string) (expectedLatex: string) (formula: Formula) =
    Assert.Equal(expectedInfix, Infix.format formula)
    Assert.Equal(expectedLatex, Latex.format formula)

/// A user's method with a derivative rule, as the symbolic module sees it: any static double method.
type UserMethods =
    static member LogCosh(v: float) : float = Math.Log(Math.Cosh v)

[<Fact>]
let ``Special functions print by name in infix and with the usual symbols in LaTeX`` () =
    both "erf(x)" @"\operatorname{erf}\left(x\right)" (f Function.Erf [ x ])
    both "erfc(x)" @"\operatorname{erfc}\left(x\right)" (f Function.Erfc [ x ])
    both "gamma(x)" @"\Gamma\left(x\right)" (f Function.Gamma [ x ])
    both "gammaln(x)" @"\ln\Gamma\left(x\right)" (f Function.GammaLn [ x ])
    both "digamma(x)" @"\psi\left(x\right)" (f Function.DiGamma [ x ])
    both "trigamma(x)" @"\psi^{(1)}\left(x\right)" (f Function.TriGamma [ x ])
    both "tetragamma(x)" @"\psi^{(2)}\left(x\right)" (f Function.TetraGamma [ x ])
    both "step(x)" @"H\left(x\right)" (f Function.Step [ x ])
    both "beta(x, y)" @"\mathrm{B}\left(x, y\right)" (f Function.Beta [ x; y ])
    both "betaln(x, y)" @"\ln\mathrm{B}\left(x, y\right)" (f Function.BetaLn [ x; y ])
    both "logit(x)" @"\operatorname{logit}\left(x\right)" (f Function.Logit [ x ])

[<Fact>]
let ``On numbers they evaluate with MathNet, and trigamma(1) is pi^2/6`` () =
    Assert.Equal(SpecialFunctions.Erf 0.5, Function.evaluate Function.Erf [| 0.5 |])
    Assert.Equal(SpecialFunctions.BetaLn(2.0, 3.0), Function.evaluate Function.BetaLn [| 2.0; 3.0 |])
    Assert.Equal(Math.PI * Math.PI / 6.0, Polygamma.TriGamma 1.0, 14)
    Assert.Equal(Math.PI * Math.PI / 6.0, Function.evaluate Function.TriGamma [| 1.0 |], 14)
    Assert.Equal(-2.4041138063191885, Function.evaluate Function.TetraGamma [| 1.0 |], 14)
    Assert.Equal(0.5, Function.evaluate Function.Step [| 0.0 |])
    Assert.Equal(1.0, Function.evaluate Function.Step [| 3.0 |])

[<Fact>]
let ``Formula text names them: erf, gammaln and their aliases lgamma, psi, logistic`` () =
    let parsed = Parse.lambda ParseTests.library "erf(x) + lgamma(y) + psi(x) + logistic(y)"
    let g = Grad.Of(parsed)
    let gradient = Array.zeroCreate 2
    g.Evaluate(ReadOnlySpan [| 0.5; 1.0 |], Span gradient) |> ignore
    // ∂/∂x = erf′(0.5) + ψ′(0.5) = 2/√π·e^(−1/4) + π²/2; ∂/∂y = ψ(1) + σ(1)(1 − σ(1)).
    Assert.Equal(2.0 / sqrt Math.PI * exp -0.25 + Math.PI * Math.PI / 2.0, gradient[0], 12)
    let s = 1.0 / (1.0 + exp -1.0)
    Assert.Equal(-0.57721566490153286 + s * (1.0 - s), gradient[1], 12)

[<Fact>]
let ``A user's static method becomes a function shown by its name, computed by the method`` () =
    let m = typeof<UserMethods>.GetMethod "LogCosh" |> Option.ofObj |> Option.get
    let v = Expression.Parameter(typeof<double>, "v")
    let formula = Linq.ofLinq ParseTests.library (Expression.Call(m, v))
    both "LogCosh(v)" @"\operatorname{LogCosh}\left(v\right)" formula
    match formula with
    | Apply(Function.User u, _) ->
        Assert.Same(m, u.Method)
        Assert.Equal(Math.Log(Math.Cosh 0.7), Function.evaluate (Function.User u) [| 0.7 |])
    | other -> failwith $"not a user function: {other}"
