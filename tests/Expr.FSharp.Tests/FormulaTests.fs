module ExprGrad.Symbolic.Tests.FormulaTests

open System
open System.Collections.Generic
open System.Diagnostics
open System.Linq.Expressions
open System.Numerics
open Xunit
open ExprGrad
open ExprGrad.Symbolic

/// Linq trees written by hand, as the engine's lambdas would produce them.
module Trees =
    let parameters = [ for n in [ "x"; "y"; "z" ] -> Expression.Parameter(typeof<double>, n) ]
    let x = parameters[0] :> Expression
    let y = parameters[1] :> Expression
    let z = parameters[2] :> Expression
    let c (v: float) = Expression.Constant v :> Expression
    let (+.) (a: Expression) (b: Expression) = Expression.Add(a, b) :> Expression
    let (-.) (a: Expression) (b: Expression) = Expression.Subtract(a, b) :> Expression
    let ( *. ) (a: Expression) (b: Expression) = Expression.Multiply(a, b) :> Expression
    let (/.) (a: Expression) (b: Expression) = Expression.Divide(a, b) :> Expression
    let neg (a: Expression) = Expression.Negate a :> Expression
    let math (name: string) (args: Expression list) =
        let m = typeof<Math>.GetMethod(name, Array.create args.Length typeof<double>) |> nonNull
        Expression.Call(m, args) :> Expression
    let sin a = math "Sin" [ a ]
    let cos a = math "Cos" [ a ]
    let exp a = math "Exp" [ a ]
    let log a = math "Log" [ a ]
    let pow a b = math "Pow" [ a; b ]
    let fn (name: string) (a: Expression) = Expression.Call(typeof<Fn>.GetMethod(name) |> nonNull, a) :> Expression
    let sigmoid = fn "Sigmoid"
    let library: Library =
        dict [ for n in [ "Sigmoid"; "Relu"; "Softplus"; "Square" ] -> n.ToLowerInvariant(), typeof<Fn>.GetMethod(n) |> nonNull ]
        |> fun d -> Dictionary(d) :> IReadOnlyDictionary<_, _>
    let symbols: IReadOnlyDictionary<string, Expression> =
        Dictionary(dict [ for p in parameters -> p.Name |> nonNull, p :> Expression ])
    let formula (e: Expression) = Linq.ofLinq library e
    let infix (e: Expression) = Infix.format (formula e)
    let compile (e: Expression) : Func<double, double, double, double> =
        Expression.Lambda<Func<double, double, double, double>>(e, parameters).Compile()

open Trees

[<Fact>]
let ``(x, y) => y * 1 + 0 ⇒ "y"`` () = Assert.Equal("y", infix (y *. c 1.0 +. c 0.0))

[<Fact>]
let ``x + x ⇒ "2*x"; x * x ⇒ "x^2"; x * (1/x) ⇒ "1"; 0.5*x ⇒ "x/2"`` () =
    Assert.Equal("2*x", infix (x +. x))
    Assert.Equal("x^2", infix (x *. x))
    Assert.Equal("1", infix (x *. (c 1.0 /. x)))
    Assert.Equal("x/2", infix (c 0.5 *. x))
    Assert.Equal("3*x/2", infix (c 1.5 *. x))

[<Fact>]
let ``d/dx (x·sin x) written by hand ⇒ "sin(x) + x*cos(x)"`` () =
    Assert.Equal("sin(x) + x*cos(x)", infix (sin x *. c 1.0 +. x *. cos x))

[<Fact>]
let ``sigmoid' = s*(1 - s) with s = sigmoid(x) ⇒ "sigmoid(x)*(1 - sigmoid(x))"`` () =
    let s = sigmoid x
    Assert.Equal("sigmoid(x)*(1 - sigmoid(x))", infix (s *. (c 1.0 -. s)))

[<Fact>]
let ``Like terms and powers combine: 2x + 3x - x ⇒ 4*x, x^2*x^3 ⇒ x^5, x^y*x^z ⇒ x^(y + z), (x^2)^3 ⇒ x^6`` () =
    Assert.Equal("4*x", infix (c 2.0 *. x +. c 3.0 *. x -. x))
    Assert.Equal("x^5", infix (pow x (c 2.0) *. pow x (c 3.0)))
    Assert.Equal("x^(y + z)", infix (pow x y *. pow x z))
    Assert.Equal("x^6", infix (pow (pow x (c 2.0)) (c 3.0)))
    // (x^2)^(1/2) is abs(x), never x.
    Assert.Equal("abs(x)", infix (pow (pow x (c 2.0)) (c 0.5)))
    Assert.Equal("sqrt(x)^2", infix (pow (pow x (c 0.5)) (c 2.0))) // NaN for x < 0, as sqrt(x) is
    Assert.Equal("x^2*y^2", infix (pow (x *. y) (c 2.0)))
    Assert.Equal("x^2", infix (pow (pow x (c 4.0)) (c 0.5)))
    Assert.Equal("y", infix (pow (math "Cbrt" [ y ]) (c 3.0)))

[<Fact>]
let ``Identities a CAS applies: 1 + tan(x)^2 ⇒ 1/cos(x)^2, 1 - tanh(x)^2 ⇒ 1/cosh(x)^2, log10(x)*log(10) ⇒ log(x), -(4 - y)^3 ⇒ (y - 4)^3`` () =
    let tan2 a = pow (math "Tan" [ a ]) (c 2.0)
    let tanh2 a = pow (math "Tanh" [ a ]) (c 2.0)
    Assert.Equal("3/cos(y)^2", infix (c 3.0 +. c 3.0 *. tan2 y))
    Assert.Equal("x/cosh(y)^2", infix (x -. x *. tanh2 y))
    Assert.Equal("-x/cosh(y)^2", infix (x *. tanh2 y -. x))
    Assert.Equal("2 - tanh(y)^2", infix (c 2.0 -. tanh2 y))
    Assert.Equal("1/(x*log(10)*log(x*y))", infix (c 1.0 /. (x *. c (Math.Log 10.0) *. c (Math.Log 10.0) *. math "Log10" [ x *. y ])))
    Assert.Equal("(y - 4)^3", infix (neg (pow (c 4.0 -. y) (c 3.0))))
    Assert.Equal("-(4 - y)^2", infix (neg (pow (c 4.0 -. y) (c 2.0))))
    Assert.Equal("2*sin(x)^2", infix (c 2.0 -. c 2.0 *. pow (cos x) (c 2.0)))
    Assert.Equal("cosh(x)^2", infix (c 1.0 +. pow (math "Sinh" [ x ]) (c 2.0)))
    Assert.Equal("sinh(x)^2", infix (pow (math "Cosh" [ x ]) (c 2.0) -. c 1.0))
    // Fractions in a sum factor are cleared into the coefficient: 22/(4 + 121*y^2), not 11/(2*(1 + 121*y^2/4)).
    Assert.Equal("22/(4 + 121*y^2)", infix (c 11.0 /. (c 2.0 *. (c 1.0 +. c 30.25 *. y *. y))))
    Assert.Equal("x*(1 + 2*y)", infix (c 2.0 *. x *. (c 0.5 +. y)))

/// The printed formula of e, and checks that it has e's value at (x, y, z) = (0.3, -0.7, 1.9) (and at 1.7 for x, where
/// the identities are about roots of 1 - x^2, NaN on both sides) to within rounding.
let private shown (e: Expression) =
    let f = formula e
    for point in [ (0.3, -0.7, 1.9); (1.7, 0.4, -2.2) ] do
        let px, py, pz = point
        let expected = (compile e).Invoke(px, py, pz)
        let actual = Formula.evaluate (fun s -> match s with "x" -> px | "y" -> py | _ -> pz) f
        if Double.IsNaN expected then Assert.True(Double.IsNaN actual, $"{Infix.format f} at {point}: {actual}, not NaN")
        else Assert.True(expected = actual || abs (expected - actual) <= 1e-12 * max 1.0 (abs expected), $"{Infix.format f} at {point}: {actual}, not {expected}")
    Infix.format f

[<Fact>]
let ``Pairs a CAS writes as one: 2 sin cos ⇒ sin(2u), cosh^k tanh^k ⇒ sinh^k, x/cbrt(x)^2 ⇒ cbrt(x)`` () =
    let f name a = math name [ a ]
    // cos(y)^2's derivative, and its reciprocal.
    Assert.Equal("-sin(2*y)", shown (c -2.0 *. sin y *. cos y))
    Assert.Equal("sin(2*x*y)/2", shown (sin (x *. y) *. cos (x *. y)))
    Assert.Equal("2/sin(2*x)", shown (c 1.0 /. (sin x *. cos x)))
    // 5/tanh(sinh(x))'s derivative: the same u in cosh and tanh; cos·tan is sin alike.
    Assert.Equal("-5*cosh(x)/sinh(sinh(x))^2", shown (c -5.0 *. f "Cosh" x /. (pow (f "Cosh" (f "Sinh" x)) (c 2.0) *. pow (f "Tanh" (f "Sinh" x)) (c 2.0))))
    Assert.Equal("y*sinh(x)", shown (y *. f "Cosh" x *. f "Tanh" x))
    Assert.Equal("sin(2*x)/2", shown (pow (cos x) (c 2.0) *. f "Tan" x)) // cos(x)*sin(x), then 2 sin cos
    Assert.Equal("1/(sinh(x)*cosh(x))", shown (c 1.0 /. (pow (f "Cosh" x) (c 2.0) *. f "Tanh" x)))
    // x·cbrt(x)'s derivative, cbrt(x) + x/(3*cbrt(x)^2): 0/0 at x = 0, where the formula shows the limit 0.
    Assert.Equal("4*cbrt(x)/3", shown (f "Cbrt" x +. x /. (c 3.0 *. pow (f "Cbrt" x) (c 2.0))))
    Assert.Equal("-8/(3*cbrt(x)^11)", shown (c -8.0 /. (c 3.0 *. pow x (c 3.0) *. pow (f "Cbrt" x) (c 2.0))))
    Assert.Equal("4*y*cbrt(4 + x*y)/3", shown (c 4.0 *. y *. (c 4.0 +. x *. y) /. (c 3.0 *. pow (f "Cbrt" (x *. y +. c 4.0)) (c 2.0))))

[<Fact>]
let ``Powers that merge to an integer exponent keep a root's domain: sqrt(y)*sqrt(y) is sqrt(y)^2, NaN for y < 0`` () =
    let sqrt a = math "Sqrt" [ a ]
    // y = -0.7 at the first point of shown: each of these is NaN there, and so is its formula.
    Assert.Equal("sqrt(y)^2", shown (sqrt y *. sqrt y))
    Assert.Equal("sqrt(y)^2", shown (pow (sqrt y) (c 2.0)))
    Assert.Equal("sqrt(y)^6", shown (pow (pow y (c 1.5)) (c 2.0)))
    Assert.Equal("sqrt(y)^2", shown (pow y (c 1.5) /. sqrt y))
    Assert.Equal("sqrt(y)^2/y", shown (sqrt y /. sqrt y))
    Assert.Equal("1/sqrt(y)^2", shown (c 1.0 /. (sqrt y *. sqrt y)))
    Assert.Equal("sqrt(y)^2/y", shown (pow y x *. pow y (neg x)))
    // A merged exponent that is no integer keeps the domain itself, and so does a base that is never negative.
    Assert.Equal("y^(3/2)", shown (y *. sqrt y))
    Assert.Equal("1 + y^2", shown (sqrt (c 1.0 +. y *. y) *. sqrt (c 1.0 +. y *. y)))
    Assert.Equal("exp(y)", shown (sqrt (exp y) *. sqrt (exp y)))
    Assert.Equal("abs(y)", shown (sqrt (y *. y)))
    Assert.Equal("y^(3/2)", shown (sqrt y *. sqrt y *. sqrt y))
    // Shown without the root where something else is NaN for y < 0: a root of y, a log of y.
    Assert.Equal("log(y)", shown (sqrt y *. sqrt y *. log y /. y))
    Assert.Equal("1/(2*sqrt(y)*sqrt(1 - y))", shown (c 0.5 /. (sqrt y *. sqrt (c 1.0 -. sqrt y *. sqrt y))))
    Assert.Equal("sqrt(y)^2 + sqrt(1 + y)", shown (sqrt y *. sqrt y +. sqrt (c 1.0 +. y))) // defined for -1 < y < 0
    Assert.Equal("sqrt(y) + y", shown (sqrt y *. sqrt y +. sqrt y))
    // Of two roots that keep the domain alone, one stays: tanh(sqrt(y)^4/(6*y))'s derivative.
    Assert.Equal("1/(6*cosh(sqrt(y)^2/6)^2)", shown ((sqrt y *. sqrt y /. y) /. (c 6.0 *. pow (math "Cosh" [ sqrt y *. sqrt y /. c 6.0 ]) (c 2.0))))

[<Fact>]
let ``Compositions a CAS rewrites, only where both sides are NaN alike: cosh(asinh(u)) ⇒ sqrt(1 + u^2), cos(acos(x)) stays`` () =
    let f name a = math name [ a ]
    Assert.Equal("sqrt(1 + 4*x^2)", shown (f "Cosh" (f "Asinh" (c 2.0 *. x))))
    Assert.Equal("2/(1 + 4*x^2)^(3/2)", shown (c 2.0 /. (pow (f "Cosh" (f "Asinh" (c 2.0 *. x))) (c 2.0) *. f "Sqrt" (c 1.0 +. c 4.0 *. x *. x))))
    Assert.Equal("1/sqrt(1 + x^2)", shown (f "Cos" (f "Atan" x)))
    Assert.Equal("x/sqrt(1 + x^2)", shown (f "Sin" (f "Atan" x)))
    Assert.Equal("y/sqrt(1 + y^2)", shown (f "Tanh" (f "Asinh" y)))
    Assert.Equal("x*y", shown (f "Sinh" (f "Asinh" (x *. y))))
    Assert.Equal("x", shown (f "Tan" (f "Atan" x)))
    // The inverse alone is NaN for |x| > 1 where x is not: these stay.
    Assert.Equal("cos(acos(x))", shown (f "Cos" (f "Acos" x)))
    Assert.Equal("sin(asin(x))", shown (f "Sin" (f "Asin" x)))
    Assert.Equal("tanh(atanh(x))", shown (f "Tanh" (f "Atanh" x)))
    Assert.Equal("cosh(acosh(x))", shown (f "Cosh" (f "Acosh" x)))
    // Nor cos(asin(x)) = sqrt(1 - x^2): sin(asin(x))'s derivative would merge to 1, not NaN for |x| > 1.
    Assert.Equal("cos(asin(x))/sqrt(1 - x^2)", shown (f "Cos" (f "Asin" x) /. f "Sqrt" (c 1.0 -. x *. x)))
    // Beside a root of 1 - x^2, NaN exactly where acos(x) is, cos(acos(x)) is x (sin(acos(x))'s derivative).
    Assert.Equal("-x/sqrt(1 - x^2)", shown (neg (f "Cos" (f "Acos" x)) /. f "Sqrt" (c 1.0 -. x *. x)))
    Assert.Equal("y*tanh(atanh(x))/(1 - x^2)", shown (y *. f "Tanh" (f "Atanh" x) /. (c 1.0 -. x *. x)))
    // The angle of (v, u): NaN where u = v = 0 only, where atan2 picks 0.
    Assert.Equal("y/x", shown (f "Tan" (math "Atan2" [ y; x ])))
    Assert.Equal("x/sqrt(x^2 + y^2)", shown (f "Cos" (math "Atan2" [ y; x ])))
    Assert.Equal("y/sqrt(x^2 + y^2)", shown (f "Sin" (math "Atan2" [ y; x ])))
    Assert.Equal("-1/sqrt(1 + y^2)", shown (f "Cos" (math "Atan2" [ y; c -1.0 ])))

[<Fact>]
let ``Display shapes: a common factor out of a sum, numbers the division collects included; a power into a denominator's sum`` () =
    Assert.Equal("8*sin(y)*(2 + x)", shown (c 4.0 *. x *. sin y +. c 4.0 *. sin y *. (c 4.0 +. x)))
    Assert.Equal("cos(z)*(1 + 4*y)/2", shown (y *. cos z +. cos z *. (c 0.5 +. y)))
    // atan(3/y)'s derivative, 3/(y^2*(1 + 9/y^2)), at y = 0 is 0·∞, and the shape its limit.
    Assert.Equal("3/(9 + y^2)", shown (c 3.0 /. (y *. y *. (c 1.0 +. c 9.0 /. (y *. y)))))
    Assert.Equal("x/(9 + 100*x^4)", shown (c 1.0 /. (x *. (c 9.0 /. (x *. x) +. c 100.0 *. x *. x))))
    // A numerator's powers of sums expanded inside a sum: (square(3/2 + x) - 2)*((1 - (5 - x))/x)'s derivative.
    Assert.Equal("(1 - x^2 + 2*x^3)/x^2", shown ((pow (c 1.5 +. x) (c 2.0) -. c 2.0) /. x -. (x -. c 4.0) *. (pow (c 1.5 +. x) (c 2.0) -. c 2.0) /. (x *. x) +. c 2.0 *. (x -. c 4.0) *. (c 1.5 +. x) /. x))
    // A sum factor over its common denominator merges with a power of it: tanh(asinh(2x))'s derivative.
    Assert.Equal("2/(1 + 4*x^2)^(3/2)", shown (c 2.0 *. (c 1.0 -. c 4.0 *. x *. x /. (c 1.0 +. c 4.0 *. x *. x)) /. math "Sqrt" [ c 1.0 +. c 4.0 *. x *. x ]))
    // Not where the sum keeps a denominator: the shape would be no clearer.
    Assert.Equal("1/(x*(x + 1/y))", shown (c 1.0 /. (x *. (x +. c 1.0 /. y))))
    // A power with an exponent that is no number, common to every term (x^x's derivative).
    Assert.Equal("x^x*(2 + log(x))", shown (pow x x *. log x +. c 2.0 *. pow x x))
    Assert.Equal("x^x + x^x*log(x)", shown (pow x x *. log x +. pow x x)) // as narrow as x^x*(1 + log(x)): kept
    Assert.Equal("3*y*x^(3*x*y)*(1 + log(x))", shown (c 3.0 *. y *. (pow x (c 3.0 *. x *. y) +. pow x (c 3.0 *. x *. y) *. log x)))
    // Terms that share a factor, grouped under it where that saves more than a few characters.
    Assert.Equal("cos(z)*(x + y + x*log(y)) + sin(x)", shown (sin x +. y *. cos z +. x *. cos z +. x *. log y *. cos z))
    Assert.Equal("2*x - 2 - 400*x*(y - x^2)", shown (c 2.0 *. x -. c 2.0 -. c 400.0 *. x *. (y -. x *. x)))
    // Over a common denominator where one term has one: tanh(asinh(2x))'s 1 - tanh(..)^2.
    Assert.Equal("1/(1 + 4*x^2)", shown (c 1.0 -. c 4.0 *. x *. x /. (c 1.0 +. c 4.0 *. x *. x)))

[<Fact>]
let ``atan2(u, c) ⇒ atan(u/c) for a number c > 0; sums that are multiples of one another cancel to their ratio`` () =
    Assert.Equal("atan(y/2)", shown (math "Atan2" [ y; c 2.0 ]))
    Assert.Equal("atan(2*x)", shown (math "Atan2" [ x; c 0.5 ]))
    Assert.Equal("atan2(y, -2)", shown (math "Atan2" [ y; c -2.0 ]))
    Assert.Equal("atan2(y, x)", shown (math "Atan2" [ y; x ]))
    // tan(atan2(y, 2))'s derivative: (1 + tan(atan(y/2))^2)*2/(4 + y^2) = (1 + y^2/4)*2/(4 + y^2).
    Assert.Equal("1/2", shown (math "Tan" [ math "Atan2" [ y; c 2.0 ] ] |> fun t -> (c 1.0 +. t *. t) *. c 2.0 /. (c 4.0 +. y *. y)))
    Assert.Equal("4*x", shown ((c 2.0 +. c 2.0 *. y) *. x /. (c 0.5 +. c 0.5 *. y)))

[<Fact>]
let ``Infinite constants: ∞ + a total u is ∞, sin(∞·u) is NaN, ∞·c takes c's sign, ∞ − ∞ in like terms is NaN`` () =
    let inf = c Double.PositiveInfinity
    let cbrt a = math "Cbrt" [ a ]
    // max(atanh(1) - cbrt(x), tanh(y))'s derivatives: the step of ∞ − cbrt(x) − tanh(y) is 1, of its negation 0.
    Assert.Equal("Infinity", shown (inf -. cbrt x -. fn "Softplus" y))
    let step e = Formula.apply Function.Step [ formula e ]
    Assert.Equal("-1/(3*cbrt(x)^2)", Infix.format (Formula.multiply (formula (c -1.0 /. (c 3.0 *. pow (cbrt x) (c 2.0)))) (step (inf -. cbrt x -. math "Tanh" [ y ]))))
    Assert.Equal("0", Infix.format (Formula.multiply (step (cbrt x -. inf +. math "Tanh" [ y ])) (formula (sigmoid y))))
    // Not beside what may be NaN or -∞: log(x) - ∞ stays.
    Assert.Equal("log(x) - Infinity", shown (log x -. inf))
    Assert.Equal("NaN", shown (sin (inf *. x) *. y))
    Assert.Equal("NaN", shown (cos (inf +. log x)))
    Assert.Equal("-Infinity*tanh(3)^x", shown (inf *. log (math "Tanh" [ c 3.0 ]) *. pow (math "Tanh" [ c 3.0 ]) x))
    Assert.Equal("NaN", shown (inf *. x -. inf *. x +. y))
    Assert.Equal("NaN", shown ((inf *. x -. inf *. x) *. y))

[<Fact>]
let ``Identities: x + 0, x*1, x^1, x^0 ⇒ 1, -(-x) ⇒ x, x - y - (x - y) ⇒ 0`` () =
    Assert.Equal("x", infix (x +. c 0.0))
    Assert.Equal("x", infix (x *. c 1.0))
    Assert.Equal("x", infix (pow x (c 1.0)))
    Assert.Equal("1", infix (pow (log x) (c 0.0)))
    Assert.Equal("x", infix (neg (neg x)))
    Assert.Equal("0", infix (x -. y -. (x -. y)))
    Assert.Equal("y - x", infix (neg (x -. y)))

[<Fact>]
let ``Exact numbers: 4^(1/2) ⇒ 2, 2^-1 ⇒ 1/2, 1/3 + 1/6 ⇒ 1/2, 0.1 + 0.2 ⇒ 3/10, sqrt 2 stays`` () =
    Assert.Equal("2", infix (pow (c 4.0) (c 0.5)))
    Assert.Equal("1/2", infix (pow (c 2.0) (c -1.0)))
    Assert.Equal("1/2", infix (c 1.0 /. c 3.0 +. c 1.0 /. c 6.0))
    Assert.Equal("3/10", infix (c 0.1 +. c 0.2))
    Assert.Equal("sqrt(2)", infix (math "Sqrt" [ c 2.0 ]))
    Assert.Equal("8", infix (pow (c 4.0) (c 1.5)))

[<Fact>]
let ``Functions of exact numbers evaluate only when exact`` () =
    Assert.Equal("0", infix (sin (c 0.0)))
    Assert.Equal("1", infix (cos (c 0.0)))
    Assert.Equal("1", infix (exp (c 0.0)))
    Assert.Equal("0", infix (log (c 1.0)))
    Assert.Equal("3", infix (math "Sqrt" [ c 9.0 ]))
    Assert.Equal("3", infix (math "Abs" [ c -3.0 ]))
    Assert.Equal("3", infix (math "Max" [ c 2.0; c 3.0 ]))
    Assert.Equal("1/2", infix (sigmoid (c 0.0)))
    Assert.Equal("0", infix (fn "Relu" (c -2.0)))
    Assert.Equal("3", infix (math "Log10" [ c 1000.0 ]))
    Assert.Equal("2", infix (math "Round" [ c 2.5 ]))
    Assert.Equal("sin(1)", infix (sin (c 1.0)))
    Assert.Equal("exp(2)", infix (exp (c 2.0)))

[<Fact>]
let ``Known constants stay exact: pi*2 ⇒ 2*pi, pi - pi ⇒ 0, 1/ln 10 ⇒ 1/log(10)`` () =
    Assert.Equal("2*pi", infix (c Math.PI *. c 2.0))
    Assert.Equal("0", infix (c Math.PI -. c Math.PI))
    Assert.Equal("x*pi", infix (c Math.PI *. x))
    Assert.Equal("1/(x*log(10))", infix (c 1.0 /. (c (Math.Log 10.0) *. x)))
    Assert.Equal("1/(x*log(10))", infix (c (1.0 / Math.Log 10.0) /. x))
    Assert.Equal("x/log(2)", infix (x *. c (1.0 / Math.Log 2.0)))
    Assert.Equal("2*exp(-x^2)/sqrt(pi)", infix (c (2.0 / Math.Sqrt Math.PI) *. exp (neg (x *. x))))
    Assert.Equal("1/3", infix (c (1.0 / 3.0)))
    Assert.Equal("e^x", infix (pow (c Math.E) x))
    // Their logarithms, as pow's ∂/∂p folds them: log(cos(5)), log(pi), log(5).
    Assert.Equal("x*log(cos(5))", infix (c (Math.Log(Math.Cos 5.0)) *. x))
    Assert.Equal("x*log(pi)", infix (c (Math.Log Math.PI) *. x))
    Assert.Equal("log(5)", infix (c (Math.Log 5.0)))
    // A double that is none of them stays as it is.
    Assert.Equal("0.123456789123*x", infix (c 0.123456789123 *. x))
    Assert.Equal("1.2345678901234567", infix (c 1.2345678901234567))

[<Fact>]
let ``0·u and 0/u are 0: log(x)*0, log(x) - log(x), sqrt(x)*0, 0/x and x*y - y*x vanish`` () =
    // Display only: where u is NaN or ∞ the compiled gradient is NaN; the formula is the derivative where it is defined.
    Assert.Equal("0", infix (log x *. c 0.0))
    Assert.Equal("0", infix (log x -. log x))
    Assert.Equal("0", infix (sin x *. c 0.0))
    Assert.Equal("0", infix (x *. y -. y *. x))
    Assert.Equal("0", infix (math "Sqrt" [ x ] *. c 0.0))
    Assert.Equal("0", infix ((c 1.0 /. x) *. c 0.0))
    Assert.Equal("0", infix (c 0.0 /. log x))
    Assert.Equal("x", infix (x +. c 0.0 *. log x))

[<Fact>]
let ``Steps of max and min with constants: step(max(4, y) - cosh(5)) ⇒ step(y - cosh(5)); step(u - a)*step(u - b) ⇒ one step`` () =
    let cosh a = math "Cosh" [ a ]
    // The step of each argument as written (the DU's node, unsimplified) and their product, against the product
    // simplified: the same value on each side of every kink and at each (step is 1/2 at 0).
    let check (expected: string) (arguments: Expression list) =
        let raw = Product [ for a in arguments -> Apply(Function.Step, [ formula a ]) ]
        let simplified = Formula.product [ for a in arguments -> Formula.apply Function.Step [ formula a ] ]
        Assert.Equal(expected, Infix.format simplified)
        for v in [ -80.0; 2.0; 3.0; 3.5; 4.0; 6.0; 10.0; Math.Cosh 5.0; 80.0 ] do
            Assert.Equal(Formula.evaluate (fun _ -> v) raw, Formula.evaluate (fun _ -> v) simplified)
    // max(cosh(5), max(y, 4))'s derivative: the inner max picks 4 wherever the outer step is not 0.
    check "step(y - cosh(5))" [ math "Max" [ c 4.0; y ] -. cosh (c 5.0) ]
    check "step(y - cosh(5))" [ y -. c 4.0; math "Max" [ c 4.0; y ] -. cosh (c 5.0) ]
    check "step(y - 3)" [ math "Min" [ c 6.0; y ] -. c 3.0 ]
    // Not where the constant is on the side the step turns on: max(4, y) - 3 is positive everywhere.
    check "step(max(4, y) - 3)" [ math "Max" [ c 4.0; y ] -. c 3.0 ]
    check "step(min(2, y) - 3)" [ math "Min" [ c 2.0; y ] -. c 3.0 ]
    // Products of steps of one u: the larger threshold (at y = 4, 1/2·1; at y = 3, 0·1/2).
    check "step(y - 4)" [ y -. c 4.0; y -. c 3.0 ]
    check "step(y - 4)*step(x - 3)" [ y -. c 4.0; x -. c 3.0 ]

[<Fact>]
let ``A product base among the factors: 5*x*(5*x)^(x - 1) ⇒ (5*x)^x`` () =
    Assert.Equal("(5*x)^x", shown (c 5.0 *. x *. pow (c 5.0 *. x) (x -. c 1.0)))
    Assert.Equal("x*(5*x)^(x - 1)", shown (x *. pow (c 5.0 *. x) (x -. c 1.0))) // (5*x)^x/5 would add a fraction
    // A part found in a higher power, and a part with an exponent that is no number: (S*(x/y)^x)^x's derivative.
    Assert.Equal("x*(x/y)^x", shown (x *. x /. y *. pow (x /. y) (x -. c 1.0)))
    Assert.Equal("(sigmoid(y)*(x/y)^x)^x", shown (sigmoid y *. pow (x /. y) x *. pow (sigmoid y *. pow (x /. y) x) (x -. c 1.0)))
    Assert.Equal("acos(x)*(25/sigmoid(y))^acos(x)", shown (c 25.0 *. math "Acos" [ x ] *. pow (c 25.0 /. sigmoid y) (math "Acos" [ x ] -. c 1.0) /. sigmoid y))
    // Not with an integer exponent: (5*x)^2 is 25*x^2 already.
    Assert.Equal("125*x^3", shown (c 5.0 *. x *. pow (c 5.0 *. x) (c 2.0)))

[<Fact>]
let ``sign, abs, min and max: sign(-x) ⇒ -sign(x), abs(-2*x) ⇒ 2*abs(x), max(y, x) ⇒ max(x, y)`` () =
    Assert.Equal("-sign(x)", infix (math "Sign" [ neg x ] |> fun e -> Expression.Convert(e, typeof<double>) :> Expression))
    Assert.Equal("2*abs(x)", infix (math "Abs" [ c -2.0 *. x ]))
    Assert.Equal("abs(x)/2", infix (math "Abs" [ neg x /. c 2.0 ]))
    Assert.Equal("x^2", infix (math "Abs" [ x *. x ]))
    Assert.Equal("exp(x)", infix (math "Abs" [ exp x ]))
    Assert.Equal("x^2", infix (pow (math "Abs" [ x ]) (c 2.0)))
    Assert.Equal("max(x, y)", infix (math "Max" [ y; x ]))
    Assert.Equal("2*min(x, y)", infix (math "Min" [ x; y ] +. math "Min" [ y; x ]))
    Assert.Equal("x", infix (math "Max" [ x; x ]))
    let sign a = Expression.Convert(math "Sign" [ a ], typeof<double>) :> Expression
    // The sympy oracle's 3/2 + sign(-x) + sign(x)/2, merged.
    Assert.Equal("3/2 - sign(x)/2", infix (c 1.5 +. sign (neg x) +. sign x /. c 2.0))
    Assert.Equal("0", infix (sign (y -. x) +. sign (x -. y)))
    Assert.Equal("x^3", infix (pow (math "Abs" [ x ]) (c 3.0) *. sign x))
    Assert.Equal("x", infix (math "Abs" [ x ] *. sign x))
    // sign(u)·u = u where u ≥ 0 (both 0 where u = 0): relu's step times relu, x²'s sign times x².
    Assert.Equal("2*relu(x)", infix (c 2.0 *. sign (fn "Relu" x) *. fn "Relu" x))
    Assert.Equal("3*x^2", infix (x *. x +. c 2.0 *. x *. x *. sign (x *. x)))
    Assert.Equal("x", infix (x *. sign (x *. x)))
    Assert.Equal("x*sign(x)", infix (x *. sign x))
    // The unit step, as a CAS (sympy's Heaviside) writes max's and relu's derivatives: (1 + sign(u))/2 = step(u)
    // everywhere (1/2 at 0 on both sides); sign(relu(u)) is step(u) wherever relu has a derivative.
    Assert.Equal("step(x)", infix (c 0.5 +. sign x /. c 2.0))
    Assert.Equal("step(y - x)", infix (c 0.5 -. sign (x -. y) /. c 2.0))
    Assert.Equal("3*y*step(x)", infix (c 1.5 *. y +. c 1.5 *. y *. sign x))
    Assert.Equal("step(x)", infix (sign (fn "Relu" x)))
    // step(u) + step(−u) = 1 (1/2 + 1/2 at 0).
    Assert.Equal("2*y", infix ((c 1.0 +. sign (x -. y)) *. y +. (c 1.0 +. sign (y -. x)) *. y))

[<Fact>]
let ``exp(a)·exp(b) ⇒ exp(a + b), x^a·x^b ⇒ x^(a + b)`` () =
    Assert.Equal("exp(x + y)", infix (exp x *. exp y))
    Assert.Equal("3*exp(3*x)", infix (c 3.0 *. exp x *. exp (c 2.0 *. x)))
    Assert.Equal("1", infix (exp x *. exp (neg x)))
    Assert.Equal("exp(x)", infix (exp (c 2.0 *. x) /. exp x))
    Assert.Equal("x^(2 + y)", infix (pow x y *. x *. x))

[<Fact>]
let ``exp(log x) ⇒ x only for x known positive; log(exp x) ⇒ x`` () =
    Assert.Equal("exp(log(x))", infix (exp (log x)))
    Assert.Equal("1 + x^2", infix (exp (log (c 1.0 +. x *. x))))
    Assert.Equal("x", infix (log (exp x)))

[<Fact>]
let ``Conditionals: (x > 0 ? x : 0) prints as a C conditional; constant tests and equal branches fold`` () =
    let cond t a b = Expression.Condition(t, a, b) :> Expression
    Assert.Equal("(x > 0 ? x : 0)", infix (cond (Expression.GreaterThan(x, c 0.0)) x (c 0.0)))
    Assert.Equal("x", infix (cond (Expression.Constant true) x y))
    Assert.Equal("y", infix (cond (Expression.LessThan(c 1.0, c 0.0)) x y))
    Assert.Equal("x", infix (cond (Expression.LessThan(x, y)) x (x *. c 1.0)))
    Assert.Equal(
        "(x > 0 && y <= 1 || !(z == 2) ? x : (y < 0 ? y : 0))",
        infix (
            cond
                (Expression.OrElse(
                    Expression.AndAlso(Expression.GreaterThan(x, c 0.0), Expression.LessThanOrEqual(y, c 1.0)),
                    Expression.Not(Expression.Equal(z, c 2.0))))
                x
                (cond (Expression.LessThan(y, c 0.0)) y (c 0.0))
        )
    )

[<Fact>]
let ``Conversions: (double)Math.Sign(x), (double)(int)x, int constants`` () =
    let sign = Expression.Convert(math "Sign" [ x ], typeof<double>) :> Expression
    Assert.Equal("sign(x)", infix sign)
    Assert.Equal("truncate(x)", infix (Expression.Convert(Expression.Convert(x, typeof<int>), typeof<double>)))
    Assert.Equal("3 + x", infix (x +. Expression.Convert(Expression.Constant 3, typeof<double>)))

[<Fact>]
let ``Unsupported nodes name the node type and the sub-expression`` () =
    let e = Expression.Modulo(x, c 3.0)
    let error = Assert.Throws<NotSupportedException>(fun () -> formula (x +. e) |> ignore)
    Assert.Contains("Modulo", error.Message)
    Assert.Contains("(x % 3)", error.Message)

[<Fact>]
let ``Simplification is idempotent: ofLinq(toLinq f) = f`` () =
    let cases =
        [ sin x *. c 1.0 +. x *. cos x
          sigmoid x *. (c 1.0 -. sigmoid x)
          c 1.0 /. c 3.0 *. x -. y /. (x *. z)
          pow x (c 0.5) +. pow (c 1.0 +. y *. y) (c -0.5)
          c Math.PI *. exp (neg x)
          log (x *. x +. c 1.0) *. c 0.0 ]
    for e in cases do
        let f = formula e
        let again = formula (Linq.toLinq library symbols f)
        Assert.Equal(Infix.format f, Infix.format again)
        Assert.Equal(f, again)

[<Fact>]
let ``evaluate: (x + y) * z at (-2, 5, -4) ⇒ -12`` () =
    let f = formula ((x +. y) *. z)
    let env name = match name with "x" -> -2.0 | "y" -> 5.0 | _ -> -4.0
    Assert.Equal(-12.0, Formula.evaluate env f)
    Assert.Equal(5, Formula.size f)
    Assert.Equal<string list>([ "x"; "y"; "z" ], Formula.symbols f)

[<Fact>]
let ``Deep input: sin(sin(...sin(x))) 100,000 levels converts, evaluates, prints and compiles back`` () =
    let depth = 100_000
    let mutable e = x
    for _ in 1..depth do
        e <- sin e
    let f = formula e
    Assert.Equal(depth + 1, Formula.size f)
    let v = Formula.evaluate (fun _ -> 1.0) f
    Assert.InRange(v, 0.0, 0.01)
    let text = Infix.format f
    Assert.Equal(depth * 5 + 1, text.Length)
    Assert.StartsWith(@"\sin\left(\sin", Latex.format f)
    Assert.Equal(f, formula (Linq.toLinq library symbols f))

[<Fact>]
let ``Deep input: a 100,000-long chain of additions and a Horner nest 10,000 deep`` () =
    let depth = 100_000
    let mutable e = x
    for _ in 2..depth do
        e <- e +. x
    Assert.Equal("100000*x", infix e)
    let mutable h = c 1.0
    let depth = 10_000
    for _ in 1..depth do
        h <- h *. x +. c 1.0
    let f = formula h
    Assert.Equal(1.0 + float depth, Formula.evaluate (fun _ -> 1.0) f)
    Assert.StartsWith("1 + x*(1 + x*(1 + x*", Infix.format f)

[<Fact>]
let ``Shared sub-trees: 1,000 levels of e = e*e and e = e + e convert once per shared node`` () =
    // Written out these trees have 2^1000 nodes: the test finishes only if each shared node is converted once.
    let mutable p = x
    let mutable s = x
    for _ in 1..1000 do
        p <- p *. p
        s <- s +. s
    let two1000 = Rational.ofBigInteger (BigInteger.Pow(BigInteger 2, 1000))
    Assert.Equal(Power(Symbol "x", Number two1000), formula p)
    Assert.Equal(Product [ Number two1000; Symbol "x" ], formula s)

[<Fact>]
let ``A 10,000-node formula simplifies and converts back to itself`` () =
    let random = Random(7)
    let leaves = [| x; y; z; c 2.0; c 0.5 |]
    let mutable terms = []
    for _ in 1..2000 do
        let a = leaves[random.Next leaves.Length]
        let b = leaves[random.Next leaves.Length]
        terms <- (if random.Next 2 = 0 then sin a *. b else pow a (c 2.0) *. cos b) :: terms
    let e = terms |> List.reduce (+.)
    let f = formula e
    Assert.Equal(f, formula (Linq.toLinq library symbols f))
