module ExprGrad.Symbolic.Tests.RationalTests

open System
open System.Numerics
open Xunit
open ExprGrad.Symbolic

let private q (n: int) (d: int) = Rational.create (BigInteger n) (BigInteger d)

[<Fact>]
let ``6/-4 normalizes to -3/2: gcd 1, positive denominator`` () =
    let r = q 6 -4
    Assert.Equal(BigInteger -3, r.Numerator)
    Assert.Equal(BigInteger 2, r.Denominator)
    Assert.Equal("-3/2", r.ToString())
    Assert.Equal(q 0 1, q 0 -7)

[<Fact>]
let ``1/2 + 1/3 = 5/6; 1/2 - 1/2 = 0; 2/3 * 3/4 = 1/2; (1/2) / (1/4) = 2`` () =
    Assert.Equal(q 5 6, q 1 2 + q 1 3)
    Assert.Equal(Rational.zero, q 1 2 - q 1 2)
    Assert.Equal(q 1 2, q 2 3 * q 3 4)
    Assert.Equal(Rational.ofInt 2, q 1 2 / q 1 4)
    Assert.Equal(q -1 2, -(q 1 2))
    Assert.Throws<DivideByZeroException>(fun () -> q 1 2 / Rational.zero |> ignore) |> ignore

[<Fact>]
let ``Comparison is numeric: -1/2 < 1/3 < 1/2`` () =
    Assert.True(Rational.compare (q -1 2) (q 1 3) < 0)
    Assert.True(Rational.compare (q 1 3) (q 1 2) < 0)
    Assert.Equal(0, Rational.compare (q 2 4) (q 1 2))
    Assert.Equal<Rational list>([ q -1 2; q 1 3; q 1 2 ], List.sort [ q 1 2; q -1 2; q 1 3 ])

[<Fact>]
let ``Integer powers: (2/3)^3 = 8/27, (2/3)^-2 = 9/4, x^0 = 1`` () =
    Assert.Equal(q 8 27, Rational.pow (q 2 3) 3)
    Assert.Equal(q 9 4, Rational.pow (q 2 3) -2)
    Assert.Equal(Rational.one, Rational.pow (q -5 7) 0)

[<Fact>]
let ``Roots are exact or absent: sqrt(9/4) = 3/2, cbrt 27 = 3, sqrt 2 has none`` () =
    Assert.Equal(Some(q 3 2), Rational.tryRoot (q 9 4) 2)
    Assert.Equal(Some(Rational.ofInt 3), Rational.tryRoot (Rational.ofInt 27) 3)
    Assert.Equal(None, Rational.tryRoot (Rational.ofInt 2) 2)

[<Fact>]
let ``floor and ceiling: floor(-3/2) = -2, ceiling(-3/2) = -1, floor 7/2 = 3`` () =
    Assert.Equal(BigInteger -2, Rational.floor (q -3 2))
    Assert.Equal(BigInteger -1, Rational.ceiling (q -3 2))
    Assert.Equal(BigInteger 3, Rational.floor (q 7 2))
    Assert.Equal(BigInteger -4, Rational.floor (Rational.ofInt -4))

[<Fact>]
let ``ofFloat imports short decimals exactly: 0.5 → 1/2, 0.1 → 1/10, 2.5e-3 → 1/400, 3 → 3, -1e20`` () =
    Assert.Equal(Some(q 1 2), Rational.tryOfFloat 0.5)
    Assert.Equal(Some(q 1 10), Rational.tryOfFloat 0.1)
    Assert.Equal(Some(q 1 400), Rational.tryOfFloat 2.5e-3)
    Assert.Equal(Some(Rational.ofInt 3), Rational.tryOfFloat 3.0)
    Assert.Equal(Some(Rational.ofInt 0), Rational.tryOfFloat -0.0)
    Assert.Equal(Some(Rational.ofBigInteger (BigInteger.Pow(BigInteger 10, 20) * BigInteger.MinusOne)), Rational.tryOfFloat -1e20)
    Assert.Equal(Some(Rational.create (BigInteger 123456789012345L) (BigInteger 1000)), Rational.tryOfFloat 123456789012.345)

[<Fact>]
let ``ofFloat refuses doubles that are no short decimal: pi, 1/3.0, 0.1 + 0.2, NaN, infinity`` () =
    Assert.Equal(None, Rational.tryOfFloat Math.PI)
    Assert.Equal(None, Rational.tryOfFloat (1.0 / 3.0))
    Assert.Equal(None, Rational.tryOfFloat (0.1 + 0.2))
    Assert.Equal(None, Rational.tryOfFloat nan)
    Assert.Equal(None, Rational.tryOfFloat infinity)
    Assert.Equal(None, Rational.tryOfFloat 1234567890123456.0)

[<Fact>]
let ``toFloat is the nearest double: 1/10 → 0.1, 1/3 → 1/3.0, huge quotients stay accurate`` () =
    Assert.Equal(0.1, Rational.toFloat (q 1 10))
    Assert.Equal(1.0 / 3.0, Rational.toFloat (q 1 3))
    let big = Rational.create (BigInteger.Pow(BigInteger 10, 400) + BigInteger.One) (BigInteger.Pow(BigInteger 10, 399))
    Assert.Equal(10.0, Rational.toFloat big, 12)
    let tiny = Rational.create BigInteger.One (BigInteger.Pow(BigInteger 2, 1070))
    Assert.Equal(Math.ScaleB(1.0, -1070), Rational.toFloat tiny)
