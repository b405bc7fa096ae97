using System.Linq.Expressions;
using ExprGrad.Kernels;
using ExprGrad.Rules;
using ExprGrad.Staging;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Emit;

/// <summary>
/// Emits a <see cref="Op.Map"/> as one loop over the column-major storage of its arguments, with the scalar body
/// inlined: no delegate call per element, and a backward Map reads the cached forward values it needs.
/// </summary>
internal static partial class MapWriter
{
    public static Expression Emit(EmitContext context, Node map, Expression[] args)
    {
        var (body, shape) = (map.Body!, map.Shape);
        var result = Expression.Variable(shape.Type, "mapped");
        var target = Expression.Variable(typeof(double[]), "target");
        var i = Expression.Variable(typeof(int), "i");
        var locals = new List<ParameterExpression> { result, target, i };
        // The result overwrites an argument read for the last time (each element is read before it is written), else is new.
        var reuse = Array.FindIndex(map.Args, a => a.Shape.Kind == shape.Kind && context.IsLastRead(a, map));
        if (reuse >= 0 && shape.Kind == Kind.Matrix)
            Scratch.Alias(map, map.Args[reuse]);
        var statements = new List<Expression>
        {
            Expression.Assign(result, reuse >= 0 ? Expression.Call(typeof(Tensors), nameof(Tensors.Reusable), null, args[reuse])
                : shape.Kind == Kind.Matrix
                ? Scratch.TakeFor(map, context.Dim(shape.Rows), context.Dim(shape.Columns))
                : Expression.Call(typeof(Tensors), nameof(Tensors.Vector), null, context.Dim(shape.Rows))),
            Expression.Assign(target, Values(result)),
        };

        // Each argument is read once: a vector or matrix as its storage array, a scalar as its value.
        var elements = new Expression[args.Length];
        var arguments = new ParameterExpression[args.Length];
        for (var k = 0; k < args.Length; k++)
        {
            var isTensor = map.Args[k].Shape.IsTensor;
            var local = arguments[k] = Expression.Variable(isTensor ? typeof(double[]) : typeof(double), $"a{k}");
            locals.Add(local);
            statements.Add(Expression.Assign(local, isTensor ? Values(args[k]) : args[k]));
            elements[k] = isTensor ? Expression.ArrayIndex(local, i) : local;
        }

        var end = Expression.Label("end");
        statements.Add(Expression.Assign(i, Expression.Constant(0)));
        if (SimdLoop(body, map, target, i, arguments, locals) is { } simd)
            statements.Add(simd);
        statements.Add(Expression.Loop(
            Expression.IfThenElse(
                Expression.LessThan(i, Expression.ArrayLength(target)),
                Expression.Block(
                    Expression.Assign(Expression.ArrayAccess(target, i), new BodyWriter(body, elements).Write()),
                    Expression.PreIncrementAssign(i)),
                Expression.Break(end)),
            end));
        // Matrices read here for the last time (but the one the result took over) go back to their stages' scratch.
        statements.AddRange(Scratch.GiveBack(context, map, args, reuse));
        statements.Add(result);
        return Expression.Block(shape.Type, locals, statements);
    }

    private static Expression Values(Expression tensor) =>
        Expression.Call(typeof(Tensors).GetMethod(nameof(Tensors.Values), [tensor.Type == typeof(Vector<double>) ? typeof(Vector<double>) : typeof(Matrix<double>)])!, tensor);

    /// <summary>
    /// Writes one element of a body: each stage the output needs, in order, into a variable of the loop's block;
    /// a conditional as if/else, so only its taken branch runs. A top-level variable is reused once its last reader is
    /// past, so a long body stays within the JIT's locals.
    /// </summary>
    private sealed class BodyWriter(MapBody body, Expression[] elements)
    {
        private readonly HashSet<Node> _needed = Needed(body);
        private readonly Dictionary<Node, ParameterExpression> _values = [];
        private readonly List<ParameterExpression> _locals = [];
        private readonly Dictionary<Node, int> _lastUse = [];
        private readonly Dictionary<Type, Stack<ParameterExpression>> _free = [];

        public Expression Write()
        {
            CollectUses();
            var statements = new List<Expression>();
            StackGuard.Run(() => WriteRegion(body.Builder.Root, statements));
            statements.Add(Read(body.Output));
            return Expression.Block(typeof(double), _locals, statements);
        }

        // What the output reads, transitively; a stage inside a branch brings its conditional.
        internal static HashSet<Node> Needed(MapBody body)
        {
            var needed = new HashSet<Node>();
            var pending = new Stack<Node>([body.Output]);
            while (pending.TryPop(out var n))
            {
                if (n.Op == Op.Constant || !needed.Add(n) || n == body.Cached)
                    continue;
                foreach (var arg in n.Args)
                    pending.Push(arg);
                if (n.Owner?.Host is { } host)
                    pending.Push(host);
                if (n.Op == Op.Condition)
                    foreach (var result in n.Then!.Results.Concat(n.Else!.Results))
                        pending.Push(result);
            }
            return needed;
        }

        // The last top-level stage reading each top-level value (a conditional reads all its branches read).
        private void CollectUses()
        {
            var root = body.Builder.Root;
            for (var at = 0; at < root.Nodes.Count; at++)
            {
                var n = root.Nodes[at];
                if (!_needed.Contains(n))
                    continue;
                foreach (var arg in n.Args)
                    _lastUse[arg] = at;
                if (n.Op != Op.Condition)
                    continue;
                var pending = new Stack<Region>([n.Then!, n.Else!]);
                while (pending.TryPop(out var region))
                {
                    foreach (var value in region.Results.Concat(region.Nodes.SelectMany(inner => inner.Args)))
                        if (value.Owner == root)
                            _lastUse[value] = at;
                    foreach (var inner in region.Nodes.Where(inner => inner.Op == Op.Condition))
                    {
                        pending.Push(inner.Then!);
                        pending.Push(inner.Else!);
                    }
                }
            }
            _lastUse[body.Output] = int.MaxValue;
        }

        private void WriteRegion(Region region, List<Expression> statements)
        {
            var top = region == body.Builder.Root;
            for (var k = 0; k < region.Nodes.Count; k++)
            {
                var n = region.Nodes[k];
                if (!_needed.Contains(n) || n == body.Cached || n.Op is Op.Input or Op.Project)
                    continue;
                if (n.Op == Op.Condition)
                {
                    WriteCondition(n, region.Nodes.Skip(k + 1).TakeWhile(p => p.Op == Op.Project && p.Args[0] == n).ToList(), statements);
                    if (top)
                        ReleaseDead(n, k);
                    continue;
                }
                var value = n.Op == Op.Captured ? n.Live! : RuleTable.Of(n).Emit(Array.ConvertAll(n.Args, Read));
                if (top)
                    ReleaseDead(n, k);
                statements.Add(Expression.Assign(Define(n), value));
            }
        }

        private void WriteCondition(Node condition, List<Node> outputs, List<Expression> statements)
        {
            var homes = outputs.ConvertAll(Define);
            Expression Branch(Region region)
            {
                var branch = new List<Expression>();
                StackGuard.Run(() => WriteRegion(region, branch));
                for (var k = 0; k < outputs.Count; k++)
                    branch.Add(Expression.Assign(homes[k], Read(region.Results[outputs[k].Param])));
                branch.Add(Expression.Empty());
                return Expression.Block(typeof(void), branch);
            }
            statements.Add(Expression.IfThenElse(Read(condition.Args[0]), Branch(condition.Then!), Branch(condition.Else!)));
        }

        // After stage k of the top level has read its arguments, those it read last free their variables.
        private void ReleaseDead(Node n, int k)
        {
            foreach (var arg in n.Args.Distinct())
                if (_lastUse.GetValueOrDefault(arg, -1) == k && _values.Remove(arg, out var variable))
                    Pool(variable.Type).Push(variable);
        }

        private Stack<ParameterExpression> Pool(Type type) => _free.TryGetValue(type, out var pool) ? pool : _free[type] = new();

        private ParameterExpression Define(Node n)
        {
            var type = n.IsBool ? typeof(bool) : typeof(double);
            if (!Pool(type).TryPop(out var local))
            {
                local = Expression.Variable(type, $"e{n.Id}");
                _locals.Add(local);
            }
            _values[n] = local;
            return local;
        }

        private Expression Read(Node n)
        {
            if (n.Op == Op.Constant)
                return n.IsBool ? Expression.Constant(n.Value != 0) : Expression.Constant(n.Value);
            if (n == body.Cached)
                return elements[body.CachedArg];
            if (n.Op == Op.Input)
                return elements[n.Param];
            return _values.TryGetValue(n, out var value)
                ? value
                : throw new InvalidOperationException($"internal error: body stage {n} is read before it is computed");
        }
    }
}
