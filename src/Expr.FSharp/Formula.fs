namespace ExprGrad.Symbolic

open System
open System.Collections.Generic

/// The comparison of a condition's two sides, as the Linq comparison nodes (LessThan, ...).
[<RequireQualifiedAccess>]
type Comparison =
    | Less
    | LessOrEqual
    | Greater
    | GreaterOrEqual
    | Equal
    | NotEqual

/// A formula in canonical form. Build formulas with the smart constructors of the <c>Formula</c> module
/// (<c>Formula.add</c>, <c>Formula.multiply</c>, ...): they simplify as they build, so two formulas that the
/// constructors make equal are structurally equal. Equality is structural (NaN equals NaN); the total order
/// that sorts sums and products is <c>Formula.compare</c>.
[<CustomEquality; NoComparison>]
type Formula =
    /// An exact rational number.
    | Number of Rational
    /// An inexact number: a double that is no short decimal (π, 1/3.0), or a non-finite double.
    | Approx of float
    /// A variable: a parameter's name, an array element "w[0]", a captured variable's name.
    | Symbol of string
    /// A sum of at least two terms (see <c>Formula.sum</c> for its invariant).
    | Sum of Formula list
    /// A product of at least two factors (see <c>Formula.product</c> for its invariant).
    | Product of Formula list
    /// base^exponent with Math.Pow semantics.
    | Power of Formula * Formula
    /// A catalogue function applied to its arguments.
    | Apply of Function * Formula list
    /// A piecewise formula: the first branch where the condition holds, else the second.
    | If of Condition * Formula * Formula
    /// An element of a named array at integer indices that are not all numbers: <c>a[i + 1]</c>, <c>X[i, j]</c>
    /// (see <c>Formula.element</c>). It evaluates as the symbol named <c>a[3]</c> where the index is 3.
    | Element of string * Formula list
    /// A sum over a range: the body for index = lower, lower + 1, ..., upper (none when upper &lt; lower), added in
    /// that order (see <c>Formula.series</c>). The index is bound in the body only; nothing moves in or out of it.
    | Series of string * Formula * Formula * Formula

    /// The canonical total order of formulas: numbers first (by value), then by base, then by exponent, so that
    /// x &lt; x^2 &lt; y; a product compares by its number of non-numeric factors first, then factor by factor,
    /// then by coefficient (so sin(x) comes before x*cos(x) in a sum).
    static member Order(a: Formula, b: Formula) : int =
        if obj.ReferenceEquals(a, b) then 0
        else StackGuard.run (fun () -> Formula.OrderStep(a, b))

    static member private Rank(f: Formula) =
        match f with
        | Number _ | Approx _ -> 0
        | Symbol _ -> 1
        | Element _ -> 2
        | Power _ -> 3
        | Apply _ -> 4
        | Product _ -> 5
        | Sum _ -> 6
        | If _ -> 7
        | Series _ -> 8

    static member private NumberValue(f: Formula) =
        match f with
        | Number r -> Rational.toFloat r
        | Approx v -> v
        | _ -> nan

    static member internal OrderLists(xs: Formula list, ys: Formula list) : int =
        match xs, ys with
        | [], [] -> 0
        | [], _ -> -1
        | _, [] -> 1
        | x :: xs, y :: ys ->
            let c = Formula.Order(x, y)
            if c <> 0 then c else Formula.OrderLists(xs, ys)

    static member private OrderProducts(xs: Formula list, ys: Formula list) : int =
        let split fs =
            match fs with
            | (Number _ | Approx _ as c) :: rest -> c, rest
            | _ -> Number(Rational.ofInt 1), fs
        let ca, xs = split xs
        let cb, ys = split ys
        let c = compare (List.length xs) (List.length ys)
        if c <> 0 then c
        else
            let c = Formula.OrderLists(xs, ys)
            if c <> 0 then c else Formula.Order(ca, cb)

    static member private OrderStep(a: Formula, b: Formula) : int =
        let one = Number(Rational.ofInt 1)
        match a, b with
        | Number p, Number q -> Rational.compare p q
        | Approx u, Approx v -> u.CompareTo v
        | (Number _ | Approx _), (Number _ | Approx _) ->
            let c = (Formula.NumberValue a).CompareTo(Formula.NumberValue b)
            if c <> 0 then c
            else match a with Number _ -> -1 | _ -> 1
        | (Number _ | Approx _), _ -> -1
        | _, (Number _ | Approx _) -> 1
        | Product xs, Product ys -> Formula.OrderProducts(xs, ys)
        | Product xs, _ -> Formula.OrderProducts(xs, [ b ])
        | _, Product ys -> Formula.OrderProducts([ a ], ys)
        | Power(ba, ea), Power(bb, eb) ->
            let c = Formula.Order(ba, bb)
            if c <> 0 then c else Formula.Order(ea, eb)
        | Power(ba, ea), _ ->
            let c = Formula.Order(ba, b)
            if c <> 0 then c else Formula.Order(ea, one)
        | _, Power(bb, eb) ->
            let c = Formula.Order(a, bb)
            if c <> 0 then c else Formula.Order(one, eb)
        | Symbol s, Symbol t -> String.CompareOrdinal(s, t)
        | Apply(f, xs), Apply(g, ys) ->
            let c = compare f g
            if c <> 0 then c else Formula.OrderLists(xs, ys)
        | Sum xs, Sum ys -> Formula.OrderLists(xs, ys)
        | Element(a, xs), Element(b, ys) ->
            let c = String.CompareOrdinal(a, b)
            if c <> 0 then c else Formula.OrderLists(xs, ys)
        | Series(i, l1, u1, b1), Series(j, l2, u2, b2) ->
            let c = String.CompareOrdinal(i, j)
            if c <> 0 then c else Formula.OrderLists([ l1; u1; b1 ], [ l2; u2; b2 ])
        | If(c1, a1, b1), If(c2, a2, b2) ->
            let c = Condition.Order(c1, c2)
            if c <> 0 then c
            else
                let c = Formula.Order(a1, a2)
                if c <> 0 then c else Formula.Order(b1, b2)
        | _ -> compare (Formula.Rank a) (Formula.Rank b)

    /// A hash consistent with structural equality, looking only a few levels deep (so it is cheap on deep trees).
    static member internal Hash(f: Formula, depth: int) : int =
        if depth = 0 then 0
        else
            let list tag (xs: Formula list) =
                xs |> List.truncate 4 |> List.fold (fun h x -> HashCode.Combine(h, Formula.Hash(x, depth - 1))) tag
            match f with
            | Number r -> r.GetHashCode()
            | Approx v -> v.GetHashCode()
            | Symbol s -> s.GetHashCode()
            | Sum xs -> list 1 xs
            | Product xs -> list 2 xs
            | Power(b, e) -> HashCode.Combine(3, Formula.Hash(b, depth - 1), Formula.Hash(e, depth - 1))
            | Apply(g, xs) -> list (HashCode.Combine(4, g)) xs
            | If(_, a, b) -> HashCode.Combine(5, Formula.Hash(a, depth - 1), Formula.Hash(b, depth - 1))
            | Element(a, xs) -> list (HashCode.Combine(6, a)) xs
            | Series(i, l, u, b) -> list (HashCode.Combine(7, i)) [ l; u; b ]

    override this.Equals(other: obj | null) =
        match other with
        | :? Formula as g -> Formula.Order(this, g) = 0
        | _ -> false

    override this.GetHashCode() = Formula.Hash(this, 4)

/// A condition of a piecewise formula.
and [<CustomEquality; NoComparison>] Condition =
    /// left op right, with IEEE semantics (every comparison with NaN is false except !=).
    | Compare of Comparison * Formula * Formula
    /// Both hold.
    | And of Condition * Condition
    /// Either holds.
    | Or of Condition * Condition
    /// The condition does not hold.
    | Not of Condition

    /// The total order of conditions (by kind, then by parts).
    static member Order(a: Condition, b: Condition) : int =
        if obj.ReferenceEquals(a, b) then 0
        else
            StackGuard.run (fun () ->
                let rank c =
                    match c with
                    | Compare _ -> 0
                    | And _ -> 1
                    | Or _ -> 2
                    | Not _ -> 3
                match a, b with
                | Compare(o1, l1, r1), Compare(o2, l2, r2) ->
                    let c = compare o1 o2
                    if c <> 0 then c
                    else
                        let c = Formula.Order(l1, l2)
                        if c <> 0 then c else Formula.Order(r1, r2)
                | And(a1, b1), And(a2, b2)
                | Or(a1, b1), Or(a2, b2) ->
                    let c = Condition.Order(a1, a2)
                    if c <> 0 then c else Condition.Order(b1, b2)
                | Not a1, Not a2 -> Condition.Order(a1, a2)
                | _ -> compare (rank a) (rank b))

    override this.Equals(other: obj | null) =
        match other with
        | :? Condition as c -> Condition.Order(this, c) = 0
        | _ -> false

    override this.GetHashCode() =
        match this with
        | Compare(o, l, r) -> HashCode.Combine(o, Formula.Hash(l, 3), Formula.Hash(r, 3))
        | And _ -> 1
        | Or _ -> 2
        | Not _ -> 3

/// Conditions of piecewise formulas: comparisons and their connectives, folded when constant.
[<RequireQualifiedAccess>]
module Condition =

    let private value f =
        match f with
        | Number r -> Some(Rational.toFloat r)
        | Approx v -> Some v
        | _ -> None

    /// The truth of a condition whose comparisons are all between numbers; None when it depends on a symbol.
    [<CompiledName("TryTruth")>]
    let rec tryTruth (c: Condition) : bool option =
        StackGuard.run (fun () ->
            match c with
            | Compare(op, Number p, Number q) ->
                let s = Rational.compare p q
                Some(
                    match op with
                    | Comparison.Less -> s < 0
                    | Comparison.LessOrEqual -> s <= 0
                    | Comparison.Greater -> s > 0
                    | Comparison.GreaterOrEqual -> s >= 0
                    | Comparison.Equal -> s = 0
                    | Comparison.NotEqual -> s <> 0)
            | Compare(op, l, r) ->
                match value l, value r with
                | Some u, Some v ->
                    Some(
                        match op with
                        | Comparison.Less -> u < v
                        | Comparison.LessOrEqual -> u <= v
                        | Comparison.Greater -> u > v
                        | Comparison.GreaterOrEqual -> u >= v
                        | Comparison.Equal -> u = v
                        | Comparison.NotEqual -> not (u = v))
                | _ -> None
            | And(a, b) ->
                match tryTruth a, tryTruth b with
                | Some false, _ | _, Some false -> Some false
                | Some true, Some true -> Some true
                | _ -> None
            | Or(a, b) ->
                match tryTruth a, tryTruth b with
                | Some true, _ | _, Some true -> Some true
                | Some false, Some false -> Some false
                | _ -> None
            | Not a -> tryTruth a |> Option.map not)

    /// left op right.
    [<CompiledName("Compare")>]
    let compare (op: Comparison) (left: Formula) (right: Formula) : Condition = Compare(op, left, right)

    /// a &amp;&amp; b; a constant side folds away (true &amp;&amp; b = b, false &amp;&amp; b = false).
    [<CompiledName("AndAlso")>]
    let andAlso (a: Condition) (b: Condition) : Condition =
        match tryTruth a, tryTruth b with
        | Some true, _ -> b
        | Some false, _ -> a
        | _, Some true -> a
        | _, Some false -> b
        | _ -> And(a, b)

    /// a || b; a constant side folds away.
    [<CompiledName("OrElse")>]
    let orElse (a: Condition) (b: Condition) : Condition =
        match tryTruth a, tryTruth b with
        | Some true, _ -> a
        | Some false, _ -> b
        | _, Some true -> b
        | _, Some false -> a
        | _ -> Or(a, b)

    /// !a; !!a = a. (!(x &lt; y) is not x &gt;= y when NaN is possible, so comparisons are not inverted.)
    [<CompiledName("Not")>]
    let not (a: Condition) : Condition =
        match a with
        | Not b -> b
        | _ -> Not a

/// Smart constructors of canonical formulas, and walks over them. Every walk is iterative or guarded by
/// StackGuard, so formulas 100,000 levels deep are safe.
[<RequireQualifiedAccess>]
module Formula =

    /// 0.
    let zero = Number Rational.zero

    /// 1.
    let one = Number Rational.one

    /// -1.
    let minusOne = Number Rational.minusOne

    let private half = Number(Rational.create (Numerics.BigInteger 1) (Numerics.BigInteger 2))

    /// An exact number.
    [<CompiledName("Number")>]
    let number (r: Rational) = Number r

    /// The integer n.
    [<CompiledName("OfInt32")>]
    let ofInt (n: int) = Number(Rational.ofInt n)

    /// The number of significant digits of a double's shortest decimal.
    let private digits (x: float) =
        x.ToString("R", Globalization.CultureInfo.InvariantCulture).TrimStart('-').Split('E').[0].Replace(".", "").Trim('0').Length

    /// A double: exact (Number) when it is an integer or a decimal of at most eleven significant digits (0.5, 0.1, 3),
    /// otherwise inexact (Approx: π, 1/3.0, 0.123456789123, NaN). A Number is what it reads back as from the double
    /// Linq.toLinq writes for it.
    [<CompiledName("OfDouble")>]
    let ofFloat (x: float) =
        match Rational.tryOfFloat x with
        | Some r when r.IsInteger || digits x < 12 -> Number r
        | _ -> Approx x

    let private longLimit = Numerics.BigInteger 1_000_000_000_000L

    /// An exact result as formulas hold it. A fraction of thirteen digits or more (exact arithmetic on long decimals)
    /// prints as its double and Linq.toLinq writes it as that double, which reads back inexact: it is that double
    /// here too, so a formula and ofLinq(toLinq formula) compute on the same numbers (acosh of it evaluates in both).
    let private exact (r: Rational) =
        if not r.IsInteger && (Numerics.BigInteger.Abs r.Numerator >= longLimit || r.Denominator >= longLimit) then
            ofFloat (Rational.toFloat r)
        else Number r

    /// A variable.
    [<CompiledName("Symbol")>]
    let symbol (name: string) = Symbol name

    /// The canonical total order (see Formula.Order).
    [<CompiledName("Compare")>]
    let compare (a: Formula) (b: Formula) = Formula.Order(a, b)

    let private isNumber f =
        match f with
        | Number _ | Approx _ -> true
        | _ -> false

    /// The value of a formula without symbols (a constant the symbolic module keeps, cosh(5), log(tanh(3))), through
    /// numbers, sums, products, powers and calls; None for anything else or past 64 nodes.
    let private constantValue (f: Formula) : float option =
        let mutable budget = 64
        let rec value f =
            budget <- budget - 1
            if budget < 0 then None
            else
                match f with
                | Number r -> Some(Rational.toFloat r)
                | Approx v -> Some v
                | Sum xs -> values xs |> Option.map Array.sum
                | Product xs -> values xs |> Option.map (Array.fold (*) 1.0)
                | Power(b, e) -> values [ b; e ] |> Option.map (fun v -> Math.Pow(v[0], v[1]))
                | Apply(g, xs) -> values xs |> Option.map (Function.evaluate g)
                | _ -> None
        and values xs =
            let vs = List.map value xs
            if List.forall Option.isSome vs then Some(vs |> List.map Option.get |> Array.ofList) else None
        value f

    /// The terms of a sum split into those that are constants (constantValue), with their value's sum, and the rest.
    let private splitConstants (terms: Formula list) : Formula list * float * Formula list =
        let valued = terms |> List.map (fun t -> t, constantValue t)
        let constants, rest = valued |> List.partition (fun (_, v) -> v.IsSome)
        List.map fst constants, constants |> List.sumBy (fun (_, v) -> v.Value), List.map fst rest

    let private floatOf f =
        match f with
        | Number r -> Rational.toFloat r
        | Approx v -> v
        | _ -> nan

    let private addNumbers a b =
        match a, b with
        | Number p, Number q -> exact (p + q)
        | _ -> ofFloat (floatOf a + floatOf b)

    let private multiplyNumbers a b =
        match a, b with
        | Number p, Number q -> exact (p * q)
        | _ -> ofFloat (floatOf a * floatOf b)

    let private isZeroNumber f =
        match f with
        | Number r -> Rational.isZero r
        | _ -> false

    let private isOneNumber f =
        match f with
        | Number r -> Rational.isOne r
        | _ -> false

    /// Functions finite wherever their arguments are finite (so f(..)·0 = 0 hides no NaN).
    let private isTotalFunction f =
        match f with
        | Function.Sin | Function.Cos | Function.Tanh | Function.Atan | Function.Sigmoid | Function.Abs
        | Function.Max | Function.Min | Function.Sign | Function.Step | Function.Floor | Function.Ceiling | Function.Round
        | Function.Truncate | Function.Relu | Function.Atan2 | Function.Cbrt | Function.Asinh | Function.Square | Function.Softplus -> true
        | _ -> false

    /// True when f is finite wherever its symbols are: built from symbols, finite numbers, sums, products,
    /// non-negative integer powers and total functions (sin, cos, tanh, atan, sigmoid, abs, max, ...), so that
    /// f·0 = 0 and f − f = 0 hide no NaN. Not for log, sqrt, division, exp (overflow), ...
    [<CompiledName("IsTotal")>]
    let rec isTotal (f: Formula) : bool =
        StackGuard.run (fun () ->
            match f with
            | Number _ | Symbol _ -> true
            | Approx v -> Double.IsFinite v
            | Sum xs | Product xs -> List.forall isTotal xs
            | Power(b, Number e) -> e.IsInteger && e.Sign >= 0 && isTotal b
            | Power _ -> false
            | Apply(g, xs) -> isTotalFunction g && List.forall isTotal xs
            | If(_, a, b) -> isTotal a && isTotal b
            | Element(_, xs) -> List.forall isTotal xs
            | Series(_, l, u, b) -> isTotal l && isTotal u && isTotal b)

    let rec private isNonNegative (f: Formula) : bool =
        match f with
        | Number r -> r.Sign >= 0
        | Approx v -> v >= 0.0
        | Power(_, Number e) when e.IsInteger && e.Numerator.IsEven -> true
        | Apply((Function.Abs | Function.Relu | Function.Exp | Function.Cosh | Function.Sigmoid | Function.Softplus), _) -> true
        | Power(b, _) -> isNonNegative b
        | Sum xs | Product xs -> List.forall isNonNegative xs
        | _ -> false

    /// True when f is known positive (or NaN) wherever it is defined: positive numbers, exp, cosh, sigmoid,
    /// softplus, and sums of non-negative terms with a positive one.
    let rec private isPositive (f: Formula) : bool =
        match f with
        | Number r -> r.Sign > 0
        | Approx v -> v > 0.0
        | Apply((Function.Exp | Function.Cosh | Function.Sigmoid | Function.Softplus), _) -> true
        | Sum xs -> List.forall isNonNegative xs && List.exists isPositive xs
        | Product xs -> List.forall isPositive xs
        | Power(b, _) -> isPositive b
        | _ -> false

    /// True when u reads as a negation: a negative number or multiple (−x, −2*y), a sum whose first term that is no
    /// number is one (min(2, x) − x, against x − min(2, x)): odd and even functions take −u instead, so sign(−u) and
    /// sign(u) are like terms.
    let private isNegated (u: Formula) =
        match u with
        | Number r | Product((Number r) :: _) -> r.Sign < 0
        | Sum terms ->
            match terms |> List.tryFind (fun t -> match t with Number _ | Approx _ -> false | _ -> true) with
            | Some(Product((Number r) :: _)) -> r.Sign < 0
            | _ -> false
        | _ -> false

    /// Splits a term of a sum into coefficient and monomial: 3*x*y → (3, x*y), x → (1, x).
    let private splitTerm t =
        match t with
        | Product((Number _ | Approx _ as c) :: [ m ]) -> c, m
        | Product((Number _ | Approx _ as c) :: rest) -> c, Product rest
        | _ -> one, t

    /// The inverse of splitTerm for a canonical monomial.
    let private joinTerm c m =
        if isOneNumber c then m
        else
            match m with
            | Product fs -> Product(c :: fs)
            | _ -> Product [ c; m ]

    let private splitFactor f =
        match f with
        | Power(b, e) -> b, e
        | _ -> f, one

    /// True for an exponent that is an integer: b^e with any other exponent is NaN for b < 0 (Math.Pow).
    let private isIntegerExponent e =
        match e with
        | Number r -> r.IsInteger
        | Approx v -> v = Math.Round v
        | _ -> false

    /// A factor as its base, its exponent, and whether it is NaN for a negative base: b^e for an exponent that is no
    /// integer, and sqrt(b)^n, the form that keeps that domain when such powers merge to an integer exponent.
    let private splitFactorWithDomain f =
        match f with
        | Power(Power(b, Number h), Number n) when not h.IsInteger && n.IsInteger -> b, Number(h * n), true
        | Power(b, e) -> b, e, not (isIntegerExponent e)
        | _ -> f, one, false

    /// b^s where the powers that make it include one that is NaN for b < 0 (x^(1/2)·x^(1/2), (x^(3/2))^2): when s is an
    /// integer and b may be negative, b^s alone would hide that NaN, so the domain is kept in sqrt(b): sqrt(b)^(2s),
    /// and sqrt(b)^2/b for s = 0. None when b^s keeps the domain itself.
    let private domainPower (b: Formula) (s: Formula) : Formula list option =
        match s with
        | Number r when r.IsInteger && not (isNonNegative b || isPositive b) ->
            let root = Power(b, half)
            if Rational.isZero r then Some [ Power(root, ofInt 2); Power(b, minusOne) ]
            else Some [ Power(root, Number(r * Rational.ofInt 2)) ]
        | _ -> None

    /// A function of exact numbers, when its value is exact.
    let private exactValue (f: Function) (args: Rational list) : Rational option =
        let isZ (r: Rational) = Rational.isZero r
        let isO (r: Rational) = Rational.isOne r
        let int (n: int) = Some(Rational.ofInt n)
        let big (n: Numerics.BigInteger) = Some(Rational.ofBigInteger n)
        let logOfPower (b: int) (r: Rational) =
            // log_b r for r = b^k (or 1/b^k), exactly.
            let n, d = r.Numerator, r.Denominator
            let isPowerOf (m: Numerics.BigInteger) =
                let mutable m = m
                let mutable k = 0
                while m > Numerics.BigInteger.One && (m % Numerics.BigInteger b).IsZero do
                    m <- m / Numerics.BigInteger b
                    k <- k + 1
                if m.IsOne then Some k else None
            if r.Sign <= 0 then None
            elif d.IsOne then isPowerOf n |> Option.map Rational.ofInt
            elif n.IsOne then isPowerOf d |> Option.map (fun k -> Rational.ofInt -k)
            else None
        match f, args with
        | (Function.Sin | Function.Tan | Function.Asin | Function.Atan | Function.Sinh | Function.Tanh | Function.Asinh | Function.Atanh),
          [ x ] when isZ x -> Some x
        | (Function.Cos | Function.Cosh | Function.Exp), [ x ] when isZ x -> int 1
        | (Function.Log | Function.Acos | Function.Acosh), [ x ] when isO x -> int 0
        | Function.Log10, [ x ] -> logOfPower 10 x
        | Function.Log2, [ x ] -> logOfPower 2 x
        | Function.Sigmoid, [ x ] when isZ x -> Some(Rational.create (Numerics.BigInteger 1) (Numerics.BigInteger 2))
        | Function.Cbrt, [ x ] ->
            Rational.tryRoot (Rational.abs x) 3 |> Option.map (fun r -> if x.Sign < 0 then -r else r)
        | Function.Abs, [ x ] -> Some(Rational.abs x)
        | Function.Sign, [ x ] -> int x.Sign
        | Function.Step, [ x ] -> Some(Rational.create (Numerics.BigInteger(1 + x.Sign)) (Numerics.BigInteger 2))
        | Function.Floor, [ x ] -> big (Rational.floor x)
        | Function.Ceiling, [ x ] -> big (Rational.ceiling x)
        | Function.Truncate, [ x ] -> big (if x.Sign < 0 then Rational.ceiling x else Rational.floor x)
        | Function.Round, [ x ] ->
            // Math.Round: to the nearest integer, halves to even.
            let f = Rational.floor x
            let fraction = x - Rational.ofBigInteger f
            let c = Rational.compare fraction (Rational.create (Numerics.BigInteger 1) (Numerics.BigInteger 2))
            if c < 0 then big f
            elif c > 0 then big (f + Numerics.BigInteger.One)
            elif f.IsEven then big f
            else big (f + Numerics.BigInteger.One)
        | Function.Relu, [ x ] -> Some(if x.Sign > 0 then x else Rational.zero)
        | Function.Max, [ x; y ] -> Some(if Rational.compare x y >= 0 then x else y)
        | Function.Min, [ x; y ] -> Some(if Rational.compare x y <= 0 then x else y)
        | Function.Atan2, [ y; x ] when isZ y && x.Sign > 0 -> int 0
        | _ -> None

    /// Largest exponent (in bits of the result) evaluated exactly; larger numeric powers stay symbolic.
    let private exactPowerBits = 4096L

    let private numericPower (b: Formula) (e: Formula) : Formula =
        match b, e with
        | Number p, Number r ->
            let integerPower (p: Rational) (n: Numerics.BigInteger) =
                let bits = max (p.Numerator.GetBitLength()) (p.Denominator.GetBitLength())
                if p.Sign = 0 && n.Sign < 0 then None
                elif Rational.isOne (Rational.abs p) then Some(if p.Sign < 0 && not n.IsEven then p else Rational.one)
                elif Numerics.BigInteger.Abs n * Numerics.BigInteger bits > Numerics.BigInteger exactPowerBits then None
                else Some(Rational.pow p (int n))
            if p.Sign = 0 && r.Sign < 0 then Approx Double.PositiveInfinity // Math.Pow(0, -n) = 1/0 = +∞
            elif r.IsInteger then
                match integerPower p r.Numerator with
                | Some v -> exact v
                | None -> Power(b, e)
            elif p.Sign > 0 && r.Denominator <= Numerics.BigInteger 64 then
                match Rational.tryRoot p (int r.Denominator) with
                | Some root ->
                    match integerPower root r.Numerator with
                    | Some v -> exact v
                    | None -> Power(b, e)
                | None -> Power(b, e)
            elif p.Sign = 0 && r.Sign > 0 then zero
            else Power(b, e)
        | _ -> ofFloat (Math.Pow(floatOf b, floatOf e))

    /// The sum of the terms, simplified.
    [<CompiledName("Sum")>]
    let rec sum (terms: Formula seq) : Formula =
        // Invariant: a Sum never holds a Sum; it has at least two items; at most one number, first, never 0;
        // the other terms are sorted by monomial (term without its coefficient) in the canonical order, with
        // distinct monomials (like terms collected: x + x = 2*x); a term with coefficient 0 vanishes, as 0·u = 0
        // does (log(x) − log(x) = 0, although at x = −1 the difference is NaN: formulas are for display, and show
        // the derivative wherever it is defined).
        let split = ResizeArray<Formula * Formula>()
        let mutable constant = zero
        let take t =
            match t with
            | Number _ | Approx _ -> constant <- addNumbers constant t
            | _ -> split.Add(let c, m = splitTerm t in m, c)
        for t in terms do
            match t with
            | Sum xs -> List.iter take xs
            | _ -> take t
        let sorted = List.sortWith (fun (m1, _) (m2, _) -> Formula.Order(m1, m2)) (List.ofArray (split.ToArray()))
        let collected = ResizeArray<Formula>()
        let mutable rest = sorted
        while not rest.IsEmpty do
            let m, c = rest.Head
            let mutable c = c
            rest <- rest.Tail
            while not rest.IsEmpty && Formula.Order(fst rest.Head, m) = 0 do
                c <- addNumbers c (snd rest.Head)
                rest <- rest.Tail
            // A NaN coefficient (∞ − ∞) makes the sum NaN, as NaN·m is.
            if Double.IsNaN(floatOf c) then constant <- c
            elif not (isZeroNumber c) then collected.Add(joinTerm c m)
        let terms = List.ofSeq collected
        if Double.IsNaN(floatOf constant) then constant // NaN + u is NaN
        // ∞ + u is ∞ for u finite wherever its symbols are: cbrt(x) − ∞ + tanh(y) is −∞, step of it 0.
        elif Double.IsInfinity(floatOf constant) && List.forall isTotal terms then constant
        else
        match pythagorean (if isZeroNumber constant then terms else constant :: terms) with
        | Some merged -> sum merged
        | None ->
        match steps (if isZeroNumber constant then terms else constant :: terms) with
        | Some merged -> sum merged
        | None ->
        match terms with
        | [] -> constant
        | [ t ] when isZeroNumber constant -> t
        | _ when isZeroNumber constant -> Sum terms
        | _ -> Sum(constant :: terms)

    /// The unit step, as a CAS writes a routing gate's derivative: d·m + c·m·sign(u) with d = c is 2c·m·step(u), and
    /// with d = −c it is 2d·m·step(−u) ((1 + sign(u))/2 = step(u), the same value everywhere, 1/2 at u = 0 included);
    /// c·m·step(u) + c·m·step(−u) is c·m (1/2 + 1/2 at u = 0; where u is NaN both sides are not, as log(x) − log(x) = 0
    /// is not at x = −1: formulas show the derivative wherever it is defined). None when no pair applies.
    and private steps (terms: Formula list) : Formula list option =
        let isStep = function Apply(Function.Step, [ _ ]) -> true | _ -> false
        let complementary =
            terms
            |> List.tryPick (fun t ->
                termWith isStep t
                |> Option.bind (fun (c, step, rest) ->
                    let opposite = match step with Apply(_, [ u ]) -> Apply(Function.Step, [ product [ minusOne; u ] ]) | _ -> step
                    terms
                    |> List.tryFind (fun other ->
                        not (obj.ReferenceEquals(other, t))
                        && (match termWith isStep other with
                            | Some(d, s, r) -> Formula.Order(d, c) = 0 && Formula.Order(r, rest) = 0 && Formula.Order(s, opposite) = 0
                            | None -> false))
                    |> Option.map (fun other ->
                        product [ c; rest ] :: (terms |> List.filter (fun x -> not (obj.ReferenceEquals(x, t) || obj.ReferenceEquals(x, other)))))))
        if List.length terms > 64 then None
        elif complementary.IsSome then complementary
        else
            terms
            |> List.tryPick (fun t ->
                termWith (function Apply(Function.Sign, [ _ ]) -> true | _ -> false) t
                |> Option.bind (fun (c, sign, rest) ->
                    let u = match sign with Apply(_, [ u ]) -> u | _ -> sign
                    terms
                    |> List.tryPick (fun other ->
                        let d, m = numberAndMonomial other
                        if obj.ReferenceEquals(other, t) || Formula.Order(m, rest) <> 0 then None
                        elif Formula.Order(d, c) = 0 then Some(other, d, u)
                        elif Formula.Order(d, multiplyNumbers minusOne c) = 0 then Some(other, d, product [ minusOne; u ])
                        else None)
                    |> Option.map (fun (other, d, argument) ->
                        product [ multiplyNumbers (ofInt 2) d; rest; step argument ]
                        :: (terms |> List.filter (fun x -> not (obj.ReferenceEquals(x, t) || obj.ReferenceEquals(x, other)))))))

    /// A term as its number and the rest (a number is itself times 1).
    and private numberAndMonomial (t: Formula) : Formula * Formula =
        match t with
        | Number _ | Approx _ -> t, one
        | _ -> splitTerm t

    /// The term's number c, its first factor that <paramref name="accepts"/>, and the product of its other factors.
    and private termWith (accepts: Formula -> bool) (t: Formula) : (Formula * Formula * Formula) option =
        let c, m = numberAndMonomial t
        let factors = match m with Product fs -> fs | f -> [ f ]
        factors
        |> List.tryFind accepts
        |> Option.map (fun f -> c, f, product (factors |> List.filter (fun h -> not (obj.ReferenceEquals(h, f)))))

    /// The Pythagorean identities for the first pair of terms of a sum (distinct monomials) they apply to, with the
    /// pair replaced: d·m + c·m·f(u)^2 with d = ±c as below is one term; None when no pair applies. Both sides are
    /// defined wherever u is, so no NaN is hidden (tan(u) and cos(u) are NaN alike).
    and private pythagorean (terms: Formula list) : Formula list option =
        // f, whether d = c (else d = −c), and the pair as a function of c, d, m: 1 + tan^2 = 1/cos^2,
        // 1 − tanh^2 = 1/cosh^2, 1 − cos^2 = sin^2, 1 − sin^2 = cos^2, 1 + sinh^2 = cosh^2, cosh^2 − 1 = sinh^2.
        let identity (f: Function) =
            let square g u e = Power(Apply(g, [ u ]), ofInt e)
            match f with
            | Function.Tan -> Some(true, fun (_: Formula) d u -> d, square Function.Cos u -2)
            | Function.Tanh -> Some(false, fun _ d u -> d, square Function.Cosh u -2)
            | Function.Cos -> Some(false, fun _ d u -> d, square Function.Sin u 2)
            | Function.Sin -> Some(false, fun _ d u -> d, square Function.Cos u 2)
            | Function.Sinh -> Some(true, fun _ d u -> d, square Function.Cosh u 2)
            | Function.Cosh -> Some(false, fun c _ u -> c, square Function.Sinh u 2)
            | _ -> None
        let squared t =
            termWith (function Power(Apply(g, [ _ ]), Number two) -> two.Equals(Rational.ofInt 2) && (identity g).IsSome | _ -> false) t
            |> Option.map (fun (c, square, rest) ->
                match square with
                | Power(Apply(g, [ u ]), _) ->
                    let same, result = (identity g).Value
                    (if same then c else multiplyNumbers minusOne c), result, u, c, rest
                | _ -> invalidOp "termWith picked a square")
        let partner (d, rest) t =
            let e, m = numberAndMonomial t
            Formula.Order(m, rest) = 0 && Formula.Order(e, d) = 0
        if List.length terms > 64 || not (List.exists (fun t -> (squared t).IsSome) terms) then None
        else
            terms
            |> List.tryPick (fun t ->
                match squared t with
                | Some(d, result, u, c, rest) ->
                    terms
                    |> List.tryFind (fun p -> not (obj.ReferenceEquals(p, t)) && partner (d, rest) p)
                    |> Option.map (fun p ->
                        let coefficient, square = result c d u
                        product [ coefficient; rest; square ]
                        :: List.filter (fun x -> not (obj.ReferenceEquals(x, t) || obj.ReferenceEquals(x, p))) terms)
                | None -> None)

    /// step(u), with step(max(a, v) + c) = step(v + c) for constants with a + c < 0, and step(min(a, v) + c) =
    /// step(v + c) for a + c > 0: where max or min picks a, both steps are 0 (or 1).
    and private step (u: Formula) : Formula =
        let constants, c, rest = splitConstants (match u with Sum ts -> ts | _ -> [ u ])
        let extreme =
            match rest with
            | [ Apply((Function.Max | Function.Min) as m, [ a; b ]) ] when not constants.IsEmpty && Double.IsFinite c ->
                let bound, other =
                    match constantValue a, constantValue b with
                    | Some v, _ -> Some v, b
                    | _, Some v -> Some v, a
                    | _ -> None, a
                match bound with
                | Some v when (m = Function.Max && v + c < 0.0) || (m = Function.Min && v + c > 0.0) -> Some(sum (other :: constants))
                | _ -> None
            | _ -> None
        match extreme with
        | Some v -> step v
        | None -> Apply(Function.Step, [ u ])

    /// The product of the factors, simplified.
    and [<CompiledName("Product")>] product (factors: Formula seq) : Formula = productOf true factors

    /// The product of a term and the inverse of factors that stay beside it (a common factor pulled out of a sum, a
    /// denominator kept): powers of one base merge as they cancel (sqrt(x)*a/sqrt(x) = a), since what stays keeps
    /// the domain.
    and internal cancel (term: Formula) (inverse: Formula list) : Formula = productOf false (term :: inverse)

    /// The product; keepDomain keeps the domain of powers that merge to an integer exponent (see domainPower).
    and private productOf (keepDomain: bool) (factors: Formula seq) : Formula =
        // Invariant: a Product never holds a Product; it has at least two items; at most one number (the
        // coefficient), first, never 1; the other factors are sorted by base in the canonical order, with
        // distinct bases (powers of one base combined: x*x = x^2, x*x^-1 = 1, but sqrt(x)*sqrt(x) = sqrt(x)^2, NaN for x < 0
        // as the factors are, and sqrt(x)/sqrt(x) = sqrt(x)^2/x) and at most one exp (exp(a)*exp(b) =
        // exp(a + b)); coefficient 0 makes the product 0, even beside factors that may be NaN or ∞ (0·log(x) = 0,
        // 0/x = 0: see Formula.sum); a finite number times a single sum is distributed (2*(x + y) = 2*x + 2*y,
        // −(x − y) = y − x).
        let split = ResizeArray<Formula * Formula * bool>()
        let mutable coefficient = one
        let exps = ResizeArray<Formula * Formula>()
        let rec take f =
            match f with
            | Product xs -> List.iter take xs
            | Number _ | Approx _ -> coefficient <- multiplyNumbers coefficient f
            | Apply(Function.Exp, [ a ]) -> exps.Add(f, a)
            | Power(Apply(Function.Exp, [ a ]), (Number _ as n)) -> exps.Add(f, product [ n; a ])
            | _ -> split.Add(splitFactorWithDomain f)
        for f in factors do
            take f
        if exps.Count = 1 then split.Add(splitFactorWithDomain (fst exps[0]))
        elif exps.Count > 1 then
            match exponential (sum (Seq.map snd exps)) with
            | Number _ | Approx _ as n -> coefficient <- multiplyNumbers coefficient n
            | Apply(Function.Exp, _) as e -> split.Add(e, one, false)
            | f -> take f
        let sorted = List.sortWith (fun (b1, _, _) (b2, _, _) -> Formula.Order(b1, b2)) (List.ofSeq split)
        let merged = ResizeArray<Formula>()
        let again = ResizeArray<Formula>()
        let mutable rest = sorted
        let sameBase b = match rest with (c, _, _) :: _ -> Formula.Order(c, b) = 0 | [] -> false
        while not rest.IsEmpty do
            let b, e, restricted = rest.Head
            rest <- rest.Tail
            let exponents = ResizeArray [ e ]
            let mutable restricted = restricted
            while sameBase b do
                let _, e, r = rest.Head
                exponents.Add e
                restricted <- restricted || r
                rest <- rest.Tail
            let s = if exponents.Count = 1 then e else sum exponents
            match (if restricted && keepDomain then domainPower b s else None) with
            | Some factors -> merged.AddRange factors
            | None when exponents.Count = 1 -> merged.Add(if isOneNumber e then b else Power(b, e))
            | None ->
                match power b s with
                | Number _ | Approx _ as n -> coefficient <- multiplyNumbers coefficient n
                | Product _ as p -> again.Add p
                // |u|^2 = u^2 and (u^a)^n = u^(a*n) change the base: the factor is sorted (and merged) again.
                | f when Formula.Order(fst (splitFactor f), b) <> 0 -> again.Add f
                | f -> merged.Add f
        // log10(u)^m·log(10)^k = log(u)^j·log10(u)^(m−j)·log(10)^(k−j), j the smaller of m and k in size (both integers
        // of one sign), and the same for log2 and log(2): 1/(x*log(10)^2*log10(x)) is 1/(x*log(10)*log(x)).
        let integer e =
            match e with
            | Number r when r.IsInteger -> Some r
            | _ -> None
        let logBase =
            merged
            |> Seq.tryPick (fun f ->
                match splitFactor f with
                | Apply((Function.Log10 | Function.Log2) as g, [ u ]), m ->
                    let radix = Number(Rational.ofInt (if g = Function.Log10 then 10 else 2))
                    merged
                    |> Seq.tryPick (fun h ->
                        match splitFactor h, integer m with
                        | (Apply(Function.Log, [ r ]), k), Some m when Formula.Order(r, radix) = 0 ->
                            match integer k with
                            | Some k when k.Sign = m.Sign -> Some(f, h, g, u, m, k, r)
                            | _ -> None
                        | _ -> None)
                | _ -> None)
        match logBase with
        | Some(f, h, g, u, m, k, radix) ->
            let j = if Rational.compare (Rational.abs m) (Rational.abs k) <= 0 then m else k
            let log = match u with Apply(Function.Exp, [ x ]) -> x | _ -> Apply(Function.Log, [ u ])
            let others = merged |> Seq.filter (fun x -> not (obj.ReferenceEquals(x, f) || obj.ReferenceEquals(x, h)))
            let factors = [ coefficient; power log (Number j); power (Apply(g, [ u ])) (Number(m - j)); power (Apply(Function.Log, [ radix ])) (Number(k - j)) ]
            product (Seq.concat [ Seq.ofList factors; others; again ])
        | None ->
        // A redundant step: sign(u)·b^m = b^m where u = b^k ≥ 0 and k, m > 0 (relu(x)*sign(relu(x)) = relu(x), x^2*sign(x^2) = x^2): both
        // are 0 where b = 0, and sign(u) is 1 elsewhere.
        let positive e =
            match e with
            | Number r -> r.Sign > 0
            | Approx v -> v > 0.0
            | _ -> false
        let redundantSign =
            merged
            |> Seq.tryFind (fun f ->
                match f with
                | Apply(Function.Sign, [ u ]) when isNonNegative u ->
                    let b, k = splitFactor u
                    positive k
                    && merged
                       |> Seq.exists (fun g ->
                           let c, m = splitFactor g
                           not (obj.ReferenceEquals(f, g)) && positive m && Formula.Order(b, c) = 0)
                // step(u)·relu(u)^k = relu(u)^k (relu(x)^2's 2*step(x)*relu(x) is 2*relu(x)): relu is 0 wherever the step is not 1.
                | Apply(Function.Step, [ u ]) ->
                    merged
                    |> Seq.exists (fun g ->
                        match splitFactor g with
                        | Apply(Function.Relu, [ v ]), k -> positive k && Formula.Order(u, v) = 0
                        | _ -> false)
                | _ -> false)
        match redundantSign with
        | Some s -> product (Seq.concat [ Seq.singleton coefficient; merged |> Seq.filter (fun f -> not (obj.ReferenceEquals(f, s))); again ])
        | None ->
        // |u|^k·sign(u) = u·|u|^(k−1) (abs(x)^3*sign(x) = x^3, abs(x)*sign(x) = x).
        let absSign =
            merged
            |> Seq.tryPick (fun f ->
                match f with
                | Apply(Function.Sign, [ u ]) ->
                    merged
                    |> Seq.tryPick (fun g ->
                        match g with
                        | Apply(Function.Abs, [ v ]) when Formula.Order(u, v) = 0 -> Some(f, g, u, Rational.one)
                        | Power(Apply(Function.Abs, [ v ]), Number k) when Formula.Order(u, v) = 0 && k.IsInteger && k.Sign > 0 -> Some(f, g, u, k)
                        | _ -> None)
                | _ -> None)
        match absSign with
        | Some(s, a, u, k) ->
            let others = merged |> Seq.filter (fun f -> not (obj.ReferenceEquals(f, s) || obj.ReferenceEquals(f, a)))
            product (Seq.concat [ Seq.ofList [ coefficient; u; power (Apply(Function.Abs, [ u ])) (Number(k - Rational.one)) ]; others; again ])
        | None ->
        // c·u·(c·u)^e = (c·u)^(e + 1) for a product base and an exponent that is no integer (5*x*(5*x)^(x - 1) is
        // (5*x)^x): both sides are NaN where c·u < 0, and where c·u = 0 the left is 0·∞, whose limit this is.
        // A part p^k of the base is found in a factor p^m with m an integer of k's sign at least as large, which leaves
        // p^(m − k) (x^2*y^-1*(x/y)^(x − 1) is x*(x/y)^x).
        let baseAmongFactors =
            merged
            |> Seq.tryPick (fun f ->
                match f with
                | Power(Product bs as b, e) when not (isIntegerExponent e) ->
                    let c, parts = match bs with (Number _ as n) :: rest -> n, rest | _ -> one, bs
                    let find part =
                        let pb, pe = splitFactor part
                        merged
                        |> Seq.tryPick (fun g ->
                            let gb, ge = splitFactor g
                            match pe, ge with
                            | _ when obj.ReferenceEquals(g, f) -> None
                            | _ when Formula.Order(g, part) = 0 -> Some(g, one)
                            | Number k, Number m when k.IsInteger && m.IsInteger && k.Sign = m.Sign
                                                      && Rational.compare (Rational.abs k) (Rational.abs m) <= 0 && Formula.Order(gb, pb) = 0 ->
                                Some(g, power gb (Number(m - k)))
                            | _ -> None)
                    let found = parts |> List.map find
                    let distinct = found |> List.choose id |> List.map fst |> List.distinct
                    // Only where the coefficient holds c a whole number of times: 5*x*(5*x)^(x − 1), not x*(5*x)^(x − 1).
                    let whole = match multiplyNumbers coefficient (power c minusOne) with Number r -> r.IsInteger | _ -> false
                    if whole && List.forall Option.isSome found && distinct.Length = parts.Length then Some(f, b, e, c, List.map Option.get found) else None
                | _ -> None)
        match baseAmongFactors with
        | Some(f, b, e, c, used) ->
            let others = merged |> Seq.filter (fun h -> not (obj.ReferenceEquals(h, f) || List.exists (fun (u, _) -> obj.ReferenceEquals(h, u)) used))
            product (Seq.concat [ Seq.ofList [ coefficient; power c minusOne; power b (sum [ e; one ]) ]; List.map snd used; others; again ])
        | None ->
        match pairs merged with
        | Some(f, g, replacement) ->
            let others = merged |> Seq.filter (fun h -> not (obj.ReferenceEquals(h, f) || obj.ReferenceEquals(h, g)))
            product (Seq.concat [ Seq.singleton coefficient; Seq.ofList replacement; others; again ])
        | None ->
        if again.Count > 0 then product (Seq.append (coefficient :: List.ofSeq merged) again)
        else
            let factors = List.ofSeq merged
            // Constant factors beside an infinite coefficient, with their values.
            let constants =
                if Double.IsInfinity(floatOf coefficient) then factors |> List.choose (fun g -> constantValue g |> Option.map (fun v -> g, v))
                else []
            match factors with
            | [] -> coefficient
            | _ when isZeroNumber coefficient -> zero
            | _ when Double.IsNaN(floatOf coefficient) -> coefficient // NaN·u is NaN
            // ±∞ times a constant of known sign is ±∞ (∞·log(tanh(3)) = −∞).
            | _ when not constants.IsEmpty ->
                let value = constants |> List.fold (fun acc (_, v) -> acc * v) (floatOf coefficient)
                let rest = factors |> List.filter (fun g -> not (List.exists (fun (h, _) -> obj.ReferenceEquals(g, h)) constants))
                if Double.IsNaN value || rest.IsEmpty then ofFloat value else product (ofFloat value :: rest)
            | [ f ] when isOneNumber coefficient -> f
            | _ when isOneNumber coefficient -> Product factors
            | [ Sum terms ] when Double.IsFinite(floatOf coefficient) ->
                sum (terms |> List.map (fun t -> product [ coefficient; t ]))
            | _ -> Product(coefficient :: factors)

    /// Two factors of a canonical product that a CAS writes as one, with what replaces them; None when no pair applies.
    /// Each replacement has the value of the pair wherever the pair is defined, and is defined wherever the pair is
    /// (where the pair is 0·∞ or ∞/∞ the replacement is its limit, the allowance of 0·u = 0):
    /// sin(u)^k·cos(u)^k = sin(2u)^k/2^k; cosh(u)^a·tanh(u)^b = sinh(u)^b·cosh(u)^(a − b) and cos(u)^a·tan(u)^b =
    /// sin(u)^b·cos(u)^(a − b) for integers of one sign with |b| ≤ |a|; u^a·cbrt(u)^b = cbrt(u)^(3a + b) for integers
    /// (x/cbrt(x)^2 = cbrt(x), 0/0 at x = 0); cos(acos(u)) = u, sin(asin(u)) = u and tanh(atanh(u)) = u beside a power
    /// of 1 − u^2 that is no integer, which is NaN wherever the inverse function is (and not alone: there u hides a NaN);
    /// S^a·T^b = q^a·T^(a + b) for sums S = q·T (integers; 0·∞ where T = 0).
    and private pairs (merged: ResizeArray<Formula>) : (Formula * Formula * Formula list) option =
        let integer f =
            match splitFactor f with
            | b, Number r when r.IsInteger -> Some(b, r)
            | _ -> None
        let apart (f: Formula) (g: Formula) = not (obj.ReferenceEquals(f, g))
        let inverse g =
            match g with
            | Function.Acos -> Function.Cos
            | Function.Asin -> Function.Sin
            | _ -> Function.Tanh
        let sameSign (a: Rational) (b: Rational) = a.Sign = b.Sign && Rational.compare (Rational.abs b) (Rational.abs a) <= 0
        // step(u + a)·step(u + b) = step(u + min(a, b)) for constants a ≠ b: where u + min(a, b) = 0 the other step is 1.
        let stepParts f =
            match f with
            | Apply(Function.Step, [ Sum ts ]) ->
                let constants, c, rest = splitConstants ts
                if constants.IsEmpty || rest.IsEmpty || not (Double.IsFinite c) then None else Some(sum rest, c)
            | _ -> None
        let steps =
            merged
            |> Seq.tryPick (fun f ->
                stepParts f
                |> Option.bind (fun (u, a) ->
                    merged
                    |> Seq.tryPick (fun g ->
                        match stepParts g with
                        | Some(v, b) when apart f g && a <> b && Formula.Order(u, v) = 0 -> Some(f, g, [ (if a < b then f else g) ])
                        | _ -> None)))
        match steps with
        | Some _ -> steps
        | None ->
        merged
        |> Seq.tryPick (fun f ->
            match integer f with
            | Some(Sum ts, a) ->
                // Sums that are multiples of one another: (1 + y^2/4)·(4 + y^2)^-1 = 1/4.
                let ratio (us: Formula list) =
                    if ts.Length <> us.Length then None
                    else
                        let qs =
                            List.map2 (fun t u ->
                                match numberAndMonomial t, numberAndMonomial u with
                                | (Number c, m), (Number d, n) when Formula.Order(m, n) = 0 && d.Sign <> 0 -> Some(c / d)
                                | _ -> None) ts us
                        match qs with
                        | Some q :: rest when List.forall (fun r -> r = Some q) rest -> Some q
                        | _ -> None
                merged
                |> Seq.tryPick (fun h ->
                    match integer h with
                    | Some(Sum us, b) when apart f h ->
                        ratio us |> Option.map (fun q -> f, h, [ power (Number q) (Number a); power (Sum us) (Number(a + b)) ])
                    | _ -> None)
            | Some(Apply(g, [ u ]), a) ->
                merged
                |> Seq.tryPick (fun h ->
                    match integer h with
                    | Some(v, b) when apart f h && Formula.Order(u, v) = 0 && g = Function.Cbrt ->
                        Some(f, h, [ power (Apply(Function.Cbrt, [ u ])) (Number(a + Rational.ofInt 3 * b)) ])
                    // cos(acos(u)) = u beside a root of 1 − u^2, NaN for |u| > 1 as acos(u) is (-cos(acos(x))/sqrt(1 - x^2)).
                    | _ when apart f h && (match u with Apply((Function.Acos | Function.Asin | Function.Atanh) as inner, [ _ ]) -> g = inverse inner | _ -> false) ->
                        let v = match u with Apply(_, [ v ]) -> v | _ -> u
                        match h with
                        | Power(root, Number r) when not r.IsInteger && Formula.Order(root, sum [ one; product [ minusOne; power v (ofInt 2) ] ]) = 0 ->
                            Some(f, h, [ power v (Number a); h ])
                        | _ -> None
                    | Some(Apply(g2, [ v ]), b) when apart f h && Formula.Order(u, v) = 0 ->
                        let trig (fn: Function) (k: Rational) = power (Apply(fn, [ u ])) (Number k)
                        match g, g2 with
                        | Function.Sin, Function.Cos when Rational.compare a b = 0 ->
                            Some(f, h, [ power half (Number a); power (Apply(Function.Sin, [ product [ ofInt 2; u ] ])) (Number a) ])
                        | Function.Cosh, Function.Tanh when sameSign a b -> Some(f, h, [ trig Function.Sinh b; trig Function.Cosh (a - b) ])
                        | Function.Cos, Function.Tan when sameSign a b -> Some(f, h, [ trig Function.Sin b; trig Function.Cos (a - b) ])
                        | _ -> None
                    | _ -> None)
            | _ -> None)

    /// base^exponent, simplified (Math.Pow semantics).
    and [<CompiledName("Power")>] power (b: Formula) (e: Formula) : Formula =
        // Invariant: a Power's exponent is never 0 or 1 and its base never 1; for an integer exponent the base
        // is neither a Power ((x^a)^n = x^(a*n)) nor a Product ((x*y)^n = x^n*y^n), except sqrt(b)^n, which keeps
        // the domain b ≥ 0 of powers that merged to an integer exponent (see domainPower); a number raised to a number
        // is evaluated when the result is exact (4^(1/2) = 2, 2^-1 = 1/2) or inexact (0^-1 = +∞ as Math.Pow), and
        // otherwise kept (2^(1/2)).
        match b, e with
        | _, Number r when Rational.isZero r -> one
        | _, Number r when Rational.isOne r -> b
        | Number p, _ when Rational.isOne p -> one
        | (Number _ | Approx _), (Number _ | Approx _) -> numericPower b e
        | Power(c, a), Number r when r.IsInteger ->
            match (if isIntegerExponent a then None else domainPower c (product [ a; e ])) with
            | Some [ f ] -> f
            | _ -> power c (product [ a; e ])
        | Product fs, Number r when r.IsInteger -> product (fs |> List.map (fun f -> power f e))
        | Apply(Function.Abs, [ u ]), Number r when r.IsInteger && r.Numerator.IsEven -> power u e
        // cbrt(u)^(3k) = u^k for every u (the real cube root is odd).
        | Apply(Function.Cbrt, [ u ]), Number r when r.IsInteger && (r.Numerator % Numerics.BigInteger 3).IsZero ->
            power u (Number(r / Rational.ofInt 3))
        // (c^a)^r = |c|^(a*r) for an even a (c^a ≥ 0): sqrt(x^4) = x^2, sqrt(x^2) = abs(x), sqrt(cosh(u)^-2) = 1/cosh(u).
        | Power(c, Number a), Number r when a.IsInteger && a.Numerator.IsEven && not (Rational.isZero a) && not (c.IsProduct || c.IsPower || isNumber c) ->
            let size = if isNonNegative c then c elif isNegated c then Apply(Function.Abs, [ product [ minusOne; c ] ]) else Apply(Function.Abs, [ c ])
            power size (Number(a * r))
        | _ -> Power(b, e)

    /// exp(a), for the product's exp(a)*exp(b) = exp(a + b): exp(0) = 1, exp(log x) = x for x known positive.
    and private exponential (a: Formula) : Formula =
        match a with
        | Number r when Rational.isZero r -> one
        | Approx v -> ofFloat (Math.Exp v)
        | Apply(Function.Log, [ x ]) when isPositive x -> x
        | _ -> Apply(Function.Exp, [ a ])

    /// a + b.
    [<CompiledName("Add")>]
    let add (a: Formula) (b: Formula) = sum [ a; b ]

    /// a · b.
    [<CompiledName("Multiply")>]
    let multiply (a: Formula) (b: Formula) = product [ a; b ]

    /// −a.
    [<CompiledName("Negate")>]
    let negate (a: Formula) = product [ minusOne; a ]

    /// a − b.
    [<CompiledName("Subtract")>]
    let subtract (a: Formula) (b: Formula) = sum [ a; negate b ]

    /// a / b, as a · b^−1.
    [<CompiledName("Divide")>]
    let divide (a: Formula) (b: Formula) = product [ a; power b minusOne ]

    let private minusHalf = Number(Rational.create (Numerics.BigInteger -1) (Numerics.BigInteger 2))

    /// 1 + s·u^2.
    let private onePlusSquare (s: int) (u: Formula) = sum [ one; product [ ofInt s; power u (ofInt 2) ] ]

    /// f(g(u)) as a CAS rewrites it, both sides defined for every real u, so no NaN is hidden: cosh(asinh(u)) =
    /// sqrt(1 + u^2); cos(atan(u)) = 1/sqrt(1 + u^2); sin(atan(u)) = tanh(asinh(u)) = u/sqrt(1 + u^2); sinh(asinh(u)) =
    /// tan(atan(u)) = u. Not sin(asin(u)) = u, cos(acos(u)) = u, tanh(atanh(u)) = u nor cosh(acosh(u)) = u: there the
    /// left side is NaN where the right side is not. Nor cos(asin(u)) = sin(acos(u)) = sqrt(1 − u^2), although NaN
    /// alike: sin(asin(x))'s derivative, cos(asin(x))/sqrt(1 − x^2), would then merge to 1, which is not NaN for
    /// |x| > 1.
    let private (|Composition|_|) (f: Function, args: Formula list) : Formula option =
        match args with
        | [ Apply(g, [ u ]) ] ->
            match f, g with
            | Function.Cosh, Function.Asinh -> Some(power (onePlusSquare 1 u) half)
            | Function.Cos, Function.Atan -> Some(power (onePlusSquare 1 u) minusHalf)
            | Function.Sin, Function.Atan
            | Function.Tanh, Function.Asinh -> Some(product [ u; power (onePlusSquare 1 u) minusHalf ])
            | Function.Sinh, Function.Asinh
            | Function.Tan, Function.Atan -> Some u
            | _ -> None
        // The angle of (v, u): tan = u/v, cos = v/r, sin = u/r with r = sqrt(u^2 + v^2) > 0, everywhere but u = v = 0
        // (where atan2 picks 0 and the right sides are 0/0).
        | [ Apply(Function.Atan2, [ u; v ]) ] ->
            let r = sum [ power u (ofInt 2); power v (ofInt 2) ]
            match f with
            | Function.Tan -> Some(product [ u; power v minusOne ])
            | Function.Cos -> Some(product [ v; power r minusHalf ])
            | Function.Sin -> Some(product [ u; power r minusHalf ])
            | _ -> None
        | _ -> None

    /// A catalogue function applied to its arguments, simplified.
    [<CompiledName("Apply")>]
    let rec apply (f: Function) (args: Formula list) : Formula =
        // Invariant: square(x) is x^2 and sqrt(x) is x^(1/2); a function of exact numbers is evaluated only
        // when its value is exact (sin 0 = 0, sqrt 9 = 3, max(2, 3) = 3), of inexact numbers always;
        // exp(log x) = x only for x known positive; log(exp x) = x; a finite numeric factor leaves sign and abs
        // (sign(−2*x) = −sign(x), abs(−x/2) = abs(x)/2); odd and even functions (sin, tan, asin, atan, sinh, tanh,
        // asinh, atanh, cbrt, erf, sign; cos, cosh, abs) take u or −u, whichever comes first (sin(−x) = −sin(x)); abs of what is known non-negative is itself; max and min
        // have their arguments in the canonical order (both are symmetric, NaN included) and max(u, u) = u.
        if List.length args <> Function.arity f then
            invalidArg (nameof args) $"{Function.name f} takes {Function.arity f} argument(s), got {List.length args}"
        match f, args with
        | Function.Square, [ x ] -> power x (ofInt 2)
        | Function.Sqrt, [ x ] -> power x half
        | _ when List.forall isNumber args && List.exists (function Approx _ -> true | _ -> false) args ->
            ofFloat (Function.evaluate f (args |> List.map floatOf |> Array.ofList))
        | (Function.Sin | Function.Tan | Function.Asin | Function.Atan | Function.Sinh | Function.Tanh | Function.Asinh | Function.Atanh | Function.Cbrt | Function.Erf | Function.Sign),
          [ u ] when isNegated u ->
            negate (apply f [ negate u ])
        | (Function.Cos | Function.Cosh | Function.Abs), [ u ] when isNegated u -> apply f [ negate u ]
        | _ when List.forall isNumber args ->
            let rationals = args |> List.map (function Number r -> r | _ -> Rational.zero)
            match exactValue f rationals with
            | Some r -> exact r
            | None -> Apply(f, args)
        // sin, cos and tan of ±∞·u or ∞ + u are NaN for every u (∞·0 and ∞ − ∞ are NaN too).
        | (Function.Sin | Function.Cos | Function.Tan), [ Product((Approx v) :: _) | Sum((Approx v) :: _) ] when Double.IsInfinity v -> ofFloat nan
        | Function.Exp, [ Apply(Function.Log, [ x ]) ] when isPositive x -> x
        | Function.Log, [ Apply(Function.Exp, [ x ]) ] -> x
        | (Function.Abs | Function.Floor | Function.Ceiling | Function.Round | Function.Truncate | Function.Sign), [ Apply(inner, _) as x ] when inner = f -> x
        | Function.Sign, [ Product((Number r) :: rest) ] when r.Sign <> 0 ->
            let inner = apply Function.Sign [ product rest ]
            if r.Sign < 0 then negate inner else inner
        | Function.Abs, [ Product((Number r) :: rest) ] when r.Sign <> 0 ->
            product [ Number(Rational.abs r); apply Function.Abs [ product rest ] ]
        | Function.Abs, [ Apply(Function.Sign, _) as s ] -> power s (ofInt 2)
        | Function.Abs, [ x ] when isNonNegative x -> x
        | Function.Relu, [ x ] when isNonNegative x -> x
        | Function.Sign, [ x ] when isPositive x -> one
        // relu's derivative: sign(relu(u)) = step(u) wherever relu is differentiable (u ≠ 0), as a CAS writes it.
        | Function.Sign, [ Apply(Function.Relu, [ u ]) ] -> Apply(Function.Step, [ u ])
        | Composition g -> g
        | Function.Step, [ u ] -> step u
        // atan2(u, c) = atan(u/c) for a number c > 0, for every u (atan2(y, 2) is atan(y/2)).
        | Function.Atan2, [ u; Number c ] when c.Sign > 0 -> apply Function.Atan [ product [ u; Number(Rational.one / c) ] ]
        | (Function.Max | Function.Min), [ a; b ] when Formula.Order(a, b) = 0 -> a
        | (Function.Max | Function.Min), [ a; b ] when Formula.Order(a, b) > 0 -> Apply(f, [ b; a ])
        | _ -> Apply(f, args)

    /// test ? whenTrue : whenFalse; a constant test picks its branch, equal branches need no test.
    [<CompiledName("IfThenElse")>]
    let ifThenElse (test: Condition) (whenTrue: Formula) (whenFalse: Formula) : Formula =
        // Invariant: an If's test is never constant and its branches differ.
        match Condition.tryTruth test with
        | Some true -> whenTrue
        | Some false -> whenFalse
        | None -> if Formula.Order(whenTrue, whenFalse) = 0 then whenTrue else If(test, whenTrue, whenFalse)

    /// Element <paramref name="indices"/> of the array named <paramref name="name"/>. Canonical: where every index is
    /// an integer, the element is the symbol <c>name[3]</c> (<c>name[1, 2]</c>), as a constant index reads.
    [<CompiledName("Element")>]
    let element (name: string) (indices: Formula list) : Formula =
        let integer f =
            match f with
            | Number r when r.IsInteger -> Some(r.Numerator.ToString(Globalization.CultureInfo.InvariantCulture))
            | _ -> None
        let known = List.map integer indices
        if List.forall Option.isSome known then Symbol(name + "[" + String.Join(", ", List.choose id known) + "]")
        else Element(name, indices)

    /// The sum of <paramref name="body"/> for <paramref name="index"/> = lower, ..., upper (integers). Canonical: a
    /// zero body, or a range of numbers that is empty, is 0; otherwise the sum stays whole, its body simplified on its
    /// own, so that it adds the same values as the loop it shows.
    [<CompiledName("Series")>]
    let series (index: string) (lower: Formula) (upper: Formula) (body: Formula) : Formula =
        match lower, upper with
        | _ when isZeroNumber body -> zero
        | Number l, Number u when Rational.compare u l < 0 -> zero
        | _ -> Series(index, lower, upper, body)

    /// π as formulas hold it: acos(−1), which evaluates to Math.PI exactly; printers show it as pi.
    [<CompiledName("Pi")>]
    let pi = Apply(Function.Acos, [ minusOne ])

    /// e as formulas hold it: exp(1), which evaluates to Math.E exactly; printers show it as e.
    [<CompiledName("E")>]
    let e = Apply(Function.Exp, [ one ])

    /// The nearest fraction to x with a denominator at most maxDenominator (continued fractions), when it is x to
    /// within a few units in the last place and its numerator is at most maxNumerator.
    let private nearFraction (maxNumerator: int64) (maxDenominator: int64) (x: float) : Rational option =
        if not (Double.IsFinite x) || abs x > float maxNumerator then None
        else
            // Convergents h/k of x's continued fraction, in doubles (exact: all stay below 2^53).
            let mutable h0, h1, k0, k1 = 0.0, 1.0, 1.0, 0.0
            let mutable rest = abs x
            let mutable found = None
            let mutable go = true
            while go do
                let a = Math.Floor rest
                let h, k = a * h1 + h0, a * k1 + k0
                if k > float maxDenominator || h > float maxNumerator then go <- false
                else
                    h0 <- h1
                    h1 <- h
                    k0 <- k1
                    k1 <- k
                    if abs (h / k - abs x) <= 4.0 * Double.Epsilon + 4.4e-16 * abs x then
                        found <- Some(Rational.create (Numerics.BigInteger h) (Numerics.BigInteger k))
                        go <- false
                    else
                        let fraction = rest - a
                        if fraction <= 0.0 then go <- false else rest <- 1.0 / fraction
            found |> Option.map (fun r -> if x < 0.0 then -r else r)

    /// The exact constants a double is recognised as (their value, their formula), tried in this order.
    let private constants =
        lazy
            (let sqrtOf n = power (ofInt n) half
             [ Math.PI, pi
               Math.E, e
               Math.Log 2.0, apply Function.Log [ ofInt 2 ]
               Math.Log 10.0, apply Function.Log [ ofInt 10 ]
               Math.Sqrt 2.0, sqrtOf 2
               Math.Sqrt 3.0, sqrtOf 3
               Math.Sqrt 5.0, sqrtOf 5
               Math.Sqrt 6.0, sqrtOf 6
               Math.Sqrt 7.0, sqrtOf 7
               Math.Sqrt 10.0, sqrtOf 10
               Math.Sqrt Math.PI, power pi half
               Math.Sqrt(2.0 * Math.PI), power (product [ ofInt 2; pi ]) half ])

    /// Values of catalogue functions at small integers and halves (cosh(5), tan(2), asinh(1), exp(2), ...), which
    /// a formula shows as the call when a constant folded to a double is one of them.
    let private calls =
        lazy
            ([ Function.Exp; Function.Log; Function.Sin; Function.Cos; Function.Tan; Function.Sinh; Function.Cosh
               Function.Tanh; Function.Asinh; Function.Acosh; Function.Atan; Function.Atanh; Function.Asin; Function.Acos
               Function.Cbrt; Function.Erf; Function.Sigmoid; Function.Softplus; Function.Log10; Function.Log2 ]
             |> List.collect (fun g ->
                 [ for n in -10 .. 10 do
                       let r = Rational.create (Numerics.BigInteger n) (Numerics.BigInteger 2)
                       let v = Function.evaluate g [| Rational.toFloat r |]
                       if Double.IsFinite v && v <> 0.0 then
                           match apply g [ Number r ] with
                           | Apply _ as f -> yield v, f
                           | _ -> () ]))

    /// A number as a person or a derivative rule wrote it: a short decimal exactly (0.5, 3), and a double that is a
    /// small fraction (1/3.0), or a small rational multiple of π, e, ln 2, ln 10, √2, √3, √5, √6, √7, √10, √π, √(2π), their
    /// reciprocals or squares (1/Math.Log(10), 2/Math.Sqrt(Math.PI)), or such a constant plus a small fraction (e + 4),
    /// or a catalogue function of a small integer or half (cosh(5), its reciprocal or multiple), to within a few
    /// units in the last place, as that exact formula (1/3, log(10)^-1, 2*pi^(-1/2), cosh(5)); any other double as
    /// <c>Formula.ofFloat</c> keeps it. A decimal of twelve digits or more is tried as such a constant first (so 2*e,
    /// 5.43656365691809, is 2*e), and is otherwise inexact (Approx), which prints shorter than its exact fraction. For display: the formula evaluates to the double within rounding, not always bit
    /// for bit.
    [<CompiledName("OfConstant")>]
    let ofConstant (x: float) : Formula =
        let recognise (x: float) =
            let close (v: float) = abs (v - x) <= 4.4e-16 * abs x
            let multiple (c: float) (f: Formula) (powers: int list) =
                powers
                |> List.tryPick (fun k ->
                    nearFraction 1_000L 1_000L (x / Math.Pow(c, float k))
                    |> Option.filter (fun q -> close (Rational.toFloat q * Math.Pow(c, float k)))
                    |> Option.map (fun q -> product [ Number q; power f (ofInt k) ]))
            let shifted (c: float) (f: Formula) =
                [ 1.0; -1.0 ]
                |> List.tryPick (fun s ->
                    nearFraction 1_000L 12L (x - s * c)
                    |> Option.filter (fun q -> q.Sign <> 0 && close (Rational.toFloat q + s * c))
                    |> Option.map (fun q -> sum [ Number q; product [ ofFloat s; f ] ]))
            match nearFraction 1_000_000L 10_000L x with
            | Some r -> Some(Number r)
            | None ->
                constants.Force() |> List.tryPick (fun (c, f) -> multiple c f [ 1; -1; 2; -2 ])
                |> Option.orElse (constants.Force() |> List.tryPick (fun (c, f) -> shifted c f))
                |> Option.orElse (calls.Force() |> List.tryPick (fun (c, f) -> multiple c f [ 1 ]))
                |> Option.orElse (calls.Force() |> List.tryPick (fun (c, f) -> multiple c f [ -1 ]))
        // The logarithm of such a constant (pow's ∂/∂p folds log(cos(5)), log(pi)): x is log(f) where exp(x) is f.
        // Only for 1/2 <= |x| <= 40, where exp(x) is f to within the rounding recognise allows.
        let logarithm () =
            if not (Double.IsFinite x) || abs x < 0.5 || abs x > 40.0 then None
            else
                recognise (Math.Exp x)
                |> Option.bind (fun f ->
                    match f with
                    | Number r when r.Sign > 0 && not (Rational.isOne r) -> Some(Apply(Function.Log, [ f ]))
                    | Number _ | Apply(Function.Exp, _) -> None
                    | _ -> Some(Apply(Function.Log, [ f ])))
        match ofFloat x with
        | Number _ as n -> n
        // A long decimal that is no known constant reads shorter as the double (2.23606797749979) than exactly.
        | _ -> defaultArg (recognise x |> Option.orElse (logarithm ())) (Approx x)

    /// The value of f with symbols valued by env: Function.evaluate for functions, Math.Pow for powers
    /// (Math.Sqrt for exponent 1/2), IEEE comparisons for conditions.
    [<CompiledName("Evaluate")>]
    let evaluate (env: string -> float) (f: Formula) : float =
        let rec value (env: string -> float) f =
            let value = value env
            let truth = truth env
            StackGuard.run (fun () ->
                match f with
                | Number r -> Rational.toFloat r
                | Approx v -> v
                | Symbol s -> env s
                | Sum xs -> xs |> List.fold (fun acc x -> acc + value x) 0.0
                | Product xs ->
                    match xs with
                    | x :: rest -> rest |> List.fold (fun acc x -> acc * value x) (value x)
                    | [] -> 1.0
                | Power(b, e) when Formula.Order(e, half) = 0 -> Math.Sqrt(value b)
                | Power(b, e) -> Math.Pow(value b, value e)
                | Apply(g, xs) -> Function.evaluate g (xs |> List.map value |> Array.ofList)
                | If(c, a, b) -> if truth c then value a else value b
                | Element(a, xs) ->
                    let indices = xs |> List.map (fun x -> (int (value x)).ToString(Globalization.CultureInfo.InvariantCulture))
                    env (a + "[" + String.Join(", ", indices) + "]")
                | Series(i, l, u, b) ->
                    let lower, upper = int (value l), int (value u)
                    let mutable total = 0.0
                    for k in lower..upper do
                        total <- total + evaluateIn (fun s -> if s = i then float k else env s) b
                    total)
        and truth (env: string -> float) c =
            let value = value env
            let truth = truth env
            StackGuard.run (fun () ->
                match c with
                | Compare(op, l, r) ->
                    let u, v = value l, value r
                    match op with
                    | Comparison.Less -> u < v
                    | Comparison.LessOrEqual -> u <= v
                    | Comparison.Greater -> u > v
                    | Comparison.GreaterOrEqual -> u >= v
                    | Comparison.Equal -> u = v
                    | Comparison.NotEqual -> not (u = v)
                | And(a, b) -> truth a && truth b
                | Or(a, b) -> truth a || truth b
                | Not a -> not (truth a))
        and evaluateIn env f = value env f
        value env f

    /// The children of a node (formulas inside conditions included), for iterative walks.
    let internal children (f: Formula) : Formula list =
        let rec ofCondition c acc =
            match c with
            | Compare(_, l, r) -> l :: r :: acc
            | And(a, b) | Or(a, b) -> ofCondition a (ofCondition b acc)
            | Not a -> ofCondition a acc
        match f with
        | Number _ | Approx _ | Symbol _ -> []
        | Sum xs | Product xs | Apply(_, xs) | Element(_, xs) -> xs
        | Power(b, e) -> [ b; e ]
        | If(c, a, b) -> ofCondition c [ a; b ]
        | Series(_, l, u, b) -> [ l; u; b ]

    /// The number of nodes of the formula tree (every number, symbol, sum, product, power, call and piecewise
    /// counts 1; a condition's comparisons count through their sides).
    [<CompiledName("Size")>]
    let size (f: Formula) : int =
        let stack = Stack<Formula>()
        stack.Push f
        let mutable count = 0
        while stack.Count > 0 do
            let g = stack.Pop()
            count <- count + 1
            for c in children g do
                stack.Push c
        count

    /// The formula for display, with each sqrt(b)^(2k) that keeps the domain of powers merged to an integer exponent
    /// (see domainPower) written as b^k where the formula is NaN for b < 0 without it: where b has a power that is no
    /// integer, a log or an acosh, or another such root, on a path the value depends on (through sums, products,
    /// powers and calls, not conditions). asin(sqrt(x))'s derivative is 1/(2*sqrt(x)*sqrt(1 - x)); of several roots
    /// of b alone the deepest stays (1/(6*cosh(sqrt(x)^2/6)^2), not sqrt(x)^2/(6*x*cosh(sqrt(x)^2/6)^2)). The value is
    /// unchanged.
    let internal withoutRedundantDomains (f: Formula) : Formula =
        let (|Domain|_|) g =
            match g with
            | Power(Power(b, Number h), Number n) when not h.IsInteger && n.IsInteger -> Some(b, h * n)
            | _ -> None
        let restricted = ResizeArray<Formula>()
        let domains = ResizeArray<Formula * Formula * int>()
        let stack = Stack<Formula * int>()
        stack.Push(f, 0)
        while stack.Count > 0 do
            let g, depth = stack.Pop()
            match g with
            | Domain(b, _) ->
                domains.Add(b, g, depth)
                stack.Push(b, depth + 1)
            | Power(b, e) ->
                if not (isIntegerExponent e) then restricted.Add b
                stack.Push(b, depth + 1)
                stack.Push(e, depth + 1)
            | Apply((Function.Log | Function.Log2 | Function.Log10 | Function.Acosh), [ b ]) ->
                restricted.Add b
                stack.Push(b, depth + 1)
            | Sum xs | Product xs | Apply(_, xs) ->
                for c in xs do
                    stack.Push(c, depth + 1)
            | _ -> ()
        let same a b = Formula.Order(a, b) = 0
        // The root that stays for each base no other restriction covers: the deepest. (Past 256 roots the formula is
        // shown as it is: the grouping below is quadratic in them.)
        let kept =
            if domains.Count > 256 then List.ofSeq (Seq.map (fun (_, g, _) -> g) domains)
            else
            domains
            |> Seq.filter (fun (b, _, _) -> not (restricted.Exists(fun r -> same r b)))
            |> Seq.groupBy (fun (b, _, _) -> domains |> Seq.findIndex (fun (c, _, _) -> same b c))
            |> Seq.map (fun (_, group) -> group |> Seq.maxBy (fun (_, _, depth) -> depth) |> fun (_, g, _) -> g)
            |> List.ofSeq
        if domains.Count = kept.Length then f
        else
            let rec rebuild g =
                StackGuard.run (fun () ->
                    let all xs =
                        let ys = List.map rebuild xs
                        if List.forall2 (fun x y -> obj.ReferenceEquals(x, y)) xs ys then None else Some ys
                    match g with
                    | Domain(b, k) when not (kept |> List.exists (fun h -> obj.ReferenceEquals(g, h))) -> power (rebuild b) (Number k)
                    | Sum xs -> all xs |> Option.map sum |> Option.defaultValue g
                    | Product xs -> all xs |> Option.map product |> Option.defaultValue g
                    | Power(b, e) -> all [ b; e ] |> Option.map (fun ys -> power ys[0] ys[1]) |> Option.defaultValue g
                    | Apply(h, xs) -> all xs |> Option.map (apply h) |> Option.defaultValue g
                    | _ -> g)
            rebuild f

    /// The names of the symbols of f, sorted (ordinal).
    [<CompiledName("Symbols")>]
    let symbols (f: Formula) : string list =
        let stack = Stack<Formula>()
        let names = SortedSet<string>(StringComparer.Ordinal)
        stack.Push f
        while stack.Count > 0 do
            match stack.Pop() with
            | Symbol s -> names.Add s |> ignore
            | g ->
                for c in children g do
                    stack.Push c
        List.ofSeq names
