using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using ExprGrad.Rules;
using ExprGrad.Staging;

namespace ExprGrad.Import;

/// <summary>
/// The rules of users' methods (<see cref="Op.Call"/>): registered with <see cref="DerivativeRules"/>, or read from a
/// <see cref="DerivativeAttribute"/> on first use. Each is one <see cref="Rule"/> whose pullback imports the user's
/// partial-derivative lambdas into the graph being differentiated, bound to the call's arguments (and its value), so
/// a partial is ordinary staged nodes that a second sweep differentiates again.
/// </summary>
/// <remarks>
/// The tables only grow, each entry is set once (the first rule a method gets is the one it keeps), and a rule is
/// immutable: a gradient built before a registration is never changed by it. A method called inside a partial that
/// has no rule of its own is an opaque call (<see cref="Opaque"/>): it evaluates and emits, and refuses only to be
/// differentiated (a second derivative through it).
/// </remarks>
internal static class CustomRules
{
    private static readonly ConcurrentDictionary<MethodInfo, Rule> Registered = new();
    private static readonly ConcurrentDictionary<MethodInfo, Lazy<Rule?>> FromAttributes = new();
    private static readonly ConcurrentDictionary<MethodInfo, Rule> Opaques = new();
    // Rules the source generator registers for [Differentiable] methods, from their generated gradients: used only
    // where the user gave the method no rule of their own.
    private static readonly ConcurrentDictionary<MethodInfo, Rule> Generated = new();
    // Each generated partial method, to the [Differentiable] method whose gradient it reads (named when a second
    // derivative reaches it).
    private static readonly ConcurrentDictionary<MethodInfo, MethodInfo> GeneratedPartials = new();

    public static void Register(MethodInfo method, LambdaExpression[] partials)
    {
        const string Api = "DerivativeRules.Register";
        if (!IsNumeric(method))
            throw new ArgumentException($"{Api}: {Name(method)} must be a static method whose parameters (at least one) and result are double", nameof(method));
        if (Importer.IsBuiltIn(method))
            throw new InvalidOperationException($"{Api}: {Name(method)} is built into ExprGrad and has its own derivative rule");
        if (method.GetCustomAttribute<DerivativeAttribute>() is not null)
            throw new InvalidOperationException($"{Api}: {Name(method)} already has a rule, given by its [Derivative] attribute");
        var arity = method.GetParameters().Length;
        if (partials.Length != arity)
            throw new ArgumentException($"{Api}: {Name(method)} takes {arity} argument(s), so it needs {arity} partial derivative(s), one per argument; {partials.Length} were given", nameof(partials));
        for (var k = 0; k < arity; k++)
            CheckPartial(method, partials[k], k, Api);
        var rule = Build(method, partials);
        if (!Registered.TryAdd(method, rule))
            throw new InvalidOperationException($"{Api}: {Name(method)} already has a registered rule (a method keeps the first rule it is given)");
        try
        {
            // Staged once now, on a scratch graph, so that a partial ExprGrad cannot read is refused here, not at the first gradient.
            var b = new GraphBuilder();
            var args = Enumerable.Range(0, arity + 1).Select(i => b.Input(i, -1)).ToArray();
            foreach (var partial in partials)
                Importer.Inline(b, partial, args);
        }
        catch (ExprGradException e)
        {
            Registered.TryRemove(method, out _);
            throw new ArgumentException($"{Api}: a partial derivative given for {Name(method)} cannot be differentiated: {e.Message}", nameof(partials), e);
        }
    }

    /// <summary>
    /// The source generator's rule for a <c>[Differentiable]</c> method: each partial calls a generated method that
    /// runs the generated gradient and returns one component. It never replaces, and is replaced by, a rule the user
    /// gives; registering it twice keeps the first.
    /// </summary>
    public static void RegisterGenerated(MethodInfo method, LambdaExpression[] partials)
    {
        const string Api = "DerivativeRules.RegisterGenerated";
        if (!IsNumeric(method) || !method.IsDefined(typeof(DifferentiableAttribute), false))
            throw new ArgumentException($"{Api}: {Name(method)} must be a static [Differentiable] method whose parameters (at least one) and result are double", nameof(method));
        var arity = method.GetParameters().Length;
        if (partials.Length != arity)
            throw new ArgumentException($"{Api}: {Name(method)} takes {arity} argument(s); {partials.Length} partial derivative(s) were given", nameof(partials));
        for (var k = 0; k < arity; k++)
        {
            CheckPartial(method, partials[k], k, Api);
            if (partials[k].Body is MethodCallExpression { Method: var partial } && IsNumeric(partial))
                GeneratedPartials.TryAdd(partial, method);
        }
        Generated.TryAdd(method, Build(method, partials));
    }

    public static bool HasRule(MethodInfo method) => Importer.IsBuiltIn(method) || Find(method) is not null;

    /// <summary>
    /// The rule of a user's method: registered, given by its attribute, or (for a <c>[Differentiable]</c> method with
    /// neither) generated from its generated gradient; null if it has none.
    /// </summary>
    public static Rule? Find(MethodInfo method)
    {
        if (Registered.TryGetValue(method, out var rule))
            return rule;
        if (method.GetCustomAttribute<DerivativeAttribute>() is null)
            return Generated.GetValueOrDefault(method);
        return FromAttributes.GetOrAdd(method, m => new Lazy<Rule?>(() => FromAttribute(m))).Value;
    }

    /// <summary>A method without a rule, called inside a partial derivative: evaluated and emitted, not differentiated.</summary>
    public static Rule Opaque(MethodInfo method) => Opaques.GetOrAdd(method, m => new Rule
    {
        Op = Op.Call, Symbol = m.Name, Arity = m.GetParameters().Length, Method = m,
        Evaluate = Evaluator(m),
        Emit = a => Expression.Call(m, a),
        Pullback = (_, y, _, _) => throw (GeneratedPartials.TryGetValue(m, out var differentiable)
            ? new ExprGradException(
                $"cannot differentiate {Name(differentiable)} twice (at {y}): Grad.Of takes its derivative from the gradient the source " +
                $"generator wrote for it ({differentiable.Name}WithGradient), which has no derivative of its own; for second derivatives, " +
                $"write {differentiable.Name}'s body into the lambda, or give {differentiable.Name} a rule ([Derivative(nameof(...))] or DerivativeRules.Register)")
            : new ExprGradException(
            $"cannot differentiate {Name(m)} (at {y}): it is called by a partial derivative given for another method, and has no " +
            $"rule of its own, so that derivative can be taken once but not twice; give {m.Name} a rule too " +
            $"([Derivative(nameof(...))] on it, or DerivativeRules.Register), or register the other method's partials as lambdas")),
    });

    /// <summary>True for a static method from at least one double to a double: the methods a rule can be given.</summary>
    public static bool IsNumeric(MethodInfo m) =>
        m.IsStatic && m.ReturnType == typeof(double) && !m.ContainsGenericParameters && m.GetParameters() is { Length: > 0 } ps
        && Array.TrueForAll(ps, p => p.ParameterType == typeof(double));

    /// <summary>The method as a user writes it: <c>MyMath.Softplus</c>.</summary>
    public static string Name(MethodInfo m) => $"{m.DeclaringType?.Name}.{m.Name}";

    private static void CheckPartial(MethodInfo method, LambdaExpression? partial, int k, string api)
    {
        var arity = method.GetParameters().Length;
        var names = string.Join(", ", method.GetParameters().Select(p => $"double {p.Name}"));
        if (partial is null
            || partial.ReturnType != typeof(double)
            || (partial.Parameters.Count != arity && partial.Parameters.Count != arity + 1)
            || partial.Parameters.Any(p => p.Type != typeof(double) || p.IsByRef))
            throw new ArgumentException(
                $"{api}: partial derivative {k + 1} of {Name(method)} ({Describe(partial)}) must be a lambda returning double that takes " +
                $"the method's arguments ({names}), or those and the method's value after them", "partials");
    }

    private static string Describe(LambdaExpression? partial) =>
        partial is null ? "null" : $"({string.Join(", ", partial.Parameters.Select(p => $"{Errors.TypeName(p.Type)} {p.Name}"))}) => {Errors.TypeName(partial.ReturnType)}";

    // [Derivative(nameof(dfdx), ...)]: each name a static method of the same type, taking the arguments (and
    // optionally the value) and returning double, called as it is (an opaque call unless it has a rule too).
    private static Rule? FromAttribute(MethodInfo method)
    {
        var attribute = method.GetCustomAttribute<DerivativeAttribute>()!;
        var where = $"[Derivative] on {Name(method)}";
        if (!IsNumeric(method))
            throw new ExprGradException($"{where}: the method must be static, with parameters (at least one) and result of type double");
        var arity = method.GetParameters().Length;
        if (attribute.Partials.Count != arity)
            throw new ExprGradException($"{where}: the method takes {arity} argument(s), so the attribute must name {arity} partial-derivative method(s), one per argument; it names {attribute.Partials.Count}");
        var partials = new LambdaExpression[arity];
        for (var k = 0; k < arity; k++)
        {
            var name = attribute.Partials[k];
            var candidates = method.DeclaringType!.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                .Where(m => m.Name == name && IsNumeric(m) && m.GetParameters().Length is var n && (n == arity || n == arity + 1))
                .OrderBy(m => m.GetParameters().Length)
                .ToList();
            if (candidates.Count == 0)
                throw new ExprGradException(
                    $"{where}: '{name}' must be a static method of {method.DeclaringType.Name} returning double and taking the method's {arity} " +
                    $"double argument(s), or those and the method's value after them");
            var partial = candidates[0];
            var parameters = partial.GetParameters().Select(p => Expression.Parameter(typeof(double), p.Name)).ToArray();
            partials[k] = Expression.Lambda(Expression.Call(partial, parameters), parameters);
        }
        return Build(method, partials);
    }

    private static Rule Build(MethodInfo method, LambdaExpression[] partials) => new()
    {
        Op = Op.Call, Symbol = method.Name, Arity = partials.Length, Method = method,
        Evaluate = Evaluator(method),
        Emit = a => Expression.Call(method, a),
        Pullback = (b, y, yBar, x) =>
        {
            // The chain rule's product with ȳ is the only arithmetic here: each partial is the user's, staged as written.
            Node[] args = [.. y.Args, y];
            for (var k = 0; k < partials.Length; k++)
                if (!y.Args[k].IsPassive)
                    x[k] = b.Multiply(yBar, Importer.Inline(b, partials[k], args));
        },
    };

    // Constant folding and the reference interpreter call the method itself, compiled once on first use.
    private static Func<double[], double> Evaluator(MethodInfo method)
    {
        var compiled = new Lazy<Func<double[], double>>(() =>
        {
            var a = Expression.Parameter(typeof(double[]), "a");
            var args = method.GetParameters().Select((_, i) => (Expression)Expression.ArrayIndex(a, Expression.Constant(i)));
            return Expression.Lambda<Func<double[], double>>(Expression.Call(method, args), a).Compile();
        });
        return a => compiled.Value(a);
    }
}

/// <summary>
/// How the source generator hands the engine a call of a <c>[Derivative]</c> method it knows only from source: a call
/// of one of these markers, with the method's C# name and its partials' as constants. The importer stages it as an
/// <see cref="Op.Call"/> whose rule prints those names (<see cref="Rule.CallText"/>); nothing evaluates it.
/// </summary>
internal static class SourceCalls
{
    /// <summary>The marker for a one-argument method. <paramref name="partials"/> is <c>name/arity;...</c>, one per argument.</summary>
    public static double Call(string function, string partials, double a0) => throw Unreachable();

    /// <summary>The marker for a two-argument method.</summary>
    public static double Call(string function, string partials, double a0, double a1) => throw Unreachable();

    /// <summary>The marker for a three-argument method.</summary>
    public static double Call(string function, string partials, double a0, double a1, double a2) => throw Unreachable();

    /// <summary>The marker for a four-argument method.</summary>
    public static double Call(string function, string partials, double a0, double a1, double a2, double a3) => throw Unreachable();

    /// <summary>The most arguments a marker takes.</summary>
    public const int MaxArguments = 4;

    private static InvalidOperationException Unreachable() => new("a source-call marker is staged, never run");

    private static readonly ConcurrentDictionary<(string, string), Rule> Rules = new();

    /// <summary>The rule of a marker call: the pullback calls each partial (with the value after the arguments if it takes it).</summary>
    public static Rule RuleOf(string function, string partials, int arity) => Rules.GetOrAdd((function, partials), key =>
    {
        var specs = key.Item2.Split(';').Select(spec => spec.Split('/')).Select(p => (Text: p[0], Arity: int.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture))).ToArray();
        var partialRules = specs.Select(p => Printed(p.Text, p.Arity, pullback: (_, y, _, _) => throw new ExprGradException(
            $"cannot differentiate {p.Text} (at {y}): it is the partial derivative a [Derivative] attribute names, and the source generator " +
            "differentiates through it once, not twice"))).ToArray();
        return Printed(key.Item1, arity, (b, y, yBar, x) =>
        {
            for (var k = 0; k < arity; k++)
                if (!y.Args[k].IsPassive)
                    x[k] = b.Multiply(yBar, b.Call(partialRules[k], specs[k].Arity == arity ? y.Args : [.. y.Args, y]));
        });
    });

    private static Rule Printed(string text, int arity, Pullback pullback) => new()
    {
        Op = Op.Call, Symbol = text[(text.LastIndexOf('.') + 1)..], Arity = arity, CallText = text, Pullback = pullback,
        Evaluate = _ => throw Unreachable(),
        Emit = _ => throw Unreachable(),
    };
}
