namespace ExprGrad.Symbolic

open System
open System.Globalization
open System.Text
open System.Text.RegularExpressions

/// Formulas as LaTeX (math mode, no delimiters), from the same display tree as infix: `\frac{x}{2}`,
/// `\sqrt{x}`, `x^{2}`, `\sin\left(x\right)`, `\sigma\left(x\right)` for sigmoid, `\log_{b}` for a base,
/// factors side by side with `\cdot` only before a factor that starts with a digit, `\left( \right)` for
/// parentheses, `\begin{cases} a & \text{if } x > 0 \\ b & \text{otherwise} \end{cases}` for piecewise
/// formulas. Names: `w1` → `w_{1}`, `w[0]` → `w_{0}`, `x_max` → `x_{max}`, `alpha` → `\alpha`,
/// longer names upright (`\mathrm{rate}`). An element at a computed index is `a_{i + 1}`, a sum over a range
/// `\sum_{i=0}^{n - 2} body` (a body that is a sum in parentheses).
[<RequireQualifiedAccess>]
module Latex =

    let private greek =
        set [ "alpha"; "beta"; "gamma"; "delta"; "epsilon"; "varepsilon"; "zeta"; "eta"; "theta"; "vartheta"; "iota"
              "kappa"; "lambda"; "mu"; "nu"; "xi"; "pi"; "rho"; "sigma"; "tau"; "upsilon"; "phi"; "varphi"; "chi"; "psi"
              "omega"; "Gamma"; "Delta"; "Theta"; "Lambda"; "Xi"; "Pi"; "Sigma"; "Upsilon"; "Phi"; "Psi"; "Omega" ]

    let private escape (s: string) =
        let sb = StringBuilder()
        for c in s do
            match c with
            | '_' | '#' | '%' | '&' | '$' | '{' | '}' -> sb.Append('\\').Append(c) |> ignore
            | '\\' -> sb.Append @"\backslash " |> ignore
            | '^' | '~' -> sb.Append(@"\text{").Append(c).Append('}') |> ignore
            | _ -> sb.Append c |> ignore
        sb.ToString()

    let private stem (s: string) =
        if greek.Contains s then "\\" + s
        elif s.Length = 1 then escape s
        else @"\mathrm{" + escape s + "}"

    let private indexed = Regex(@"^([A-Za-z]+)\[([^\[\]]+)\]$", RegexOptions.CultureInvariant)
    let private digits = Regex(@"^([A-Za-z]+?)_?([0-9]+)$", RegexOptions.CultureInvariant)
    let private underscored = Regex(@"^([A-Za-z]+)_([A-Za-z0-9]+)$", RegexOptions.CultureInvariant)

    /// A variable's name in LaTeX: w1 → w_{1}, w[0] → w_{0}, x_max → x_{\mathrm{max}}, alpha → \alpha.
    [<CompiledName("Name")>]
    let name (s: string) : string =
        let m = indexed.Match s
        if m.Success then stem m.Groups[1].Value + "_{" + escape m.Groups[2].Value + "}"
        else
            let m = digits.Match s
            if m.Success then stem m.Groups[1].Value + "_{" + m.Groups[2].Value + "}"
            else
                let m = underscored.Match s
                if m.Success then stem m.Groups[1].Value + "_{" + stem m.Groups[2].Value + "}"
                else stem s

    let private decimal (d: float) =
        if Double.IsNaN d then @"\mathrm{NaN}"
        elif Double.IsInfinity d then @"\infty"
        else
            let text = d.ToString("R", CultureInfo.InvariantCulture)
            match text.IndexOf 'E' with
            | -1 -> text
            | i ->
                let exponent = Int32.Parse(text.Substring(i + 1), CultureInfo.InvariantCulture)
                text.Substring(0, i) + @" \cdot 10^{" + exponent.ToString(CultureInfo.InvariantCulture) + "}"

    let private comparison op =
        match op with
        | Comparison.Less -> " < "
        | Comparison.LessOrEqual -> @" \le "
        | Comparison.Greater -> " > "
        | Comparison.GreaterOrEqual -> @" \ge "
        | Comparison.Equal -> " = "
        | Comparison.NotEqual -> @" \ne "

    let rec private write (sink: StringBuilder) (v: Visual) : unit =
        StackGuard.run (fun () ->
            let grouped (v: Visual) =
                sink.Append @"\left(" |> ignore
                write sink v
                sink.Append @"\right)" |> ignore
            let call (head: string) (args: Visual list) =
                sink.Append(head).Append @"\left(" |> ignore
                args
                |> List.iteri (fun i a ->
                    if i > 0 then sink.Append ", " |> ignore
                    write sink a)
                sink.Append @"\right)" |> ignore
            let around (left: string) (right: string) (x: Visual) =
                sink.Append(left).Append(' ') |> ignore
                write sink x
                sink.Append(' ').Append(right) |> ignore
            match v with
            | Visual.Integer n -> sink.Append(n.ToString(CultureInfo.InvariantCulture)) |> ignore
            | Visual.Decimal d -> sink.Append(decimal d) |> ignore
            | Visual.Name s -> sink.Append(name s) |> ignore
            | Visual.Negative _ | Visual.Sum _ -> Visual.writeSigned (fun s -> sink.Append s |> ignore) (write sink) grouped v
            | Visual.Product factors ->
                factors
                |> List.iteri (fun i f ->
                    let text = StringBuilder()
                    write text f
                    if i > 0 then
                        sink.Append(if text.Length > 0 && Char.IsDigit text[0] then @" \cdot " else " ") |> ignore
                    sink.Append text |> ignore)
            | Visual.Fraction(a, b) ->
                sink.Append @"\frac{" |> ignore
                write sink a
                sink.Append "}{" |> ignore
                write sink b
                sink.Append '}' |> ignore
            | Visual.Power(b, e) ->
                match b with
                | Visual.Fraction _ | Visual.Power _ -> grouped b
                | _ -> write sink b
                sink.Append "^{" |> ignore
                write sink e
                sink.Append '}' |> ignore
            | Visual.SquareRoot x ->
                sink.Append @"\sqrt{" |> ignore
                write sink x
                sink.Append '}' |> ignore
            | Visual.Call(f, args) ->
                match f, args with
                | Function.Abs, [ x ] -> around @"\left|" @"\right|" x
                | Function.Floor, [ x ] -> around @"\left\lfloor" @"\right\rfloor" x
                | Function.Ceiling, [ x ] -> around @"\left\lceil" @"\right\rceil" x
                | Function.Cbrt, [ x ] ->
                    sink.Append @"\sqrt[3]{" |> ignore
                    write sink x
                    sink.Append '}' |> ignore
                | Function.LogBase, [ x; b ] ->
                    sink.Append @"\log_{" |> ignore
                    write sink b
                    sink.Append '}' |> ignore
                    call "" [ x ]
                | _ ->
                    let head =
                        match f with
                        | Function.Exp -> @"\exp" | Function.Log -> @"\log" | Function.Log10 -> @"\log_{10}"
                        | Function.Log2 -> @"\log_{2}" | Function.Sin -> @"\sin" | Function.Cos -> @"\cos"
                        | Function.Tan -> @"\tan" | Function.Asin -> @"\arcsin" | Function.Acos -> @"\arccos"
                        | Function.Atan -> @"\arctan" | Function.Sinh -> @"\sinh" | Function.Cosh -> @"\cosh"
                        | Function.Tanh -> @"\tanh" | Function.Sigmoid -> @"\sigma" | Function.Max -> @"\max"
                        | Function.Min -> @"\min" | Function.Relu -> @"\operatorname{ReLU}"
                        | Function.Gamma -> @"\Gamma" | Function.GammaLn -> @"\ln\Gamma" | Function.DiGamma -> @"\psi"
                        | Function.TriGamma -> @"\psi^{(1)}" | Function.TetraGamma -> @"\psi^{(2)}" | Function.Step -> @"H" | Function.Beta -> @"\mathrm{B}" | Function.BetaLn -> @"\ln\mathrm{B}"
                        | Function.User u -> @"\operatorname{" + u.Name.Replace("_", @"\_") + "}"
                        | g -> @"\operatorname{" + Function.name g + "}"
                    call head args
            | Visual.Parenthesis x -> grouped x
            | Visual.Element(a, indices) ->
                sink.Append(name a).Append "_{" |> ignore
                indices
                |> List.iteri (fun i x ->
                    if i > 0 then sink.Append ", " |> ignore
                    write sink x)
                sink.Append '}' |> ignore
            | Visual.Series(i, l, u, b) ->
                sink.Append(@"\sum_{").Append(name i).Append('=') |> ignore
                write sink l
                sink.Append "}^{" |> ignore
                write sink u
                sink.Append "} " |> ignore
                match b with
                | Visual.Sum _ | Visual.Negative _ -> grouped b
                | _ -> write sink b
            | Visual.Piecewise(cases, otherwise) ->
                sink.Append @"\begin{cases} " |> ignore
                for c, a in cases do
                    write sink a
                    sink.Append @" & \text{if } " |> ignore
                    writeCondition sink c
                    sink.Append @" \\ " |> ignore
                write sink otherwise
                sink.Append @" & \text{otherwise} \end{cases}" |> ignore)

    and private writeCondition (sink: StringBuilder) (c: VisualCondition) : unit =
        StackGuard.run (fun () ->
            match c with
            | VisualCondition.Compare(op, l, r) ->
                write sink l
                sink.Append(comparison op) |> ignore
                write sink r
            | VisualCondition.And cs ->
                cs |> List.iteri (fun i c -> (if i > 0 then sink.Append @" \land " |> ignore); writeCondition sink c)
            | VisualCondition.Or cs ->
                cs |> List.iteri (fun i c -> (if i > 0 then sink.Append @" \lor " |> ignore); writeCondition sink c)
            | VisualCondition.Not c ->
                sink.Append @"\lnot " |> ignore
                writeCondition sink c
            | VisualCondition.Group c ->
                sink.Append @"\left(" |> ignore
                writeCondition sink c
                sink.Append @"\right)" |> ignore)

    /// The formula as LaTeX, e.g. "\sin\left(x\right) + x \cos\left(x\right)".
    [<CompiledName("Format")>]
    let format (f: Formula) : string =
        let sink = StringBuilder()
        write sink (Visual.ofFormula (Formula.withoutRedundantDomains f))
        sink.ToString()

    /// A partial derivative as an equation: partial "f" "x" formula = "\frac{\partial f}{\partial x} = ...".
    [<CompiledName("Partial")>]
    let partial (f: string) (x: string) (formula: Formula) : string =
        @"\frac{\partial " + name f + @"}{\partial " + name x + "} = " + format formula
