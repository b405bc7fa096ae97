namespace ExprGrad.Symbolic

open System
open System.Collections.Generic
open System.Globalization
open System.Linq.Expressions
open System.Numerics

/// Markers that a Linq tree handed to <c>Linq.ToFormula</c> uses for what a formula of a loop needs and Linq has no
/// node for: a sum over a range and an element at a computed index. They stand for values; calling them throws.
[<AbstractClass; Sealed>]
type LoopMarkers =
    /// The sum of <paramref name="body"/> for the variable named <paramref name="index"/> (a parameter of that name in
    /// the body) from <paramref name="lower"/> to <paramref name="upper"/>, both included: <c>Formula.series</c>.
    static member Sum(index: string, lower: double, upper: double, body: double) : double =
        ignore (index, lower, upper, body)
        raise (NotSupportedException "LoopMarkers.Sum stands for a sum in a Linq tree read by Linq.ToFormula; it is not called")

    /// Element <paramref name="index"/> of the array named <paramref name="array"/>: <c>Formula.element</c>.
    static member Element(array: string, index: double) : double =
        ignore (array, index)
        raise (NotSupportedException "LoopMarkers.Element stands for an element in a Linq tree read by Linq.ToFormula; it is not called")

    /// Element (<paramref name="row"/>, <paramref name="column"/>) of the matrix named <paramref name="array"/>.
    static member Element(array: string, row: double, column: double) : double =
        ignore (array, row, column)
        raise (NotSupportedException "LoopMarkers.Element stands for an element in a Linq tree read by Linq.ToFormula; it is not called")

/// Conversions between Linq expression trees (the engine's catalogue) and formulas.
[<RequireQualifiedAccess>]
module Linq =

    let private supported =
        "supported: + - * /, unary -, Math.Pow and the catalogue's Math functions, the library's methods (sigmoid, relu, softplus, square), "
        + "conversions between numeric types, double and int constants, parameters, captured variables, w[i] with a constant i, "
        + "and c ? a : b over comparisons joined by && || !"

    let private show (e: Expression) =
        let text = e.ToString()
        if text.Length <= 200 then text else text.Substring(0, 200) + "..."

    let private unsupported (e: Expression) (what: string) : exn =
        NotSupportedException($"cannot convert {what} '{e.NodeType}' in {show e} to a formula ({supported})")

    let private isNumeric (t: Type) =
        t = typeof<double> || t = typeof<float32> || t = typeof<int> || t = typeof<int64> || t = typeof<int16>
        || t = typeof<byte> || t = typeof<sbyte> || t = typeof<uint32> || t = typeof<uint64> || t = typeof<uint16>
        || t = typeof<decimal>

    let private isIntegral (t: Type) = isNumeric t && t <> typeof<double> && t <> typeof<float32> && t <> typeof<decimal>

    /// The sub-expressions a conversion may visit (for the count of parents).
    let private children (e: Expression) : Expression list =
        match e with
        | :? LambdaExpression as l -> [ l.Body ]
        | :? BinaryExpression as b -> [ b.Left; b.Right ]
        | :? UnaryExpression as u -> [ u.Operand ]
        | :? MethodCallExpression as m ->
            match m.Object with
            | null -> List.ofSeq m.Arguments
            | o -> o :: List.ofSeq m.Arguments
        | :? ConditionalExpression as c -> [ c.Test; c.IfTrue; c.IfFalse ]
        | _ -> []

    /// How many times each node is reached from its parents (a shared node is reached more than once).
    let private countParents (root: Expression) =
        let counts = Dictionary<Expression, int>(HashIdentity.Reference)
        let stack = Stack<Expression>()
        counts[root] <- 1
        stack.Push root
        while stack.Count > 0 do
            for c in children (stack.Pop()) do
                match counts.TryGetValue c with
                | true, n -> counts[c] <- n + 1
                | _ ->
                    counts[c] <- 1
                    stack.Push c
        counts

    let private constantValue (e: ConstantExpression) : Formula =
        match e.Value with
        | :? double as v -> Formula.ofConstant v
        | :? int as v -> Formula.ofInt v
        | :? int64 as v -> Formula.number (Rational.ofBigInteger (BigInteger v))
        | :? float32 as v -> Formula.ofFloat (float v)
        | :? int16 as v -> Formula.ofInt (int v)
        | :? byte as v -> Formula.ofInt (int v)
        | :? decimal as v -> Formula.ofFloat (float v)
        | _ -> raise (unsupported e "the constant")

    /// The name of an element or variable: a parameter's name, a captured variable's member name.
    let private nameOf (e: Expression) : string option =
        match e with
        | :? ParameterExpression as p -> Some(match p.Name with null -> "p" | n -> n)
        | :? MemberExpression as m -> Some m.Member.Name
        | _ -> None

    /// The formula a Linq expression computes (a lambda's body for a lambda). Parameters and captured variables
    /// become symbols named like them, w[i] with a constant i becomes the symbol "w[i]". Chains of + − * / are
    /// gathered and simplified at once, shared sub-trees are converted once, and deep trees are safe.
    /// Throws NotSupportedException naming the node type and the sub-expression for anything else.
    [<CompiledName("ToFormula")>]
    let ofLinq (library: Library) (e: Expression) : Formula =
        let root =
            match e with
            | :? LambdaExpression as l -> l.Body
            | _ -> e
        let parents = countParents root
        let memo = Dictionary<Expression, Formula>(HashIdentity.Reference)
        let isChainLink (n: Expression) = obj.ReferenceEquals(n, root) || parents[n] = 1
        let rec convert (e: Expression) : Formula =
            match memo.TryGetValue e with
            | true, f -> f
            | _ ->
                let f = StackGuard.run (fun () -> build e)
                memo[e] <- f
                f
        and sumChain (e: Expression) =
            // Gathered iteratively: a left-deep chain of 100,000 additions is one sum, simplified once.
            let terms = ResizeArray<Formula>()
            let stack = Stack<struct (Expression * bool)>()
            stack.Push(struct (e, true))
            while stack.Count > 0 do
                let struct (n, positive) = stack.Pop()
                let link = obj.ReferenceEquals(n, e) || isChainLink n
                match n.NodeType with
                | ExpressionType.Add | ExpressionType.AddChecked when link && n.Type = typeof<double> ->
                    let b = n :?> BinaryExpression
                    stack.Push(struct (b.Right, positive))
                    stack.Push(struct (b.Left, positive))
                | ExpressionType.Subtract | ExpressionType.SubtractChecked when link && n.Type = typeof<double> ->
                    let b = n :?> BinaryExpression
                    stack.Push(struct (b.Right, not positive))
                    stack.Push(struct (b.Left, positive))
                | ExpressionType.Negate | ExpressionType.NegateChecked when link && n.Type = typeof<double> ->
                    stack.Push(struct ((n :?> UnaryExpression).Operand, not positive))
                | _ ->
                    let f = convert n
                    terms.Add(if positive then f else Formula.negate f)
            Formula.sum terms
        and productChain (e: Expression) =
            let factors = ResizeArray<Formula>()
            let stack = Stack<struct (Expression * bool)>()
            stack.Push(struct (e, true))
            while stack.Count > 0 do
                let struct (n, up) = stack.Pop()
                let link = obj.ReferenceEquals(n, e) || isChainLink n
                match n.NodeType with
                | ExpressionType.Multiply | ExpressionType.MultiplyChecked when link && n.Type = typeof<double> ->
                    let b = n :?> BinaryExpression
                    stack.Push(struct (b.Right, up))
                    stack.Push(struct (b.Left, up))
                | ExpressionType.Divide when link && n.Type = typeof<double> ->
                    let b = n :?> BinaryExpression
                    stack.Push(struct (b.Right, not up))
                    stack.Push(struct (b.Left, up))
                | _ ->
                    let f = convert n
                    factors.Add(if up then f else Formula.power f Formula.minusOne)
            Formula.product factors
        and build (e: Expression) : Formula =
            match e with
            | :? ConstantExpression as c -> constantValue c
            | :? ParameterExpression as p when isNumeric p.Type -> Symbol(match p.Name with null -> "p" | n -> n)
            | :? MemberExpression as m when isNumeric m.Type -> Symbol m.Member.Name
            | :? BinaryExpression as b ->
                match e.NodeType with
                | ExpressionType.Add | ExpressionType.AddChecked | ExpressionType.Subtract | ExpressionType.SubtractChecked
                    when e.Type = typeof<double> -> sumChain e
                | ExpressionType.Multiply | ExpressionType.MultiplyChecked | ExpressionType.Divide when e.Type = typeof<double> ->
                    productChain e
                | ExpressionType.Add | ExpressionType.AddChecked -> Formula.add (convert b.Left) (convert b.Right)
                | ExpressionType.Subtract | ExpressionType.SubtractChecked -> Formula.subtract (convert b.Left) (convert b.Right)
                | ExpressionType.Multiply | ExpressionType.MultiplyChecked -> Formula.multiply (convert b.Left) (convert b.Right)
                | ExpressionType.Power -> Formula.power (convert b.Left) (convert b.Right)
                | ExpressionType.ArrayIndex ->
                    match nameOf b.Left, b.Right with
                    | Some name, (:? ConstantExpression as i) ->
                        Symbol(String.Format(CultureInfo.InvariantCulture, "{0}[{1}]", name, i.Value))
                    | _ -> raise (unsupported e "the array index (only w[i] with a constant i)")
                | _ -> raise (unsupported e "the operator")
            | :? UnaryExpression as u ->
                match e.NodeType with
                | ExpressionType.Negate | ExpressionType.NegateChecked when e.Type = typeof<double> -> sumChain e
                | ExpressionType.Negate | ExpressionType.NegateChecked -> Formula.negate (convert u.Operand)
                | ExpressionType.UnaryPlus -> convert u.Operand
                | ExpressionType.Convert | ExpressionType.ConvertChecked when isNumeric e.Type && isNumeric u.Operand.Type ->
                    let inner = convert u.Operand
                    // double → integer truncates toward zero.
                    if isIntegral e.Type && not (isIntegral u.Operand.Type) then Formula.apply Function.Truncate [ inner ]
                    else inner
                | _ -> raise (unsupported e "the unary operator")
            | :? MethodCallExpression as m ->
                let args () = m.Arguments |> Seq.map convert |> List.ofSeq
                let text (k: int) =
                    match m.Arguments[k] with
                    | :? ConstantExpression as c when (c.Value :? string) -> c.Value :?> string
                    | _ -> raise (unsupported e "the marker (its name must be a constant string) of")
                if m.Method.DeclaringType = typeof<Math> && m.Method.Name = "Pow" && m.Arguments.Count = 2 then
                    Formula.power (convert m.Arguments[0]) (convert m.Arguments[1])
                elif m.Method.DeclaringType = typeof<LoopMarkers> && m.Method.Name = "Sum" then
                    Formula.series (text 0) (convert m.Arguments[1]) (convert m.Arguments[2]) (convert m.Arguments[3])
                elif m.Method.DeclaringType = typeof<LoopMarkers> then
                    Formula.element (text 0) (m.Arguments |> Seq.skip 1 |> Seq.map convert |> List.ofSeq)
                else
                    match m.Object with
                    | null ->
                        match Function.tryOfMethod library m.Method with
                        | Some f -> Formula.apply f (args ())
                        | None -> raise (unsupported e $"the method {m.Method.DeclaringType}.{m.Method.Name} of")
                    | o when m.Method.Name = "get_Item" && m.Arguments.Count = 1 ->
                        match nameOf o, m.Arguments[0] with
                        | Some name, (:? ConstantExpression as i) ->
                            Symbol(String.Format(CultureInfo.InvariantCulture, "{0}[{1}]", name, i.Value))
                        | _ -> raise (unsupported e "the indexer (only w[i] with a constant i)")
                    | _ -> raise (unsupported e $"the instance method {m.Method.Name} of")
            | :? ConditionalExpression as c ->
                Formula.ifThenElse (condition c.Test) (convert c.IfTrue) (convert c.IfFalse)
            | _ -> raise (unsupported e "the node")
        and condition (e: Expression) : Condition =
            StackGuard.run (fun () ->
                let compare op =
                    let b = e :?> BinaryExpression
                    Condition.compare op (convert b.Left) (convert b.Right)
                match e.NodeType with
                | ExpressionType.LessThan -> compare Comparison.Less
                | ExpressionType.LessThanOrEqual -> compare Comparison.LessOrEqual
                | ExpressionType.GreaterThan -> compare Comparison.Greater
                | ExpressionType.GreaterThanOrEqual -> compare Comparison.GreaterOrEqual
                | ExpressionType.Equal when isNumeric (e :?> BinaryExpression).Left.Type -> compare Comparison.Equal
                | ExpressionType.NotEqual when isNumeric (e :?> BinaryExpression).Left.Type -> compare Comparison.NotEqual
                | ExpressionType.AndAlso | ExpressionType.And ->
                    let b = e :?> BinaryExpression
                    Condition.andAlso (condition b.Left) (condition b.Right)
                | ExpressionType.OrElse | ExpressionType.Or ->
                    let b = e :?> BinaryExpression
                    Condition.orElse (condition b.Left) (condition b.Right)
                | ExpressionType.Not -> Condition.not (condition (e :?> UnaryExpression).Operand)
                | ExpressionType.Constant ->
                    match (e :?> ConstantExpression).Value with
                    | :? bool as v ->
                        Condition.compare (if v then Comparison.Equal else Comparison.NotEqual) Formula.zero Formula.zero
                    | _ -> raise (unsupported e "the condition")
                | _ -> raise (unsupported e "the condition"))
        convert root

    let private shortLimit = BigInteger.Pow(BigInteger 10, 15)

    /// True when the exponent is negative, so the power belongs in a denominator.
    let private isNegativeExponent (e: Formula) =
        match e with
        | Number r -> r.Sign < 0
        | Approx v -> v < 0.0
        | Product((Number r) :: _) -> r.Sign < 0
        | Product((Approx v) :: _) -> v < 0.0
        | _ -> false

    /// A double-typed Linq expression computing f, for compiling a simplified formula: symbols are looked up in
    /// `symbols` (converted to double when needed), functions through Function.toLinq, powers through Math.Pow
    /// (x^(1/2) as Math.Sqrt, x^-1 and other negative powers as divisions, x^2 of a symbol as x*x), rational
    /// numbers that are no short decimal as n/d (big integers in exact chunks) so they convert back exactly. Shared sub-formulas are converted once.
    [<CompiledName("ToExpression")>]
    let toLinq (library: Library) (symbols: IReadOnlyDictionary<string, Expression>) (f: Formula) : Expression =
        let memo = Dictionary<Formula, Expression>(HashIdentity.Reference)
        let constant (v: float) = Expression.Constant(v, typeof<double>) :> Expression
        let chunk = BigInteger.One <<< 40
        /// An integer as short-decimal double constants (at most 15 digits, so ofLinq reads them exactly):
        /// n itself below 10^15, otherwise hi*2^40 + lo.
        let rec integer (n: BigInteger) : Expression =
            if BigInteger.Abs n < shortLimit then constant (float n)
            else
                let hi = BigInteger.Divide(n, chunk)
                let lo = n - hi * chunk
                Expression.Add(Expression.Multiply(integer hi, constant (float chunk)), constant (float lo)) :> Expression
        let number (r: Rational) =
            let v = Rational.toFloat r
            match Formula.ofFloat v with
            | Number q when q.Equals r -> constant v
            // A fraction of thirteen digits or more is shown as its double (Visual), so it is that double here too.
            | _ when not r.IsInteger && (BigInteger.Abs r.Numerator >= BigInteger 1_000_000_000_000L || r.Denominator >= BigInteger 1_000_000_000_000L) -> constant v
            | _ when r.IsInteger -> integer r.Numerator
            | _ -> Expression.Divide(integer r.Numerator, integer r.Denominator) :> Expression
        let pow = Function.math "Pow" 2
        let sqrt = Function.math "Sqrt" 1
        let rec convert (f: Formula) : Expression =
            match memo.TryGetValue f with
            | true, e -> e
            | _ ->
                let e = StackGuard.run (fun () -> build f)
                memo[f] <- e
                e
        and multiplyAll (es: Expression list) =
            match es with
            | [] -> constant 1.0
            | e :: rest -> rest |> List.fold (fun acc x -> Expression.Multiply(acc, x) :> Expression) e
        and build (f: Formula) : Expression =
            match f with
            | Number r -> number r
            | Approx v -> constant v
            | Symbol s ->
                match symbols.TryGetValue s with
                | true, e when e.Type = typeof<double> -> e
                | true, e -> Expression.Convert(e, typeof<double>) :> Expression
                | _ -> raise (KeyNotFoundException($"no expression was given for the symbol '{s}'"))
            | Sum(first :: rest) ->
                rest
                |> List.fold
                    (fun (acc: Expression) t ->
                        match t with
                        | Product((Number r) :: _) when r.Sign < 0 -> Expression.Subtract(acc, convert (Formula.negate t)) :> Expression
                        | Product((Approx v) :: _) when v < 0.0 -> Expression.Subtract(acc, convert (Formula.negate t)) :> Expression
                        | _ -> Expression.Add(acc, convert t) :> Expression)
                    (convert first)
            | Sum [] -> constant 0.0
            | Product factors ->
                let coefficient, rest =
                    match factors with
                    | (Number _ | Approx _ as c) :: rest -> Some c, rest
                    | _ -> None, factors
                let over, under =
                    rest
                    |> List.partition (fun g ->
                        match g with
                        | Power(_, e) -> not (isNegativeExponent e)
                        | _ -> true)
                let under = under |> List.map (fun g -> match g with Power(b, e) -> Formula.power b (Formula.negate e) | _ -> g)
                let negated, coefficient =
                    match coefficient with
                    | Some(Number r) when Rational.isOne (-r) -> true, None
                    | c -> false, c
                let top = (coefficient |> Option.map convert |> Option.toList) @ List.map convert over
                let top = multiplyAll top
                let quotient =
                    match under with
                    | [] -> top
                    | _ -> Expression.Divide(top, multiplyAll (List.map convert under)) :> Expression
                if negated then Expression.Negate quotient :> Expression else quotient
            | Power(b, Number r) when r.Equals(Rational.create BigInteger.One (BigInteger 2)) ->
                Expression.Call(sqrt, convert b) :> Expression
            | Power(b, Number r) when r.Equals(Rational.create BigInteger.MinusOne (BigInteger 2)) ->
                Expression.Divide(constant 1.0, Expression.Call(sqrt, convert b)) :> Expression
            | Power(b, Number r) when Rational.isOne (-r) -> Expression.Divide(constant 1.0, convert b) :> Expression
            | Power(Symbol _ as b, Number r) when r.Equals(Rational.ofInt 2) ->
                let x = convert b
                Expression.Multiply(x, x) :> Expression
            | Power(b, e) -> Expression.Call(pow, convert b, convert e) :> Expression
            | Apply(g, args) -> Function.toLinq library g (List.map convert args)
            | If(c, a, b) -> Expression.Condition(test c, convert a, convert b) :> Expression
            | Element _ | Series _ ->
                raise (NotSupportedException "cannot convert a formula of a loop to a Linq expression: a sum over a range and an element at a computed index are for display; Formula.Evaluate evaluates them")
        and test (c: Condition) : Expression =
            StackGuard.run (fun () ->
                match c with
                | Compare(op, l, r) ->
                    let l, r = convert l, convert r
                    match op with
                    | Comparison.Less -> Expression.LessThan(l, r) :> Expression
                    | Comparison.LessOrEqual -> Expression.LessThanOrEqual(l, r)
                    | Comparison.Greater -> Expression.GreaterThan(l, r)
                    | Comparison.GreaterOrEqual -> Expression.GreaterThanOrEqual(l, r)
                    | Comparison.Equal -> Expression.Equal(l, r)
                    | Comparison.NotEqual -> Expression.NotEqual(l, r)
                | And(a, b) -> Expression.AndAlso(test a, test b)
                | Or(a, b) -> Expression.OrElse(test a, test b)
                | Not a -> Expression.Not(test a))
        convert f
