using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using ExprGrad.Staging;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Import;

internal sealed partial class Importer
{
    /// <summary>The forms of a function with several results, shown when one is refused.</summary>
    public const string VectorResults =
        "new[] { e1, e2, ... } (a double[]), a tuple of doubles (ValueTuple.Create(e1, e2, ...) or Tuple.Create: C# allows no tuple " +
        "literal in an expression tree), or Vector<double>.Build.Dense(new[] { e1, e2, ... }) (or DenseOfArray)";

    /// <summary>
    /// Stages a function with several results (a <c>double[]</c> written out, a tuple of doubles, or a vector built from
    /// one) into one graph: the results share every common stage. The graph's output is the first result (0 if none).
    /// </summary>
    public static (StagedGraph Graph, Node[] Outputs) ImportComponents(LambdaExpression f)
    {
        var components = Components(f.Body) ?? throw new ExprGradException(
            $"the function returns {Errors.TypeName(f.ReturnType)} as {Errors.Show(f.Body)}; a Jacobian needs its results written out: {VectorResults}", f.Body);
        var importer = new Importer(f);
        var outputs = components.ConvertAll(importer.Value).ToArray();
        if (importer._tooDeep is { } error)
            throw error;
        for (var k = 0; k < outputs.Length; k++)
            if (outputs[k].Shape.IsTensor)
                throw new ExprGradException($"result {k} of the function, {Errors.Show(components[k])}, is a vector or matrix, not a double", components[k]);
        importer._b.Site = null;
        var output = outputs.Length > 0 ? outputs[0] : importer._b.Constant(0);
        return (new StagedGraph(f, importer._b, output, importer.Layout(f)), outputs);
    }

    // The results of a vector-valued body, or null if it is not written out.
    private static List<Expression>? Components(Expression body)
    {
        switch (body)
        {
            case NewArrayExpression { NodeType: ExpressionType.NewArrayInit } array when array.Type == typeof(double[]):
                return [.. array.Expressions];
            case NewExpression { Constructor: not null } tuple when IsTuple(tuple.Type):
                return TupleParts(tuple.Arguments);
            case MethodCallExpression { Method.Name: "Create" } create when create.Method.DeclaringType == typeof(ValueTuple) || create.Method.DeclaringType == typeof(Tuple):
                return TupleParts(create.Arguments);
            case MethodCallExpression { Method.Name: "Dense" or "DenseOfArray", Arguments: [var array] } call
                when call.Method.DeclaringType == typeof(VectorBuilder<double>) && array.Type == typeof(double[]):
                return Components(array);
            default:
                return null;
        }
    }

    // The elements of a tuple of doubles, from its constructor's or Create's arguments.
    private static List<Expression>? TupleParts(IReadOnlyList<Expression> arguments)
    {
        var parts = new List<Expression>();
        for (var k = 0; k < arguments.Count; k++)
        {
            var argument = arguments[k];
            // An eighth element and on: the tuple's Rest, itself a tuple.
            if (k == 7 && Components(argument) is { } rest)
                parts.AddRange(rest);
            else if (argument.Type == typeof(double))
                parts.Add(argument);
            else
                return null;
        }
        return parts;
    }

    private static bool IsTuple(Type type) => type.IsGenericType && typeof(ITuple).IsAssignableFrom(type);
}
