module ExprGrad.Symbolic.Tests.SeriesTests

open System
open System.Collections.Generic
open System.Linq.Expressions
open Xunit
open ExprGrad.Symbolic

let private i = Formula.symbol "i"
let private n = Formula.symbol "n"
let private k (v: int) = Formula.ofInt v
let private a index = Formula.element "a" [ index ]

let private both (expectedInfix: string) (expectedLatex: string) (formula: Formula) =
    Assert.Equal(expectedInfix, Infix.format formula)
    Assert.Equal(expectedLatex, Latex.format formula)

[<Fact>]
let ``A sum over a range prints as sum(i = 0..n - 2, ...) and \sum_{i=0}^{n - 2}`` () =
    let body = Formula.power (Formula.subtract (a (Formula.add i (k 1))) (a i)) (k 2)
    let sum = Formula.series "i" (k 0) (Formula.subtract n (k 2)) body
    both "sum(i = 0..n - 2, (a[1 + i] - a[i])^2)" @"\sum_{i=0}^{n - 2} \left(a_{1 + i} - a_{i}\right)^{2}" sum
    // A body that is a sum is grouped in LaTeX; a sum as a factor is grouped in both.
    let twoTerms = Formula.series "i" (k 0) n (Formula.add (a i) (k 1))
    both "sum(i = 0..n, 1 + a[i])" @"\sum_{i=0}^{n} \left(1 + a_{i}\right)" twoTerms
    both "2*(sum(i = 0..n, 1 + a[i]))" @"2 \left(\sum_{i=0}^{n} \left(1 + a_{i}\right)\right)" (Formula.multiply (k 2) twoTerms)

[<Fact>]
let ``Canonical forms: an element at integer indices is the symbol a[3]; a zero body or an empty range of numbers is 0`` () =
    Assert.Equal(Formula.symbol "a[3]", a (k 3))
    Assert.Equal(Formula.symbol "X[1, 2]", Formula.element "X" [ k 1; k 2 ])
    Assert.Equal(Formula.zero, Formula.series "i" (k 0) n Formula.zero)
    Assert.Equal(Formula.zero, Formula.series "i" (k 3) (k 2) (a i))
    // A range of one element stays a sum: nothing moves in or out of it.
    both "sum(i = 2..2, a[i])" @"\sum_{i=2}^{2} a_{i}" (Formula.series "i" (k 2) (k 2) (a i))
    // Equal sums are like terms.
    let s = Formula.series "i" (k 0) n (a i)
    both "2*(sum(i = 0..n, a[i]))" @"2 \left(\sum_{i=0}^{n} a_{i}\right)" (Formula.add s s)

[<Fact>]
let ``A sum evaluates as the loop it shows, its index bound in its body only, elements by name`` () =
    // sum(i = 0..n - 2, (a[i + 1] - a[i])^2) at a = (1, 3, 6), n = 3: 4 + 9 = 13.
    let body = Formula.power (Formula.subtract (a (Formula.add i (k 1))) (a i)) (k 2)
    let sum = Formula.series "i" (k 0) (Formula.subtract n (k 2)) body
    let env =
        dict [ "a[0]", 1.0; "a[1]", 3.0; "a[2]", 6.0; "n", 3.0; "i", 100.0 ]
    Assert.Equal(13.0, Formula.evaluate (fun s -> env[s]) sum)
    // Outside the sum, i is the environment's.
    Assert.Equal(113.0, Formula.evaluate (fun s -> env[s]) (Formula.add sum i))
    // An empty range is 0.
    Assert.Equal(0.0, Formula.evaluate (fun s -> if s = "n" then 1.0 else env[s]) sum)

[<Fact>]
let ``Linq markers read as a sum and an element; a formula of a loop refuses to become a Linq expression`` () =
    let x = Expression.Parameter(typeof<double>, "i")
    let elementMethod = nonNull (typeof<LoopMarkers>.GetMethod("Element", [| typeof<string>; typeof<double> |]))
    let element = Expression.Call(elementMethod, Expression.Constant "a", x)
    let sum =
        Expression.Call(nonNull (typeof<LoopMarkers>.GetMethod "Sum"), Expression.Constant "i", Expression.Constant 0.0, Expression.Constant 4.0,
                        Expression.Multiply(element, element))
    let formula = Linq.ofLinq (Dictionary<string, Reflection.MethodInfo>() :> Library) sum
    Assert.Equal("sum(i = 0..4, a[i]^2)", Infix.format formula)
    Assert.Throws<NotSupportedException>(fun () -> Linq.toLinq (Dictionary<string, Reflection.MethodInfo>() :> Library) (Dictionary<string, Expression>()) formula |> ignore) |> ignore
    Assert.Throws<NotSupportedException>(fun () -> LoopMarkers.Sum("i", 0.0, 1.0, 2.0) |> ignore) |> ignore
