namespace ExprGrad.Symbolic

open System.Collections.Generic
open System.Numerics

/// Other shapes of a canonical sum, for display only (Visual shows whichever is narrowest): over a common
/// denominator with its numerator expanded and like terms collected (1/x − (1 + y)/x + y/x = 0), and with the
/// factors common to every term pulled out (4*x*y + 4*x = 4*x*(y + 1), x^x*log(x) + x^x = x^x*(1 + log(x))). The shapes are built from the DU's cases,
/// not the smart constructors, where canonical form would undo them (a number times a sum is distributed); every
/// shape has the value of the sum wherever the sum is defined (cancelling x/x may define it at x = 0, as 0·u = 0 does).
[<RequireQualifiedAccess>]
module internal Tidy =

    /// Sums of more nodes than this are shown as they are (each shape costs an expansion).
    let private maxSize = 300

    /// Terms an expanded numerator may have.
    let private maxTerms = 64

    /// True when f has at most limit nodes (stops counting past it, so it is cheap on deep trees).
    let internal isSmall (limit: int) (f: Formula) =
        let stack = Stack<Formula>()
        stack.Push f
        let mutable count = 0
        while stack.Count > 0 && count <= limit do
            let g = stack.Pop()
            count <- count + 1
            for c in Formula.children g do
                stack.Push c
        count <= limit

    /// A term as its numeric coefficient and its factors as (base, exponent), exponents that are numbers as Rational.
    let private factorsOf (t: Formula) : Rational * (Formula * Formula) list =
        let factors =
            match t with
            | Product fs -> fs
            | _ -> [ t ]
        let mutable c = Rational.one
        let rest = ResizeArray()
        for f in factors do
            match f with
            | Number r -> c <- c * r
            | Power(b, e) -> rest.Add(b, e)
            | _ -> rest.Add(f, Formula.one)
        c, List.ofSeq rest

    let private exponentOf (e: Formula) =
        match e with
        | Number r -> Some r
        | _ -> None

    /// sigmoid(u) or 1 − sigmoid(u): sigmoid(u)*(1 − sigmoid(u)), the textbook form of sigmoid's derivative the notebooks
    /// teach, is neither expanded nor split by a shape.
    let private isSigmoidPart (f: Formula) =
        match f with
        | Apply(Function.Sigmoid, _) -> true
        | Sum [ Number one; Product [ Number minusOne; Apply(Function.Sigmoid, _) ] ] -> Rational.isOne one && Rational.isOne (-minusOne)
        | _ -> false

    /// Distributes products over sums (and small integer powers of sums), collecting like terms; None past maxTerms.
    let rec private expand (t: Formula) : Formula list option =
        let times (xs: Formula list) (ys: Formula list) =
            if xs.Length * ys.Length > maxTerms then None
            else Some [ for a in xs do for b in ys -> Formula.multiply a b ]
        let expandFactor (f: Formula) : Formula list option =
            match f with
                // 1 − sigmoid(u) stays whole: sigmoid(u)*(1 − sigmoid(u)) is the textbook form of sigmoid's derivative.
            | _ when isSigmoidPart f -> Some [ f ]
            | Sum _ -> expand f
            | Power(Sum _ as s, Number r) when r.IsInteger && r.Sign > 0 && r.Numerator <= BigInteger 4 ->
                expand s
                |> Option.bind (fun ts ->
                    let mutable acc = Some [ Formula.one ]
                    for _ in 1 .. int r.Numerator do
                        acc <- acc |> Option.bind (fun a -> times a ts)
                    acc)
            | _ -> Some [ f ]
        match t with
        | Sum ts ->
            let parts = ts |> List.map expand
            if List.forall Option.isSome parts then
                let all = parts |> List.collect Option.get
                if all.Length > maxTerms then None else Some all
            else None
        | Product fs ->
            fs
            |> List.fold (fun acc f -> acc |> Option.bind (fun a -> expandFactor f |> Option.bind (times a))) (Some [ Formula.one ])
        | _ -> expandFactor t

    let private termsOf (f: Formula) =
        match f with
        | Sum ts -> ts
        | _ -> [ f ]

    let private lcm (a: BigInteger) (b: BigInteger) = a / BigInteger.GreatestCommonDivisor(a, b) * b

    /// Factors common to every term: numeric content (gcd of numerators over lcm of denominators, sign of the
    /// first term) and bases with a number exponent, at the least exponent they have.
    let private common (terms: Formula list) : Rational * (Formula * Rational) list =
        let split = terms |> List.map factorsOf
        let content =
            let ns = split |> List.map (fun (c, _) -> BigInteger.Abs c.Numerator)
            let ds = split |> List.map (fun (c, _) -> c.Denominator)
            let g = ns |> List.reduce (fun a b -> BigInteger.GreatestCommonDivisor(a, b))
            let l = ds |> List.reduce lcm
            if g.IsZero then Rational.one else Rational.create g l
        let first = snd split.Head
        let bases =
            first
            |> List.choose (fun (b, e) ->
                match exponentOf e with
                | Some r when r.Sign > 0 ->
                    let least =
                        split.Tail
                        |> List.fold (fun (acc: Rational option) (_, fs) ->
                            acc
                            |> Option.bind (fun m ->
                                fs
                                |> List.tryPick (fun (b2, e2) -> if Formula.compare b b2 = 0 then exponentOf e2 else None)
                                |> Option.filter (fun r -> r.Sign > 0)
                                |> Option.map (fun r -> if Rational.compare r m < 0 then r else m)))
                            (Some r)
                    least |> Option.map (fun m -> b, m)
                | _ -> None)
        content, bases

    /// Powers with one exponent that is no number in every term: x^x in x^x*log(x) + x^x.
    let private commonPowers (terms: Formula list) : (Formula * Formula) list =
        let powersOf t = snd (factorsOf t) |> List.filter (fun (_, e) -> (exponentOf e).IsNone)
        powersOf terms.Head
        |> List.filter (fun (b, e) ->
            terms.Tail |> List.forall (fun t -> powersOf t |> List.exists (fun (c, f) -> Formula.compare b c = 0 && Formula.compare e f = 0)))

    /// The product of a number and factors as the DU holds it, kept whole (no distribution of the number).
    let private raw (c: Rational) (factors: Formula list) : Formula =
        let mutable c = c
        let factors =
            factors
            |> List.collect (fun f ->
                match f with
                | Number r ->
                    c <- c * r
                    []
                | Product((Number r) :: rest) ->
                    c <- c * r
                    rest
                | Product fs -> fs
                | _ when Formula.compare f Formula.one = 0 -> []
                | _ -> [ f ])
        match Rational.isOne c, factors with
        | true, [] -> Formula.one
        | true, [ f ] -> f
        | true, fs -> Product fs
        | false, [] -> Number c
        | false, fs -> Product(Number c :: fs)

    /// The sum with its common factors pulled out (c*(a + b)), when it has any besides ±1.
    let factor (f: Formula) : Formula option =
        match f with
        | Sum terms when isSmall maxSize f ->
            let content, bases = common terms
            let powers = commonPowers terms
            if bases.IsEmpty && powers.IsEmpty && Rational.isOne content then None
            else
                // Divided factor by factor: 1/16*(x − e^x) would be distributed into another base than x − e^x.
                let inverse =
                    Formula.product (
                        Number(Rational.one / content)
                        :: (bases |> List.map (fun (b, e) -> Formula.power b (Number(-e))))
                        @ (powers |> List.map (fun (b, e) -> Formula.power b (Formula.negate e))))
                let rest = Formula.sum (terms |> List.map (fun t -> Formula.cancel t [ inverse ]))
                match rest with
                | Sum restTerms when (let _, bs = common restTerms in bs.IsEmpty) ->
                    // Like terms the division collected may share a number: 4*x*s + 4*s*(4 + x) is 4*s*(4 + 2*x), so 8*s*(2 + x).
                    let more, _ = common restTerms
                    let rest = if Rational.isOne more then rest else Formula.sum (restTerms |> List.map (fun t -> Formula.multiply t (Number(Rational.one / more))))
                    Some(raw (content * more) ((bases |> List.map (fun (b, e) -> Formula.power b (Number e))) @ (powers |> List.map (fun (b, e) -> Power(b, e))) @ [ rest ]))
                | _ -> None
        | _ -> None

    /// The sum with the terms that share a factor (the one most terms share, when some but not all do) grouped under it:
    /// cosh(x) − x^x*c − c*step(y − x) is cosh(x) − c*(x^x + step(y − x)), c = cos(x^x + min(x, y)).
    let group (f: Formula) : Formula option =
        match f with
        | Sum terms when terms.Length > 2 && isSmall maxSize f ->
            let split = terms |> List.map (fun t -> t, snd (factorsOf t))
            let has (b, e) (fs: (Formula * Formula) list) = fs |> List.exists (fun (c, g) -> Formula.compare b c = 0 && Formula.compare e g = 0)
            let shared =
                split
                |> List.collect snd
                |> List.filter (fun (b, _) -> not (isSigmoidPart b))
                |> List.map (fun be -> be, split |> List.filter (fun (_, fs) -> has be fs) |> List.length)
                |> List.filter (fun (_, n) -> n >= 2 && n < terms.Length)
            if shared.IsEmpty then None
            else
                let (b, e), _ = shared |> List.maxBy snd
                let inside, outside = split |> List.partition (fun (_, fs) -> has (b, e) fs)
                let inverse = Formula.power b (Formula.negate e)
                let grouped = Product [ Formula.power b e; Formula.sum (inside |> List.map (fun (t, _) -> Formula.cancel t [ inverse ])) ]
                Some(Sum(grouped :: List.map fst outside))
        | _ -> None

    /// A product's factors with a power of a base in its denominator multiplied into a sum there, where that clears
    /// every denominator of the sum: b^(−n)·S^(−k) is b^(k·m − n)·(b^m·S)^(−k) for S whose terms have b to powers down
    /// to −m (3/(y^2*(1 + 9/y^2)) is 3/(9 + y^2), 1/(x*(9/x^2 + 100*x^2)) is x/(9 + 100*x^4)); where b = 0 the product is
    /// 0·∞ and this its limit. None when no such pair of factors is there.
    let clearDenominators (factors: Formula list) : Formula list option =
        let integer (b: Formula, e: Formula) = exponentOf e |> Option.filter (fun r -> r.IsInteger) |> Option.map (fun r -> b, r)
        let split f = match f with Power(b, e) -> b, e | _ -> f, Formula.one
        let hasDenominator (t: Formula) = snd (factorsOf t) |> List.exists (fun (_, e) -> match exponentOf e with Some r -> r.Sign < 0 | None -> false)
        factors
        |> List.tryPick (fun s ->
            match s with
            | Power(Sum terms, Number k) when k.IsInteger && k.Sign < 0 && terms.Length <= maxTerms ->
                factors
                |> List.tryPick (fun f ->
                    match integer (split f) with
                    | Some(b, n) when not (obj.ReferenceEquals(f, s)) && n.Sign < 0 ->
                        // The least power of b in the terms (0 where it is absent); None where b has another exponent.
                        let powers =
                            terms
                            |> List.map (fun t ->
                                match snd (factorsOf t) |> List.tryFind (fun (c, _) -> Formula.compare c b = 0) with
                                | None -> Some Rational.zero
                                | Some(c, e) -> integer (c, e) |> Option.map snd)
                        if List.exists Option.isNone powers then None
                        else
                            let m = powers |> List.map Option.get |> List.minBy Rational.toFloat
                            let scaled = Formula.sum (terms |> List.map (fun t -> Formula.multiply t (Formula.power b (Number(-m)))))
                            if m.Sign >= 0 || List.exists hasDenominator (termsOf scaled) then None
                            else
                                let others = factors |> List.filter (fun g -> not (obj.ReferenceEquals(g, s) || obj.ReferenceEquals(g, f)))
                                match Formula.product (Formula.power scaled (Number k) :: Formula.power b (Number(n + m * k)) :: others) with
                                | Product fs -> Some fs
                                | g -> Some [ g ]
                    | _ -> None)
            | _ -> None)

    /// The sum over a common denominator, its numerator expanded (or not: expand = false) and the factors it shares
    /// with the denominator cancelled, when at least two terms have a denominator.
    let together (expandNumerator: bool) (f: Formula) : Formula option =
        match f with
        | Sum terms when isSmall maxSize f ->
            let split = terms |> List.map factorsOf
            let denominatorOf (c: Rational, fs: (Formula * Formula) list) =
                let bases = fs |> List.choose (fun (b, e) -> exponentOf e |> Option.filter (fun r -> r.Sign < 0) |> Option.map (fun r -> b, -r))
                c.Denominator, bases
            let dens = split |> List.map denominatorOf
            if dens |> List.filter (fun (d, bs) -> not d.IsOne || not bs.IsEmpty) |> List.length < 1 then None
            else
                // The denominator: every base at the greatest exponent it has in a term, and the lcm of the numbers.
                let l = dens |> List.map fst |> List.reduce lcm
                let bases = ResizeArray<Formula * Rational>()
                for _, bs in dens do
                    for b, e in bs do
                        match Seq.tryFindIndex (fun (b2, _) -> Formula.compare b b2 = 0) bases with
                        | Some i -> if Rational.compare e (snd bases[i]) > 0 then bases[i] <- (b, e)
                        | None -> bases.Add(b, e)
                // Multiplied factor by factor: 4*(9 + x^2) as one formula would be distributed into another base.
                let scaled =
                    terms
                    |> List.map (fun t -> Formula.cancel t (Number(Rational.ofBigInteger l) :: [ for b, e in bases -> Formula.power b (Number e) ]))
                let expanded = scaled |> List.map (fun t -> if expandNumerator then expand t else Some [ t ])
                let hasDenominator (t: Formula) = not (List.isEmpty (snd (denominatorOf (factorsOf t))))
                if not (List.forall Option.isSome expanded) then None
                else
                    let numerator = Formula.sum (expanded |> List.collect Option.get)
                    match numerator with
                    | Number r when Rational.isZero r -> Some Formula.zero
                    | _ when List.exists hasDenominator (termsOf numerator) -> None
                    | _ ->
                        // Cancel what every numerator term shares with the denominator.
                        let content, shared = common (termsOf numerator)
                        let g = BigInteger.GreatestCommonDivisor(content.Numerator, l)
                        let cancelled =
                            [ for b, e in bases ->
                                  match shared |> List.tryFind (fun (b2, _) -> Formula.compare b b2 = 0) with
                                  | Some(_, m) -> b, e, (if Rational.compare m e < 0 then m else e)
                                  | None -> b, e, Rational.zero ]
                        let inverse =
                            Formula.product (
                                Number(Rational.create BigInteger.One g)
                                :: [ for b, _, k in cancelled -> Formula.power b (Number(-k)) ])
                        let top = Formula.sum (termsOf numerator |> List.map (fun t -> Formula.multiply t inverse))
                        let bottom = [ for b, e, k in cancelled -> Formula.power b (Number(k - e)) ]
                        Some(raw (Rational.create g l) (top :: bottom))
        | _ -> None
