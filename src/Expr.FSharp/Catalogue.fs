namespace ExprGrad.Symbolic

open System
open System.Collections.Generic
open System.Linq.Expressions
open System.Reflection

/// A user's static method from doubles to a double that has a derivative rule (ExprGrad's <c>DerivativeRules</c> or
/// <c>[Derivative]</c>): formulas show it by its method's name and compute it by calling the method. Two are equal
/// when they are the same method; they are ordered by name, then by where the method is declared.
[<CustomEquality; CustomComparison>]
type UserFunction =
    { /// The name formulas print: the method's name as written (<c>MySoftplus</c>).
      Name: string
      /// The static method computing the function (all parameters and the result double).
      Method: MethodInfo }

    /// Same method.
    override this.Equals(other) =
        match other with
        | :? UserFunction as u -> u.Method = this.Method
        | _ -> false

    /// The method's hash.
    override this.GetHashCode() = this.Method.GetHashCode()

    interface IComparable with
        member this.CompareTo(other) =
            match other with
            | :? UserFunction as u ->
                let c = String.CompareOrdinal(this.Name, u.Name)
                if c <> 0 then c
                else
                    let c = String.CompareOrdinal(string this.Method.DeclaringType, string u.Method.DeclaringType)
                    if c <> 0 then c else compare this.Method.MetadataToken u.Method.MetadataToken
            | _ -> invalidArg (nameof other) "not a UserFunction"

/// Polygamma functions MathNet.Numerics lacks (it has DiGamma, ψ, but not its derivatives).
[<AbstractClass; Sealed>]
type Polygamma =
    /// The trigamma function ψ′(x) = d²/dx² ln Γ(x), the derivative of DiGamma: the recurrence
    /// ψ′(x) = ψ′(x + 1) + 1/x² lifts x past 12, where the asymptotic series 1/x + 1/(2x²) + Σ B₂ₖ/x^(2k+1) converges
    /// fast; negative non-integers use the reflection ψ′(1 − x) + ψ′(x) = π²/sin²(πx); poles (0, −1, ...) give +∞.
    static member TriGamma(x: float) : float =
        if Double.IsNaN x || x = Double.NegativeInfinity then nan
        elif x <= 0.0 && x = Math.Floor x then infinity
        elif x < 0.0 then
            // sin(πx) from x's distance to the nearest integer, which keeps its precision.
            let s = Math.Sin(Math.PI * (x - Math.Round x))
            Math.PI * Math.PI / (s * s) - Polygamma.TriGamma(1.0 - x)
        else
            let mutable x = x
            let mutable sum = 0.0
            while x < 12.0 do
                sum <- sum + 1.0 / (x * x)
                x <- x + 1.0
            // Bernoulli numbers B₂..B₁₄: 1/6, −1/30, 1/42, −1/30, 5/66, −691/2730, 7/6.
            let r = 1.0 / x
            let r2 = r * r
            let tail =
                r2 * (1.0 / 6.0 + r2 * (-1.0 / 30.0 + r2 * (1.0 / 42.0 + r2 * (-1.0 / 30.0 + r2 * (5.0 / 66.0 + r2 * (-691.0 / 2730.0 + r2 * (7.0 / 6.0)))))))
            sum + r + r2 / 2.0 + r * tail

    /// The tetragamma function ψ″(x) = d³/dx³ ln Γ(x), the derivative of TriGamma: the recurrence
    /// ψ″(x) = ψ″(x + 1) − 2/x³ lifts x past 12, where the asymptotic series −1/x² − 1/x³ − Σ (2k + 1) B₂ₖ/x^(2k+2)
    /// converges fast; negative non-integers use the reflection ψ″(1 − x) − ψ″(x) = 2π³ cot(πx)/sin²(πx). At the poles
    /// (0, −1, ...) the two sides tend to −∞ and +∞: NaN.
    static member TetraGamma(x: float) : float =
        if Double.IsNaN x || x = Double.NegativeInfinity then nan
        elif x <= 0.0 && x = Math.Floor x then nan
        elif x < 0.0 then
            let t = Math.PI * (x - Math.Round x)
            let s = Math.Sin t
            Polygamma.TetraGamma(1.0 - x) - 2.0 * Math.PI * Math.PI * Math.PI * Math.Cos t / (s * s * s)
        else
            let mutable x = x
            let mutable sum = 0.0
            while x < 12.0 do
                sum <- sum - 2.0 / (x * x * x)
                x <- x + 1.0
            // (2k + 1) B₂ₖ for k = 1..7: 1/2, −1/6, 1/6, −3/10, 5/6, −691/210, 35/2.
            let r = 1.0 / x
            let r2 = r * r
            let tail =
                r2 * r2 * (1.0 / 2.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 6.0 + r2 * (-3.0 / 10.0 + r2 * (5.0 / 6.0 + r2 * (-691.0 / 210.0 + r2 * (35.0 / 2.0)))))))
            sum - r2 - r2 * r - tail

/// The closed catalogue of functions that formulas, formula text and Linq trees share. Powers are not here:
/// they are an operator (`^`, `Math.Pow`). Library functions (sigmoid, relu, softplus, square) are computed
/// by methods the caller supplies (see <see cref="T:ExprGrad.Symbolic.Library"/>); everything else is System.Math.
[<RequireQualifiedAccess>]
type Function =
    | Exp | Log | Log10 | Log2 | Sqrt | Cbrt
    | Sin | Cos | Tan | Asin | Acos | Atan
    | Sinh | Cosh | Tanh | Asinh | Acosh | Atanh
    | Abs | Sign | Floor | Ceiling | Round | Truncate
    /// The unit step (Heaviside) (1 + sign(u))/2: 0 below 0, 1 above, 1/2 at 0. Formulas show a routing gate's
    /// derivative with it, as a CAS does; it converts to Linq as that sum.
    | Step
    | Sigmoid | Relu | Softplus | Square
    | Atan2 | Max | Min | LogBase
    /// MathNet's SpecialFunctions (TriGamma, ψ′, is ExprGrad's Fn.TriGamma: the derivative of DiGamma).
    | Erf | Erfc | Gamma | GammaLn | DiGamma | TriGamma | TetraGamma | Logit
    | Beta | BetaLn
    /// A user's method with a derivative rule, shown by its name.
    | User of UserFunction

/// Methods that compute the library functions, by function name ("sigmoid", "relu", "softplus", "square"):
/// each a static method from double to double. Conversions to Linq call these when present and otherwise
/// build the function from System.Math (sigmoid(x) = 1/(1 + exp(−x)), ...); conversions from Linq recognize them.
type Library = IReadOnlyDictionary<string, MethodInfo>

/// Names, arities, System.Math methods and reference values of the catalogue's functions.
[<RequireQualifiedAccess>]
module Function =

    /// Every function of the catalogue, in declaration order.
    let all =
        [ Function.Exp; Function.Log; Function.Log10; Function.Log2; Function.Sqrt; Function.Cbrt
          Function.Sin; Function.Cos; Function.Tan; Function.Asin; Function.Acos; Function.Atan
          Function.Sinh; Function.Cosh; Function.Tanh; Function.Asinh; Function.Acosh; Function.Atanh
          Function.Abs; Function.Sign; Function.Step; Function.Floor; Function.Ceiling; Function.Round; Function.Truncate
          Function.Sigmoid; Function.Relu; Function.Softplus; Function.Square
          Function.Atan2; Function.Max; Function.Min; Function.LogBase
          Function.Erf; Function.Erfc; Function.Gamma; Function.GammaLn; Function.DiGamma; Function.TriGamma; Function.TetraGamma; Function.Logit
          Function.Beta; Function.BetaLn ]

    /// The name in formula text and in infix output: lower case, as in most calculators (`log` is natural).
    /// `log(x, b)` (LogBase) is the logarithm of x to base b, as Math.Log(x, b).
    let name f =
        match f with
        | Function.Exp -> "exp" | Function.Log -> "log" | Function.Log10 -> "log10" | Function.Log2 -> "log2"
        | Function.Sqrt -> "sqrt" | Function.Cbrt -> "cbrt"
        | Function.Sin -> "sin" | Function.Cos -> "cos" | Function.Tan -> "tan"
        | Function.Asin -> "asin" | Function.Acos -> "acos" | Function.Atan -> "atan"
        | Function.Sinh -> "sinh" | Function.Cosh -> "cosh" | Function.Tanh -> "tanh"
        | Function.Asinh -> "asinh" | Function.Acosh -> "acosh" | Function.Atanh -> "atanh"
        | Function.Abs -> "abs" | Function.Sign -> "sign" | Function.Step -> "step" | Function.Floor -> "floor"
        | Function.Ceiling -> "ceiling" | Function.Round -> "round" | Function.Truncate -> "truncate"
        | Function.Sigmoid -> "sigmoid" | Function.Relu -> "relu" | Function.Softplus -> "softplus"
        | Function.Square -> "square"
        | Function.Atan2 -> "atan2" | Function.Max -> "max" | Function.Min -> "min" | Function.LogBase -> "log"
        | Function.Erf -> "erf" | Function.Erfc -> "erfc" | Function.Gamma -> "gamma" | Function.GammaLn -> "gammaln"
        | Function.DiGamma -> "digamma" | Function.TriGamma -> "trigamma" | Function.TetraGamma -> "tetragamma" | Function.Logit -> "logit"
        | Function.Beta -> "beta" | Function.BetaLn -> "betaln"
        | Function.User u -> u.Name

    /// Number of arguments.
    let arity f =
        match f with
        | Function.Atan2 | Function.Max | Function.Min | Function.LogBase | Function.Beta | Function.BetaLn -> 2
        | Function.User u -> u.Method.GetParameters().Length
        | _ -> 1

    /// True for the functions computed by a caller-supplied method rather than System.Math.
    let isLibrary f =
        match f with
        | Function.Sigmoid | Function.Relu | Function.Softplus | Function.Square | Function.TriGamma | Function.TetraGamma | Function.Step -> true
        | _ -> false

    let private byName =
        let table = Dictionary<string * int, Function>()
        for f in all do
            table[(name f, arity f)] <- f
        for alias, f in [ "ln", Function.Log; "ceil", Function.Ceiling; "trunc", Function.Truncate
                          "logistic", Function.Sigmoid; "lgamma", Function.GammaLn; "psi", Function.DiGamma ] do
            table[(alias, arity f)] <- f
        table :> IReadOnlyDictionary<_, _>

    /// The function a name of formula text denotes with this many arguments (aliases: ln, ceil, trunc, logistic,
    /// lgamma, psi).
    let tryOfName (text: string) (argumentCount: int) : Function option =
        match byName.TryGetValue((text, argumentCount)) with
        | true, f -> Some f
        | _ -> None

    /// The names formula text accepts (for "expected ..." messages), sorted.
    let names =
        byName.Keys |> Seq.map fst |> Seq.distinct |> Seq.sort |> List.ofSeq

    /// The System.Math method of that name taking that many doubles.
    let internal math (methodName: string) (arguments: int) : MethodInfo =
        match typeof<Math>.GetMethod(methodName, Array.create arguments typeof<double>) with
        | null -> invalidOp $"System.Math has no {methodName} of {arguments} double arguments"
        | m -> m

    let private special (methodName: string) (arguments: int) : MethodInfo =
        match typeof<MathNet.Numerics.SpecialFunctions>.GetMethod(methodName, Array.create arguments typeof<double>) with
        | null -> invalidOp $"MathNet's SpecialFunctions has no {methodName} of {arguments} double arguments"
        | m -> m

    /// The System.Math (or MathNet SpecialFunctions, or user's) method that computes f (Math.Sign returns int);
    /// None for library functions.
    let mathMethod f : MethodInfo option =
        match f with
        | Function.Exp -> Some(math "Exp" 1) | Function.Log -> Some(math "Log" 1)
        | Function.Log10 -> Some(math "Log10" 1) | Function.Log2 -> Some(math "Log2" 1)
        | Function.Sqrt -> Some(math "Sqrt" 1) | Function.Cbrt -> Some(math "Cbrt" 1)
        | Function.Sin -> Some(math "Sin" 1) | Function.Cos -> Some(math "Cos" 1) | Function.Tan -> Some(math "Tan" 1)
        | Function.Asin -> Some(math "Asin" 1) | Function.Acos -> Some(math "Acos" 1) | Function.Atan -> Some(math "Atan" 1)
        | Function.Sinh -> Some(math "Sinh" 1) | Function.Cosh -> Some(math "Cosh" 1) | Function.Tanh -> Some(math "Tanh" 1)
        | Function.Asinh -> Some(math "Asinh" 1) | Function.Acosh -> Some(math "Acosh" 1)
        | Function.Atanh -> Some(math "Atanh" 1)
        | Function.Abs -> Some(math "Abs" 1) | Function.Sign -> Some(math "Sign" 1)
        | Function.Floor -> Some(math "Floor" 1) | Function.Ceiling -> Some(math "Ceiling" 1)
        | Function.Round -> Some(math "Round" 1) | Function.Truncate -> Some(math "Truncate" 1)
        | Function.Atan2 -> Some(math "Atan2" 2) | Function.Max -> Some(math "Max" 2) | Function.Min -> Some(math "Min" 2)
        | Function.LogBase -> Some(math "Log" 2)
        | Function.Erf -> Some(special "Erf" 1) | Function.Erfc -> Some(special "Erfc" 1)
        | Function.Gamma -> Some(special "Gamma" 1) | Function.GammaLn -> Some(special "GammaLn" 1)
        | Function.DiGamma -> Some(special "DiGamma" 1) | Function.Logit -> Some(special "Logit" 1)
        | Function.Beta -> Some(special "Beta" 2) | Function.BetaLn -> Some(special "BetaLn" 2)
        | Function.User u -> Some u.Method
        | Function.Sigmoid | Function.Relu | Function.Softplus | Function.Square | Function.TriGamma | Function.TetraGamma | Function.Step -> None

    let private byMethod =
        all |> List.choose (fun f -> mathMethod f |> Option.map (fun m -> m, f)) |> dict

    /// The function a System.Math method computes, if it is in the catalogue.
    let tryOfMathMethod (m: MethodInfo) : Function option =
        match byMethod.TryGetValue m with
        | true, f -> Some f
        | _ -> None

    /// The reference value of f, with the numerics of Fn (stable sigmoid and softplus) and Math.
    let evaluate f (args: float[]) : float =
        let x = args[0]
        match f with
        | Function.Exp -> Math.Exp x | Function.Log -> Math.Log x | Function.Log10 -> Math.Log10 x
        | Function.Log2 -> Math.Log2 x | Function.Sqrt -> Math.Sqrt x | Function.Cbrt -> Math.Cbrt x
        | Function.Sin -> Math.Sin x | Function.Cos -> Math.Cos x | Function.Tan -> Math.Tan x
        | Function.Asin -> Math.Asin x | Function.Acos -> Math.Acos x | Function.Atan -> Math.Atan x
        | Function.Sinh -> Math.Sinh x | Function.Cosh -> Math.Cosh x | Function.Tanh -> Math.Tanh x
        | Function.Asinh -> Math.Asinh x | Function.Acosh -> Math.Acosh x | Function.Atanh -> Math.Atanh x
        | Function.Abs -> Math.Abs x
        | Function.Sign -> if Double.IsNaN x then nan else float (Math.Sign x)
        | Function.Step -> if Double.IsNaN x then nan else (1.0 + float (Math.Sign x)) / 2.0
        | Function.Floor -> Math.Floor x | Function.Ceiling -> Math.Ceiling x
        | Function.Round -> Math.Round x | Function.Truncate -> Math.Truncate x
        | Function.Sigmoid -> if x >= 0.0 then 1.0 / (1.0 + Math.Exp -x) else let e = Math.Exp x in e / (1.0 + e)
        | Function.Relu -> if x > 0.0 then x elif x < 0.0 then 0.0 else x * 0.0
        | Function.Softplus -> if x > 0.0 then x + Math.Log(1.0 + Math.Exp -x) else Math.Log(1.0 + Math.Exp x)
        | Function.Square -> x * x
        | Function.Atan2 -> Math.Atan2(x, args[1])
        | Function.Max -> Math.Max(x, args[1])
        | Function.Min -> Math.Min(x, args[1])
        | Function.LogBase -> Math.Log(x, args[1])
        | Function.Erf -> MathNet.Numerics.SpecialFunctions.Erf x
        | Function.Erfc -> MathNet.Numerics.SpecialFunctions.Erfc x
        | Function.Gamma -> MathNet.Numerics.SpecialFunctions.Gamma x
        | Function.GammaLn -> MathNet.Numerics.SpecialFunctions.GammaLn x
        | Function.DiGamma -> MathNet.Numerics.SpecialFunctions.DiGamma x
        | Function.TriGamma -> Polygamma.TriGamma x
        | Function.TetraGamma -> Polygamma.TetraGamma x
        | Function.Logit -> MathNet.Numerics.SpecialFunctions.Logit x
        | Function.Beta -> MathNet.Numerics.SpecialFunctions.Beta(x, args[1])
        | Function.BetaLn -> MathNet.Numerics.SpecialFunctions.BetaLn(x, args[1])
        | Function.User u -> u.Method.Invoke(null, Array.map box args) :?> float

    /// A static method of the user's from doubles to a double (not System.Math's, whose missing ones stay refused).
    let private isUserMethod (m: MethodInfo) =
        m.IsStatic && m.ReturnType = typeof<double> && m.DeclaringType <> typeof<Math>
        && m.GetParameters().Length > 0 && m.GetParameters() |> Array.forall (fun p -> p.ParameterType = typeof<double>)

    /// The function a method computes: a System.Math or MathNet SpecialFunctions method of the catalogue, one of the
    /// library's methods, or else any other static method from doubles to a double, as a user's function.
    let tryOfMethod (library: Library) (m: MethodInfo) : Function option =
        match tryOfMathMethod m with
        | Some f -> Some f
        | None ->
            match
                library
                |> Seq.tryFind (fun kv -> kv.Value = m)
                |> Option.bind (fun kv -> tryOfName kv.Key 1)
                |> Option.filter isLibrary
            with
            | Some f -> Some f
            | None when isUserMethod m -> Some(Function.User { Name = m.Name; Method = m })
            | None -> None

    /// A Linq expression computing f of double-typed arguments: the System.Math call (Sign converted to double),
    /// the library's method, or, for a library function the library lacks, its definition in System.Math terms
    /// (an argument used twice is built into the tree twice, so pass a parameter or a constant, not a big tree).
    let toLinq (library: Library) f (args: Expression list) : Expression =
        let call (m: MethodInfo) = Expression.Call(m, args) :> Expression
        match mathMethod f, args with
        | Some m, _ when f = Function.Sign -> Expression.Convert(call m, typeof<double>) :> Expression
        | Some m, _ -> call m
        | None, [ x ] ->
            match library.TryGetValue(name f) with
            | true, m -> Expression.Call(m, x) :> Expression
            | _ ->
                let c (v: float) = Expression.Constant v :> Expression
                let mathCall g (a: Expression list) = Expression.Call((mathMethod g).Value, a) :> Expression
                match f with
                | Function.Sigmoid ->
                    Expression.Divide(c 1.0, Expression.Add(c 1.0, mathCall Function.Exp [ Expression.Negate x ])) :> Expression
                | Function.Relu -> mathCall Function.Max [ x; c 0.0 ]
                | Function.Softplus -> mathCall Function.Log [ Expression.Add(c 1.0, mathCall Function.Exp [ x ]) ]
                | Function.Square -> Expression.Multiply(x, x) :> Expression
                | Function.Step ->
                    Expression.Multiply(c 0.5, Expression.Add(c 1.0, Expression.Convert(mathCall Function.Sign [ x ], typeof<double>))) :> Expression
                | Function.TriGamma -> Expression.Call((match typeof<Polygamma>.GetMethod "TriGamma" with null -> invalidOp "no TriGamma" | m -> m), x) :> Expression
                | Function.TetraGamma -> Expression.Call((match typeof<Polygamma>.GetMethod "TetraGamma" with null -> invalidOp "no TetraGamma" | m -> m), x) :> Expression
                | _ -> invalidOp $"{name f} has a System.Math method"
        | None, _ -> invalidArg (nameof args) $"{name f} takes {arity f} argument(s), got {List.length args}"
