namespace ExprGrad.Symbolic

open System
open System.Collections.Generic
open System.Globalization
open System.Linq.Expressions
open FParsec

/// Formula text that does not parse: what was expected, and where (0-based index, 1-based line and column).
/// The message reads `line:column: reason`, e.g. `1:7: expected an operand (number, variable, function call
/// or '('), found '*'` or `1:3: unknown function 'foo' (known: abs, acos, ...)`.
type FormulaSyntaxException(message: string, text: string, index: int, line: int, column: int, expected: IReadOnlyList<string>) =
    inherit FormatException(message)

    /// The whole formula text that failed to parse.
    member _.Text = text

    /// The 0-based index in <see cref="P:ExprGrad.Symbolic.FormulaSyntaxException.Text"/> where the error is
    /// (the text's length when the text ended too early).
    member _.Index = index

    /// The 1-based line of the error.
    member _.Line = line

    /// The 1-based column of the error.
    member _.Column = column

    /// What would have been accepted at the error (empty for errors that are not about a missing item,
    /// such as an unknown function).
    member _.Expected = expected

/// Formula text to a Linq lambda the engine imports: `(x + sigmoid(y)) / (sigmoid(x) + (x + y)^2)`.
///
/// Grammar (whitespace allowed between any two tokens):
///   sum     = product (('+' | '-') product)*            left-associative
///   product = unary (('*' | '/') unary)*                left-associative
///   unary   = '-'* power                                 so -x^2 = -(x^2)
///   power   = atom ('^' '-'* atom)*                      right-associative: 2^3^2 = 2^9, 2^-x = 2^(-x)
///   atom    = number | name | name '(' sum (',' sum)* ')' | '(' sum ')'
/// Numbers are invariant-culture decimals with an optional exponent (`12`, `0.5`, `1.5e-3`), read as the
/// nearest double; a number whose nearest double is infinite (`1e400`) is an error. Names are a letter or `_`
/// followed by letters, digits or `_`: `pi` and `e` are the constants, names of the catalogue's functions
/// (see <see cref="M:ExprGrad.Symbolic.FunctionModule.tryOfName"/>) must be called, and every other name is a
/// variable. Only the catalogue's functions can be called: no other method is reachable from text.
///
/// Any input fails cleanly or succeeds, in time linear in its length: operator chains and runs of minus signs
/// are read by loops, and parentheses and calls may nest at most <see cref="F:ExprGrad.Symbolic.Parse.MaxNesting"/>
/// deep.
[<RequireQualifiedAccess>]
module Parse =

    /// The deepest nesting of parentheses and function calls accepted; deeper text fails with a positioned error.
    [<Literal>]
    let MaxNesting = 10_000

    let private operandLabel = "an operand (number, variable, function call or '(')"
    let private operatorLabel = "an operator"
    let private endLabel = "the end of the text"

    let private isNameStart c = Char.IsLetter c || c = '_'
    let private isNameChar c = Char.IsLetterOrDigit c || c = '_'
    let private isDigit c = c >= '0' && c <= '9'

    let private functionNames = HashSet<string>(Function.names, StringComparer.Ordinal)

    // Fails at a position already passed (a name's or a number's start): the stream goes back there so the
    // error carries that position, and the failure is fatal, so no alternative is tried from there.
    let private failAt (stream: CharStream<unit>) (at: CharStreamState<unit>) (message: string) : Reply<'a> =
        stream.BacktrackTo at
        Reply(FatalError, messageError message)

    let private describe (text: string) (index: int) =
        if index >= text.Length then endLabel
        else
            match text[index] with
            | c when Char.IsWhiteSpace c -> "white space"
            | c when Char.IsControl c || Char.IsSurrogate c -> $"U+{int c:X4}"
            | c -> $"'{c}'"

    let private joinOr (items: string list) =
        match List.rev items with
        | [] -> ""
        | [ one ] -> one
        | last :: rest -> String.Join(", ", List.rev rest) + " or " + last

    let private toException (text: string) (error: ParserError) : FormulaSyntaxException =
        let position = error.Position
        let index = int position.Index
        let line = int position.Line
        let column = int position.Column
        let messages = ErrorMessageList.ToSortedArray error.Messages
        let custom =
            messages |> Array.choose (function :? ErrorMessage.Message as m -> Some m.String | _ -> None) |> List.ofArray
        let expected =
            messages
            |> Array.choose (function
                | :? ErrorMessage.Expected as e -> Some e.Label
                | :? ErrorMessage.ExpectedString as e -> Some $"'{e.String}'"
                | _ -> None)
            |> Array.distinct
            |> List.ofArray
        let reason =
            match custom with
            | _ :: _ -> String.Join("; ", custom)
            | [] when index < text.Length && text[index] = ')' && List.contains endLabel expected -> "unmatched ')'"
            | [] -> $"expected {joinOr expected}, found {describe text index}"
        let expected = if custom.IsEmpty then expected else []
        FormulaSyntaxException($"{line}:{column}: {reason}", text, index, line, column, List.toArray expected)

    // The parser of one text: it registers variables in order of first appearance and counts nesting, so it is
    // built afresh for each call (a few dozen closures).
    let private parser (library: Library) (variables: List<ParameterExpression>) : Parser<Expression, unit> =
        let byName = Dictionary<string, ParameterExpression>(StringComparer.Ordinal)
        let mutable depth = 0
        let ws = spaces
        let expression, expressionRef = createParserForwardedToRef<Expression, unit> ()

        // Each level of parentheses or call recurses through the parsers once: counted, and on a large stack
        // when this one runs low, so the limit and not the thread's stack decides how deep text may nest.
        let nested (p: Parser<'a, unit>) : Parser<'a, unit> =
            fun stream ->
                if stream.Peek() = '(' && depth >= MaxNesting then
                    Reply(FatalError, messageError $"parentheses and calls nest more than {MaxNesting} deep")
                else
                    depth <- depth + 1
                    let reply = StackGuard.run (fun () -> p stream)
                    depth <- depth - 1
                    reply

        let close = skipChar ')' <?> "')'" .>> ws
        // Labels sit on each operand's first token, not on the alternatives together: a label would replace the
        // message of an error that failAt positioned at the operand's start.
        let parenthesized = nested ((skipChar '(' <?> operandLabel) >>. ws >>. expression .>> close)

        let digits = many1Satisfy isDigit
        let exponent =
            anyOf "eE" >>. opt (anyOf "+-" <?> "the digits of an exponent") .>>. (digits <?> "the digits of an exponent")
            |>> fun (sign, ds) -> "e" + (match sign with Some c -> string c | None -> "") + ds
        let numberText =
            (digits <?> operandLabel) .>>. opt (skipChar '.' >>. manySatisfy isDigit) .>>. opt exponent
            |>> fun ((whole, fraction), exp) ->
                whole + (match fraction with Some f -> "." + f | None -> "") + (defaultArg exp "")
        let number: Parser<Expression, unit> =
            fun stream ->
                let start = stream.State
                let reply = numberText stream
                if reply.Status <> Ok then Reply(reply.Status, reply.Error)
                else
                    let value = Double.Parse(reply.Result, NumberStyles.Float, CultureInfo.InvariantCulture)
                    if Double.IsInfinity value then
                        let shown = if reply.Result.Length > 40 then reply.Result.Substring(0, 37) + "..." else reply.Result
                        failAt stream start $"the number {shown} is too large for a double (at most {Double.MaxValue:R})"
                    else
                        ws stream |> ignore
                        Reply(Expression.Constant(value, typeof<double>) :> Expression)

        let arguments = sepBy1 expression (skipChar ',' .>> ws <?> "','")
        let callArguments = nested (skipChar '(' >>. ws >>. arguments .>> close)

        let call (stream: CharStream<unit>) (start: CharStreamState<unit>) (name: string) : Reply<Expression> =
            let reply = callArguments stream
            if reply.Status <> Ok then Reply(reply.Status, reply.Error)
            else
                let args = reply.Result
                match Function.tryOfName name args.Length with
                | Some f -> Reply(Function.toLinq library f args)
                | None when functionNames.Contains name ->
                    let counts = [ 1; 2 ] |> List.filter (fun n -> (Function.tryOfName name n).IsSome)
                    let takes = counts |> List.map string |> joinOr
                    let plural = if counts = [ 1 ] then "argument" else "arguments"
                    failAt stream start $"'{name}' takes {takes} {plural}, not {args.Length}"
                | None ->
                    let known = String.Join(", ", Function.names)
                    failAt stream start $"unknown function '{name}' (known: {known})"

        let nameOrCall: Parser<Expression, unit> =
            fun stream ->
                let start = stream.State
                let reply = (many1Satisfy2 isNameStart isNameChar <?> operandLabel) stream
                if reply.Status <> Ok then Reply(reply.Status, reply.Error)
                else
                    let name = reply.Result
                    ws stream |> ignore
                    if stream.Peek() = '(' then call stream start name
                    else
                        match name with
                        | "pi" -> Reply(Expression.Constant(Math.PI, typeof<double>) :> Expression)
                        | "e" -> Reply(Expression.Constant(Math.E, typeof<double>) :> Expression)
                        | _ when functionNames.Contains name ->
                            failAt stream start $"a function name is not a variable: '{name}' (call it: {name}(...))"
                        | _ ->
                            match byName.TryGetValue name with
                            | true, p -> Reply(p :> Expression)
                            | _ ->
                                let p = Expression.Parameter(typeof<double>, name)
                                byName[name] <- p
                                variables.Add p
                                Reply(p :> Expression)

        let atom = parenthesized <|> number <|> nameOrCall

        // Runs of minus signs are counted, not recursed into; the label keeps "expected '-'" out of messages.
        let minuses = many (skipChar '-' .>> ws <?> operandLabel) |>> List.length
        let negate (n: int) (e: Expression) =
            let mutable e = e
            for _ in 1..n do
                e <- Expression.Negate e
            e

        let caret = skipChar '^' .>> ws <?> operatorLabel
        // a ^ -b ^ c = a ^ (-(b ^ c)): folded from the right in a loop.
        let power =
            atom .>>. many (caret >>. (minuses .>>. atom))
            |>> fun (first, rest) ->
                match rest with
                | [] -> first
                | _ ->
                    let pow = typeof<Math>.GetMethod("Pow", [| typeof<double>; typeof<double> |]) |> Option.ofObj |> Option.get
                    let items = List.toArray rest
                    let mutable acc = snd items[items.Length - 1]
                    for i in items.Length - 1 .. -1 .. 0 do
                        acc <- negate (fst items[i]) acc
                        let baseOperand = if i = 0 then first else snd items[i - 1]
                        acc <- Expression.Call(pow, baseOperand, acc)
                    acc

        let unary = minuses .>>. power |>> fun (n, e) -> negate n e

        // operand (op operand)*, folded left as it is read: no list of the operands is kept.
        let chain (op: Parser<Expression -> Expression -> Expression, unit>) (operand: Parser<Expression, unit>) : Parser<Expression, unit> =
            fun stream ->
                let first = operand stream
                if first.Status <> Ok then first
                else
                    let mutable acc = first.Result
                    let mutable reply = Unchecked.defaultof<Reply<Expression>>
                    let mutable reading = true
                    while reading do
                        let tag = stream.StateTag
                        let o = op stream
                        if o.Status = Ok then
                            let next = operand stream
                            if next.Status = Ok then acc <- o.Result acc next.Result
                            else
                                reply <- next
                                reading <- false
                        elif o.Status = Error && stream.StateTag = tag then
                            // No operator here: the chain ends, and "expected an operator" joins a later error here.
                            reply <- Reply(Ok, acc, o.Error)
                            reading <- false
                        else
                            reply <- Reply(o.Status, o.Error)
                            reading <- false
                    reply

        let binary c (make: Expression * Expression -> BinaryExpression) =
            charReturn c (fun (a: Expression) (b: Expression) -> make (a, b) :> Expression)

        let mulOp =
            binary '*' Expression.Multiply <|> binary '/' Expression.Divide .>> ws <?> operatorLabel
        let addOp =
            binary '+' Expression.Add <|> binary '-' Expression.Subtract .>> ws <?> operatorLabel

        expressionRef.Value <- chain addOp (chain mulOp unary)
        ws >>. expression .>> (eof <?> endLabel)

    /// Parses formula text into a lambda over doubles, or returns the positioned syntax error.
    /// Parameters are the text's variables, named as written, in order of first appearance.
    [<CompiledName("TryLambda")>]
    let tryLambda (library: Library) (text: string) : Result<LambdaExpression, FormulaSyntaxException> =
        match box library, box text with
        | null, _ -> nullArg (nameof library)
        | _, null -> nullArg (nameof text)
        | _ ->
            let variables = List<ParameterExpression>()
            match runParserOnString (parser library variables) () "formula" text with
            | Success(body, _, _) -> Result.Ok(Expression.Lambda(body, variables))
            | Failure(_, error, _) -> Result.Error(toException text error)

    /// Parses formula text into a lambda over doubles whose body is the plain Linq the engine imports:
    /// `+ - * /` and unary minus as Linq operators, `^` as Math.Pow, functions as System.Math calls or the
    /// library's methods (see <see cref="T:ExprGrad.Symbolic.Library"/>), pi and e as constants.
    /// Parameters are the text's variables, named as written, in order of first appearance.
    /// Example: <c>Parse.Lambda(library, "x*y + sin(x)")</c> is <c>(x, y) =&gt; x * y + Math.Sin(x)</c>.
    /// <exception cref="T:ExprGrad.Symbolic.FormulaSyntaxException">The text is not a formula.</exception>
    [<CompiledName("Lambda")>]
    let lambda (library: Library) (text: string) : LambdaExpression =
        match tryLambda library text with
        | Result.Ok f -> f
        | Result.Error e -> raise e
