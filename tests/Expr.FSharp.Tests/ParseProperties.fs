module ExprGrad.Symbolic.Tests.ParseProperties

open System
open System.Globalization
open System.Linq.Expressions
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open ExprGrad.Symbolic
open ExprGrad.Symbolic.Tests.ParseTests

/// Parsing never fails with anything but a FormulaSyntaxException positioned within the text.
let private cleanly (text: string) : bool =
    try
        Parse.lambda library text |> ignore
        true
    with
    | :? FormulaSyntaxException as e -> e.Index >= 0 && e.Index <= text.Length && e.Text = text

let private alphabet = "xyz_01923.eE+-*/^(),  \t\nsinlogpqa$é"

let private randomText =
    Gen.elements alphabet |> Gen.arrayOf |> Gen.map String

[<Property(MaxTest = 2000, MaxRejected = 2000, QuietOnSuccess = true)>]
let ``Random strings over the formula alphabet parse or fail cleanly`` () =
    Prop.forAll (Arb.fromGen randomText) cleanly

// ---- Valid formulas from a grammar, with their own evaluation ----

type Formula =
    | Number of float
    | Variable of string
    | Negate of Formula
    | Binary of char * Formula * Formula
    | Power of Formula * Formula
    | Call of string * Formula list

let rec private value (point: Map<string, float>) (f: Formula) : float =
    match f with
    | Number n -> n
    | Variable v -> point[v]
    | Negate a -> -(value point a)
    | Binary('+', a, b) -> value point a + value point b
    | Binary('-', a, b) -> value point a - value point b
    | Binary('*', a, b) -> value point a * value point b
    | Binary(_, a, b) -> value point a / value point b
    | Power(a, b) -> Math.Pow(value point a, value point b)
    | Call("log", [ a; b ]) -> Math.Log(value point a, value point b)
    | Call("max", [ a; b ]) -> Math.Max(value point a, value point b)
    | Call("sigmoid", [ a ]) -> ExprGrad.Fn.Sigmoid(value point a)
    | Call(name, [ a ]) -> Function.evaluate (Function.tryOfName name 1).Value [| value point a |]
    | Call(name, _) -> failwith $"no {name}"

// Printed with as few parentheses as the grammar needs (levels: sum 1, product 2, unary 3, power base 5),
// with random spacing, so the parser's precedence and associativity are what is checked.
let rec private print (space: unit -> string) (level: int) (f: Formula) : string =
    let wrap own (text: string) = if own < level then $"({text})" else text
    let s = space ()
    match f with
    | Number n -> n.ToString("R", CultureInfo.InvariantCulture)
    | Variable v -> v
    | Negate a -> wrap 3 $"-{s}{print space 3 a}"
    | Binary(('+' | '-') as op, a, b) -> wrap 1 $"{print space 1 a}{s}{op}{s}{print space 2 b}"
    | Binary(op, a, b) -> wrap 2 $"{print space 2 a}{s}{op}{s}{print space 3 b}"
    | Power(a, b) -> wrap 4 $"{print space 5 a}{s}^{s}{print space 3 b}"
    | Call(name, args) -> $"{name}{s}(" + String.Join($",{s}", args |> List.map (print space 1)) + ")"

let private formulas =
    let leaf =
        Gen.oneof
            [ Gen.choose (0, 1000) |> Gen.map (fun n -> Number(float n / 8.0))
              Gen.elements [ 0.1; 1e-3; 2.5e10; Math.PI ] |> Gen.map Number
              Gen.elements [ "x"; "y"; "z"; "w_1" ] |> Gen.map Variable ]
    let rec tree size =
        if size <= 0 then leaf
        else
            let sub = tree (size / 2)
            Gen.frequency
                [ 2, leaf
                  1, sub |> Gen.map Negate
                  4, Gen.map3 (fun op a b -> Binary(op, a, b)) (Gen.elements [ '+'; '-'; '*'; '/' ]) sub sub
                  1, Gen.map2 (fun a b -> Power(a, b)) sub sub
                  1, Gen.map2 (fun name a -> Call(name, [ a ])) (Gen.elements [ "sin"; "exp"; "sqrt"; "tanh"; "sigmoid"; "abs" ]) sub
                  1, Gen.map3 (fun name a b -> Call(name, [ a; b ])) (Gen.elements [ "log"; "max" ]) sub sub ]
    Gen.sized (fun n -> tree (min n 40))

let private spaced =
    gen {
        let! formula = formulas
        let! spaces = Gen.arrayOfLength 64 (Gen.elements [ ""; ""; ""; " "; "  "; "\t"; "\n" ])
        let mutable i = 0
        let space () =
            i <- i + 1
            spaces[i % spaces.Length]
        return formula, print space 0 formula
    }

[<Property(MaxTest = 300, MaxRejected = 300, QuietOnSuccess = true)>]
let ``Random valid formulas parse and evaluate as the generator evaluates them`` () =
    let point = Map [ "x", 0.75; "y", -1.25; "z", 2.0; "w_1", 0.5 ]
    Prop.forAll (Arb.fromGen spaced) (fun (formula, text) ->
        let f = Parse.lambda library text
        let expected = value point formula
        let actual = evaluate f [ for p in f.Parameters -> nonNull p.Name, point[nonNull p.Name] ]
        let same = BitConverter.DoubleToInt64Bits expected = BitConverter.DoubleToInt64Bits actual
                   || (Double.IsNaN expected && Double.IsNaN actual)
        same |> Prop.label $"{text}: expected {expected}, got {actual}")

// ---- Mutations of valid formulas ----

type private Mutation =
    | Delete of int
    | Insert of int * char
    | Duplicate of int * int
    | Nest of int

let private mutate (text: string) (m: Mutation) =
    let at i = if text.Length = 0 then 0 else abs i % (text.Length + 1)
    match m with
    | Delete i when text.Length > 0 -> text.Remove(abs i % text.Length, 1)
    | Delete _ -> text
    | Insert(i, c) -> text.Insert(at i, string c)
    | Duplicate(i, n) ->
        let start = at i
        let length = min (abs n % 20) (text.Length - start)
        text.Insert(start, text.Substring(start, length))
    | Nest depth ->
        let d = abs depth
        String('(', d) + text + String(')', d)

[<Property(MaxTest = 500, MaxRejected = 500, QuietOnSuccess = true)>]
let ``Mutations of valid formulas parse or fail cleanly`` () =
    let mutation =
        Gen.oneof
            [ Gen.choose (0, 10_000) |> Gen.map Delete
              Gen.map2 (fun i c -> Insert(i, c)) (Gen.choose (0, 10_000)) (Gen.elements alphabet)
              Gen.map2 (fun i n -> Duplicate(i, n)) (Gen.choose (0, 10_000)) (Gen.choose (0, 20))
              Gen.frequency [ 8, Gen.choose (0, 50); 1, Gen.constant (Parse.MaxNesting + 1) ] |> Gen.map Nest ]
    let mutated =
        gen {
            let! _, text = spaced
            let! mutations = Gen.listOfLength 3 mutation
            return List.fold mutate text mutations
        }
    Prop.forAll (Arb.fromGen mutated) cleanly
