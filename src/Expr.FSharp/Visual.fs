namespace ExprGrad.Symbolic

open System.Numerics

/// A display-only tree, shared by the infix and LaTeX printers: signs, fractions, roots and the parentheses both
/// formats need (a sum as a factor, a compound base of a power) are decided here; each printer adds only what its
/// own syntax needs (infix: a sum as a numerator, a compound exponent).
[<RequireQualifiedAccess>]
type Visual =
    /// A non-negative integer.
    | Integer of BigInteger
    /// A non-negative or non-finite inexact number.
    | Decimal of float
    /// A variable's name.
    | Name of string
    /// −operand.
    | Negative of Visual
    /// Terms with their signs (true = +); the first term's sign shows as a leading minus.
    | Sum of (bool * Visual) list
    /// Factors written side by side (infix: with *).
    | Product of Visual list
    /// numerator / denominator.
    | Fraction of Visual * Visual
    /// base ^ exponent.
    | Power of Visual * Visual
    /// The square root.
    | SquareRoot of Visual
    /// A catalogue function applied to its arguments.
    | Call of Function * Visual list
    /// Parentheses every format shows.
    | Parenthesis of Visual
    /// Cases tried in order, then the value otherwise.
    | Piecewise of (VisualCondition * Visual) list * Visual
    /// An array's element at computed indices: a[i + 1].
    | Element of string * Visual list
    /// A sum over a range: index, lower bound, upper bound (both included), body.
    | Series of string * Visual * Visual * Visual

/// A display-only condition.
and [<RequireQualifiedAccess>] VisualCondition =
    /// left op right.
    | Compare of Comparison * Visual * Visual
    /// All hold (an Or among them is grouped).
    | And of VisualCondition list
    /// Any holds.
    | Or of VisualCondition list
    /// Does not hold.
    | Not of VisualCondition
    /// Parentheses around a condition.
    | Group of VisualCondition

/// Building the display tree of a formula.
[<RequireQualifiedAccess>]
module Visual =

    let private half = Rational.create BigInteger.One (BigInteger 2)

    /// Splits off a negative sign: −3*x → (true, 3*x), −2 → (true, 2), x → (false, x).
    let internal splitSign (f: Formula) : bool * Formula =
        match f with
        | Number r when r.Sign < 0 -> true, Number(-r)
        | Approx v when v < 0.0 -> true, Approx(-v)
        | Product(Number r :: rest) when r.Sign < 0 ->
            true,
            (match Rational.isOne (-r), rest with
             | true, [ g ] -> g
             | true, _ -> Product rest
             | false, _ -> Product(Number(-r) :: rest))
        | Product(Approx v :: rest) when v < 0.0 -> true, Product(Approx(-v) :: rest)
        | _ -> false, f

    /// True when an exponent is negative, so its power belongs in a denominator: −2, −1/2, −x.
    let private isNegativeExponent (e: Formula) =
        match e with
        | Number r -> r.Sign < 0
        | Approx v -> v < 0.0
        | Product(Number r :: _) -> r.Sign < 0
        | Product(Approx v :: _) -> v < 0.0
        | _ -> false

    let private negateExponent (e: Formula) =
        match splitSign e with
        | true, m -> m
        | false, _ -> e

    /// A number with a denominator of eight digits or more that is a decimal the double writes exactly (a long decimal
    /// as a person wrote it, 0.123456789123), or a fraction with a numerator or denominator of thirteen digits or more
    /// (exact arithmetic on such decimals): shown as its double's shortest decimal, shorter than its fraction, and
    /// read back as the same double (Linq.toLinq writes such a fraction as that double too).
    let private asDecimal (r: Rational) : float option =
        let v = Rational.toFloat r
        if BigInteger.Abs r.Numerator >= BigInteger 1_000_000_000_000L || r.Denominator >= BigInteger 1_000_000_000_000L then
            (if System.Double.IsFinite v then Some v else None)
        elif r.Denominator < BigInteger 100_000_000 then None
        else
            match Rational.tryOfFloat v with
            | Some q when Rational.compare q r = 0 -> Some v
            | _ -> None

    let private number (r: Rational) : Visual =
        let magnitude =
            let r = Rational.abs r
            if r.IsInteger then Visual.Integer r.Numerator
            elif (asDecimal r).IsSome then Visual.Decimal(Rational.toFloat r)
            else Visual.Fraction(Visual.Integer r.Numerator, Visual.Integer r.Denominator)
        if r.Sign < 0 then Visual.Negative magnitude else magnitude

    // A sum over a range is grouped as a base or a factor: what follows it is not part of its body.
    let private groupBase (v: Visual) =
        match v with
        | Visual.Sum _ | Visual.Product _ | Visual.Fraction _ | Visual.Negative _ | Visual.Power _ | Visual.Series _ -> Visual.Parenthesis v
        | _ -> v

    let private groupFactor (v: Visual) =
        match v with
        | Visual.Sum _ | Visual.Negative _ | Visual.Fraction _ | Visual.Series _ -> Visual.Parenthesis v
        | _ -> v

    /// A minus sign in front of a product taken into a difference among its factors: −a*(y − x) shows as a*(x − y).
    /// Only a sum with a negative term takes it, so no minus sign is added: −(x + y) stays as it is; and a
    /// difference of symbols takes it before one with a number, so 1 − σ stays 1 − σ where it can.
    let private absorbSign (m: Formula) : Formula option =
        // A sum, or an odd power of one ((4 − y)^3 = −(y − 4)^3).
        let sumOf (g: Formula) =
            match g with
            | Sum terms -> Some terms
            | Power(Sum terms, Number k) when k.IsInteger && not k.Numerator.IsEven -> Some terms
            | _ -> None
        let hasNegative (g: Formula) =
            match sumOf g with
            | Some terms -> List.exists (fun t -> fst (splitSign t)) terms
            | None -> false
        let hasNumber (g: Formula) =
            match sumOf g with
            | Some terms -> List.exists (fun t -> match t with Number _ | Approx _ -> true | _ -> false) terms
            | None -> false
        let takes (g: Formula) = hasNegative g && not (hasNumber g)
        let negated (g: Formula) =
            match g with
            | Sum terms -> Formula.sum (terms |> List.map Formula.negate)
            | Power(Sum terms, k) -> Power(Formula.sum (terms |> List.map Formula.negate), k)
            | _ -> g
        match m with
        | Sum _ | Power _ when hasNegative m -> Some(negated m)
        | Product fs ->
            match List.tryFindIndex takes fs |> Option.orElse (List.tryFindIndex hasNegative fs) with
            | Some i -> Some(Product(List.updateAt i (negated fs[i]) fs))
            | None -> None
        | _ -> None

    /// The characters a display tree takes in infix without spaces (an estimate where LaTeX and infix differ), to
    /// choose the narrowest of equal shapes.
    let rec internal width (v: Visual) : int =
        StackGuard.run (fun () ->
            let grouped (v: Visual) =
                match v with
                | Visual.Sum _ | Visual.Negative _ | Visual.Fraction _ | Visual.Product _ -> width v + 2
                | _ -> width v
            match v with
            | Visual.Integer n -> n.ToString().Length
            | Visual.Decimal d -> d.ToString("R", System.Globalization.CultureInfo.InvariantCulture).Length
            | Visual.Name s -> s.Length
            | Visual.Negative x -> 1 + width x
            | Visual.Sum terms -> terms |> List.sumBy (fun (_, t) -> width t + 1) |> fun w -> w - (if fst terms.Head then 1 else 0)
            | Visual.Product fs -> (fs |> List.sumBy width) + fs.Length - 1
            | Visual.Fraction(a, b) ->
                let top = match a with Visual.Sum _ -> width a + 2 | _ -> width a
                top + 1 + grouped b
            | Visual.Power(b, e) -> width b + 1 + (match e with Visual.Integer _ | Visual.Name _ -> width e | _ -> width e + 2)
            | Visual.SquareRoot x -> 6 + width x
            | Visual.Call(g, args) -> (Function.name g).Length + 1 + (args |> List.sumBy (fun a -> width a + 1))
            | Visual.Parenthesis x -> 2 + width x
            | Visual.Piecewise(cases, otherwise) -> (cases |> List.sumBy (fun (_, a) -> width a + 8)) + width otherwise + 2
            | Visual.Element(a, xs) -> a.Length + 1 + (xs |> List.sumBy (fun x -> width x + 1))
            | Visual.Series(i, l, u, b) -> i.Length + width l + width u + width b + 8)

    /// The visual of a sum, once per sum object (the choice below costs expansions).
    let private sums = System.Runtime.CompilerServices.ConditionalWeakTable<Formula, Visual>()

    /// True when f is 0 wherever it is defined at a = 0 (a product with a factor log(a)): `a == 0 ? 0 : f` guards a
    /// 0·∞ there, and shows as f alone, as 0·u = 0 does.
    let private guardsLog (a: Formula) (f: Formula) =
        let isLog g =
            match g with
            | Apply(Function.Log, [ b ]) | Power(Apply(Function.Log, [ b ]), Number _) -> Formula.compare a b = 0
            | _ -> false
        match f with
        | Product fs -> List.exists isLog fs
        | _ -> isLog f

    /// The display tree of a formula: x*y^-1 shows as x/y, −1*x as −x, x^(1/2) as sqrt(x), 1/2*x as x/2, acos(−1)
    /// as pi and exp(1) as e (Formula.pi, Formula.e),
    /// a sum starts with a positive term when it has one (x − 1 rather than −1 + x).
    [<CompiledName("OfFormula")>]
    let rec ofFormula (f: Formula) : Visual =
        StackGuard.run (fun () ->
            match f with
            | Number r -> number r
            | Approx v -> if v < 0.0 then Visual.Negative(Visual.Decimal(-v)) else Visual.Decimal v
            | Symbol s -> Visual.Name s
            | Sum _ ->
                match sums.TryGetValue f with
                | true, v -> v
                | _ ->
                    // Each shape with the characters it must save: grouping some of the terms reorders the sum a
                    // reader follows, so it is shown only where it saves more than a few (Rosenbrock's 2*a - 2 -
                    // 400*a*(b - a^2) stays as the textbook writes it).
                    let shapes =
                        [ Some f, 0; Tidy.together true f, 0; Tidy.together false f, 0; Tidy.factor f, 0; Tidy.group f, 3 ]
                        |> List.choose (fun (g, cost) -> g |> Option.map (fun g -> g, cost))
                    let v =
                        match shapes with
                        | [ _ ] -> ofSum f
                        | _ ->
                            shapes
                            |> List.map (fun (g, cost) -> (match g with Sum _ -> ofSum g | _ -> ofFormula g), cost)
                            |> List.minBy (fun (v, cost) -> width v + cost)
                            |> fst
                    sums.AddOrUpdate(f, v)
                    v
            | Product _ | Power _ ->
                match splitSign f with
                | true, m ->
                    match absorbSign m with
                    | Some positive -> ofProduct positive
                    | None -> Visual.Negative(ofProduct m)
                | false, _ -> ofProduct f
            | Apply(Function.Acos, [ Number r ]) when r.Equals Rational.minusOne -> Visual.Name "pi"
            | Apply(Function.Exp, [ Number r ]) when Rational.isOne r -> Visual.Name "e"
            | Apply(g, args) -> Visual.Call(g, List.map ofFormula args)
            | Element(a, indices) -> Visual.Element(a, List.map ofFormula indices)
            | Series(i, l, u, b) -> Visual.Series(i, ofFormula l, ofFormula u, ofFormula b)
            | If(Compare(Comparison.Equal, a, Number z), Number z2, b) when Rational.isZero z && Rational.isZero z2 && guardsLog a b -> ofFormula b
            | If(c, a, b) ->
                let cases = ResizeArray [ ofCondition c, ofFormula a ]
                let mutable otherwise = b
                let mutable go = true
                while go do
                    match otherwise with
                    | If(c, a, b) ->
                        cases.Add(ofCondition c, ofFormula a)
                        otherwise <- b
                    | _ -> go <- false
                Visual.Piecewise(List.ofSeq cases, ofFormula otherwise))

    /// A sum as it is: its terms with their signs, a positive one first.
    and private ofSum (f: Formula) : Visual =
        StackGuard.run (fun () ->
            match f with
            | Sum terms ->
                let signed = terms |> List.map (fun t -> let negative, m = splitSign t in not negative, m)
                let signed =
                    match signed with
                    | (false, _) :: _ when List.exists fst signed ->
                        let i = List.findIndex fst signed
                        signed[i] :: List.removeAt i signed
                    | _ -> signed
                Visual.Sum(signed |> List.map (fun (positive, m) -> positive, ofFormula m))
            | _ -> ofFormula f)

    /// A product without a negative coefficient, as a fraction when it has negative powers or a rational coefficient:
    /// the narrowest of as it is, with the fractions of its sum factors cleared (11/(2*(1 + 121*y^2/4)) is
    /// 22/(4 + 121*y^2), 2*x*(1/2 + y) is x*(1 + 2*y)), and with a power in its denominator multiplied into a sum there
    /// (Tidy.clearDenominators: 3/(y^2*(1 + 9/y^2)) is 3/(9 + y^2)).
    and private ofProduct (f: Formula) : Visual =
        let factors =
            match f with
            | Product fs -> fs
            | _ -> [ f ]
        let plain = ofFactors factors
        match [ clearFractions factors; Tidy.clearDenominators factors; mergedTogether factors ] |> List.choose id with
        | [] -> plain
        | shapes -> List.minBy width (plain :: List.map ofFactors shapes)

    /// The factors with a sum among them (or an integer power of one) taken over its common denominator and multiplied
    /// in, so that powers of one base merge across it: 2*(1 - 4*x^2/(1 + 4*x^2))/sqrt(1 + 4*x^2) is
    /// 2/(1 + 4*x^2)^(3/2). None when no sum has such a shape, or the product comes out negative.
    and private mergedTogether (factors: Formula list) : Formula list option =
        if not (Tidy.isSmall 300 (Product factors)) then None
        else
            factors
            |> List.tryPick (fun s ->
                let whole, k =
                    match s with
                    | Sum _ -> Some s, Rational.one
                    | Power(Sum _ as t, Number k) when k.IsInteger -> Some t, k
                    | _ -> None, Rational.one
                match whole |> Option.bind (Tidy.together true) with
                | None
                | Some(Sum _) -> None
                | Some t ->
                    let others = factors |> List.filter (fun g -> not (obj.ReferenceEquals(g, s)))
                    match Formula.product (Formula.power t (Number k) :: others) with
                    | g when fst (splitSign g) -> None
                    | Product fs -> Some fs
                    | g -> Some [ g ])

    /// The factors with every sum (or integer power of one) whose terms have fractional coefficients multiplied
    /// through by the lcm L of their denominators, and the coefficient divided by L (or L^k); None when none has.
    and private clearFractions (factors: Formula list) : Formula list option =
        let coefficientOf t =
            match t with
            | Number r | Product(Number r :: _) -> Some r
            | Approx _ | Product(Approx _ :: _) -> None
            | _ -> Some Rational.one
        let mutable scale = Rational.one
        let cleared =
            factors
            |> List.map (fun g ->
                let sum, k =
                    match g with
                    | Sum terms -> Some terms, Rational.one
                    | Power(Sum terms, Number k) when k.IsInteger -> Some terms, k
                    | _ -> None, Rational.one
                match sum with
                | Some terms ->
                    let cs = terms |> List.map coefficientOf
                    if List.exists Option.isNone cs then g
                    else
                        let l = cs |> List.fold (fun acc c -> let d = (Option.get c).Denominator in acc / BigInteger.GreatestCommonDivisor(acc, d) * d) BigInteger.One
                        if l.IsOne then g
                        else
                            let scaled = Formula.sum (terms |> List.map (fun t -> Formula.multiply (Formula.number (Rational.ofBigInteger l)) t))
                            scale <- scale * Rational.pow (Rational.create BigInteger.One l) (int k.Numerator)
                            if Rational.isOne k then scaled else Power(scaled, Number k)
                | None -> g)
        if Rational.isOne scale then None
        else
            let number, rest = cleared |> List.partition (fun g -> match g with Number _ -> true | _ -> false)
            let c = number |> List.fold (fun acc g -> match g with Number r -> acc * r | _ -> acc) scale
            Some(Number c :: rest)

    and private ofFactors (factors: Formula list) : Visual =
        let top = ResizeArray<Visual>()
        let bottom = ResizeArray<Visual>()
        for g in factors do
            match g with
            | Number r when not r.IsInteger && (asDecimal (Rational.abs r)).IsSome -> top.Add(Visual.Decimal(Rational.toFloat (Rational.abs r)))
            | Number r ->
                if not r.Numerator.IsOne then top.Add(Visual.Integer r.Numerator)
                if not r.Denominator.IsOne then bottom.Add(Visual.Integer r.Denominator)
            | Approx v -> top.Add(Visual.Decimal v)
            | Power(b, e) when isNegativeExponent e -> bottom.Add(ofPower b (negateExponent e))
            | Power(b, e) -> top.Add(ofPower b e)
            | _ ->
                // A factor shown as a fraction (a sum over a common denominator) joins this fraction.
                match ofFormula g with
                | Visual.Fraction(n, d) ->
                    if n <> Visual.Integer BigInteger.One then top.Add n
                    bottom.Add d
                | v -> top.Add v
        // A factor shown as a product (a sum with its common factor pulled out, 200*(a - b)) joins this product, and
        // the integers of the top and of the bottom are multiplied out and reduced: 2*x*200*(a - b) is 400*x*(a - b).
        let integersFirst (vs: ResizeArray<Visual>) =
            let flat = vs |> Seq.collect (fun v -> match v with Visual.Product fs -> Seq.ofList fs | _ -> Seq.singleton v) |> List.ofSeq
            let n = flat |> List.fold (fun acc v -> match v with Visual.Integer k -> acc * k | _ -> acc) BigInteger.One
            n, flat |> List.filter (fun v -> match v with Visual.Integer _ -> false | _ -> true)
        let n, topRest = integersFirst top
        let d, bottomRest = integersFirst bottom
        let g = BigInteger.GreatestCommonDivisor(n, d)
        let n, d = (if g.IsZero then n, d else n / g, d / g)
        top.Clear()
        if not n.IsOne || topRest.IsEmpty then top.Add(Visual.Integer n)
        top.AddRange topRest
        bottom.Clear()
        if not d.IsOne then bottom.Add(Visual.Integer d)
        bottom.AddRange bottomRest
        let top = if top.Count > 1 && top[0] = Visual.Integer BigInteger.One then ResizeArray(Seq.skip 1 top) else top
        let join (vs: ResizeArray<Visual>) =
            match List.ofSeq vs with
            | [] -> Visual.Integer BigInteger.One
            | [ v ] -> v
            | vs -> Visual.Product(List.map groupFactor vs)
        if bottom.Count = 0 then join top else Visual.Fraction(join top, join bottom)

    and private ofPower (b: Formula) (e: Formula) : Visual =
        match e with
        | Number r when Rational.isOne r -> ofFormula b
        | Number r when r.Equals half -> Visual.SquareRoot(ofFormula b)
        | _ -> Visual.Power(groupBase (ofFormula b), ofFormula e)

    and private ofCondition (c: Condition) : VisualCondition =
        StackGuard.run (fun () ->
            match c with
            | Compare(op, l, r) -> VisualCondition.Compare(op, ofFormula l, ofFormula r)
            | And(a, b) ->
                let part c =
                    match ofCondition c with
                    | VisualCondition.And cs -> cs
                    | VisualCondition.Or _ as o -> [ VisualCondition.Group o ]
                    | v -> [ v ]
                VisualCondition.And(part a @ part b)
            | Or(a, b) ->
                let part c =
                    match ofCondition c with
                    | VisualCondition.Or cs -> cs
                    | v -> [ v ]
                VisualCondition.Or(part a @ part b)
            | Not a -> VisualCondition.Not(VisualCondition.Group(ofCondition a)))

    /// Writes a negation or a signed sum as both printers do: `-x`, `a + b - c`, an operand that is itself a sum or
    /// a negation grouped (`-(a + b)`, `a - (-b)`). Only the grouping and the operands differ between formats.
    let internal writeSigned (append: string -> unit) (operand: Visual -> unit) (grouped: Visual -> unit) (v: Visual) =
        let term (t: Visual) =
            match t with
            | Visual.Sum _ | Visual.Negative _ -> grouped t
            | _ -> operand t
        match v with
        | Visual.Negative x ->
            append "-"
            term x
        | Visual.Sum terms ->
            terms
            |> List.iteri (fun i (positive, t) ->
                if i = 0 then (if not positive then append "-")
                else append (if positive then " + " else " - ")
                term t)
        | _ -> invalidArg (nameof v) "not a negation or a sum"

