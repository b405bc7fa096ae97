module ExprGrad.Symbolic.Tests.InteropTests

open System
open System.Linq.Expressions
open Microsoft.FSharp.Quotations
open Microsoft.FSharp.Quotations.Patterns
open Xunit
open ExprGrad
open ExprGrad.Symbolic

/// A module-level value: F# reads it as a static property, live at every call.
let scale = 1.75

/// F# lambdas as the F# compiler gives them to a method taking a Linq lambda (what Grad.Of receives).
type Lift =
    static member F(f: Expression<Func<float, float, float>>) = f :> LambdaExpression
    static member F(f: Expression<Func<float, float, float, float>>) = f :> LambdaExpression
    static member F(f: Expression<Func<float, float, float, float, float, float>>) = f :> LambdaExpression
    static member A(f: Expression<Func<float[], float[], float>>) = f :> LambdaExpression

// The C#-shaped Linq of each function, as the C# compiler writes it.
let private p name = Expression.Parameter(typeof<float>, name)
let private a name = Expression.Parameter(typeof<float[]>, name)
let private c (v: float) = Expression.Constant(v) :> Expression
let private (+.) (l: Expression) (r: Expression) = Expression.Add(l, r) :> Expression
let private (-.) (l: Expression) (r: Expression) = Expression.Subtract(l, r) :> Expression
let private ( *. ) (l: Expression) (r: Expression) = Expression.Multiply(l, r) :> Expression
let private (/.) (l: Expression) (r: Expression) = Expression.Divide(l, r) :> Expression
let private math name (args: Expression list) =
    let m = typeof<Math>.GetMethod(name, Array.create args.Length typeof<float>) |> Option.ofObj |> Option.get
    Expression.Call(m, args) :> Expression
let private sigmoid (e: Expression) = Expression.Call(typeof<Fn>.GetMethod("Sigmoid") |> Option.ofObj |> Option.get, e) :> Expression
let private lambda (body: Expression) (ps: ParameterExpression list) = Expression.Lambda(body, ps)
let private scaleProperty =
    match <@ scale @> with
    | PropertyGet(None, property, []) -> Expression.Property(null, property) :> Expression
    | e -> failwith $"not a property: {e}"

type Case =
    { Name: string
      /// Grad.Of(fun ... -> ...) from F#.
      Lifted: unit -> Gradient
      /// The F# lambda's Linq, before normalization.
      Linq: LambdaExpression
      Curried: Expr
      Tupled: Expr
      CSharp: LambdaExpression
      Points: float[] list }

let private x, y, z = p "x", p "y", p "z"
let private w0, x0, w1, x1, w2 = p "w0", p "x0", p "w1", p "x1", p "w2"
let private w, v = a "w", a "v"
let private pointsXY = [ [| 1.5; -0.5 |]; [| -2.0; 3.0 |]; [| 0.25; 0.75 |]; [| 3.0; 3.0 |] ]
let private pointsPositive = [ [| 1.5; 0.5 |]; [| 2.0; 3.0 |]; [| 0.25; 0.75 |] ]
let private neuronPoints = [ [| 2.0; -1.0; -3.0; -2.0; -3.0 |]; [| 0.5; 0.25; -1.0; 2.0; 0.1 |] ]

let cases: Case list =
    [ { Name = "x*y"
        Lifted = fun () -> Grad.Of(fun (x: float) (y: float) -> x * y)
        Linq = Lift.F(fun x y -> x * y)
        Curried = <@ fun (x: float) (y: float) -> x * y @>
        Tupled = <@ fun (x: float, y: float) -> x * y @>
        CSharp = lambda (x *. y) [ x; y ]
        Points = pointsXY }
      { Name = "(x+y)*z"
        Lifted = fun () -> Grad.Of(fun (x: float) (y: float) (z: float) -> (x + y) * z)
        Linq = Lift.F(fun x y z -> (x + y) * z)
        Curried = <@ fun (x: float) (y: float) (z: float) -> (x + y) * z @>
        Tupled = <@ fun (x: float, y: float, z: float) -> (x + y) * z @>
        CSharp = lambda ((x +. y) *. z) [ x; y; z ]
        Points = [ [| -2.0; 5.0; -4.0 |]; [| 0.5; 1.5; 2.0 |] ] }
      { Name = "neuron with Fn.Sigmoid"
        Lifted = fun () -> Grad.Of(fun w0 x0 w1 x1 w2 -> Fn.Sigmoid(w0 * x0 + w1 * x1 + w2))
        Linq = Lift.F(fun w0 x0 w1 x1 w2 -> Fn.Sigmoid(w0 * x0 + w1 * x1 + w2))
        Curried = <@ fun w0 x0 w1 x1 w2 -> Fn.Sigmoid(w0 * x0 + w1 * x1 + w2) @>
        Tupled = <@ fun (w0, x0, w1, x1, w2) -> Fn.Sigmoid(w0 * x0 + w1 * x1 + w2) @>
        CSharp = lambda (sigmoid (w0 *. x0 +. w1 *. x1 +. w2)) [ w0; x0; w1; x1; w2 ]
        Points = neuronPoints }
      { Name = "neuron with 1/(1+exp(-...))"
        Lifted = fun () -> Grad.Of(fun w0 x0 w1 x1 w2 -> 1.0 / (1.0 + exp (-(w0 * x0 + w1 * x1 + w2))))
        Linq = Lift.F(fun w0 x0 w1 x1 w2 -> 1.0 / (1.0 + exp (-(w0 * x0 + w1 * x1 + w2))))
        Curried = <@ fun (w0: float) x0 w1 x1 w2 -> 1.0 / (1.0 + exp (-(w0 * x0 + w1 * x1 + w2))) @>
        Tupled = <@ fun (w0: float, x0, w1, x1, w2) -> 1.0 / (1.0 + exp (-(w0 * x0 + w1 * x1 + w2))) @>
        CSharp = lambda (c 1.0 /. (c 1.0 +. math "Exp" [ Expression.Negate(w0 *. x0 +. w1 *. x1 +. w2) ])) [ w0; x0; w1; x1; w2 ]
        Points = neuronPoints }
      { Name = "**"
        Lifted = fun () -> Grad.Of(fun (x: float) (y: float) -> x ** 3.0 + sin x ** y)
        Linq = Lift.F(fun x y -> x ** 3.0 + sin x ** y)
        Curried = <@ fun (x: float) (y: float) -> x ** 3.0 + sin x ** y @>
        Tupled = <@ fun (x: float, y: float) -> x ** 3.0 + sin x ** y @>
        CSharp = lambda (math "Pow" [ x; c 3.0 ] +. math "Pow" [ math "Sin" [ x ]; y ]) [ x; y ]
        Points = pointsPositive }
      { Name = "pown"
        Lifted = fun () -> Grad.Of(fun (x: float) (y: float) -> pown x 3 * y)
        Linq = Lift.F(fun x y -> pown x 3 * y)
        Curried = <@ fun (x: float) (y: float) -> pown x 3 * y @>
        Tupled = <@ fun (x: float, y: float) -> pown x 3 * y @>
        CSharp = lambda (math "Pow" [ x; c 3.0 ] *. y) [ x; y ]
        Points = pointsXY }
      { Name = "let"
        Lifted = fun () -> Grad.Of(fun (x: float) (y: float) -> let q = x + y in q * q + sin q)
        Linq = Lift.F(fun x y -> let q = x + y in q * q + sin q)
        Curried = <@ fun (x: float) (y: float) -> let q = x + y in q * q + sin q @>
        Tupled = <@ fun (x: float, y: float) -> let q = x + y in q * q + sin q @>
        CSharp = lambda ((x +. y) *. (x +. y) +. math "Sin" [ x +. y ]) [ x; y ]
        Points = pointsXY }
      { Name = "if/then/else"
        Lifted = fun () -> Grad.Of(fun (x: float) (y: float) -> if x > y && not (x < 0.0) || y = 3.0 then x * y else x - y)
        Linq = Lift.F(fun x y -> if x > y && not (x < 0.0) || y = 3.0 then x * y else x - y)
        Curried = <@ fun (x: float) (y: float) -> if x > y && not (x < 0.0) || y = 3.0 then x * y else x - y @>
        Tupled = <@ fun (x: float, y: float) -> if x > y && not (x < 0.0) || y = 3.0 then x * y else x - y @>
        CSharp =
            let test =
                Expression.OrElse(
                    Expression.AndAlso(Expression.GreaterThan(x, y), Expression.Not(Expression.LessThan(x, c 0.0))),
                    Expression.Equal(y, c 3.0))
            lambda (Expression.Condition(test, x *. y, x -. y)) [ x; y ]
        Points = pointsXY }
      { Name = "abs, max"
        Lifted = fun () -> Grad.Of(fun (x: float) (y: float) -> abs x + max x y * min y 2.0)
        Linq = Lift.F(fun x y -> abs x + max x y * min y 2.0)
        Curried = <@ fun (x: float) (y: float) -> abs x + max x y * min y 2.0 @>
        Tupled = <@ fun (x: float, y: float) -> abs x + max x y * min y 2.0 @>
        CSharp = lambda (math "Abs" [ x ] +. math "Max" [ x; y ] *. math "Min" [ y; c 2.0 ]) [ x; y ]
        Points = pointsXY }
      { Name = "sqrt, log, tanh"
        Lifted = fun () -> Grad.Of(fun (x: float) (y: float) -> sqrt x * log y + tanh (x - y) / log10 x)
        Linq = Lift.F(fun x y -> sqrt x * log y + tanh (x - y) / log10 x)
        Curried = <@ fun (x: float) (y: float) -> sqrt x * log y + tanh (x - y) / log10 x @>
        Tupled = <@ fun (x: float, y: float) -> sqrt x * log y + tanh (x - y) / log10 x @>
        CSharp = lambda (math "Sqrt" [ x ] *. math "Log" [ y ] +. math "Tanh" [ x -. y ] /. math "Log10" [ x ]) [ x; y ]
        Points = pointsPositive }
      { Name = "float[] parameters"
        Lifted = fun () -> Grad.Of(fun (w: float[]) (v: float[]) -> w.[0] * v.[0] + w.[1] * v.[1] + w.[2])
        Linq = Lift.A(fun (w: float[]) (v: float[]) -> w.[0] * v.[0] + w.[1] * v.[1] + w.[2])
        Curried = <@ fun (w: float[]) (v: float[]) -> w.[0] * v.[0] + w.[1] * v.[1] + w.[2] @>
        Tupled = <@ fun (w: float[], v: float[]) -> w.[0] * v.[0] + w.[1] * v.[1] + w.[2] @>
        CSharp =
            let at (arr: ParameterExpression) (i: int) = Expression.ArrayIndex(arr, Expression.Constant i) :> Expression
            lambda (at w 0 *. at v 0 +. at w 1 *. at v 1 +. at w 2) [ w; v ]
        Points = [ [| 2.0; -3.0; -3.0; -1.0; -2.0 |]; [| 0.5; 0.25; 1.0; 2.0; 4.0 |] ] }
      { Name = "a module-level value"
        Lifted = fun () -> Grad.Of(fun (x: float) (y: float) -> scale * x + exp (y / scale))
        Linq = Lift.F(fun x y -> scale * x + exp (y / scale))
        Curried = <@ fun (x: float) (y: float) -> scale * x + exp (y / scale) @>
        Tupled = <@ fun (x: float, y: float) -> scale * x + exp (y / scale) @>
        CSharp = lambda (scaleProperty *. x +. math "Exp" [ y /. scaleProperty ]) [ x; y ]
        Points = pointsXY }
      { Name = "a let-bound function"
        Lifted = fun () -> Grad.Of(fun (x: float) (y: float) -> let f u = u * u + x in f x + f y)
        Linq = Lift.F(fun x y -> let f u = u * u + x in f x + f y)
        Curried = <@ fun (x: float) (y: float) -> let f u = u * u + x in f x + f y @>
        Tupled = <@ fun (x: float, y: float) -> let f u = u * u + x in f x + f y @>
        CSharp = lambda ((x *. x +. x) +. (y *. y +. x)) [ x; y ]
        Points = pointsXY } ]

let caseNames: objnull[] list = cases |> List.map (fun case -> [| box case.Name |])

let private find name = cases |> List.find (fun case -> case.Name = name)

/// Value then gradient, through the flat (span) layout.
let private run (g: Gradient) (point: float[]) : int64 list =
    let gradient = Array.zeroCreate g.Dimension
    let value = g.Evaluate(ReadOnlySpan point, Span gradient)
    value :: List.ofArray gradient |> List.map BitConverter.DoubleToInt64Bits

[<Theory>]
[<MemberData(nameof caseNames)>]
let ``Normalizing the F# lambda and converting the quotations give the C# lambda's tree`` (name: string) =
    let case = find name
    let expected = case.CSharp.ToString()
    Assert.Equal(expected, (FSharpLinq.normalize case.Linq).ToString())
    Assert.Equal(expected, (Quotation.toLambda case.Curried).ToString())
    Assert.Equal(expected, (Quotation.toLambda case.Tupled).ToString())

[<Theory>]
[<MemberData(nameof caseNames)>]
let ``F# lambdas, quotations and the C# lambda have bit-identical values and gradients`` (name: string) =
    let case = find name
    let reference = Grad.Of(case.CSharp)
    let others =
        [ "Grad.Of(fun ...)", case.Lifted ()
          "curried quotation", Grad.Of(case.Curried)
          "tupled quotation", Grad.Of(case.Tupled) ]
    for point in case.Points do
        let expected = run reference point
        for label, g in others do
            Assert.True((expected = run g point), $"{label} at %A{point}")

[<Fact>]
let ``A C# tree passes through normalization as the same instance`` () =
    let f = Lift.F(fun x y -> x * y + Math.Sin x)
    Assert.Same(f, FSharpLinq.normalize f)
    let case = find "if/then/else"
    Assert.Same(case.CSharp, FSharpLinq.normalize case.CSharp)

[<Fact>]
let ``A 100,000-deep C# tree normalizes without overflowing the stack`` () =
    let mutable body: Expression = x
    for i in 1..100_000 do
        body <- if i % 2 = 0 then Expression.Add(body, c 1.0) :> Expression else Expression.Negate(Expression.Multiply(body, x))
    let f = lambda body [ x ]
    Assert.Same(f, FSharpLinq.normalize f)

[<Fact>]
let ``A 100,000-deep quotation converts and differentiates`` () =
    let add =
        match <@ 1.0 + 1.0 @> with
        | Call(None, m, _) -> m
        | e -> failwith $"not a call: {e}"
    let v = Var("x", typeof<float>)
    let mutable body = Expr.Var v
    for _ in 1..100_000 do
        body <- Expr.Call(add, [ body; Expr.Value 1.0 ])
    let f = Quotation.toLambda (Expr.Lambda(v, body))
    Assert.Equal("x", f.Parameters[0].Name)
    let gradient = Array.zeroCreate 1
    let value = Grad.Of(f).Evaluate(ReadOnlySpan [| 0.5 |], Span gradient)
    Assert.Equal(100_000.5, value)
    Assert.Equal(1.0, gradient[0])

[<Fact>]
let ``A deep let chain in a quotation converts`` () =
    let v = Var("x", typeof<float>)
    let add =
        match <@ 1.0 + 1.0 @> with
        | Call(None, m, _) -> m
        | e -> failwith $"not a call: {e}"
    let vars = [| for i in 0..20_000 -> Var($"a{i}", typeof<float>) |]
    let mutable body = Expr.Var vars[vars.Length - 1]
    for i in vars.Length - 1 .. -1 .. 1 do
        body <- Expr.Let(vars[i], Expr.Call(add, [ Expr.Var vars[i - 1]; Expr.Value 1.0 ]), body)
    let f = Quotation.toLambda (Expr.Lambda(v, Expr.Let(vars[0], Expr.Var v, body)))
    Assert.Equal(20_000.5, f.Compile().DynamicInvoke(box 0.5) |> unbox<float>)

[<Fact>]
let ``Unsupported quotations name the construct and show it`` () =
    let fails (q: Expr) (construct: string) =
        let e = Assert.Throws<UnsupportedQuotationException>(fun () -> Quotation.toLambda q |> ignore)
        Assert.Contains(construct, e.Message)
        Assert.Contains(construct, e.Construct)
    fails <@ fun (x: float) -> (printf "x"; x) @> "a sequence"
    fails <@ fun (x: int) -> 1.0 @> "the parameter 'x' of type Int32"
    fails <@ fun (x: float) -> float (string x).Length @> "the property Length"
    fails <@ 1.0 @> "not a function"
    fails <@ fun (x: float) -> let f u = u * x in f @> "used as a value"
    let e = Assert.Throws<UnsupportedQuotationException>(fun () -> Quotation.toLambda <@ fun (x: float) -> (printf "x"; x) @> |> ignore)
    Assert.Contains("Sequential", e.Message)

[<Fact>]
let ``Unsupported F# lambdas fail in the engine with its named error`` () =
    let e = Assert.ThrowsAny<Exception>(fun () -> Grad.Of(fun (x: float) (y: float) -> x % y) |> ignore)
    Assert.IsType<ExprGradException>(e) |> ignore
    Assert.Contains("Modulo", e.Message)

/// A captured minibatch for the matrix case: F# reads it as a static property.
let batch = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(3, 2, fun i j -> float (i + 2 * j) / 4.0)

[<Fact>]
let ``An F# lambda over matrices is a matrix product, not an element-wise one`` () =
    // F# types W * X with its own generic op_Multiply; the importer must go by the operands' types.
    let g = Grad.Of(fun (W: MathNet.Numerics.LinearAlgebra.Matrix<float>) -> (W * batch).ColumnSums().Sum() + W.FrobeniusNorm())
    let w = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(2, 3, fun i j -> float (i - j) / 3.0 + 0.25)
    let r = g.Evaluate(w)
    Assert.Equal((w * batch).ColumnSums().Sum() + w.FrobeniusNorm(), r.Value, 12)
    // d/dW of Σ(W X) is a matrix of the row sums of X, for every row of W; of ‖W‖ it is W/‖W‖.
    let expected = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(2, 3, fun i j -> batch.Row(j).Sum() + w.[i, j] / w.FrobeniusNorm())
    Assert.True((expected - r.D1).FrobeniusNorm() < 1e-12, $"expected\n{expected}\ngot\n{r.D1}")

[<Fact>]
let ``An F# Map lambda closes over a scalar parameter`` () =
    let g = Grad.Of(fun (v: MathNet.Numerics.LinearAlgebra.Vector<float>) (a: float) -> v.Map(fun t -> exp (a * t)).Sum())
    let v = MathNet.Numerics.LinearAlgebra.Vector<float>.Build.DenseOfArray([| 0.5; -1.0; 2.0 |])
    let r = g.Evaluate(v, 0.3)
    Assert.Equal(v.Map(fun t -> exp (0.3 * t)).Sum(), r.Value, 12)
    for i in 0 .. 2 do
        Assert.Equal(0.3 * exp (0.3 * v.[i]), r.D1.[i], 12)
    Assert.Equal(v.Map(fun t -> t * exp (0.3 * t)).Sum(), r.D2, 12)

// Loops in quotations: FSharp.Core's Array and Seq functions become the LINQ loops the engine differentiates.

let private evaluate (q: Expr) (point: float[]) =
    let g = Grad.Of q
    let gradient = Array.zeroCreate point.Length
    let value = g.Evaluate(ReadOnlySpan point, Span gradient)
    value, gradient

[<Fact>]
let ``Array.sumBy and Array.sum over a float[] are loops over it`` () =
    let value, gradient = evaluate <@ fun (a: float[]) -> Array.sumBy (fun v -> v * v) a + Array.sum a @> [| 1.0; -2.0; 3.0 |]
    // 1 + 4 + 9 + (1 − 2 + 3) = 16; d/da = 2a + 1.
    Assert.Equal(16.0, value)
    Assert.Equal<float[]>([| 3.0; -3.0; 7.0 |], gradient)

[<Fact>]
let ``Rosenbrock over a range, piped, at any length`` () =
    let q =
        <@ fun (a: float[]) ->
            [| 0 .. a.Length - 2 |]
            |> Array.sumBy (fun i -> 100.0 * (a.[i + 1] - a.[i] * a.[i]) ** 2.0 + (1.0 - a.[i]) ** 2.0) @>
    let value, gradient = evaluate q [| 0.0; 0.0; 0.0 |]
    Assert.Equal(2.0, value)
    Assert.Equal<float[]>([| -2.0; -2.0; 0.0 |], gradient)

[<Fact>]
let ``Array.fold is a recurrence and Seq.max of a map picks the first largest`` () =
    let value, gradient = evaluate <@ fun (a: float[]) -> Array.fold (fun acc v -> acc * v) 1.0 a @> [| 2.0; 3.0; 4.0 |]
    Assert.Equal(24.0, value)
    Assert.Equal<float[]>([| 12.0; 8.0; 6.0 |], gradient)
    let value, gradient = evaluate <@ fun (a: float[]) -> Seq.max (Seq.map (fun v -> v * v) a) @> [| 1.0; -3.0; 3.0 |]
    Assert.Equal(9.0, value)
    Assert.Equal<float[]>([| 0.0; -6.0; 0.0 |], gradient)

[<Fact>]
let ``Array.map2 is a zip`` () =
    let value, gradient = evaluate <@ fun (a: float[]) -> Array.map2 (fun u v -> u * v) a [| 1.0; 2.0 |] |> Array.sum @> [| 3.0; 4.0 |]
    Assert.Equal(11.0, value)
    Assert.Equal<float[]>([| 1.0; 2.0 |], gradient)

[<Fact>]
let ``A quotation's Hessian is the same engine's second derivative`` () =
    // f = x²y + y³: f_xx = 2y, f_xy = 2x, f_yy = 6y.
    let g = Grad.Of <@ fun (x: float) (y: float) -> x * x * y + y * y * y @>
    let h = g.Hessian(3.0, 2.0)
    Assert.Equal<float[,]>(array2D [ [ 4.0; 6.0 ]; [ 6.0; 12.0 ] ], h)

[<Fact>]
let ``A quotation returning an array has a Jacobian`` () =
    let j = Grad.Jacobian <@ fun (a: float[]) -> [| a.[0] * a.[1]; sin a.[0] |] @>
    Assert.Equal<float[,]>(array2D [ [ 3.0; 2.0 ]; [ cos 2.0; 0.0 ] ], j.Evaluate(2.0, 3.0))

[<Fact>]
let ``A quotation returning a tuple of floats has a Jacobian`` () =
    // (xy, x + sin y) at (2, 3): rows (y, x) and (1, cos y).
    let j = Grad.Jacobian <@ fun (x: float) (y: float) -> (x * y, x + sin y) @>
    Assert.Equal<float[,]>(array2D [ [ 3.0; 2.0 ]; [ 1.0; cos 3.0 ] ], j.Evaluate(2.0, 3.0))

[<Fact>]
let ``A quotation returning a tuple is refused by Grad.Of, which needs one float`` () =
    let e = Assert.Throws<ExprGradException>(fun () -> Grad.Of <@ fun (x: float) -> (x, x) @> |> ignore)
    Assert.Contains("Tuple", e.Message)
