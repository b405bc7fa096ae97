using System.Linq.Expressions;
using ExprGrad.Staging;

namespace ExprGrad.Import;

/// <summary>
/// Data: a sub-expression that reads no parameter of the lambda is evaluated as written, whatever it calls
/// (<c>Math.Clamp(k, 0, 1)</c>, <c>h.Get()</c>, <c>w.Length</c>, <c>k % 2</c>), at every call and never differentiated.
/// </summary>
/// <remarks>
/// What Import can stage stays staged: arithmetic and the catalogue's functions on captured values are operations of
/// the graph, as the compiler's lambda shows them (and as the source generator reads them). Only what it cannot
/// stage becomes data, one node per sub-expression, evaluated in the forward stage (inside a conditional's branch
/// only when that branch runs); an exception it throws reaches the caller unchanged.
/// <para>Identity, and so how often it runs: a pure read (fields, properties, array elements and lengths, conversions
/// and operators on them) is one node per variable, by root object and path, however often it is written. Anything
/// that calls a method or a delegate is one node per occurrence, as C# evaluates each occurrence: <c>h.Get() * x +
/// h.Get()</c> calls <c>Get</c> twice per evaluation, once per occurrence (in no promised order between them).</para>
/// </remarks>
internal sealed partial class Importer
{
    private const string Occurrence = "data";

    /// <summary>
    /// The sub-expression as one data node, or null if it reads a parameter or its value is not a number or a truth
    /// value (an integer or other number is converted to double, as C# would where it meets a double).
    /// </summary>
    private Node? Data(Expression e)
    {
        if (!(e.Type == typeof(bool) || IsNumeric(e.Type)) || !ParameterFree.Check(e))
            return null;
        if (TryLive(e, out var root, out var path))
            return _b.Captured(AsDataValue(e), root, path);
        // The occurrence is its identity: the same expression object (an F# let inlined twice) is one value.
        return _b.Captured(AsDataValue(e), e, Occurrence);
    }

    private static Expression AsDataValue(Expression e) =>
        e.Type == typeof(double) || e.Type == typeof(bool) ? e : Expression.Convert(e, typeof(double));

    /// <summary>True if an expression reads no parameter other than those a lambda or block inside it declares.</summary>
    private sealed class ParameterFree : ExpressionVisitor
    {
        private readonly HashSet<ParameterExpression> _bound = [];
        private bool _reads;

        public static bool Check(Expression e)
        {
            var walk = new ParameterFree();
            walk.Visit(e);
            return !walk._reads;
        }

        public override Expression? Visit(Expression? node)
        {
            if (node is null || _reads)
                return node;
            return StackGuard.HasRoom ? base.Visit(node) : StackGuard.Run(() => base.Visit(node));
        }

        protected override Expression VisitParameter(ParameterExpression node)
        {
            _reads |= !_bound.Contains(node);
            return node;
        }

        protected override Expression VisitLambda<T>(Expression<T> node)
        {
            _bound.UnionWith(node.Parameters);
            return base.VisitLambda(node);
        }

        protected override Expression VisitBlock(BlockExpression node)
        {
            _bound.UnionWith(node.Variables);
            return base.VisitBlock(node);
        }

        protected override CatchBlock VisitCatchBlock(CatchBlock node)
        {
            if (node.Variable is not null)
                _bound.Add(node.Variable);
            return base.VisitCatchBlock(node);
        }
    }
}
