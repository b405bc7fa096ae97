namespace ExprGrad.Symbolic

open System
open System.Globalization
open System.Numerics

/// An exact rational number n/d on BigInteger, always normalized: gcd(n, d) = 1 and d > 0 (so 0 is 0/1).
/// Normalization makes structural equality numeric equality. Build one with <c>Rational.create</c>,
/// <c>Rational.ofInt</c> or <c>Rational.tryOfFloat</c>.
[<Sealed; AllowNullLiteral(false)>]
type Rational private (numerator: BigInteger, denominator: BigInteger) =

    /// The numerator n of n/d (carries the sign).
    member _.Numerator = numerator

    /// The denominator d of n/d (always positive).
    member _.Denominator = denominator

    /// True when the denominator is 1.
    member _.IsInteger = denominator.IsOne

    /// -1, 0 or 1.
    member _.Sign = numerator.Sign

    /// n/d in lowest terms with a positive denominator; throws DivideByZeroException when d = 0.
    static member Create(n: BigInteger, d: BigInteger) : Rational =
        if d.IsZero then raise (DivideByZeroException "a rational number's denominator cannot be 0")
        let g = BigInteger.GreatestCommonDivisor(n, d)
        let n, d = n / g, d / g
        if d.Sign < 0 then Rational(-n, -d) else Rational(n, d)

    /// The integer n as n/1.
    static member OfInteger(n: BigInteger) : Rational = Rational(n, BigInteger.One)

    /// Sum.
    static member (+)(a: Rational, b: Rational) =
        if a.Denominator = b.Denominator then Rational.Create(a.Numerator + b.Numerator, a.Denominator)
        else Rational.Create(a.Numerator * b.Denominator + b.Numerator * a.Denominator, a.Denominator * b.Denominator)

    /// Difference.
    static member (-)(a: Rational, b: Rational) = a + Rational(-b.Numerator, b.Denominator)

    /// Product.
    static member (*)(a: Rational, b: Rational) =
        Rational.Create(a.Numerator * b.Numerator, a.Denominator * b.Denominator)

    /// Quotient; throws DivideByZeroException for b = 0.
    static member (/)(a: Rational, b: Rational) =
        Rational.Create(a.Numerator * b.Denominator, a.Denominator * b.Numerator)

    /// Negation.
    static member (~-)(a: Rational) = Rational(-a.Numerator, a.Denominator)

    /// Exact comparison: -1, 0 or 1.
    static member Compare(a: Rational, b: Rational) =
        BigInteger.Compare(a.Numerator * b.Denominator, b.Numerator * a.Denominator)

    override _.Equals(other: obj | null) =
        match other with
        | :? Rational as q -> numerator = q.Numerator && denominator = q.Denominator
        | _ -> false

    override _.GetHashCode() = HashCode.Combine(numerator, denominator)

    /// "n" for an integer, "n/d" otherwise, in invariant culture.
    override _.ToString() =
        if denominator.IsOne then numerator.ToString(CultureInfo.InvariantCulture)
        else numerator.ToString(CultureInfo.InvariantCulture) + "/" + denominator.ToString(CultureInfo.InvariantCulture)

    interface IComparable<Rational> with
        member a.CompareTo(b: Rational | null) =
            match b with
            | null -> 1
            | b -> Rational.Compare(a, b)

    interface IComparable with
        member a.CompareTo(b: obj | null) =
            match b with
            | :? Rational as q -> Rational.Compare(a, q)
            | _ -> invalidArg "b" "a Rational compares only with a Rational"

/// Operations on exact rationals.
[<RequireQualifiedAccess>]
module Rational =

    /// n/d in lowest terms (d ≠ 0).
    [<CompiledName("Create")>]
    let create (n: BigInteger) (d: BigInteger) = Rational.Create(n, d)

    /// The integer n.
    [<CompiledName("OfInteger")>]
    let ofBigInteger (n: BigInteger) = Rational.OfInteger n

    /// The integer n.
    [<CompiledName("OfInt32")>]
    let ofInt (n: int) = Rational.OfInteger(BigInteger n)

    /// 0.
    let zero = ofInt 0

    /// 1.
    let one = ofInt 1

    /// -1.
    let minusOne = ofInt -1

    /// True for 0.
    let isZero (r: Rational) = r.Numerator.IsZero

    /// True for 1.
    let isOne (r: Rational) = r.Numerator.IsOne && r.Denominator.IsOne

    /// True for an integer.
    let isInteger (r: Rational) = r.IsInteger

    /// -1, 0 or 1.
    let sign (r: Rational) = r.Sign

    /// Absolute value.
    let abs (r: Rational) = if r.Sign < 0 then -r else r

    /// Exact comparison: negative, 0 or positive.
    let compare (a: Rational) (b: Rational) = Rational.Compare(a, b)

    /// The largest integer ≤ r.
    let floor (r: Rational) =
        let q = BigInteger.Divide(r.Numerator, r.Denominator)
        if r.Sign < 0 && q * r.Denominator <> r.Numerator then q - BigInteger.One else q

    /// The smallest integer ≥ r.
    let ceiling (r: Rational) = -(floor (-r))

    /// r^n for any integer n (0^n for n &lt; 0 throws DivideByZeroException).
    [<CompiledName("Power")>]
    let pow (r: Rational) (n: int) : Rational =
        if n >= 0 then Rational.Create(BigInteger.Pow(r.Numerator, n), BigInteger.Pow(r.Denominator, n))
        else Rational.Create(BigInteger.Pow(r.Denominator, -n), BigInteger.Pow(r.Numerator, -n))

    /// The exact k-th root of a non-negative integer, if it is an integer.
    let internal tryIntegerRoot (n: BigInteger) (k: int) : BigInteger option =
        if n.Sign < 0 || k < 1 then None
        elif n.IsZero || n.IsOne || k = 1 then Some n
        else
            // Newton's iteration from above on floor(n^(1/k)), then an exact check.
            let bits = int (n.GetBitLength())
            let mutable x = BigInteger.One <<< ((bits + k - 1) / k + 1)
            let mutable go = true
            while go do
                let y = ((BigInteger k - BigInteger.One) * x + n / BigInteger.Pow(x, k - 1)) / BigInteger k
                if y >= x then go <- false else x <- y
            if BigInteger.Pow(x, k) = n then Some x else None

    /// The exact k-th root of r when r ≥ 0 and both its numerator and denominator are perfect k-th powers.
    let tryRoot (r: Rational) (k: int) : Rational option =
        match tryIntegerRoot r.Numerator k, tryIntegerRoot r.Denominator k with
        | Some n, Some d -> Some(Rational.Create(n, d))
        | _ -> None

    /// The double nearest to r (correctly rounded for numerators and denominators below 2^53).
    [<CompiledName("ToDouble")>]
    let toFloat (r: Rational) : float =
        let limit = BigInteger.One <<< 53
        let n, d = r.Numerator, r.Denominator
        if BigInteger.Abs n < limit && d < limit then float n / float d
        else
            // Scale so the integer quotient carries 64 significant bits, then scale back.
            let shift = 64 - int (BigInteger.Abs(n).GetBitLength()) + int (d.GetBitLength())
            let q = if shift >= 0 then (n <<< shift) / d else n / (d <<< -shift)
            Math.ScaleB(float q, -shift)

    /// The number a double denotes exactly when it is a short decimal: finite, and its shortest round-trip
    /// text ("R") has at most 15 significant digits (0.5 → 1/2, 0.1 → 1/10, 2.5e-3 → 1/400). Otherwise None:
    /// such a double (Math.PI, 1.0/3.0) is kept as an inexact number.
    [<CompiledName("TryOfDouble")>]
    let tryOfFloat (x: float) : Rational option =
        if not (Double.IsFinite x) then None
        elif x = 0.0 then Some zero
        else
            let text = x.ToString("R", CultureInfo.InvariantCulture)
            let mantissa, exponent =
                match text.IndexOfAny [| 'E'; 'e' |] with
                | -1 -> text, 0
                | i -> text.Substring(0, i), Int32.Parse(text.Substring(i + 1), CultureInfo.InvariantCulture)
            let negative = mantissa.StartsWith "-"
            let mantissa = mantissa.TrimStart('-', '+')
            let point = mantissa.IndexOf '.'
            let digits, exponent =
                if point < 0 then mantissa, exponent
                else mantissa.Remove(point, 1), exponent - (mantissa.Length - point - 1)
            let significant = digits.TrimStart('0').TrimEnd('0').Length
            if significant > 15 then None
            else
                let n = BigInteger.Parse(digits, CultureInfo.InvariantCulture)
                let n = if negative then -n else n
                if exponent >= 0 then Some(Rational.Create(n * BigInteger.Pow(BigInteger 10, exponent), BigInteger.One))
                else Some(Rational.Create(n, BigInteger.Pow(BigInteger 10, -exponent)))
