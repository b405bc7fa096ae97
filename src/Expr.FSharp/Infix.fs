namespace ExprGrad.Symbolic

open System.Globalization
open System.IO
open System.Text

/// Formulas as conventional infix text: `x*y + sin(x)`, `x - y`, `-x`, `2*x`, `x^2`, `x/2`, `3*x/2`,
/// `sqrt(x)`, `log(x, b)`, `(x > 0 ? x : 0)`. Binary + and - have spaces around them, *, / and ^ none; only the
/// parentheses the usual precedence needs are written (^ right-associative and tighter than unary minus).
/// Numbers are in invariant culture; inexact numbers round-trip ("R", e.g. 3.141592653589793, 1E-20).
/// A piecewise formula is written as a parenthesized C-style conditional, `(test ? a : b)`, with tests
/// `< <= > >= == !=` joined by `&&`, `||`, `!(...)`. Without conditionals, the text parses back by any
/// conventional infix parser that knows the catalogue's function names. An element at a computed index is `a[i + 1]`,
/// a sum over a range `sum(i = 0..n - 2, body)` (the index from the lower bound to the upper one, both included).
[<RequireQualifiedAccess>]
module Infix =

    let private isAtom (v: Visual) =
        match v with
        | Visual.Integer _ | Visual.Name _ | Visual.Call _ | Visual.Parenthesis _ | Visual.SquareRoot _
        | Visual.Piecewise _ | Visual.Element _ | Visual.Series _ -> true
        | _ -> false

    let private comparison op =
        match op with
        | Comparison.Less -> " < "
        | Comparison.LessOrEqual -> " <= "
        | Comparison.Greater -> " > "
        | Comparison.GreaterOrEqual -> " >= "
        | Comparison.Equal -> " == "
        | Comparison.NotEqual -> " != "

    /// Writes the display tree to the sink.
    let rec internal write (sink: StringBuilder) (v: Visual) : unit =
        StackGuard.run (fun () ->
            let grouped (v: Visual) =
                sink.Append '(' |> ignore
                write sink v
                sink.Append ')' |> ignore
            match v with
            | Visual.Integer n -> sink.Append(n.ToString(CultureInfo.InvariantCulture)) |> ignore
            | Visual.Decimal d -> sink.Append(d.ToString("R", CultureInfo.InvariantCulture)) |> ignore
            | Visual.Name s -> sink.Append s |> ignore
            | Visual.Negative _ | Visual.Sum _ -> Visual.writeSigned (fun s -> sink.Append s |> ignore) (write sink) grouped v
            | Visual.Product factors ->
                factors
                |> List.iteri (fun i f ->
                    if i > 0 then sink.Append '*' |> ignore
                    match f with
                    | Visual.Sum _ | Visual.Negative _ | Visual.Fraction _ -> grouped f
                    | _ -> write sink f)
            | Visual.Fraction(a, b) ->
                match a with
                | Visual.Sum _ | Visual.Negative _ | Visual.Fraction _ -> grouped a
                | _ -> write sink a
                sink.Append '/' |> ignore
                match b with
                | Visual.Sum _ | Visual.Negative _ | Visual.Fraction _ | Visual.Product _ -> grouped b
                | _ -> write sink b
            | Visual.Power(b, e) ->
                if isAtom b then write sink b else grouped b
                sink.Append '^' |> ignore
                if isAtom e then write sink e else grouped e
            | Visual.SquareRoot x ->
                sink.Append "sqrt(" |> ignore
                write sink x
                sink.Append ')' |> ignore
            | Visual.Call(f, args) ->
                sink.Append(Function.name f).Append('(') |> ignore
                args
                |> List.iteri (fun i a ->
                    if i > 0 then sink.Append ", " |> ignore
                    write sink a)
                sink.Append ')' |> ignore
            | Visual.Parenthesis x -> grouped x
            | Visual.Element(a, indices) ->
                sink.Append(a).Append('[') |> ignore
                indices
                |> List.iteri (fun i x ->
                    if i > 0 then sink.Append ", " |> ignore
                    write sink x)
                sink.Append ']' |> ignore
            | Visual.Series(i, l, u, b) ->
                sink.Append("sum(").Append(i).Append(" = ") |> ignore
                write sink l
                sink.Append ".." |> ignore
                write sink u
                sink.Append ", " |> ignore
                write sink b
                sink.Append ')' |> ignore
            | Visual.Piecewise(cases, otherwise) ->
                for c, a in cases do
                    sink.Append '(' |> ignore
                    writeCondition sink c
                    sink.Append " ? " |> ignore
                    write sink a
                    sink.Append " : " |> ignore
                write sink otherwise
                for _ in cases do
                    sink.Append ')' |> ignore)

    and private writeCondition (sink: StringBuilder) (c: VisualCondition) : unit =
        StackGuard.run (fun () ->
            match c with
            | VisualCondition.Compare(op, l, r) ->
                write sink l
                sink.Append(comparison op) |> ignore
                write sink r
            | VisualCondition.And cs ->
                cs |> List.iteri (fun i c -> (if i > 0 then sink.Append " && " |> ignore); writeCondition sink c)
            | VisualCondition.Or cs ->
                cs |> List.iteri (fun i c -> (if i > 0 then sink.Append " || " |> ignore); writeCondition sink c)
            | VisualCondition.Not c ->
                sink.Append '!' |> ignore
                writeCondition sink c
            | VisualCondition.Group c ->
                sink.Append '(' |> ignore
                writeCondition sink c
                sink.Append ')' |> ignore)

    /// The formula as infix text, e.g. "sin(x) + x*cos(x)".
    [<CompiledName("Format")>]
    let format (f: Formula) : string =
        let sink = StringBuilder()
        write sink (Visual.ofFormula (Formula.withoutRedundantDomains f))
        sink.ToString()

    /// Writes the formula as infix text to a TextWriter.
    [<CompiledName("Write")>]
    let writeTo (writer: TextWriter) (f: Formula) : unit = writer.Write(format f)
