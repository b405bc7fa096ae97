namespace ExprGrad.Symbolic

open System
open System.Collections.Generic
open System.Linq.Expressions
open System.Reflection
open Microsoft.FSharp.Quotations
open Microsoft.FSharp.Quotations.Patterns
open Microsoft.FSharp.Quotations.ExprShape

/// FSharp.Core's operators and their System.Math equivalents, shared by both conversions below.
module internal FSharpCore =

    let assembly = typeof<FSharpFunc<int, int>>.Assembly

    let private operatorsName = "Microsoft.FSharp.Core.Operators"

    /// True for an F# function type (what `FuncConvert.ToFSharpFunc` returns and `Invoke` is called on).
    let isFunction (t: Type | null) =
        match t with
        | null -> false
        | t -> t.IsGenericType && t.GetGenericTypeDefinition() = typedefof<FSharpFunc<int, int>>

    /// True for a method of FSharp.Core.
    let owns (m: MethodInfo) =
        match m.DeclaringType with
        | null -> false
        | t -> t.Assembly = assembly

    let math (name: string) (arity: int) : MethodInfo =
        match typeof<Math>.GetMethod(name, Array.create arity typeof<double>) with
        | null -> invalidOp $"System.Math has no {name} of {arity} doubles"
        | m -> m

    let pow = math "Pow" 2

    // FSharp.Core functions of floats computed by the System.Math method of the same name (`ceil` is
    // Operators.Ceiling, `**` is op_Exponentiation; Sign returns int, as Math.Sign does).
    let private mathNames =
        HashSet<string>(
            [ "Sin"; "Cos"; "Tan"; "Asin"; "Acos"; "Atan"; "Sinh"; "Cosh"; "Tanh"; "Exp"; "Log"; "Log10"; "Sqrt"
              "Abs"; "Floor"; "Ceiling"; "Round"; "Truncate"; "Sign"; "Atan2"; "Max"; "Min" ],
            StringComparer.Ordinal)

    let isOperators (m: MethodInfo) =
        match m.DeclaringType with
        | null -> false
        | t -> t.Assembly = assembly && t.FullName = operatorsName

    let private ofDoubles (m: MethodInfo) =
        m.GetParameters() |> Array.forall (fun p -> p.ParameterType = typeof<double>)

    /// The System.Math method an FSharp.Core operator (or Double.Pow, the body of `**`'s witness) computes on
    /// doubles, if any.
    let tryMath (m: MethodInfo) : MethodInfo option =
        if not m.IsStatic || not (ofDoubles m) then None
        elif m.DeclaringType = typeof<double> && m.Name = "Pow" then Some pow
        elif not (isOperators m) then None
        elif m.Name = "op_Exponentiation" then Some pow
        elif mathNames.Contains m.Name then Some(math m.Name (m.GetParameters().Length))
        else None

    /// `(double)n`, as C# writes an integer in a double context: a constant is converted now.
    let toDouble (e: Expression) : Expression =
        match e with
        | _ when e.Type = typeof<double> -> e
        | :? ConstantExpression as c when not (isNull c.Value) && c.Type.IsPrimitive ->
            Expression.Constant(Convert.ToDouble(c.Value, Globalization.CultureInfo.InvariantCulture), typeof<double>)
        | _ -> Expression.Convert(e, typeof<double>)

// Replaces parameters by expressions, without looking into the replacements (so substituting already rewritten
// arguments into a small body costs the body's size, not the arguments').
type private Substitution(map: IReadOnlyDictionary<ParameterExpression, Expression>) =
    inherit ExpressionVisitor()

    member private this.VisitBase(node: Expression) : Expression | null = base.Visit node

    override this.Visit(node: Expression | null) : Expression | null =
        match node with
        | null -> null
        | node -> StackGuard.run (fun () -> this.VisitBase node)

    override _.VisitParameter(node: ParameterExpression) : Expression =
        match map.TryGetValue node with
        | true, e -> e
        | _ -> node

// Rewrites what the F# compiler puts into a Linq lambda into what the C# compiler would. Every Visit goes through
// StackGuard, so trees of any depth are safe; unchanged subtrees come back as the same instances.
type private Normalizer() =
    inherit ExpressionVisitor()

    // let-bound values (rewritten) and let-bound functions (rewritten lambdas) by their block variables.
    let bindings = Dictionary<ParameterExpression, Expression>()

    // `ToFSharpFunc(a => ToFSharpFunc(b => body))` (and plain lambdas): the parameters and the innermost body.
    let rec uncurry (e: Expression) : ParameterExpression list * Expression =
        match e with
        | :? MethodCallExpression as call when call.Method.Name = "ToFSharpFunc" && call.Arguments.Count = 1
                                               && FSharpCore.owns call.Method ->
            uncurry call.Arguments[0]
        | :? LambdaExpression as l ->
            let inner, body = uncurry l.Body
            List.ofSeq l.Parameters @ inner, body
        | _ -> [], e

    let substitute (parameters: ParameterExpression list) (arguments: Expression list) (body: Expression) =
        let map = Dictionary<ParameterExpression, Expression>()
        List.iter2 (fun p a -> map[p] <- a) parameters arguments
        match Substitution(map).Visit body with
        | null -> body
        | e -> e

    // Each sub-tree object is rewritten once, however many parents reach it: a tree that shares sub-trees (a C#
    // tree built by reusing an expression, parsed text) is walked in time linear in its distinct nodes, not in
    // its written-out size, which can be exponential.
    let rewritten = Dictionary<Expression, Expression>(HashIdentity.Reference)

    member private this.VisitBase(node: Expression) : Expression | null = base.Visit node

    member private this.Rewrite(node: Expression) : Expression =
        match this.Visit node with
        | null -> node
        | e -> e

    override this.Visit(node: Expression | null) : Expression | null =
        match node with
        | null -> null
        | :? ParameterExpression as p -> this.VisitParameter p
        | node ->
            match rewritten.TryGetValue node with
            | true, done' -> done'
            | _ ->
                match StackGuard.run (fun () -> this.VisitBase node) with
                | null -> null
                | result ->
                    rewritten[node] <- result
                    result

    override this.VisitParameter(node: ParameterExpression) : Expression =
        match bindings.TryGetValue node with
        | true, value when value.Type = node.Type -> value
        | _ -> node

    override this.VisitBlock(node: BlockExpression) : Expression =
        // F#'s `let v = value in body`: { var v; v = value; body }, possibly several assignments before the result.
        let expressions = List.ofSeq node.Expressions
        let assignments = expressions |> List.take (expressions.Length - 1)
        let isLet (e: Expression) =
            match e with
            | :? BinaryExpression as b when b.NodeType = ExpressionType.Assign ->
                match b.Left with
                | :? ParameterExpression as v -> node.Variables.Contains v
                | _ -> false
            | _ -> false
        if List.forall isLet assignments && not (isLet (List.last expressions)) then
            for a in assignments do
                let b = a :?> BinaryExpression
                this.Bind(b.Left :?> ParameterExpression, b.Right)
            this.Rewrite(List.last expressions)
        else base.VisitBlock node

    // `let v = value`: a value is rewritten once; a function is kept as a lambda, beta-reduced where it is applied.
    member private this.Bind(v: ParameterExpression, value: Expression) =
        bindings[v] <-
            if FSharpCore.isFunction v.Type then
                match uncurry value with
                | [], _ -> this.Rewrite value
                | parameters, body -> Expression.Lambda(this.Rewrite body, parameters) :> Expression
            else this.Rewrite value

    override this.VisitMethodCall(node: MethodCallExpression) : Expression =
        let m = node.Method
        let fromCore = FSharpCore.owns m
        match node.Object with
        | :? LambdaExpression as lambda when m.Name = "Invoke" && lambda.Parameters.Count = node.Arguments.Count ->
            // FSharp.Core 10.0's converter writes `let v = value in body` as (v => body).Invoke(value) (10.1 writes a
            // block): bound as a let, so the lambda's body is what remains.
            Seq.iter2 (fun v value -> this.Bind(v, value)) lambda.Parameters node.Arguments
            this.Rewrite lambda.Body
        | _ ->
        if fromCore && m.Name = "GetArray" && node.Arguments.Count = 2 then
            // FSharp.Core 10.0's converter writes `w.[i]` as IntrinsicFunctions.GetArray(w, i).
            Expression.ArrayIndex(this.Rewrite node.Arguments[0], this.Rewrite node.Arguments[1])
        elif fromCore && m.Name = "PowInteger$W" && node.Arguments.Count >= 2 then
            // pown x n: Math.Pow(x, (double)n), as C# writes it (F# itself multiplies).
            let n = node.Arguments.Count
            Expression.Call(FSharpCore.pow, this.Rewrite node.Arguments[n - 2], FSharpCore.toDouble (this.Rewrite node.Arguments[n - 1]))
        elif fromCore && m.Name.EndsWith("$W", StringComparison.Ordinal) then
            // Sin$W(ToFSharpFunc(a => Sin(a)), x): the witness's body with its parameters bound to the arguments.
            let witnesses, arguments = node.Arguments |> List.ofSeq |> List.partition (fun a -> FSharpCore.isFunction a.Type)
            match witnesses with
            | [ witness ] ->
                match uncurry witness with
                | parameters, body when parameters.Length = arguments.Length && not parameters.IsEmpty ->
                    substitute parameters (arguments |> List.map this.Rewrite) (this.Rewrite body)
                | _ -> base.VisitMethodCall node
            | _ -> base.VisitMethodCall node
        elif fromCore && FSharpCore.isFunction m.DeclaringType && (m.Name = "Invoke" || m.Name = "InvokeFast") then
            // f.Invoke(x) or InvokeFast(f, x, y) on a let-bound or inline lambda: beta-reduced.
            let rec collect (e: Expression) (arguments: Expression list) =
                match e with
                | :? MethodCallExpression as c when c.Method.Name = "Invoke" && FSharpCore.isFunction c.Method.DeclaringType ->
                    match c.Object with
                    | null -> e, arguments
                    | target -> collect target (List.ofSeq c.Arguments @ arguments)
                | :? MethodCallExpression as c when c.Method.Name = "InvokeFast" && isNull c.Object && c.Arguments.Count > 1 ->
                    collect c.Arguments[0] (List.tail (List.ofSeq c.Arguments) @ arguments)
                | _ -> e, arguments
            let target, arguments = collect node []
            let lambda =
                match target with
                | :? ParameterExpression as v ->
                    match bindings.TryGetValue v with
                    | true, (:? LambdaExpression as l) -> Some(List.ofSeq l.Parameters, l.Body)
                    | _ -> None
                | e ->
                    match uncurry e with
                    | [], _ -> None
                    | parameters, body -> Some(parameters, this.Rewrite body)
            match lambda with
            | Some(parameters, body) when parameters.Length = arguments.Length ->
                substitute parameters (arguments |> List.map this.Rewrite) body
            | _ -> base.VisitMethodCall node
        else
            match FSharpCore.tryMath m with
            | Some math -> Expression.Call(math, node.Arguments |> Seq.map this.Rewrite)
            | None -> base.VisitMethodCall node

/// F# lambdas converted to Linq by the F# compiler, rewritten into the plain form a C# lambda of the same
/// function has, which is what the engine imports.
[<RequireQualifiedAccess>]
module FSharpLinq =

    /// Rewrites an F# lambda's Linq tree into the tree a C# lambda of the same function gives: FSharp.Core
    /// witness calls (`Sin$W(ToFSharpFunc(a => Sin(a)), x)`) become their System.Math call (`Math.Sin(x)`),
    /// `**` and `pown x n` become `Math.Pow(x, y)` and `Math.Pow(x, (double)n)`, FSharp.Core's abs, max, min,
    /// sign, ... become System.Math's, `let` blocks are inlined (a value used twice is the same subtree twice),
    /// and let-bound or inline F# functions applied to arguments are beta-reduced. A tree with nothing
    /// F#-specific (any C# lambda) is returned as the same instance. Safe for trees of any depth.
    [<CompiledName("Normalize")>]
    let normalize (lambda: LambdaExpression) : LambdaExpression =
        match box lambda with
        | null -> nullArg (nameof lambda)
        | _ ->
            match Normalizer().Visit lambda.Body with
            | null -> lambda
            | body when obj.ReferenceEquals(body, lambda.Body) -> lambda
            | body -> Expression.Lambda(lambda.Type, body, lambda.Name, lambda.TailCall, lambda.Parameters)

/// A quotation that <see cref="M:ExprGrad.Symbolic.Quotation.ToLambda(Microsoft.FSharp.Quotations.FSharpExpr)"/>
/// cannot convert: the message names the construct and shows it.
type UnsupportedQuotationException(message: string, construct: string) =
    inherit NotSupportedException(message)

    /// The name of the construct that has no Linq counterpart here (e.g. "Sequential", "a call to String.Length").
    member _.Construct = construct

/// F# quotations into the engine's plain Linq form.
[<RequireQualifiedAccess>]
module Quotation =

    type private Binding =
        | Bound of Expression
        | Fn of Var list * Expr * Map<Var, Binding>
        | TupleArgument of ParameterExpression[]

    let private supported =
        "supported: + - * / ** pown, unary minus, comparisons, && || not, if/then/else, let, FSharp.Core's "
        + "sin cos ... abs max min sign floor ceil round truncate sqrt exp log log10 atan2, static methods of "
        + "doubles (ExprGrad.Fn.Sigmoid), float, float[] elements and Length, module-level values, loops: Array/Seq.sum, "
        + "sumBy, max, min and fold over arrays, {a .. b}, map and map2"

    // Prints the culprit only when it is small: printing recurses, and the culprit may be 100,000 deep.
    let private show (e: Expr) =
        let budget = 200
        let pending = Stack<Expr>([ e ])
        let mutable count = 0
        while pending.Count > 0 && count <= budget do
            count <- count + 1
            match pending.Pop() with
            | ShapeVar _ -> ()
            | ShapeLambda(_, body) -> pending.Push body
            | ShapeCombination(_, args) -> for a in args do pending.Push a
        if count <= budget then $"%A{e}" else "(too large to print)"

    let private unsupported (construct: string) (e: Expr) : 'a =
        raise (UnsupportedQuotationException($"cannot convert {construct} to Linq: {show e} ({supported})", construct))

    let private isParameterType (t: Type) = t = typeof<double> || t = typeof<double[]>

    // A tuple of 2 to 7 floats (one System.Tuple, no nested Rest).
    let private isFloatTuple (t: Type) =
        Reflection.FSharpType.IsTuple t
        && Reflection.FSharpType.GetTupleElements t |> fun ts -> ts.Length <= 7 && ts |> Array.forall (fun e -> e = typeof<double>)

    let private isNumeric (t: Type) = t.IsPrimitive && t <> typeof<bool> && t <> typeof<char>

    let rec private applications (e: Expr) (arguments: Expr list) =
        match e with
        | Application(f, a) -> applications f (a :: arguments)
        | _ -> e, arguments

    let rec private lambdas (e: Expr) =
        match e with
        | Lambda(v, body) ->
            let vs, inner = lambdas body
            v :: vs, inner
        | _ -> [], e

    // Loops over data: FSharp.Core's Array and Seq functions as the LINQ forms the engine differentiates as loops.
    let private enumerable (name: string) (arity: int) (generic: bool) (accepts: MethodInfo -> bool) : MethodInfo =
        typeof<System.Linq.Enumerable>.GetMethods()
        |> Array.find (fun m ->
            m.Name = name && m.GetParameters().Length = arity && m.IsGenericMethodDefinition = generic && accepts m)

    let private sumOfDoubles =
        enumerable "Sum" 1 false (fun m -> m.GetParameters().[0].ParameterType = typeof<IEnumerable<double>>)

    let private extremeOfDoubles name =
        enumerable name 1 false (fun m -> m.GetParameters().[0].ParameterType = typeof<IEnumerable<double>>)

    // Sum<T>(source, Func<T, double>), Max<T>(...), Min<T>(...).
    let private byDouble name =
        enumerable name 2 true (fun m ->
            let f = m.GetParameters().[1].ParameterType
            f.IsGenericType && f.GetGenericTypeDefinition() = typedefof<Func<int, int>> && f.GetGenericArguments().[1] = typeof<double>)

    let private select = enumerable "Select" 2 true (fun m -> m.GetParameters().[1].ParameterType.GetGenericTypeDefinition() = typedefof<Func<int, int>>)
    let private zip = enumerable "Zip" 3 true (fun _ -> true)
    let private aggregate = enumerable "Aggregate" 3 true (fun _ -> true)
    let private range = enumerable "Range" 2 false (fun _ -> true)

    /// The element type of a sequence: T of the IEnumerable<T> it is.
    let private elementType (t: Type) =
        match t.GetElementType() with
        | null ->
            (if t.IsGenericType && t.GetGenericTypeDefinition() = typedefof<IEnumerable<int>> then t
             else t.GetInterfaces() |> Array.find (fun i -> i.IsGenericType && i.GetGenericTypeDefinition() = typedefof<IEnumerable<int>>))
                .GetGenericArguments().[0]
        | element -> element

    let private isCollection (m: MethodInfo) =
        FSharpCore.owns m
        && (match m.DeclaringType with
            | null -> false
            | t -> t.Name = "ArrayModule" || t.Name = "SeqModule")

    // A call that builds a sequence a loop runs over (bound by a pipe or a let before the loop reads it).
    let private isSequenceCall (m: MethodInfo) =
        (isCollection m && (m.Name = "Map" || m.Name = "Map2" || m.Name = "ToArray" || m.Name = "OfSeq"))
        || m.Name = "CreateSequence" || m.Name = "op_Range"

    // `x |> f` as `f x`, through the lets the compiler puts around f.
    let rec private pipe (x: Expr) (f: Expr) =
        match f with
        | Let(v, value, body) -> Expr.Let(v, value, pipe x body)
        | _ -> Expr.Application(f, x)

    let rec private convert (env: Map<Var, Binding>) (e: Expr) : Expression =
        StackGuard.run (fun () -> convertNode env e)

    /// A sequence a loop runs over: an array, `{a .. b}`, and Array/Seq.map or map2 of these.
    and private sequence (env: Map<Var, Binding>) (e: Expr) : Expression =
        match e with
        | Coerce(inner, _) -> sequence env inner
        | Call(None, m, [ inner ]) when FSharpCore.owns m && (m.Name = "CreateSequence" || m.Name = "ToArray" || m.Name = "OfSeq") ->
            sequence env inner
        | Call(None, m, [ Lambda(_, inner) ]) when FSharpCore.owns m && m.Name = "Delay" -> sequence env inner
        | Call(None, m, [ a; b ]) when FSharpCore.isOperators m && m.Name = "op_Range" ->
            let start, last = convert env a, convert env b
            if start.Type <> typeof<int> || last.Type <> typeof<int> then unsupported "a range of non-int values" e
            Expression.Call(range, start, Expression.Add(Expression.Subtract(last, start), Expression.Constant 1)) :> Expression
        | Call(None, m, [ f; source ]) when isCollection m && m.Name = "Map" ->
            let s = sequence env source
            let fn = func env f [ elementType s.Type ]
            Expression.Call(select.MakeGenericMethod(elementType s.Type, fn.ReturnType), s, fn) :> Expression
        | Call(None, m, [ f; a; b ]) when isCollection m && m.Name = "Map2" ->
            let sa, sb = sequence env a, sequence env b
            let fn = func env f [ elementType sa.Type; elementType sb.Type ]
            Expression.Call(zip.MakeGenericMethod(elementType sa.Type, elementType sb.Type, fn.ReturnType), sa, sb, fn) :> Expression
        | _ ->
            let s = convert env e
            let isSequence = s.Type.IsArray || (s.Type.IsGenericType && s.Type.GetGenericTypeDefinition() = typedefof<IEnumerable<int>>)
            if isSequence then s else unsupported $"a loop over a {s.Type.Name}" e

    /// A function given to Array/Seq (a lambda, or a let-bound function) as a Linq lambda of the given parameter types.
    and private func (env: Map<Var, Binding>) (f: Expr) (types: Type list) : LambdaExpression =
        let vars, body, closure =
            match f with
            | Lambda _ ->
                let vs, inner = lambdas f
                vs, inner, env
            | Var v ->
                match env.TryFind v with
                | Some(Fn(vs, inner, closure)) -> vs, inner, closure
                | _ -> unsupported $"the function '{v.Name}'" f
            | _ -> unsupported "a function that is not a lambda" f
        if vars.Length <> types.Length then unsupported "a function of the wrong number of arguments" f
        let ps = List.map2 (fun (v: Var) (t: Type) -> Expression.Parameter(t, v.Name)) vars types
        let bound = List.fold2 (fun (m: Map<Var, Binding>) v p -> m.Add(v, Bound p)) closure vars ps
        let result = convert bound body
        let result = if result.Type = typeof<double> || result.Type = typeof<int> then result else unsupported $"a function returning {result.Type.Name}" f
        Expression.Lambda(result, ps)

    /// Array/Seq.sum, sumBy, max, min, maxBy-free reductions and fold, as Enumerable's Sum, Max, Min and Aggregate.
    and private loop (env: Map<Var, Binding>) (m: MethodInfo) (args: Expr list) (e: Expr) : Expression =
        let doubles (s: Expression) =
            if elementType s.Type = typeof<double> then s else unsupported "a sum of values that are not floats" e
        match m.Name, args with
        | "Sum", [ source ] -> Expression.Call(sumOfDoubles, doubles (sequence env source))
        | ("Max" | "Min"), [ source ] -> Expression.Call(extremeOfDoubles m.Name, doubles (sequence env source))
        | "SumBy", [ f; source ] ->
            let s = sequence env source
            let fn = func env f [ elementType s.Type ]
            if fn.ReturnType <> typeof<double> then unsupported "a sumBy of values that are not floats" e
            Expression.Call((byDouble "Sum").MakeGenericMethod(elementType s.Type), s, fn)
        | "Fold", [ f; seed; source ] ->
            let s = sequence env source
            let fn = func env f [ typeof<double>; elementType s.Type ]
            Expression.Call(aggregate.MakeGenericMethod(elementType s.Type, typeof<double>), s, FSharpCore.toDouble (convert env seed), fn)
        | name, _ -> unsupported $"Array.{name.ToLowerInvariant()} or Seq.{name.ToLowerInvariant()} (loops: Array/Seq.sum, sumBy, max, min, fold, over arrays, {{a .. b}}, map and map2)" e

    and private convertNode (env: Map<Var, Binding>) (e: Expr) : Expression =
        let go = convert env
        let binary (make: Expression * Expression -> BinaryExpression) (a: Expr) (b: Expr) (name: string) : Expression =
            let l, r = go a, go b
            if l.Type = r.Type && isNumeric l.Type then make (l, r) :> Expression
            else unsupported $"'{name}' on {l.Type.Name} and {r.Type.Name}" e
        match e with
        | Var v ->
            match env.TryFind v with
            | Some(Bound x) -> x
            | Some _ -> unsupported $"the function '{v.Name}' used as a value" e
            | None -> unsupported $"the free variable '{v.Name}'" e
        | Value(value, t) when isNumeric t || t = typeof<bool> ->
            Expression.Constant(value, t)
        | Let(v, (Lambda _ as f), body) ->
            let vs, inner = lambdas f
            convert (env.Add(v, Fn(vs, inner, env))) body
        | Let(v, value, body) -> convert (env.Add(v, Bound(go value))) body
        | TupleGet(Var v, i) when (match env.TryFind v with Some(TupleArgument _) -> true | _ -> false) ->
            match env[v] with
            | TupleArgument ps when i < ps.Length -> ps[i]
            | _ -> unsupported "a tuple element" e
        | Application _ ->
            let head, arguments = applications e []
            let parameters, body, closure =
                match head with
                | Var f ->
                    match env.TryFind f with
                    | Some(Fn(vs, body, closure)) -> vs, body, closure
                    | _ -> unsupported $"an application of '{f.Name}'" e
                | Lambda _ ->
                    let vs, body = lambdas head
                    vs, body, env
                | _ -> unsupported "an application of a computed function" e
            if parameters.Length <> arguments.Length then unsupported "a partial application" e
            let bound =
                List.fold2 (fun (m: Map<Var, Binding>) v a -> m.Add(v, Bound(go a))) closure parameters arguments
            convert bound body
        | IfThenElse(test, a, Value(:? bool as b, _)) when e.Type = typeof<bool> && not b ->
            Expression.AndAlso(go test, go a)
        | IfThenElse(test, Value(:? bool as b, _), a) when e.Type = typeof<bool> && b ->
            Expression.OrElse(go test, go a)
        | IfThenElse(test, a, b) ->
            let t = go test
            if t.Type <> typeof<bool> then unsupported "a test that is not a bool" e
            Expression.Condition(t, go a, go b)
        | Call(None, m, args) when FSharpCore.isOperators m ->
            match m.Name, args with
            | "op_Addition", [ a; b ] -> binary Expression.Add a b "+"
            | "op_Subtraction", [ a; b ] -> binary Expression.Subtract a b "-"
            | "op_Multiply", [ a; b ] -> binary Expression.Multiply a b "*"
            | "op_Division", [ a; b ] -> binary Expression.Divide a b "/"
            | "op_LessThan", [ a; b ] -> binary Expression.LessThan a b "<"
            | "op_LessThanOrEqual", [ a; b ] -> binary Expression.LessThanOrEqual a b "<="
            | "op_GreaterThan", [ a; b ] -> binary Expression.GreaterThan a b ">"
            | "op_GreaterThanOrEqual", [ a; b ] -> binary Expression.GreaterThanOrEqual a b ">="
            | "op_Equality", [ a; b ] -> binary Expression.Equal a b "="
            | "op_Inequality", [ a; b ] -> binary Expression.NotEqual a b "<>"
            | "op_UnaryNegation", [ a ] -> Expression.Negate(go a)
            | "op_UnaryPlus", [ a ] -> go a
            | "Not", [ a ] -> Expression.Not(go a)
            | "PowInteger", [ x; n ] -> Expression.Call(FSharpCore.pow, go x, FSharpCore.toDouble (go n))
            | "ToDouble", [ a ] ->
                let x = go a
                if isNumeric x.Type then FSharpCore.toDouble x
                else unsupported $"float of a {x.Type.Name}" e
            | "GetArray", [ a; i ] -> Expression.ArrayIndex(go a, go i)
            | "op_PipeRight", [ x; f ] -> go (pipe x f)
            | "op_Modulus", [ a; b ] -> binary Expression.Modulo a b "%"
            | _ ->
                match FSharpCore.tryMath m with
                | Some math -> Expression.Call(math, args |> List.map go)
                | None -> unsupported $"a call to {m.Name}" e
        | Call(None, m, [ a; i ]) when m.Name = "GetArray" && FSharpCore.owns m ->
            Expression.ArrayIndex(go a, go i)
        | Call(None, m, args) when isCollection m && e.Type = typeof<double> -> loop env m args e
        | Call(None, m, _) when FSharpCore.owns m && isSequenceCall m -> sequence env e
        | PropertyGet(Some a, p, []) when p.Name = "Length" && a.Type.IsArray -> Expression.ArrayLength(go a)
        | NewArray(t, items) when t = typeof<double> -> Expression.NewArrayInit(t, items |> List.map go)
        | NewTuple items when isFloatTuple e.Type ->
            // A tuple of floats is the results of a function with several (a Jacobian's), as a C# Tuple.Create.
            match e.Type.GetConstructor(Reflection.FSharpType.GetTupleElements e.Type) with
            | null -> unsupported "a tuple without a constructor of its elements" e
            | constructor -> Expression.New(constructor, items |> List.map go)
        | Call(None, m, args) when m.ReturnType = typeof<double>
                                   && m.GetParameters() |> Array.forall (fun p -> p.ParameterType = typeof<double>) ->
            // Math.Sin(x), ExprGrad.Fn.Sigmoid(x), a user's method: the engine decides whether it has a rule.
            Expression.Call(m, args |> List.map go)
        | PropertyGet(None, p, []) when isParameterType p.PropertyType || isNumeric p.PropertyType ->
            // A module-level value: read live at each call, as a C# lambda reads a static field.
            Expression.Property(null, p)
        | FieldGet(None, f) when isParameterType f.FieldType || isNumeric f.FieldType -> Expression.Field(null, f)
        | Call(_, m, _) ->
            let owner = match m.DeclaringType with null -> "" | t -> t.Name + "."
            unsupported $"a call to {owner}{m.Name}" e
        | ShapeVar _ -> unsupported "a variable" e
        | ShapeLambda _ -> unsupported "a lambda inside the function" e
        | ShapeCombination(shape, _) ->
            let name =
                match e with
                | Sequential _ -> "a sequence (;)"
                | NewTuple _ -> "a tuple"
                | Coerce _ -> "a type coercion"
                | Value(_, t) -> $"a value of type {t.Name}"
                | PropertyGet(_, p, _) -> $"the property {p.Name}"
                | FieldGet(_, f) -> $"the field {f.Name}"
                | _ -> $"the construct {shape.GetType().Name}"
            unsupported name e

    /// Converts an F# quotation of a function of floats (curried, `<@ fun x y -> x * y + sin x @>`, or tupled,
    /// `<@ fun (x, y) -> ... @>`; parameters float or float[]) into the Linq lambda a C# lambda of the same
    /// function gives, with parameters named as in the quotation. Supported: + - * / ** pown, unary minus,
    /// FSharp.Core's math functions (sin, exp, log, sqrt, abs, max, min, sign, floor, ...), static methods of
    /// doubles (ExprGrad.Fn.Sigmoid, Math.Sin), float of integer values, let (values and functions, inlined),
    /// if/then/else over comparisons with &amp;&amp; || not, `w.[i]` array elements and `w.Length`, module-level values
    /// (read live), and loops: Array/Seq.sum, sumBy, max, min and fold over arrays, ranges `{a .. b}` and
    /// Array/Seq.map and map2 of them, as Enumerable's Sum, Max, Min, Aggregate, Range, Select and Zip. Safe for
    /// quotations of any depth.
    /// Example: <c>Quotation.toLambda &lt;@ fun x y -> x * y @&gt;</c> is <c>(x, y) =&gt; x * y</c>.
    /// <exception cref="T:ExprGrad.Symbolic.UnsupportedQuotationException">The quotation uses a construct that
    /// has no counterpart in the engine's Linq; the message names and shows it.</exception>
    [<CompiledName("ToLambda")>]
    let toLambda (quotation: Expr) : LambdaExpression =
        match box quotation with
        | null -> nullArg (nameof quotation)
        | _ -> ()
        let vars, body = lambdas quotation
        if vars.IsEmpty then unsupported "a quotation that is not a function (fun x y -> ...)" quotation
        let parameters = List<ParameterExpression>()
        let mutable env = Map.empty
        let rec tupleNames (e: Expr) (tuple: Var) =
            match e with
            | Let(v, TupleGet(Var t, i), rest) when t = tuple -> (i, v.Name) :: tupleNames rest tuple
            | _ -> []
        for v in vars do
            if v.Type = typeof<unit> && vars.Length = 1 then ()
            elif isParameterType v.Type then
                let p = Expression.Parameter(v.Type, v.Name)
                parameters.Add p
                env <- env.Add(v, Bound p)
            elif Reflection.FSharpType.IsTuple v.Type then
                let names = tupleNames body v |> dict
                let ps =
                    Reflection.FSharpType.GetTupleElements v.Type
                    |> Array.mapi (fun i t ->
                        if not (isParameterType t) then
                            unsupported $"a parameter of type {t.Name} (parameters are float or float[])" quotation
                        let name = match names.TryGetValue i with | true, n -> n | _ -> $"{v.Name}{i}"
                        Expression.Parameter(t, name))
                parameters.AddRange ps
                env <- env.Add(v, TupleArgument ps)
            else unsupported $"the parameter '{v.Name}' of type {v.Type.Name} (parameters are float or float[])" quotation
        let result = convert env body
        // A float[] or a tuple of floats written out is the results of a function with several (a Jacobian's); the rest return one float.
        if result.Type <> typeof<double> && result.Type <> typeof<double[]> && not (isFloatTuple result.Type) then
            unsupported $"a function returning {result.Type.Name}" quotation
        Expression.Lambda(result, parameters)
