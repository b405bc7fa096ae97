module ExprGrad.Symbolic.Tests.ParseTests

open System
open System.Collections.Generic
open System.Diagnostics
open System.Globalization
open System.Linq.Expressions
open System.Reflection
open System.Threading
open Xunit
open ExprGrad
open ExprGrad.Symbolic

/// The library functions computed by ExprGrad.Fn, as the engine's callers pass them.
let library: Library =
    let methods = Dictionary<string, MethodInfo>()
    for name, methodName in [ "sigmoid", "Sigmoid"; "relu", "Relu"; "softplus", "Softplus"; "square", "Square" ] do
        methods[name] <- typeof<Fn>.GetMethod(methodName, [| typeof<double> |]) |> Option.ofObj |> Option.get
    methods :> Library

let parse text = Parse.lambda library text

let names (f: LambdaExpression) = [ for p in f.Parameters -> nonNull p.Name ]

/// Compiles and runs a parsed lambda at a point given by name.
let evaluate (f: LambdaExpression) (point: (string * float) list) : float =
    let values = dict point
    let args = [| for p in f.Parameters -> box values[nonNull p.Name] |]
    f.Compile().DynamicInvoke(args) |> unbox<float>

let syntaxError text : FormulaSyntaxException =
    Assert.Throws<FormulaSyntaxException>(fun () -> parse text |> ignore)

let bitsEqual (expected: float) (actual: float) =
    Assert.Equal(BitConverter.DoubleToInt64Bits expected, BitConverter.DoubleToInt64Bits actual)

// ---- The seeds' formulas ----

[<Fact>]
let ``x*y at (-2, 3) is -6; its gradient is (3, -2)`` () =
    let f = parse "x*y"
    Assert.Equal<string list>([ "x"; "y" ], names f)
    let r = Grad.Of(f)
    let g = Array.zeroCreate 2
    Assert.Equal(-6.0, r.Evaluate(ReadOnlySpan [| -2.0; 3.0 |], Span g))
    Assert.Equal<float[]>([| 3.0; -2.0 |], g)

[<Fact>]
let ``(x+y)*z at (-2, 5, -4) is -12; the gradient is (-4, -4, 3)`` () =
    let f = parse "(x+y)*z"
    Assert.Equal<string list>([ "x"; "y"; "z" ], names f)
    let g = Array.zeroCreate 3
    Assert.Equal(-12.0, Grad.Of(f).Evaluate(ReadOnlySpan [| -2.0; 5.0; -4.0 |], Span g))
    Assert.Equal<float[]>([| -4.0; -4.0; 3.0 |], g)

[<Fact>]
let ``The sigmoid neuron at w = (2, -3, -3), x = (-1, -2) is 0.73; dw = (-0.20, -0.39, 0.20), dx = (0.39, -0.59)`` () =
    let f = parse "1/(1+exp(-(w0*x0 + w1*x1 + w2)))"
    Assert.Equal<string list>([ "w0"; "x0"; "w1"; "x1"; "w2" ], names f)
    let g = Array.zeroCreate 5
    let value = Grad.Of(f).Evaluate(ReadOnlySpan [| 2.0; -1.0; -3.0; -2.0; -3.0 |], Span g)
    Assert.Equal(0.7310585786300049, value, 15)
    let rounded = g |> Array.map (fun d -> Math.Round(d, 2))
    Assert.Equal<float[]>([| -0.2; 0.39; -0.39; -0.59; 0.2 |], rounded)

[<Fact>]
let ``The issue's (x + sigmoid(y)) / (sigmoid(x) + (x + y)^2) computes what its text says`` () =
    let f = parse "(x + sigmoid(y)) / (sigmoid(x) + (x + y)^2)"
    Assert.Equal<string list>([ "x"; "y" ], names f)
    for x, y in [ 3.0, -4.0; 0.5, 2.0; -1.0, 0.25 ] do
        let expected = (x + Fn.Sigmoid y) / (Fn.Sigmoid x + Math.Pow(x + y, 2.0))
        bitsEqual expected (evaluate f [ "x", x; "y", y ])

[<Fact>]
let ``The body is the engine's plain Linq: operators, Math calls and the library's methods`` () =
    let f = parse "-x^2 + sigmoid(y) * log(x, 2) - abs(y) / pi"
    Assert.Equal("(x, y) => ((-Pow(x, 2) + (Sigmoid(y) * Log(x, 2))) - (Abs(y) / 3.141592653589793))", f.ToString())

[<Fact>]
let ``Without a library method, a library function is its System.Math definition`` () =
    let f = Parse.lambda (Dictionary<string, MethodInfo>()) "sigmoid(x)"
    Assert.Equal("x => (1 / (1 + Exp(-x)))", f.ToString())

// ---- Precedence and associativity, by value ----

let private pow (a: float) (b: float) = Math.Pow(a, b)

let precedenceCases: objnull[] list =
    [ "x - y - 2", (fun x y -> x - y - 2.0)
      "x / y / 2", (fun x y -> x / y / 2.0)
      "x - y * 2", (fun x y -> x - y * 2.0)
      "x / y * 2", (fun x y -> x / y * 2.0)
      "-x^2", (fun x _ -> -(pow x 2.0))
      "-x*y", (fun x y -> -x * y)
      "2^-x", (fun x _ -> pow 2.0 (-x))
      "2^3^x", (fun x _ -> pow 2.0 (pow 3.0 x))
      "x^-y^2", (fun x y -> pow x (-(pow y 2.0)))
      "(x^y)^2", (fun x y -> pow (pow x y) 2.0)
      "x * -y", (fun x y -> x * -y)
      "- - x", (fun x _ -> -(-x))
      "x - -y", (fun x y -> x - -y)
      "2 * (x + y) ^ 2 / 4", (fun x y -> 2.0 * pow (x + y) 2.0 / 4.0)
      "sin(x)^2 + cos(x)^2", (fun x _ -> pow (Math.Sin x) 2.0 + pow (Math.Cos x) 2.0)
      "atan2(y, x) - max(x, y) + min(x, 2*y)", (fun x y -> Math.Atan2(y, x) - Math.Max(x, y) + Math.Min(x, 2.0 * y))
      "1.5e-3 * e + 2.5E+2", (fun _ _ -> 1.5e-3 * Math.E + 250.0) ]
    |> List.map (fun (text, f: float -> float -> float) -> [| box text; box f |])

[<Theory>]
[<MemberData(nameof precedenceCases)>]
let ``Precedence and associativity follow the grammar`` (text: string) (expected: float -> float -> float) =
    let f = parse text
    for x, y in [ 1.5, -0.5; -2.0, 3.0; 0.25, 0.75 ] do
        let point = [ "x", x; "y", y ] |> List.filter (fun (n, _) -> names f |> List.contains n)
        bitsEqual (expected x y) (evaluate f point)

[<Fact>]
let ``Numbers are read in the invariant culture as the nearest double`` () =
    let saved = Thread.CurrentThread.CurrentCulture
    try
        Thread.CurrentThread.CurrentCulture <- CultureInfo.GetCultureInfo "de-DE"
        for text, value in [ "0.1", 0.1; "1.5", 1.5; "2.2250738585072014e-308", 2.2250738585072014e-308
                             "4.9e-324", 4.9e-324; "1e-400", 0.0; "17", 17.0; "3.", 3.0
                             "1.7976931348623157e308", Double.MaxValue; "123456789012345678901234567890", 1.2345678901234568e29 ] do
            bitsEqual value (evaluate (parse text) [])
    finally
        Thread.CurrentThread.CurrentCulture <- saved

[<Fact>]
let ``Variables are parameters in order of first appearance, each once`` () =
    let f = parse "b * a_1 + b + αβ - a_1 + _c"
    Assert.Equal<string list>([ "b"; "a_1"; "αβ"; "_c" ], names f)
    Assert.All(f.Parameters, fun p -> Assert.Equal(typeof<double>, p.Type))

[<Fact>]
let ``Whitespace is allowed anywhere between tokens`` () =
    let f = parse " \t( x\n+\r\n y )\t*  log ( x ,  2 ) ^ - 1 "
    bitsEqual ((3.0 + 5.0) * Math.Pow(Math.Log(3.0, 2.0), -1.0)) (evaluate f [ "x", 3.0; "y", 5.0 ])

// ---- Errors ----

let errorCases: objnull[] list =
    [ "", 0, "1:1: expected an operand (number, variable, function call or '('), found the end of the text"
      "x +", 3, "1:4: expected an operand (number, variable, function call or '('), found the end of the text"
      "x * * y", 4, "1:5: expected an operand (number, variable, function call or '('), found '*'"
      "foo(x)", 0, "1:1: unknown function 'foo' (known: abs, acos, "
      "2 * sin", 4, "1:5: a function name is not a variable: 'sin'"
      "log(x, y, z)", 0, "1:1: 'log' takes 1 or 2 arguments, not 3"
      "atan2(x)", 0, "1:1: 'atan2' takes 2 arguments, not 1"
      "(x + y", 6, "1:7: expected ')' or an operator, found the end of the text"
      "x + y)", 5, "1:6: unmatched ')'"
      "1e400 + x", 0, "1:1: the number 1e400 is too large for a double"
      "2e + x", 2, "1:3: expected the digits of an exponent, found white space"
      "x y", 2, "1:3: expected an operator or the end of the text, found 'y'"
      "sin()", 4, "1:5: expected an operand (number, variable, function call or '('), found ')'"
      "3 $ 4", 2, "1:3: expected an operator or the end of the text, found '$'"
      "x +\n  * y", 6, "2:3: expected an operand"
      "x.y", 1, "1:2: expected an operator or the end of the text, found '.'"
      "Math.Sin(x)", 4, "1:5: expected an operator or the end of the text, found '.'"
      "GetType(x)", 0, "1:1: unknown function 'GetType'"
      "pi(2)", 0, "1:1: unknown function 'pi'"
      "x^", 2, "1:3: expected an operand" ]
    |> List.map (fun (text, index, message) -> [| box text; box index; box message |])

[<Theory>]
[<MemberData(nameof errorCases)>]
let ``Bad text fails with a positioned FormulaSyntaxException`` (text: string) (index: int) (message: string) =
    let e = syntaxError text
    Assert.StartsWith(message, e.Message)
    Assert.Equal(index, e.Index)
    Assert.Equal(text, e.Text)
    let before = text.Substring(0, index)
    Assert.Equal(1 + before.Split('\n').Length - 1, e.Line)
    Assert.Equal(index - (before.LastIndexOf '\n' + 1) + 1, e.Column)

[<Fact>]
let ``Expected items are listed for missing tokens`` () =
    let e = syntaxError "(x"
    Assert.Equal<string seq>([ "')'"; "an operator" ], e.Expected)
    Assert.Empty((syntaxError "foo(1)").Expected)

[<Fact>]
let ``tryLambda returns the error instead of throwing`` () =
    match Parse.tryLambda library "x +" with
    | Error e -> Assert.Equal(3, e.Index)
    | Ok f -> failwith $"parsed {f}"
    match Parse.tryLambda library "x + 1" with
    | Ok f -> Assert.Equal(3.0, evaluate f [ "x", 2.0 ])
    | Error e -> raise e

// ---- Hostile input: fails cleanly or succeeds, never crashes or hangs ----

// No wall-clock limits (the machines are shared and noisy): a hang or a quadratic parse shows as a run that does not
// finish. Measured alone, a 1 MB sum parses in about 0.3 s and 100,000-deep parentheses fail in about 0.1 s.
let completes (f: unit -> unit) = f ()

[<Fact>]
let ``100,000-deep parentheses fail at the nesting limit`` () =
    completes (fun () ->
        let text = String('(', 100_000) + "x" + String(')', 100_000)
        let e = syntaxError text
        Assert.Equal(Parse.MaxNesting, e.Index)
        Assert.Contains($"nest more than {Parse.MaxNesting} deep", e.Message))

[<Fact>]
let ``Nesting up to the limit parses, on any thread's stack`` () =
    let text = String.replicate (Parse.MaxNesting - 1) "sin(" + "(x)" + String(')', Parse.MaxNesting - 1)
    let mutable result = None
    // A 256 KiB thread: the parser must not rely on the main thread's stack.
    let t = Thread((fun () -> result <- Some(parse text)), 256 * 1024)
    t.Start()
    t.Join()
    Assert.Equal<string list>([ "x" ], names result.Value)

[<Fact>]
let ``100,000 unary minuses parse`` () =
    completes (fun () ->
        let f = parse (String('-', 100_000) + "x")
        Assert.Equal<string list>([ "x" ], names f)
        let f = parse (String.replicate 100_000 "- " + "x")
        Assert.Equal(ExpressionType.Negate, f.Body.NodeType))

[<Fact>]
let ``x^x^...^x 100,000 long parses, right-associated`` () =
    completes (fun () ->
        let f = parse (String.Join("^", Array.create 100_000 "x"))
        match f.Body with
        | :? MethodCallExpression as call -> Assert.IsAssignableFrom<ParameterExpression>(call.Arguments[0]) |> ignore
        | body -> failwith $"not a Pow: {body.NodeType}")

[<Fact>]
let ``A 1 MB sum parses in linear time`` () =
    let text = String.Join(" + ", Array.create 250_000 "x1") // 1,249,998 characters
    parse "x1 + x1" |> ignore
    completes (fun () ->
        let f = parse text
        Assert.Equal<string list>([ "x1" ], names f))

[<Fact>]
let ``A 1 MB garbage tail fails fast`` () =
    completes (fun () ->
        let e = syntaxError ("x + " + String('*', 1_000_000))
        Assert.Equal(4, e.Index)
        let e = syntaxError (String('9', 1_000_000))
        Assert.Equal(0, e.Index))
