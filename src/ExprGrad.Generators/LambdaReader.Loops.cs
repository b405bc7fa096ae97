using System.Linq.Expressions;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace ExprGrad.Generators;

/// <summary>
/// Statements: locals assigned again (<c>s += ...</c>) and <c>for</c> loops, read into the LINQ loops <c>Grad.Of</c>
/// accepts. A loop carries one local, the value it computes: <c>double s = 0; for (int i = 0; i &lt; n; i++) s += e;</c>
/// is <c>Enumerable.Range(0, n).Sum(i =&gt; e)</c> (and <c>s -= e</c> a sum of <c>-e</c>): the same additions in the
/// same order, bit for bit. Any other loop (<c>o = Fn.Sigmoid(o * w[k])</c>, a sum that does not start at 0, two
/// updates per iteration) is <c>Enumerable.Range(start, count).Aggregate(o, (o, k) =&gt; ...)</c>, which runs the
/// iterations exactly as written. A nested loop that adds to the outer loop's local is a fold over a fold; one that
/// sums its own local (<c>double row = 0; for (...) row += ...; s += row;</c>) is a sum of sums.
/// </summary>
/// <remarks>
/// A loop is <c>for (int i = start; i &lt; bound; i++)</c>, also <c>i &lt;= bound</c>, <c>i + 1 &lt; bound</c> and
/// <c>++i</c> or <c>i += 1</c>; its start and bound are integer arithmetic on array lengths, captured integers and
/// enclosing loops' variables, evaluated once when the loop starts (as the engine evaluates them). What it cannot read
/// is refused at its syntax, with the form to write instead.
/// </remarks>
internal sealed partial class LambdaReader
{
    private const string LoopForm =
        "a differentiable loop is for (int i = start; i < bound; i++) { ... s += term; } (a sum) or { ... o = f(o, i); } (a fold), " +
        "its start and bound integer arithmetic on lengths, captured integers and enclosing loops' variables";

    private const string ParameterIndex =
        "the index depends on the value of a parameter: an index is integer arithmetic on loop variables, lengths and captured integers " +
        "(a[i + 1], a[a.Length - 1 - i]), known before the values are";

    private static readonly MethodInfo RangeMethod = typeof(Enumerable).GetMethod(nameof(Enumerable.Range))!;
    private static readonly MethodInfo SumMethod = ((MethodCallExpression)((Expression<Func<double>>)(() => Enumerable.Range(0, 1).Sum(i => 0.0))).Body).Method;
    private static readonly MethodInfo AggregateMethod =
        ((MethodCallExpression)((Expression<Func<double>>)(() => Enumerable.Range(0, 1).Aggregate(0.0, (a, i) => a))).Body).Method;

    // Locals some statement assigns after their declaration (loop variables included): their value is known only as it runs.
    private readonly HashSet<ILocalSymbol> _assigned = new(SymbolEqualityComparer.Default);
    private int _loopDepth;

    private void FindAssigned(BlockSyntax block, SemanticModel model)
    {
        foreach (var node in block.DescendantNodes())
        {
            var target = node switch
            {
                AssignmentExpressionSyntax assignment => assignment.Left,
                PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PostIncrementExpression or (int)SyntaxKind.PostDecrementExpression } u => u.Operand,
                PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression or (int)SyntaxKind.PreDecrementExpression } u => u.Operand,
                _ => null,
            };
            if (target is not null && model.GetSymbolInfo(target, _cancel).Symbol is ILocalSymbol local)
                _assigned.Add(local);
        }
    }

    /// <summary>Reads statements in order; returns the value of the return that ends them, or null (a loop's body).</summary>
    private Expression? Statements(IEnumerable<StatementSyntax> statements, SemanticModel model, ForStatementSyntax? loop)
    {
        foreach (var statement in statements)
        {
            _cancel.ThrowIfCancellationRequested();
            switch (statement)
            {
                case LocalDeclarationStatementSyntax local:
                    Declare(local, model);
                    break;
                case ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax assignment }:
                    Assign(assignment, model);
                    break;
                case ForStatementSyntax f:
                    For(f, model);
                    break;
                case BlockSyntax block:
                    if (Statements(block.Statements, model, loop) is { } returned)
                        return returned;
                    break;
                case EmptyStatementSyntax:
                    break;
                case ReturnStatementSyntax { Expression: { } value } when loop is null:
                    return Operation(value, model);
                default:
                    throw Refused(statement, loop);
            }
        }
        return null;
    }

    private static UnsupportedSyntaxException Refused(StatementSyntax statement, ForStatementSyntax? loop)
    {
        var text = Short(statement);
        var why = statement switch
        {
            WhileStatementSyntax => $"'{text}' is a while loop: {LoopForm}",
            DoStatementSyntax => $"'{text}' is a do loop: {LoopForm}",
            ForEachStatementSyntax => $"'{text}' is a foreach loop: loop over the indices instead, for (int i = 0; i < a.Length; i++) s += a[i]; ({LoopForm})",
            BreakStatementSyntax or ContinueStatementSyntax =>
                $"'{text}' ends an iteration early: a differentiable loop runs every iteration of its range (choose the term with c ? term : 0 instead)",
            ReturnStatementSyntax when loop is not null => $"'{text}' returns from inside a loop: a differentiable loop runs every iteration of its range; return after it",
            IfStatementSyntax => $"'{text}' is an if statement: write a branch as a conditional value, s += c ? a : b;",
            ExpressionStatementSyntax => $"'{text}' is not an assignment to a local: a differentiable method assigns its own double locals (=, +=, -=, *=, /=)",
            _ => $"'{text}' is a {Describe(statement)}: a differentiable method is local declarations, assignments to them, for loops and a return",
        };
        return new UnsupportedSyntaxException(statement, why);
    }

    // s = e, s += e, s -= e, s *= e, s /= e: the local's value from here on.
    private void Assign(AssignmentExpressionSyntax syntax, SemanticModel model)
    {
        var operation = model.GetOperation(syntax, _cancel);
        if (operation is null || operation.Kind == OperationKind.Invalid)
            throw new InvalidCodeException();
        var (target, value) = operation switch
        {
            ISimpleAssignmentOperation { Target: ILocalReferenceOperation t } simple => (t, simple.Value),
            ICompoundAssignmentOperation { Target: ILocalReferenceOperation t, OperatorMethod: null } compound => (t, compound.Value),
            _ => throw new UnsupportedSyntaxException(syntax, $"'{Short(syntax)}' assigns something that is not a local: a differentiable method assigns only its own double locals"),
        };
        if (target.Local.Type.SpecialType != SpecialType.System_Double)
            throw new UnsupportedSyntaxException(syntax, $"'{Short(syntax)}' assigns '{target.Local.Name}', a {target.Local.Type.ToDisplayString()}: a differentiable method assigns only double locals again");
        var right = Read(value);
        if (right.Type != typeof(double))
            right = Expression.Convert(right, typeof(double));
        if (operation is ISimpleAssignmentOperation)
        {
            _locals[target.Local] = right;
            return;
        }
        var current = _locals.TryGetValue(target.Local, out var known) ? known
            : throw new UnsupportedSyntaxException(syntax, $"'{target.Local.Name}' is read before it has a value");
        _locals[target.Local] = ((ICompoundAssignmentOperation)operation).OperatorKind switch
        {
            BinaryOperatorKind.Add => Expression.Add(current, right),
            BinaryOperatorKind.Subtract => Expression.Subtract(current, right),
            BinaryOperatorKind.Multiply => Expression.Multiply(current, right),
            BinaryOperatorKind.Divide => Expression.Divide(current, right),
            var kind => throw new UnsupportedSyntaxException(syntax, $"'{Short(syntax)}' is the operator {kind}, which has no derivative rule"),
        };
    }

    /// <summary>A for loop, read into the LINQ sum or fold of the one local it carries.</summary>
    private void For(ForStatementSyntax f, SemanticModel model)
    {
        var header = $"for ({f.Declaration}; {f.Condition}; {string.Join(", ", f.Incrementors)})";
        UnsupportedSyntaxException Form(SyntaxNode at, string why) => new(at, $"'{header}' {why}: {LoopForm}");

        if (f.Declaration is not { Variables.Count: 1 } declaration || declaration.Variables[0].Initializer is not { } initializer || f.Initializers.Count > 0)
            throw Form(f, "does not declare one loop variable with its start");
        var variable = (ILocalSymbol)model.GetDeclaredSymbol(declaration.Variables[0], _cancel)!;
        if (variable.Type.SpecialType != SpecialType.System_Int32)
            throw Form(declaration, $"counts with a {variable.Type.ToDisplayString()}, not an int");
        var startOperation = Unwrap(initializer.Value, model);
        if (Of(startOperation).HasFlag(Facts.ReadsParameter))
            throw new UnsupportedSyntaxException(initializer.Value, $"'{header}' starts at a value that depends on a parameter's value: {LoopForm}");

        if (f.Condition is null || Unwrap(f.Condition, model) is not IBinaryOperation
            { OperatorKind: BinaryOperatorKind.LessThan or BinaryOperatorKind.LessThanOrEqual, OperatorMethod: null } condition)
            throw Form((SyntaxNode?)f.Condition ?? f, "does not test i < bound");
        if (Of(condition).HasFlag(Facts.ReadsParameter))
            throw new UnsupportedSyntaxException(f.Condition, $"'{header}' runs a number of times that depends on a parameter's value: {LoopForm}");
        var (offset, sign) = condition.LeftOperand switch
        {
            ILocalReferenceOperation l when Same(l.Local, variable) => ((IOperation?)null, 0),
            IBinaryOperation { OperatorKind: BinaryOperatorKind.Add or BinaryOperatorKind.Subtract, LeftOperand: ILocalReferenceOperation l } b
                when Same(l.Local, variable) && !Mentions(b.RightOperand, variable) => (b.RightOperand, b.OperatorKind == BinaryOperatorKind.Add ? 1 : -1),
            _ => throw Form(f.Condition, "does not test i < bound (or i + 1 < bound)"),
        };
        var bound = condition.RightOperand;
        if (Mentions(bound, variable) || bound.Type?.SpecialType != SpecialType.System_Int32)
            throw Form(f.Condition, "does not test i < bound with an int bound");
        if (f.Incrementors.Count != 1 || !IsIncrement(model.GetOperation(f.Incrementors[0], _cancel), variable))
            throw Form((SyntaxNode?)f.Incrementors.FirstOrDefault() ?? f, "does not step by i++");

        var flow = model.AnalyzeDataFlow(f.Statement);
        if (flow is not { Succeeded: true })
            throw new InvalidCodeException();
        bool WrittenInside(ISymbol s) => flow.WrittenInside.Contains(s, SymbolEqualityComparer.Default);
        if (WrittenInside(variable))
            throw new UnsupportedSyntaxException(f.Statement, $"'{header}' assigns its variable '{variable.Name}' in its body: {LoopForm}");
        foreach (var read in new[] { bound, offset }.OfType<IOperation>().SelectMany(o => o.DescendantsAndSelf()).OfType<ILocalReferenceOperation>())
            if (WrittenInside(read.Local))
                throw new UnsupportedSyntaxException(f.Condition, $"'{header}' has a bound that reads '{read.Local.Name}', which its body assigns: the number of iterations is fixed when a loop starts; {LoopForm}");
        var carried = flow.WrittenInside.OfType<ILocalSymbol>()
            .Where(l => !Same(l, variable) && !flow.VariablesDeclared.Contains(l, SymbolEqualityComparer.Default))
            .Distinct<ILocalSymbol>(SymbolEqualityComparer.Default).ToList();
        if (carried.Count > 1)
            throw new UnsupportedSyntaxException(f, $"'{header}' assigns {string.Join(" and ", carried.Select(l => $"'{l.Name}'"))}: a differentiable loop carries one value; {LoopForm}");
        if (carried.Count == 0)
            throw new UnsupportedSyntaxException(f, $"'{header}' assigns nothing declared before it, so it computes nothing: {LoopForm}");
        var local = carried[0];
        if (local.Type.SpecialType != SpecialType.System_Double)
            throw new UnsupportedSyntaxException(f, $"'{header}' carries '{local.Name}', a {local.Type.ToDisplayString()}: a differentiable loop carries a double");
        if (!_locals.TryGetValue(local, out var entering))
            throw new UnsupportedSyntaxException(f, $"'{local.Name}' is read before it has a value");

        // The range: start once, count = bound - start (adjusted for i + c < bound and i <= bound).
        var start = Read(startOperation);
        var end = Read(bound);
        if (offset is not null)
            end = sign > 0 ? Expression.Subtract(end, Read(offset)) : Expression.Add(end, Read(offset));
        if (condition.OperatorKind == BinaryOperatorKind.LessThanOrEqual)
            end = Expression.Add(end, Expression.Constant(1));
        var count = start is ConstantExpression { Value: 0 } ? end : Expression.Subtract(end, start);
        var range = Expression.Call(RangeMethod, start, count);

        var index = Expression.Parameter(typeof(int), variable.Name);
        var accumulator = Expression.Parameter(typeof(double), local.Name);
        _locals[variable] = index;
        _locals[local] = accumulator;
        _loopDepth++;
        // The body as written (a SyntaxList built here would hold copies outside the semantic model's tree).
        IEnumerable<StatementSyntax> body = f.Statement is BlockSyntax block ? block.Statements : new[] { f.Statement };
        Statements(body, model, f);
        _loopDepth--;
        var next = _locals[local];
        _locals.Remove(variable);

        // From 0, adding a term that does not read the sum: the same additions as LINQ's Sum, in the same order.
        if (entering is ConstantExpression { Value: 0.0 } zero && !double.IsNegative((double)zero.Value!)
            && next is BinaryExpression { NodeType: ExpressionType.Add or ExpressionType.Subtract } step && step.Left == accumulator
            && !Reads(step.Right, accumulator))
        {
            var term = step.NodeType == ExpressionType.Add ? step.Right : Expression.Negate(step.Right);
            _locals[local] = Expression.Call(SumMethod, range, Expression.Lambda<Func<int, double>>(term, index));
            return;
        }
        _locals[local] = Expression.Call(AggregateMethod, range, entering, Expression.Lambda<Func<double, int, double>>(next, accumulator, index));
    }

    private static bool Same(ISymbol a, ISymbol b) => SymbolEqualityComparer.Default.Equals(a, b);

    private static bool Mentions(IOperation operation, ILocalSymbol local) =>
        operation.DescendantsAndSelf().Any(o => o is ILocalReferenceOperation l && Same(l.Local, local));

    private static bool IsIncrement(IOperation? operation, ILocalSymbol variable) => operation switch
    {
        IIncrementOrDecrementOperation { Kind: OperationKind.Increment, Target: ILocalReferenceOperation l } => Same(l.Local, variable),
        ICompoundAssignmentOperation { OperatorKind: BinaryOperatorKind.Add, Target: ILocalReferenceOperation l, Value.ConstantValue: { HasValue: true, Value: 1 } } =>
            Same(l.Local, variable),
        _ => false,
    };

    private static bool Reads(Expression e, ParameterExpression p)
    {
        var finder = new ParameterFinder(p);
        finder.Visit(e);
        return finder.Found;
    }

    private sealed class ParameterFinder(ParameterExpression target) : ExpressionVisitor
    {
        public bool Found { get; private set; }

        public override Expression? Visit(Expression? node) => Found ? node : base.Visit(node);

        protected override Expression VisitParameter(ParameterExpression node)
        {
            Found |= node == target;
            return node;
        }
    }

    // a.Length of a double[] parameter: data to the engine (read at the call), but it reads a parameter.
    private static bool IsParameterLength(IOperation operation) =>
        operation is IPropertyReferenceOperation { Property.Name: "Length", Instance: IParameterReferenceOperation { Type: { } type } } && GradientSource.IsDoubleArray(type);

    // A captured double[] read in a loop: the engine sees element k of a marker array of arrays, whose C# Source gives back.
    private Expression CapturedArray(IOperation array)
    {
        if (!GradientSource.IsDoubleArray(array.Type!))
            throw Unsupported(array, $"it is a {array.Type?.ToDisplayString()} read at a loop's variable: a captured array read in a loop is a double[]");
        var k = CapturedIndex(array, Text(array), "array");
        return Expression.ArrayIndex(Expression.Constant(_arrays), Expression.Constant(k));
    }
}
