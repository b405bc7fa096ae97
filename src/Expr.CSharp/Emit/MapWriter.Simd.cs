using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.Intrinsics;
using ExprGrad.Staging;

namespace ExprGrad.Emit;

internal static partial class MapWriter
{
    /// <summary>
    /// The body of a Map as one <see cref="Vector256{T}"/> of four elements at a time, when every stage it needs has a
    /// SIMD form with the scalar rule's meaning (relu and sign keep −0 and NaN, max and min propagate NaN as
    /// <see cref="Math.Max(double, double)"/> does); null otherwise (a conditional, or an operation without one), and
    /// the Map stays a scalar loop. Exp, log, σ and tanh come from the vector math library, within a few ulps of
    /// <see cref="Math"/>'s; the last few elements of a Map run the scalar body.
    /// </summary>
    internal sealed class SimdBodyWriter(MapBody body, Expression[] elements, List<Expression> prologue, List<ParameterExpression> outer)
    {
        private static readonly Type V = typeof(Vector256<double>);

        // A variable per stage, none reused: past this a body stays scalar, where BodyWriter recycles variables (the JIT
        // stops optimizing, or refuses the method, with too many locals).
        private const int MaxStages = 64;
        private readonly Dictionary<Node, ParameterExpression> _values = [];
        private readonly Dictionary<long, ParameterExpression> _constants = []; // by bits: −0 is not 0
        private readonly List<ParameterExpression> _locals = [];

        public static bool Available => Vector256.IsHardwareAccelerated;

        public Expression? Write()
        {
            var statements = new List<Expression>();
            var needed = BodyWriter.Needed(body);
            if (needed.Count > MaxStages)
                return null;
            foreach (var n in body.Builder.Root.Nodes)
            {
                if (!needed.Contains(n) || n == body.Cached || n.Op is Op.Input or Op.Constant)
                    continue;
                if (n.Op is Op.Condition or Op.Project or Op.Captured)
                    return null;
                if (Operation(n) is not { } value)
                    return null;
                var local = Expression.Variable(V, $"v{n.Id}");
                _locals.Add(local);
                _values[n] = local;
                statements.Add(Expression.Assign(local, value));
            }
            statements.Add(Read(body.Output));
            return Expression.Block(V, _locals, statements);
        }

        private Expression? Operation(Node n)
        {
            // Truth values are lane masks: a comparison's, read only by a select (a routing gate's adjoint).
            if (n.Op == Op.Select ? n.Args[0].Op == Op.Constant || n.Args.Skip(1).Any(a => a.IsBool) : n.Args.Any(a => a.IsBool))
                return null;
            var x = Array.ConvertAll(n.Args, Read);
            return n.Op switch
            {
                Op.GreaterThan => Call(nameof(Vector256.GreaterThan), x[0], x[1]),
                Op.LessThan => Call(nameof(Vector256.LessThan), x[0], x[1]),
                Op.GreaterThanOrEqual => Call(nameof(Vector256.GreaterThanOrEqual), x[0], x[1]),
                Op.LessThanOrEqual => Call(nameof(Vector256.LessThanOrEqual), x[0], x[1]),
                Op.Equal => Call(nameof(Vector256.Equals), x[0], x[1]),
                Op.Select => Call(nameof(Vector256.ConditionalSelect), x[0], x[1], x[2]),
                Op.Add => Expression.Add(x[0], x[1]),
                Op.Subtract => Expression.Subtract(x[0], x[1]),
                Op.Multiply => Expression.Multiply(x[0], x[1]),
                Op.Divide => Expression.Divide(x[0], x[1]),
                Op.Negate => Expression.Negate(x[0]),
                Op.Square => Expression.Multiply(x[0], x[0]),
                Op.Sqrt => Call(nameof(Vector256.Sqrt), x[0]),
                Op.Abs => Call(nameof(Vector256.Abs), x[0]),
                Op.Max => Call(nameof(Vector256.Max), x[0], x[1]),
                Op.Min => Call(nameof(Vector256.Min), x[0], x[1]),
                Op.Exp => Expression.Call(typeof(Vector256).GetMethod(nameof(Vector256.Exp), [V])!, x[0]),
                Op.Log => Expression.Call(typeof(Vector256).GetMethod(nameof(Vector256.Log), [V])!, x[0]),
                Op.Relu => Expression.Call(typeof(SimdBodyWriter), nameof(Relu), null, x[0]),
                Op.Sign => Expression.Call(typeof(SimdBodyWriter), nameof(Sign), null, x[0]),
                Op.Sigmoid => Expression.Call(typeof(SimdBodyWriter), nameof(Sigmoid), null, x[0]),
                Op.Tanh => Expression.Call(typeof(SimdBodyWriter), nameof(Tanh), null, x[0]),
                _ => null,
            };
        }

        private Expression Read(Node n)
        {
            if (n.Op == Op.Constant)
                return Constant(n.Value);
            if (n == body.Cached)
                return elements[body.CachedArg];
            if (n.Op == Op.Input)
                return elements[n.Param];
            return _values[n];
        }

        // A constant is broadcast once, before the loop, into a variable: a Vector256 constant in a tree would be a boxed closure constant.
        private ParameterExpression Constant(double value)
        {
            var bits = BitConverter.DoubleToInt64Bits(value);
            if (_constants.TryGetValue(bits, out var local))
                return local;
            local = _constants[bits] = Expression.Variable(V, $"c{_constants.Count}");
            outer.Add(local);
            prologue.Add(Expression.Assign(local, Expression.Call(typeof(Vector256), nameof(Vector256.Create), null, Expression.Constant(value))));
            return local;
        }

        private static MethodCallExpression Call(string name, params Expression[] args) =>
            Expression.Call(Generic(name, args.Length), args);

        private static MethodInfo Generic(string name, int arity) =>
            typeof(Vector256).GetMethods().Single(m => m.Name == name && m.IsGenericMethodDefinition
                && m.GetParameters().Length == arity && m.GetParameters().All(p => p.ParameterType.IsGenericType
                    && p.ParameterType.GetGenericTypeDefinition() == typeof(Vector256<>))).MakeGenericMethod(typeof(double));

        /// <summary><see cref="Fn.Relu"/> on four elements: x where x &gt; 0, 0 where x &lt; 0, else x·0 (so −0 and NaN stay).</summary>
        public static Vector256<double> Relu(Vector256<double> x) =>
            Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<double>.Zero), x,
                Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<double>.Zero), Vector256<double>.Zero, x * Vector256<double>.Zero));

        /// <summary><see cref="Fn.Sign"/> on four elements: 1, −1, else x·0.</summary>
        public static Vector256<double> Sign(Vector256<double> x) =>
            Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<double>.Zero), Vector256<double>.One,
                Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<double>.Zero), -Vector256<double>.One, x * Vector256<double>.Zero));

        /// <summary>
        /// <see cref="Math.Tanh"/> on four elements. From |x| = 1/2 on, 1 − 2/(e^(2|x|) + 1) with x's sign (no
        /// cancellation: the result is past 0.46, and 1 where e^(2|x|) overflows). Below, m/(m + 2) with m = e^(2x) − 1
        /// computed as Kahan does, (e − 1)·2x/ln e, which keeps its relative precision as x tends to 0 (and −0 stays −0).
        /// </summary>
        public static Vector256<double> Tanh(Vector256<double> x)
        {
            var two = Vector256.Create(2.0);
            var magnitude = Vector256.Abs(x);
            var large = Vector256<double>.One - two / (Vector256.Exp(two * magnitude) + Vector256<double>.One);
            large = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<double>.Zero), -large, large);
            var y = two * x;
            var e = Vector256.Exp(y);
            var m = Vector256.ConditionalSelect(Vector256.Equals(e, Vector256<double>.One), y, (e - Vector256<double>.One) * y / Vector256.Log(e));
            var small = m / (m + two);
            return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(0.5)), large, small);
        }

        /// <summary><see cref="Fn.Sigmoid"/> on four elements, stable both ways: with e = exp(−|x|), 1/(1+e) for x ≥ 0, e/(1+e) below.</summary>
        public static Vector256<double> Sigmoid(Vector256<double> x)
        {
            var e = Vector256.Exp(-Vector256.Abs(x));
            var denominator = Vector256<double>.One + e;
            return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<double>.Zero),
                Vector256<double>.One / denominator, e / denominator);
        }
    }

    private static readonly MethodInfo LoadVector = typeof(Vector256).GetMethods().Single(m => m.Name == nameof(Vector256.Create)
        && m.IsGenericMethodDefinition && m.GetParameters() is [{ ParameterType.IsArray: true }, { ParameterType: var index }] && index == typeof(int))
        .MakeGenericMethod(typeof(double));

    private static readonly MethodInfo StoreVector = typeof(Vector256).GetMethods().Single(m => m.Name == nameof(Vector256.CopyTo)
        && m.GetParameters() is [_, { ParameterType.IsArray: true }, { ParameterType: var index }] && index == typeof(int))
        .MakeGenericMethod(typeof(double));

    /// <summary>
    /// The SIMD part of a Map's loop, or null: while four elements remain, target[i..i+4] = the body on
    /// arguments[i..i+4] (a scalar argument broadcast once), then i moves on; the scalar loop after it does the rest.
    /// </summary>
    private static Expression? SimdLoop(MapBody body, Node map, ParameterExpression target, ParameterExpression i,
        IReadOnlyList<ParameterExpression> arguments, List<ParameterExpression> locals)
    {
        if (!SimdBodyWriter.Available)
            return null;
        var prologue = new List<Expression>();
        var elements = new Expression[arguments.Count];
        for (var k = 0; k < arguments.Count; k++)
        {
            if (map.Args[k].Shape.IsTensor)
            {
                elements[k] = Expression.Call(LoadVector, arguments[k], i);
                continue;
            }
            var broadcast = Expression.Variable(typeof(Vector256<double>), $"b{k}");
            locals.Add(broadcast);
            prologue.Add(Expression.Assign(broadcast, Expression.Call(typeof(Vector256), nameof(Vector256.Create), null, arguments[k])));
            elements[k] = broadcast;
        }
        if (new SimdBodyWriter(body, elements, prologue, locals).Write() is not { } vector)
        {
            locals.RemoveAll(l => l.Type == typeof(Vector256<double>));
            return null;
        }
        var end = Expression.Label("simdEnd");
        var last = Expression.Subtract(Expression.ArrayLength(target), Expression.Constant(Vector256<double>.Count));
        prologue.Add(Expression.Loop(
            Expression.IfThenElse(
                Expression.LessThanOrEqual(i, last),
                Expression.Block(
                    Expression.Call(StoreVector, vector, target, i),
                    Expression.AddAssign(i, Expression.Constant(Vector256<double>.Count))),
                Expression.Break(end)),
            end));
        return Expression.Block(prologue);
    }
}
