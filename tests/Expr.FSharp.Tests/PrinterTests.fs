module ExprGrad.Symbolic.Tests.PrinterTests

open System
open System.Numerics
open Xunit
open ExprGrad.Symbolic

let private x = Formula.symbol "x"
let private y = Formula.symbol "y"
let private z = Formula.symbol "z"
let private n (k: int) = Formula.ofInt k
let private q (a: int) (b: int) = Formula.number (Rational.create (BigInteger a) (BigInteger b))
let private f g (a: Formula) = Formula.apply g [ a ]
let private ( + ) a b = Formula.add a b
let private ( - ) a b = Formula.subtract a b
let private ( * ) a b = Formula.multiply a b
let private ( / ) a b = Formula.divide a b
let private ( ** ) a b = Formula.power a b
let private gt a b = Condition.compare Comparison.Greater a b

let private both (expectedInfix: string) (expectedLatex: string) (formula: Formula) =
    Assert.Equal(expectedInfix, Infix.format formula)
    Assert.Equal(expectedLatex, Latex.format formula)

[<Fact>]
let ``Sums and products: sin(x) + x*y, x - y, -x, 2*x, -2*x*y`` () =
    both "sin(x) + x*y" @"\sin\left(x\right) + x y" (x * y + f Function.Sin x)
    both "x - y" "x - y" (x - y)
    both "-x" "-x" (Formula.negate x)
    both "2*x" "2 x" (n 2 * x)
    both "-2*x*y" "-2 x y" (n -2 * x * y)
    both "y - x" "y - x" (Formula.negate x + y)
    both "-x - y" "-x - y" (Formula.negate x - y)

[<Fact>]
let ``A minus sign in front of a product is taken into a difference: -z*(y - x) shows as z*(x - y)`` () =
    both "z*(x - y)" @"z \left(x - y\right)" (Formula.negate (z * (y - x)))
    both "x - y" "x - y" (Formula.negate (y - x))
    // A sum without a negative term would gain one: the sign stays in front.
    both "-z*(x + y)" @"-z \left(x + y\right)" (Formula.negate (z * (x + y)))
    // A difference of symbols takes it before a complement 1 − x.
    both "(1 - x)*(y - z)" @"\left(1 - x\right) \left(y - z\right)" (Formula.negate ((n 1 - x) * (z - y)))
    both "x*(x - 1)" @"x \left(x - 1\right)" (Formula.negate (x * (n 1 - x)))

[<Fact>]
let ``Fractions: x/2, 3*x/2, x/y, 1/x, x/(2*y), -x/(y*z), 1/2`` () =
    both "x/2" @"\frac{x}{2}" (x / n 2)
    both "3*x/2" @"\frac{3 x}{2}" (q 3 2 * x)
    both "x/y" @"\frac{x}{y}" (x / y)
    both "1/x" @"\frac{1}{x}" (n 1 / x)
    both "x/(2*y)" @"\frac{x}{2 y}" (x / (n 2 * y))
    both "-x/(y*z)" @"-\frac{x}{y z}" (Formula.negate x / (y * z))
    both "1/2" @"\frac{1}{2}" (q 1 2)
    both "-3/4" @"-\frac{3}{4}" (q -3 4)
    both "(1 + x)/y" @"\frac{1 + x}{y}" ((x + n 1) / y)

[<Fact>]
let ``Powers: x^2, x^(1/3), sqrt(x), 1/sqrt(x), (x + y)^2, x^(y + 1), 2^x, (-2)^x, x^-y as 1/x^y`` () =
    both "x^2" "x^{2}" (x ** n 2)
    both "x^(1/3)" @"x^{\frac{1}{3}}" (x ** q 1 3)
    both "sqrt(x)" @"\sqrt{x}" (f Function.Sqrt x)
    both "1/sqrt(x)" @"\frac{1}{\sqrt{x}}" (x ** q -1 2)
    both "(x + y)^2" @"\left(x + y\right)^{2}" ((x + y) ** n 2)
    both "x^(1 + y)" "x^{1 + y}" (x ** (y + n 1))
    both "2^x" "2^{x}" (n 2 ** x)
    both "(-2)^x" @"\left(-2\right)^{x}" (n -2 ** x)
    both "1/x^y" @"\frac{1}{x^{y}}" (x ** Formula.negate y)
    both "x^2*y^3" @"x^{2} y^{3}" (x ** n 2 * y ** n 3)
    both "-x^2" "-x^{2}" (Formula.negate (x ** n 2))
    both "sqrt(2)*x" @"\sqrt{2} x" (f Function.Sqrt (n 2) * x)

[<Fact>]
let ``Functions: sin(cos(x)), log(x, 2), sigmoid, abs, max, exp(x)^2, 2^x*x`` () =
    both "sin(cos(x))" @"\sin\left(\cos\left(x\right)\right)" (f Function.Sin (f Function.Cos x))
    both "log(x, 2)" @"\log_{2}\left(x\right)" (Formula.apply Function.LogBase [ x; n 2 ])
    both "sigmoid(x)*(1 - sigmoid(x))" @"\sigma\left(x\right) \left(1 - \sigma\left(x\right)\right)"
        (f Function.Sigmoid x * (n 1 - f Function.Sigmoid x))
    both "abs(x)" @"\left| x \right|" (f Function.Abs x)
    both "max(x, y)" @"\max\left(x, y\right)" (Formula.apply Function.Max [ x; y ])
    both "exp(x)^2" @"\exp\left(x\right)^{2}" (f Function.Exp x ** n 2)
    both "log(x)" @"\log\left(x\right)" (f Function.Log x)
    both "2^x*x" @"2^{x} x" (x * n 2 ** x)

[<Fact>]
let ``Inexact numbers round-trip: pi*x, -1e-20, NaN`` () =
    both "3.141592653589793*x" @"3.141592653589793 x" (Formula.ofFloat Math.PI * x)
    both "-3.141592653589793E-20" @"-3.141592653589793 \cdot 10^{-20}" (Formula.ofFloat -3.141592653589793E-20)
    both "NaN" @"\mathrm{NaN}" (Formula.ofFloat nan)

[<Fact>]
let ``Piecewise: (x > 0 ? x : 0) and cases`` () =
    let relu = Formula.ifThenElse (gt x (n 0)) x (n 0)
    both "(x > 0 ? x : 0)" @"\begin{cases} x & \text{if } x > 0 \\ 0 & \text{otherwise} \end{cases}" relu
    let nested = Formula.ifThenElse (gt x (n 0)) x (Formula.ifThenElse (Condition.not (gt y (n 1))) y (n 2))
    both "(x > 0 ? x : (!(y > 1) ? y : 2))"
        @"\begin{cases} x & \text{if } x > 0 \\ y & \text{if } \lnot \left(y > 1\right) \\ 2 & \text{otherwise} \end{cases}"
        nested
    both "2*(x > 0 ? x : 0)" @"2 \begin{cases} x & \text{if } x > 0 \\ 0 & \text{otherwise} \end{cases}" (n 2 * relu)

[<Fact>]
let ``LaTeX names: subscripts, greek, long names`` () =
    Assert.Equal("w_{1}", Latex.name "w1")
    Assert.Equal("w_{0}", Latex.name "w[0]")
    Assert.Equal(@"\theta_{2}", Latex.name "theta[2]")
    Assert.Equal(@"\alpha", Latex.name "alpha")
    Assert.Equal(@"\mathrm{rate}", Latex.name "rate")
    Assert.Equal(@"x_{\mathrm{max}}", Latex.name "x_max")
    both "b + w[0]*x" @"b + w_{0} x" (Formula.symbol "w[0]" * x + Formula.symbol "b")

[<Fact>]
let ``Latex.partial: d/dx (x·sin x)`` () =
    let d = f Function.Sin x + x * f Function.Cos x
    Assert.Equal(@"\frac{\partial f}{\partial x} = \sin\left(x\right) + x \cos\left(x\right)", Latex.partial "f" "x" d)
    Assert.Equal(@"\frac{\partial L}{\partial w_{1}} = 2 w_{1}", Latex.partial "L" "w1" (n 2 * Formula.symbol "w1"))
