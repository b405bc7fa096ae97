// Arities 1..8, written out: they differ only in the count of parameters.
using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using ExprGrad.Emit;
using ExprGrad.Notebook;
using ExprGrad.Staging;

namespace ExprGrad;

/// <summary>The compiled gradient of a function of 1 parameter, each <c>double</c> or <c>double[]</c>.</summary>
/// <typeparam name="T1">The type of parameter 1: <c>double</c> or <c>double[]</c>.</typeparam>
public sealed class Gradient<T1> : Gradient
{
    private readonly TypedKernel<T1>? _typed;

    internal Gradient(StagedGraph graph, LambdaExpression? typedExpression, Delegate? typed, Kernel? kernel)
        : base(graph, typedExpression, kernel) => _typed = (TypedKernel<T1>?)typed;

    /// <summary>Evaluates the function and its gradient at a point: one gradient per parameter, shaped like it.</summary>
    /// <param name="a1">Parameter 1.</param>
    /// <returns>The value and the gradient, deconstructible as <c>var (value, d1) = ...</c>.</returns>
    public ValueAndGradient<T1> Evaluate(T1 a1)
    {
        if (_typed is { } typed)
        {
            Check(0, a1);
            var value = typed(a1, out var d1);
            return new(value, d1, NameList);
        }
        return EvaluateSplit(a1);
    }

    /// <summary>
    /// The Hessian-vector product H·v at a point, without forming H: the gradient of ∇f·v, staged from the gradient's own
    /// stages (reverse over reverse) and compiled once, on first use, at a small constant times one gradient's cost.
    /// Vector and matrix parameters included: the product of a network's loss with respect to its weight matrices is
    /// again matrix products.
    /// </summary>
    /// <param name="a1">Parameter 1 of the point.</param>
    /// <param name="v1">The direction's part for parameter 1, shaped like it.</param>
    /// <returns>H·v, shaped like the parameter.</returns>
    /// <exception cref="ArgumentException">A part of the direction is not shaped like its parameter.</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public T1 HessianVectorProduct(T1 a1, T1 v1)
    {
        CheckDirection(0, a1, v1);
        TypedHessianVectorProduct<HessianVectorKernel<T1>>()(a1, v1, out var h1);
        return h1;
    }

    // Too large for one method: through the flat, split kernel. Kept apart so that Evaluate stays small enough to inline.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueAndGradient<T1> EvaluateSplit(T1 a1)
    {
        var work = Begin();
        Pack(work, 0, a1);
        var value = Run(work);
        var result = new ValueAndGradient<T1>(value, Unpack(work, 0, a1), NameList);
        End(work);
        return result;
    }
}

/// <summary>A function's value and its gradient with respect to each of its 1 parameter.</summary>
/// <typeparam name="T1">The type of parameter 1 and of its gradient.</typeparam>
/// <param name="Value">The function's value.</param>
/// <param name="D1">The gradient with respect to parameter 1, shaped like it.</param>
[TypeFormatterSource(typeof(ValueAndGradientFormatterSource), PreferredMimeTypes = ["text/html", "text/plain"])]
public readonly record struct ValueAndGradient<T1>(double Value, T1 D1) : IValueAndGradient
{
    // The number of the parameters' names in ParameterNameLists: an int, so that Evaluate pays one plain store.
    private readonly int _names;

    // What Evaluate calls: the names come as their number.
    internal ValueAndGradient(double value, T1 d1, int names) : this(value, d1) => _names = names;

    /// <summary>
    /// The parameters' names in order (<c>x</c>, <c>y</c>, ...), set by <c>Evaluate</c> so that the result shows by name;
    /// null for a result built by hand (unless set here). For display only: it takes no part in equality.
    /// </summary>
    public IReadOnlyList<string>? ParameterNames
    {
        get => ParameterNameLists.Get(_names);
        init => _names = ParameterNameLists.Intern(value);
    }

    object?[] IValueAndGradient.Gradients => [D1];

    /// <summary>Equal values and equal gradients (arrays by reference, as before); the names are not compared.</summary>
    /// <param name="other">The result to compare with.</param>
    public bool Equals(ValueAndGradient<T1> other) =>
        EqualityComparer<double>.Default.Equals(Value, other.Value)
        && EqualityComparer<T1>.Default.Equals(D1, other.D1);

    /// <summary>A hash of the value and the gradients, consistent with <see cref="Equals(ValueAndGradient{T1})"/>.</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Value);
        hash.Add(D1);
        return hash.ToHashCode();
    }

    /// <summary>The parts by parameter name: <c>f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3</c> (<c>Value = ..., D1 = ...</c> without names).</summary>
    public override string ToString() => ValueAndGradientDisplay.Text(this);
}

/// <summary>The compiled gradient of a function of 2 parameters, each <c>double</c> or <c>double[]</c>.</summary>
/// <typeparam name="T1">The type of parameter 1: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T2">The type of parameter 2: <c>double</c> or <c>double[]</c>.</typeparam>
public sealed class Gradient<T1, T2> : Gradient
{
    private readonly TypedKernel<T1, T2>? _typed;

    internal Gradient(StagedGraph graph, LambdaExpression? typedExpression, Delegate? typed, Kernel? kernel)
        : base(graph, typedExpression, kernel) => _typed = (TypedKernel<T1, T2>?)typed;

    /// <summary>Evaluates the function and its gradient at a point: one gradient per parameter, shaped like it.</summary>
    /// <param name="a1">Parameter 1.</param>
    /// <param name="a2">Parameter 2.</param>
    /// <returns>The value and the gradient, deconstructible as <c>var (value, d1, d2) = ...</c>.</returns>
    public ValueAndGradient<T1, T2> Evaluate(T1 a1, T2 a2)
    {
        if (_typed is { } typed)
        {
            Check(0, a1);
            Check(1, a2);
            var value = typed(a1, a2, out var d1, out var d2);
            return new(value, d1, d2, NameList);
        }
        return EvaluateSplit(a1, a2);
    }

    /// <summary>
    /// The Hessian-vector product H·v at a point, without forming H: the gradient of ∇f·v, staged from the gradient's own
    /// stages (reverse over reverse) and compiled once, on first use, at a small constant times one gradient's cost.
    /// Vector and matrix parameters included: the product of a network's loss with respect to its weight matrices is
    /// again matrix products.
    /// </summary>
    /// <param name="a1">Parameter 1 of the point.</param>
    /// <param name="a2">Parameter 2 of the point.</param>
    /// <param name="v1">The direction's part for parameter 1, shaped like it.</param>
    /// <param name="v2">The direction's part for parameter 2, shaped like it.</param>
    /// <returns>H·v, one part per parameter, shaped like it: deconstructible as <c>var (h1, h2) = ...</c>.</returns>
    /// <exception cref="ArgumentException">A part of the direction is not shaped like its parameter.</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public (T1 H1, T2 H2) HessianVectorProduct(T1 a1, T2 a2, T1 v1, T2 v2)
    {
        CheckDirection(0, a1, v1);
        CheckDirection(1, a2, v2);
        TypedHessianVectorProduct<HessianVectorKernel<T1, T2>>()(a1, a2, v1, v2, out var h1, out var h2);
        return (h1, h2);
    }

    // Too large for one method: through the flat, split kernel. Kept apart so that Evaluate stays small enough to inline.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueAndGradient<T1, T2> EvaluateSplit(T1 a1, T2 a2)
    {
        var work = Begin();
        Pack(work, 0, a1);
        Pack(work, 1, a2);
        var value = Run(work);
        var result = new ValueAndGradient<T1, T2>(value, Unpack(work, 0, a1), Unpack(work, 1, a2), NameList);
        End(work);
        return result;
    }
}

/// <summary>A function's value and its gradient with respect to each of its 2 parameters.</summary>
/// <typeparam name="T1">The type of parameter 1 and of its gradient.</typeparam>
/// <typeparam name="T2">The type of parameter 2 and of its gradient.</typeparam>
/// <param name="Value">The function's value.</param>
/// <param name="D1">The gradient with respect to parameter 1, shaped like it.</param>
/// <param name="D2">The gradient with respect to parameter 2, shaped like it.</param>
[TypeFormatterSource(typeof(ValueAndGradientFormatterSource), PreferredMimeTypes = ["text/html", "text/plain"])]
public readonly record struct ValueAndGradient<T1, T2>(double Value, T1 D1, T2 D2) : IValueAndGradient
{
    // The number of the parameters' names in ParameterNameLists: an int, so that Evaluate pays one plain store.
    private readonly int _names;

    // What Evaluate calls: the names come as their number.
    internal ValueAndGradient(double value, T1 d1, T2 d2, int names) : this(value, d1, d2) => _names = names;

    /// <summary>
    /// The parameters' names in order (<c>x</c>, <c>y</c>, ...), set by <c>Evaluate</c> so that the result shows by name;
    /// null for a result built by hand (unless set here). For display only: it takes no part in equality.
    /// </summary>
    public IReadOnlyList<string>? ParameterNames
    {
        get => ParameterNameLists.Get(_names);
        init => _names = ParameterNameLists.Intern(value);
    }

    object?[] IValueAndGradient.Gradients => [D1, D2];

    /// <summary>Equal values and equal gradients (arrays by reference, as before); the names are not compared.</summary>
    /// <param name="other">The result to compare with.</param>
    public bool Equals(ValueAndGradient<T1, T2> other) =>
        EqualityComparer<double>.Default.Equals(Value, other.Value)
        && EqualityComparer<T1>.Default.Equals(D1, other.D1)
        && EqualityComparer<T2>.Default.Equals(D2, other.D2);

    /// <summary>A hash of the value and the gradients, consistent with <see cref="Equals(ValueAndGradient{T1, T2})"/>.</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Value);
        hash.Add(D1);
        hash.Add(D2);
        return hash.ToHashCode();
    }

    /// <summary>The parts by parameter name: <c>f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3</c> (<c>Value = ..., D1 = ...</c> without names).</summary>
    public override string ToString() => ValueAndGradientDisplay.Text(this);
}

/// <summary>The compiled gradient of a function of 3 parameters, each <c>double</c> or <c>double[]</c>.</summary>
/// <typeparam name="T1">The type of parameter 1: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T2">The type of parameter 2: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T3">The type of parameter 3: <c>double</c> or <c>double[]</c>.</typeparam>
public sealed class Gradient<T1, T2, T3> : Gradient
{
    private readonly TypedKernel<T1, T2, T3>? _typed;

    internal Gradient(StagedGraph graph, LambdaExpression? typedExpression, Delegate? typed, Kernel? kernel)
        : base(graph, typedExpression, kernel) => _typed = (TypedKernel<T1, T2, T3>?)typed;

    /// <summary>Evaluates the function and its gradient at a point: one gradient per parameter, shaped like it.</summary>
    /// <param name="a1">Parameter 1.</param>
    /// <param name="a2">Parameter 2.</param>
    /// <param name="a3">Parameter 3.</param>
    /// <returns>The value and the gradient, deconstructible as <c>var (value, d1, d2, d3) = ...</c>.</returns>
    public ValueAndGradient<T1, T2, T3> Evaluate(T1 a1, T2 a2, T3 a3)
    {
        if (_typed is { } typed)
        {
            Check(0, a1);
            Check(1, a2);
            Check(2, a3);
            var value = typed(a1, a2, a3, out var d1, out var d2, out var d3);
            return new(value, d1, d2, d3, NameList);
        }
        return EvaluateSplit(a1, a2, a3);
    }

    /// <summary>
    /// The Hessian-vector product H·v at a point, without forming H: the gradient of ∇f·v, staged from the gradient's own
    /// stages (reverse over reverse) and compiled once, on first use, at a small constant times one gradient's cost.
    /// Vector and matrix parameters included: the product of a network's loss with respect to its weight matrices is
    /// again matrix products.
    /// </summary>
    /// <param name="a1">Parameter 1 of the point.</param>
    /// <param name="a2">Parameter 2 of the point.</param>
    /// <param name="a3">Parameter 3 of the point.</param>
    /// <param name="v1">The direction's part for parameter 1, shaped like it.</param>
    /// <param name="v2">The direction's part for parameter 2, shaped like it.</param>
    /// <param name="v3">The direction's part for parameter 3, shaped like it.</param>
    /// <returns>H·v, one part per parameter, shaped like it: deconstructible as <c>var (h1, h2, h3) = ...</c>.</returns>
    /// <exception cref="ArgumentException">A part of the direction is not shaped like its parameter.</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public (T1 H1, T2 H2, T3 H3) HessianVectorProduct(T1 a1, T2 a2, T3 a3, T1 v1, T2 v2, T3 v3)
    {
        CheckDirection(0, a1, v1);
        CheckDirection(1, a2, v2);
        CheckDirection(2, a3, v3);
        TypedHessianVectorProduct<HessianVectorKernel<T1, T2, T3>>()(a1, a2, a3, v1, v2, v3, out var h1, out var h2, out var h3);
        return (h1, h2, h3);
    }

    // Too large for one method: through the flat, split kernel. Kept apart so that Evaluate stays small enough to inline.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueAndGradient<T1, T2, T3> EvaluateSplit(T1 a1, T2 a2, T3 a3)
    {
        var work = Begin();
        Pack(work, 0, a1);
        Pack(work, 1, a2);
        Pack(work, 2, a3);
        var value = Run(work);
        var result = new ValueAndGradient<T1, T2, T3>(value, Unpack(work, 0, a1), Unpack(work, 1, a2), Unpack(work, 2, a3), NameList);
        End(work);
        return result;
    }
}

/// <summary>A function's value and its gradient with respect to each of its 3 parameters.</summary>
/// <typeparam name="T1">The type of parameter 1 and of its gradient.</typeparam>
/// <typeparam name="T2">The type of parameter 2 and of its gradient.</typeparam>
/// <typeparam name="T3">The type of parameter 3 and of its gradient.</typeparam>
/// <param name="Value">The function's value.</param>
/// <param name="D1">The gradient with respect to parameter 1, shaped like it.</param>
/// <param name="D2">The gradient with respect to parameter 2, shaped like it.</param>
/// <param name="D3">The gradient with respect to parameter 3, shaped like it.</param>
[TypeFormatterSource(typeof(ValueAndGradientFormatterSource), PreferredMimeTypes = ["text/html", "text/plain"])]
public readonly record struct ValueAndGradient<T1, T2, T3>(double Value, T1 D1, T2 D2, T3 D3) : IValueAndGradient
{
    // The number of the parameters' names in ParameterNameLists: an int, so that Evaluate pays one plain store.
    private readonly int _names;

    // What Evaluate calls: the names come as their number.
    internal ValueAndGradient(double value, T1 d1, T2 d2, T3 d3, int names) : this(value, d1, d2, d3) => _names = names;

    /// <summary>
    /// The parameters' names in order (<c>x</c>, <c>y</c>, ...), set by <c>Evaluate</c> so that the result shows by name;
    /// null for a result built by hand (unless set here). For display only: it takes no part in equality.
    /// </summary>
    public IReadOnlyList<string>? ParameterNames
    {
        get => ParameterNameLists.Get(_names);
        init => _names = ParameterNameLists.Intern(value);
    }

    object?[] IValueAndGradient.Gradients => [D1, D2, D3];

    /// <summary>Equal values and equal gradients (arrays by reference, as before); the names are not compared.</summary>
    /// <param name="other">The result to compare with.</param>
    public bool Equals(ValueAndGradient<T1, T2, T3> other) =>
        EqualityComparer<double>.Default.Equals(Value, other.Value)
        && EqualityComparer<T1>.Default.Equals(D1, other.D1)
        && EqualityComparer<T2>.Default.Equals(D2, other.D2)
        && EqualityComparer<T3>.Default.Equals(D3, other.D3);

    /// <summary>A hash of the value and the gradients, consistent with <see cref="Equals(ValueAndGradient{T1, T2, T3})"/>.</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Value);
        hash.Add(D1);
        hash.Add(D2);
        hash.Add(D3);
        return hash.ToHashCode();
    }

    /// <summary>The parts by parameter name: <c>f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3</c> (<c>Value = ..., D1 = ...</c> without names).</summary>
    public override string ToString() => ValueAndGradientDisplay.Text(this);
}

/// <summary>The compiled gradient of a function of 4 parameters, each <c>double</c> or <c>double[]</c>.</summary>
/// <typeparam name="T1">The type of parameter 1: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T2">The type of parameter 2: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T3">The type of parameter 3: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T4">The type of parameter 4: <c>double</c> or <c>double[]</c>.</typeparam>
public sealed class Gradient<T1, T2, T3, T4> : Gradient
{
    private readonly TypedKernel<T1, T2, T3, T4>? _typed;

    internal Gradient(StagedGraph graph, LambdaExpression? typedExpression, Delegate? typed, Kernel? kernel)
        : base(graph, typedExpression, kernel) => _typed = (TypedKernel<T1, T2, T3, T4>?)typed;

    /// <summary>Evaluates the function and its gradient at a point: one gradient per parameter, shaped like it.</summary>
    /// <param name="a1">Parameter 1.</param>
    /// <param name="a2">Parameter 2.</param>
    /// <param name="a3">Parameter 3.</param>
    /// <param name="a4">Parameter 4.</param>
    /// <returns>The value and the gradient, deconstructible as <c>var (value, d1, d2, d3, d4) = ...</c>.</returns>
    public ValueAndGradient<T1, T2, T3, T4> Evaluate(T1 a1, T2 a2, T3 a3, T4 a4)
    {
        if (_typed is { } typed)
        {
            Check(0, a1);
            Check(1, a2);
            Check(2, a3);
            Check(3, a4);
            var value = typed(a1, a2, a3, a4, out var d1, out var d2, out var d3, out var d4);
            return new(value, d1, d2, d3, d4, NameList);
        }
        return EvaluateSplit(a1, a2, a3, a4);
    }

    /// <summary>
    /// The Hessian-vector product H·v at a point, without forming H: the gradient of ∇f·v, staged from the gradient's own
    /// stages (reverse over reverse) and compiled once, on first use, at a small constant times one gradient's cost.
    /// Vector and matrix parameters included: the product of a network's loss with respect to its weight matrices is
    /// again matrix products.
    /// </summary>
    /// <param name="a1">Parameter 1 of the point.</param>
    /// <param name="a2">Parameter 2 of the point.</param>
    /// <param name="a3">Parameter 3 of the point.</param>
    /// <param name="a4">Parameter 4 of the point.</param>
    /// <param name="v1">The direction's part for parameter 1, shaped like it.</param>
    /// <param name="v2">The direction's part for parameter 2, shaped like it.</param>
    /// <param name="v3">The direction's part for parameter 3, shaped like it.</param>
    /// <param name="v4">The direction's part for parameter 4, shaped like it.</param>
    /// <returns>H·v, one part per parameter, shaped like it: deconstructible as <c>var (h1, h2, h3, h4) = ...</c>.</returns>
    /// <exception cref="ArgumentException">A part of the direction is not shaped like its parameter.</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public (T1 H1, T2 H2, T3 H3, T4 H4) HessianVectorProduct(T1 a1, T2 a2, T3 a3, T4 a4, T1 v1, T2 v2, T3 v3, T4 v4)
    {
        CheckDirection(0, a1, v1);
        CheckDirection(1, a2, v2);
        CheckDirection(2, a3, v3);
        CheckDirection(3, a4, v4);
        TypedHessianVectorProduct<HessianVectorKernel<T1, T2, T3, T4>>()(a1, a2, a3, a4, v1, v2, v3, v4, out var h1, out var h2, out var h3, out var h4);
        return (h1, h2, h3, h4);
    }

    // Too large for one method: through the flat, split kernel. Kept apart so that Evaluate stays small enough to inline.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueAndGradient<T1, T2, T3, T4> EvaluateSplit(T1 a1, T2 a2, T3 a3, T4 a4)
    {
        var work = Begin();
        Pack(work, 0, a1);
        Pack(work, 1, a2);
        Pack(work, 2, a3);
        Pack(work, 3, a4);
        var value = Run(work);
        var result = new ValueAndGradient<T1, T2, T3, T4>(value, Unpack(work, 0, a1), Unpack(work, 1, a2), Unpack(work, 2, a3), Unpack(work, 3, a4), NameList);
        End(work);
        return result;
    }
}

/// <summary>A function's value and its gradient with respect to each of its 4 parameters.</summary>
/// <typeparam name="T1">The type of parameter 1 and of its gradient.</typeparam>
/// <typeparam name="T2">The type of parameter 2 and of its gradient.</typeparam>
/// <typeparam name="T3">The type of parameter 3 and of its gradient.</typeparam>
/// <typeparam name="T4">The type of parameter 4 and of its gradient.</typeparam>
/// <param name="Value">The function's value.</param>
/// <param name="D1">The gradient with respect to parameter 1, shaped like it.</param>
/// <param name="D2">The gradient with respect to parameter 2, shaped like it.</param>
/// <param name="D3">The gradient with respect to parameter 3, shaped like it.</param>
/// <param name="D4">The gradient with respect to parameter 4, shaped like it.</param>
[TypeFormatterSource(typeof(ValueAndGradientFormatterSource), PreferredMimeTypes = ["text/html", "text/plain"])]
public readonly record struct ValueAndGradient<T1, T2, T3, T4>(double Value, T1 D1, T2 D2, T3 D3, T4 D4) : IValueAndGradient
{
    // The number of the parameters' names in ParameterNameLists: an int, so that Evaluate pays one plain store.
    private readonly int _names;

    // What Evaluate calls: the names come as their number.
    internal ValueAndGradient(double value, T1 d1, T2 d2, T3 d3, T4 d4, int names) : this(value, d1, d2, d3, d4) => _names = names;

    /// <summary>
    /// The parameters' names in order (<c>x</c>, <c>y</c>, ...), set by <c>Evaluate</c> so that the result shows by name;
    /// null for a result built by hand (unless set here). For display only: it takes no part in equality.
    /// </summary>
    public IReadOnlyList<string>? ParameterNames
    {
        get => ParameterNameLists.Get(_names);
        init => _names = ParameterNameLists.Intern(value);
    }

    object?[] IValueAndGradient.Gradients => [D1, D2, D3, D4];

    /// <summary>Equal values and equal gradients (arrays by reference, as before); the names are not compared.</summary>
    /// <param name="other">The result to compare with.</param>
    public bool Equals(ValueAndGradient<T1, T2, T3, T4> other) =>
        EqualityComparer<double>.Default.Equals(Value, other.Value)
        && EqualityComparer<T1>.Default.Equals(D1, other.D1)
        && EqualityComparer<T2>.Default.Equals(D2, other.D2)
        && EqualityComparer<T3>.Default.Equals(D3, other.D3)
        && EqualityComparer<T4>.Default.Equals(D4, other.D4);

    /// <summary>A hash of the value and the gradients, consistent with <see cref="Equals(ValueAndGradient{T1, T2, T3, T4})"/>.</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Value);
        hash.Add(D1);
        hash.Add(D2);
        hash.Add(D3);
        hash.Add(D4);
        return hash.ToHashCode();
    }

    /// <summary>The parts by parameter name: <c>f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3</c> (<c>Value = ..., D1 = ...</c> without names).</summary>
    public override string ToString() => ValueAndGradientDisplay.Text(this);
}

/// <summary>The compiled gradient of a function of 5 parameters, each <c>double</c> or <c>double[]</c>.</summary>
/// <typeparam name="T1">The type of parameter 1: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T2">The type of parameter 2: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T3">The type of parameter 3: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T4">The type of parameter 4: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T5">The type of parameter 5: <c>double</c> or <c>double[]</c>.</typeparam>
public sealed class Gradient<T1, T2, T3, T4, T5> : Gradient
{
    private readonly TypedKernel<T1, T2, T3, T4, T5>? _typed;

    internal Gradient(StagedGraph graph, LambdaExpression? typedExpression, Delegate? typed, Kernel? kernel)
        : base(graph, typedExpression, kernel) => _typed = (TypedKernel<T1, T2, T3, T4, T5>?)typed;

    /// <summary>Evaluates the function and its gradient at a point: one gradient per parameter, shaped like it.</summary>
    /// <param name="a1">Parameter 1.</param>
    /// <param name="a2">Parameter 2.</param>
    /// <param name="a3">Parameter 3.</param>
    /// <param name="a4">Parameter 4.</param>
    /// <param name="a5">Parameter 5.</param>
    /// <returns>The value and the gradient, deconstructible as <c>var (value, d1, d2, d3, d4, d5) = ...</c>.</returns>
    public ValueAndGradient<T1, T2, T3, T4, T5> Evaluate(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5)
    {
        if (_typed is { } typed)
        {
            Check(0, a1);
            Check(1, a2);
            Check(2, a3);
            Check(3, a4);
            Check(4, a5);
            var value = typed(a1, a2, a3, a4, a5, out var d1, out var d2, out var d3, out var d4, out var d5);
            return new(value, d1, d2, d3, d4, d5, NameList);
        }
        return EvaluateSplit(a1, a2, a3, a4, a5);
    }

    /// <summary>
    /// The Hessian-vector product H·v at a point, without forming H: the gradient of ∇f·v, staged from the gradient's own
    /// stages (reverse over reverse) and compiled once, on first use, at a small constant times one gradient's cost.
    /// Vector and matrix parameters included: the product of a network's loss with respect to its weight matrices is
    /// again matrix products.
    /// </summary>
    /// <param name="a1">Parameter 1 of the point.</param>
    /// <param name="a2">Parameter 2 of the point.</param>
    /// <param name="a3">Parameter 3 of the point.</param>
    /// <param name="a4">Parameter 4 of the point.</param>
    /// <param name="a5">Parameter 5 of the point.</param>
    /// <param name="v1">The direction's part for parameter 1, shaped like it.</param>
    /// <param name="v2">The direction's part for parameter 2, shaped like it.</param>
    /// <param name="v3">The direction's part for parameter 3, shaped like it.</param>
    /// <param name="v4">The direction's part for parameter 4, shaped like it.</param>
    /// <param name="v5">The direction's part for parameter 5, shaped like it.</param>
    /// <returns>H·v, one part per parameter, shaped like it: deconstructible as <c>var (h1, h2, h3, h4, h5) = ...</c>.</returns>
    /// <exception cref="ArgumentException">A part of the direction is not shaped like its parameter.</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public (T1 H1, T2 H2, T3 H3, T4 H4, T5 H5) HessianVectorProduct(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T1 v1, T2 v2, T3 v3, T4 v4, T5 v5)
    {
        CheckDirection(0, a1, v1);
        CheckDirection(1, a2, v2);
        CheckDirection(2, a3, v3);
        CheckDirection(3, a4, v4);
        CheckDirection(4, a5, v5);
        TypedHessianVectorProduct<HessianVectorKernel<T1, T2, T3, T4, T5>>()(a1, a2, a3, a4, a5, v1, v2, v3, v4, v5, out var h1, out var h2, out var h3, out var h4, out var h5);
        return (h1, h2, h3, h4, h5);
    }

    // Too large for one method: through the flat, split kernel. Kept apart so that Evaluate stays small enough to inline.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueAndGradient<T1, T2, T3, T4, T5> EvaluateSplit(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5)
    {
        var work = Begin();
        Pack(work, 0, a1);
        Pack(work, 1, a2);
        Pack(work, 2, a3);
        Pack(work, 3, a4);
        Pack(work, 4, a5);
        var value = Run(work);
        var result = new ValueAndGradient<T1, T2, T3, T4, T5>(value, Unpack(work, 0, a1), Unpack(work, 1, a2), Unpack(work, 2, a3), Unpack(work, 3, a4), Unpack(work, 4, a5), NameList);
        End(work);
        return result;
    }
}

/// <summary>A function's value and its gradient with respect to each of its 5 parameters.</summary>
/// <typeparam name="T1">The type of parameter 1 and of its gradient.</typeparam>
/// <typeparam name="T2">The type of parameter 2 and of its gradient.</typeparam>
/// <typeparam name="T3">The type of parameter 3 and of its gradient.</typeparam>
/// <typeparam name="T4">The type of parameter 4 and of its gradient.</typeparam>
/// <typeparam name="T5">The type of parameter 5 and of its gradient.</typeparam>
/// <param name="Value">The function's value.</param>
/// <param name="D1">The gradient with respect to parameter 1, shaped like it.</param>
/// <param name="D2">The gradient with respect to parameter 2, shaped like it.</param>
/// <param name="D3">The gradient with respect to parameter 3, shaped like it.</param>
/// <param name="D4">The gradient with respect to parameter 4, shaped like it.</param>
/// <param name="D5">The gradient with respect to parameter 5, shaped like it.</param>
[TypeFormatterSource(typeof(ValueAndGradientFormatterSource), PreferredMimeTypes = ["text/html", "text/plain"])]
public readonly record struct ValueAndGradient<T1, T2, T3, T4, T5>(double Value, T1 D1, T2 D2, T3 D3, T4 D4, T5 D5) : IValueAndGradient
{
    // The number of the parameters' names in ParameterNameLists: an int, so that Evaluate pays one plain store.
    private readonly int _names;

    // What Evaluate calls: the names come as their number.
    internal ValueAndGradient(double value, T1 d1, T2 d2, T3 d3, T4 d4, T5 d5, int names) : this(value, d1, d2, d3, d4, d5) => _names = names;

    /// <summary>
    /// The parameters' names in order (<c>x</c>, <c>y</c>, ...), set by <c>Evaluate</c> so that the result shows by name;
    /// null for a result built by hand (unless set here). For display only: it takes no part in equality.
    /// </summary>
    public IReadOnlyList<string>? ParameterNames
    {
        get => ParameterNameLists.Get(_names);
        init => _names = ParameterNameLists.Intern(value);
    }

    object?[] IValueAndGradient.Gradients => [D1, D2, D3, D4, D5];

    /// <summary>Equal values and equal gradients (arrays by reference, as before); the names are not compared.</summary>
    /// <param name="other">The result to compare with.</param>
    public bool Equals(ValueAndGradient<T1, T2, T3, T4, T5> other) =>
        EqualityComparer<double>.Default.Equals(Value, other.Value)
        && EqualityComparer<T1>.Default.Equals(D1, other.D1)
        && EqualityComparer<T2>.Default.Equals(D2, other.D2)
        && EqualityComparer<T3>.Default.Equals(D3, other.D3)
        && EqualityComparer<T4>.Default.Equals(D4, other.D4)
        && EqualityComparer<T5>.Default.Equals(D5, other.D5);

    /// <summary>A hash of the value and the gradients, consistent with <see cref="Equals(ValueAndGradient{T1, T2, T3, T4, T5})"/>.</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Value);
        hash.Add(D1);
        hash.Add(D2);
        hash.Add(D3);
        hash.Add(D4);
        hash.Add(D5);
        return hash.ToHashCode();
    }

    /// <summary>The parts by parameter name: <c>f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3</c> (<c>Value = ..., D1 = ...</c> without names).</summary>
    public override string ToString() => ValueAndGradientDisplay.Text(this);
}

/// <summary>The compiled gradient of a function of 6 parameters, each <c>double</c> or <c>double[]</c>.</summary>
/// <typeparam name="T1">The type of parameter 1: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T2">The type of parameter 2: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T3">The type of parameter 3: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T4">The type of parameter 4: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T5">The type of parameter 5: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T6">The type of parameter 6: <c>double</c> or <c>double[]</c>.</typeparam>
public sealed class Gradient<T1, T2, T3, T4, T5, T6> : Gradient
{
    private readonly TypedKernel<T1, T2, T3, T4, T5, T6>? _typed;

    internal Gradient(StagedGraph graph, LambdaExpression? typedExpression, Delegate? typed, Kernel? kernel)
        : base(graph, typedExpression, kernel) => _typed = (TypedKernel<T1, T2, T3, T4, T5, T6>?)typed;

    /// <summary>Evaluates the function and its gradient at a point: one gradient per parameter, shaped like it.</summary>
    /// <param name="a1">Parameter 1.</param>
    /// <param name="a2">Parameter 2.</param>
    /// <param name="a3">Parameter 3.</param>
    /// <param name="a4">Parameter 4.</param>
    /// <param name="a5">Parameter 5.</param>
    /// <param name="a6">Parameter 6.</param>
    /// <returns>The value and the gradient, deconstructible as <c>var (value, d1, d2, d3, d4, d5, d6) = ...</c>.</returns>
    public ValueAndGradient<T1, T2, T3, T4, T5, T6> Evaluate(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6)
    {
        if (_typed is { } typed)
        {
            Check(0, a1);
            Check(1, a2);
            Check(2, a3);
            Check(3, a4);
            Check(4, a5);
            Check(5, a6);
            var value = typed(a1, a2, a3, a4, a5, a6, out var d1, out var d2, out var d3, out var d4, out var d5, out var d6);
            return new(value, d1, d2, d3, d4, d5, d6, NameList);
        }
        return EvaluateSplit(a1, a2, a3, a4, a5, a6);
    }

    /// <summary>
    /// The Hessian-vector product H·v at a point, without forming H: the gradient of ∇f·v, staged from the gradient's own
    /// stages (reverse over reverse) and compiled once, on first use, at a small constant times one gradient's cost.
    /// Vector and matrix parameters included: the product of a network's loss with respect to its weight matrices is
    /// again matrix products.
    /// </summary>
    /// <param name="a1">Parameter 1 of the point.</param>
    /// <param name="a2">Parameter 2 of the point.</param>
    /// <param name="a3">Parameter 3 of the point.</param>
    /// <param name="a4">Parameter 4 of the point.</param>
    /// <param name="a5">Parameter 5 of the point.</param>
    /// <param name="a6">Parameter 6 of the point.</param>
    /// <param name="v1">The direction's part for parameter 1, shaped like it.</param>
    /// <param name="v2">The direction's part for parameter 2, shaped like it.</param>
    /// <param name="v3">The direction's part for parameter 3, shaped like it.</param>
    /// <param name="v4">The direction's part for parameter 4, shaped like it.</param>
    /// <param name="v5">The direction's part for parameter 5, shaped like it.</param>
    /// <param name="v6">The direction's part for parameter 6, shaped like it.</param>
    /// <returns>H·v, one part per parameter, shaped like it: deconstructible as <c>var (h1, h2, h3, h4, h5, h6) = ...</c>.</returns>
    /// <exception cref="ArgumentException">A part of the direction is not shaped like its parameter.</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public (T1 H1, T2 H2, T3 H3, T4 H4, T5 H5, T6 H6) HessianVectorProduct(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T1 v1, T2 v2, T3 v3, T4 v4, T5 v5, T6 v6)
    {
        CheckDirection(0, a1, v1);
        CheckDirection(1, a2, v2);
        CheckDirection(2, a3, v3);
        CheckDirection(3, a4, v4);
        CheckDirection(4, a5, v5);
        CheckDirection(5, a6, v6);
        TypedHessianVectorProduct<HessianVectorKernel<T1, T2, T3, T4, T5, T6>>()(a1, a2, a3, a4, a5, a6, v1, v2, v3, v4, v5, v6, out var h1, out var h2, out var h3, out var h4, out var h5, out var h6);
        return (h1, h2, h3, h4, h5, h6);
    }

    // Too large for one method: through the flat, split kernel. Kept apart so that Evaluate stays small enough to inline.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueAndGradient<T1, T2, T3, T4, T5, T6> EvaluateSplit(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6)
    {
        var work = Begin();
        Pack(work, 0, a1);
        Pack(work, 1, a2);
        Pack(work, 2, a3);
        Pack(work, 3, a4);
        Pack(work, 4, a5);
        Pack(work, 5, a6);
        var value = Run(work);
        var result = new ValueAndGradient<T1, T2, T3, T4, T5, T6>(value, Unpack(work, 0, a1), Unpack(work, 1, a2), Unpack(work, 2, a3), Unpack(work, 3, a4), Unpack(work, 4, a5), Unpack(work, 5, a6), NameList);
        End(work);
        return result;
    }
}

/// <summary>A function's value and its gradient with respect to each of its 6 parameters.</summary>
/// <typeparam name="T1">The type of parameter 1 and of its gradient.</typeparam>
/// <typeparam name="T2">The type of parameter 2 and of its gradient.</typeparam>
/// <typeparam name="T3">The type of parameter 3 and of its gradient.</typeparam>
/// <typeparam name="T4">The type of parameter 4 and of its gradient.</typeparam>
/// <typeparam name="T5">The type of parameter 5 and of its gradient.</typeparam>
/// <typeparam name="T6">The type of parameter 6 and of its gradient.</typeparam>
/// <param name="Value">The function's value.</param>
/// <param name="D1">The gradient with respect to parameter 1, shaped like it.</param>
/// <param name="D2">The gradient with respect to parameter 2, shaped like it.</param>
/// <param name="D3">The gradient with respect to parameter 3, shaped like it.</param>
/// <param name="D4">The gradient with respect to parameter 4, shaped like it.</param>
/// <param name="D5">The gradient with respect to parameter 5, shaped like it.</param>
/// <param name="D6">The gradient with respect to parameter 6, shaped like it.</param>
[TypeFormatterSource(typeof(ValueAndGradientFormatterSource), PreferredMimeTypes = ["text/html", "text/plain"])]
public readonly record struct ValueAndGradient<T1, T2, T3, T4, T5, T6>(double Value, T1 D1, T2 D2, T3 D3, T4 D4, T5 D5, T6 D6) : IValueAndGradient
{
    // The number of the parameters' names in ParameterNameLists: an int, so that Evaluate pays one plain store.
    private readonly int _names;

    // What Evaluate calls: the names come as their number.
    internal ValueAndGradient(double value, T1 d1, T2 d2, T3 d3, T4 d4, T5 d5, T6 d6, int names) : this(value, d1, d2, d3, d4, d5, d6) => _names = names;

    /// <summary>
    /// The parameters' names in order (<c>x</c>, <c>y</c>, ...), set by <c>Evaluate</c> so that the result shows by name;
    /// null for a result built by hand (unless set here). For display only: it takes no part in equality.
    /// </summary>
    public IReadOnlyList<string>? ParameterNames
    {
        get => ParameterNameLists.Get(_names);
        init => _names = ParameterNameLists.Intern(value);
    }

    object?[] IValueAndGradient.Gradients => [D1, D2, D3, D4, D5, D6];

    /// <summary>Equal values and equal gradients (arrays by reference, as before); the names are not compared.</summary>
    /// <param name="other">The result to compare with.</param>
    public bool Equals(ValueAndGradient<T1, T2, T3, T4, T5, T6> other) =>
        EqualityComparer<double>.Default.Equals(Value, other.Value)
        && EqualityComparer<T1>.Default.Equals(D1, other.D1)
        && EqualityComparer<T2>.Default.Equals(D2, other.D2)
        && EqualityComparer<T3>.Default.Equals(D3, other.D3)
        && EqualityComparer<T4>.Default.Equals(D4, other.D4)
        && EqualityComparer<T5>.Default.Equals(D5, other.D5)
        && EqualityComparer<T6>.Default.Equals(D6, other.D6);

    /// <summary>A hash of the value and the gradients, consistent with <see cref="Equals(ValueAndGradient{T1, T2, T3, T4, T5, T6})"/>.</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Value);
        hash.Add(D1);
        hash.Add(D2);
        hash.Add(D3);
        hash.Add(D4);
        hash.Add(D5);
        hash.Add(D6);
        return hash.ToHashCode();
    }

    /// <summary>The parts by parameter name: <c>f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3</c> (<c>Value = ..., D1 = ...</c> without names).</summary>
    public override string ToString() => ValueAndGradientDisplay.Text(this);
}

/// <summary>The compiled gradient of a function of 7 parameters, each <c>double</c> or <c>double[]</c>.</summary>
/// <typeparam name="T1">The type of parameter 1: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T2">The type of parameter 2: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T3">The type of parameter 3: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T4">The type of parameter 4: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T5">The type of parameter 5: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T6">The type of parameter 6: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T7">The type of parameter 7: <c>double</c> or <c>double[]</c>.</typeparam>
public sealed class Gradient<T1, T2, T3, T4, T5, T6, T7> : Gradient
{
    private readonly TypedKernel<T1, T2, T3, T4, T5, T6, T7>? _typed;

    internal Gradient(StagedGraph graph, LambdaExpression? typedExpression, Delegate? typed, Kernel? kernel)
        : base(graph, typedExpression, kernel) => _typed = (TypedKernel<T1, T2, T3, T4, T5, T6, T7>?)typed;

    /// <summary>Evaluates the function and its gradient at a point: one gradient per parameter, shaped like it.</summary>
    /// <param name="a1">Parameter 1.</param>
    /// <param name="a2">Parameter 2.</param>
    /// <param name="a3">Parameter 3.</param>
    /// <param name="a4">Parameter 4.</param>
    /// <param name="a5">Parameter 5.</param>
    /// <param name="a6">Parameter 6.</param>
    /// <param name="a7">Parameter 7.</param>
    /// <returns>The value and the gradient, deconstructible as <c>var (value, d1, d2, d3, d4, d5, d6, d7) = ...</c>.</returns>
    public ValueAndGradient<T1, T2, T3, T4, T5, T6, T7> Evaluate(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7)
    {
        if (_typed is { } typed)
        {
            Check(0, a1);
            Check(1, a2);
            Check(2, a3);
            Check(3, a4);
            Check(4, a5);
            Check(5, a6);
            Check(6, a7);
            var value = typed(a1, a2, a3, a4, a5, a6, a7, out var d1, out var d2, out var d3, out var d4, out var d5, out var d6, out var d7);
            return new(value, d1, d2, d3, d4, d5, d6, d7, NameList);
        }
        return EvaluateSplit(a1, a2, a3, a4, a5, a6, a7);
    }

    /// <summary>
    /// The Hessian-vector product H·v at a point, without forming H: the gradient of ∇f·v, staged from the gradient's own
    /// stages (reverse over reverse) and compiled once, on first use, at a small constant times one gradient's cost.
    /// Vector and matrix parameters included: the product of a network's loss with respect to its weight matrices is
    /// again matrix products.
    /// </summary>
    /// <param name="a1">Parameter 1 of the point.</param>
    /// <param name="a2">Parameter 2 of the point.</param>
    /// <param name="a3">Parameter 3 of the point.</param>
    /// <param name="a4">Parameter 4 of the point.</param>
    /// <param name="a5">Parameter 5 of the point.</param>
    /// <param name="a6">Parameter 6 of the point.</param>
    /// <param name="a7">Parameter 7 of the point.</param>
    /// <param name="v1">The direction's part for parameter 1, shaped like it.</param>
    /// <param name="v2">The direction's part for parameter 2, shaped like it.</param>
    /// <param name="v3">The direction's part for parameter 3, shaped like it.</param>
    /// <param name="v4">The direction's part for parameter 4, shaped like it.</param>
    /// <param name="v5">The direction's part for parameter 5, shaped like it.</param>
    /// <param name="v6">The direction's part for parameter 6, shaped like it.</param>
    /// <param name="v7">The direction's part for parameter 7, shaped like it.</param>
    /// <returns>H·v, one part per parameter, shaped like it: deconstructible as <c>var (h1, h2, h3, h4, h5, h6, h7) = ...</c>.</returns>
    /// <exception cref="ArgumentException">A part of the direction is not shaped like its parameter.</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public (T1 H1, T2 H2, T3 H3, T4 H4, T5 H5, T6 H6, T7 H7) HessianVectorProduct(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T1 v1, T2 v2, T3 v3, T4 v4, T5 v5, T6 v6, T7 v7)
    {
        CheckDirection(0, a1, v1);
        CheckDirection(1, a2, v2);
        CheckDirection(2, a3, v3);
        CheckDirection(3, a4, v4);
        CheckDirection(4, a5, v5);
        CheckDirection(5, a6, v6);
        CheckDirection(6, a7, v7);
        TypedHessianVectorProduct<HessianVectorKernel<T1, T2, T3, T4, T5, T6, T7>>()(a1, a2, a3, a4, a5, a6, a7, v1, v2, v3, v4, v5, v6, v7, out var h1, out var h2, out var h3, out var h4, out var h5, out var h6, out var h7);
        return (h1, h2, h3, h4, h5, h6, h7);
    }

    // Too large for one method: through the flat, split kernel. Kept apart so that Evaluate stays small enough to inline.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueAndGradient<T1, T2, T3, T4, T5, T6, T7> EvaluateSplit(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7)
    {
        var work = Begin();
        Pack(work, 0, a1);
        Pack(work, 1, a2);
        Pack(work, 2, a3);
        Pack(work, 3, a4);
        Pack(work, 4, a5);
        Pack(work, 5, a6);
        Pack(work, 6, a7);
        var value = Run(work);
        var result = new ValueAndGradient<T1, T2, T3, T4, T5, T6, T7>(value, Unpack(work, 0, a1), Unpack(work, 1, a2), Unpack(work, 2, a3), Unpack(work, 3, a4), Unpack(work, 4, a5), Unpack(work, 5, a6), Unpack(work, 6, a7), NameList);
        End(work);
        return result;
    }
}

/// <summary>A function's value and its gradient with respect to each of its 7 parameters.</summary>
/// <typeparam name="T1">The type of parameter 1 and of its gradient.</typeparam>
/// <typeparam name="T2">The type of parameter 2 and of its gradient.</typeparam>
/// <typeparam name="T3">The type of parameter 3 and of its gradient.</typeparam>
/// <typeparam name="T4">The type of parameter 4 and of its gradient.</typeparam>
/// <typeparam name="T5">The type of parameter 5 and of its gradient.</typeparam>
/// <typeparam name="T6">The type of parameter 6 and of its gradient.</typeparam>
/// <typeparam name="T7">The type of parameter 7 and of its gradient.</typeparam>
/// <param name="Value">The function's value.</param>
/// <param name="D1">The gradient with respect to parameter 1, shaped like it.</param>
/// <param name="D2">The gradient with respect to parameter 2, shaped like it.</param>
/// <param name="D3">The gradient with respect to parameter 3, shaped like it.</param>
/// <param name="D4">The gradient with respect to parameter 4, shaped like it.</param>
/// <param name="D5">The gradient with respect to parameter 5, shaped like it.</param>
/// <param name="D6">The gradient with respect to parameter 6, shaped like it.</param>
/// <param name="D7">The gradient with respect to parameter 7, shaped like it.</param>
[TypeFormatterSource(typeof(ValueAndGradientFormatterSource), PreferredMimeTypes = ["text/html", "text/plain"])]
public readonly record struct ValueAndGradient<T1, T2, T3, T4, T5, T6, T7>(double Value, T1 D1, T2 D2, T3 D3, T4 D4, T5 D5, T6 D6, T7 D7) : IValueAndGradient
{
    // The number of the parameters' names in ParameterNameLists: an int, so that Evaluate pays one plain store.
    private readonly int _names;

    // What Evaluate calls: the names come as their number.
    internal ValueAndGradient(double value, T1 d1, T2 d2, T3 d3, T4 d4, T5 d5, T6 d6, T7 d7, int names) : this(value, d1, d2, d3, d4, d5, d6, d7) => _names = names;

    /// <summary>
    /// The parameters' names in order (<c>x</c>, <c>y</c>, ...), set by <c>Evaluate</c> so that the result shows by name;
    /// null for a result built by hand (unless set here). For display only: it takes no part in equality.
    /// </summary>
    public IReadOnlyList<string>? ParameterNames
    {
        get => ParameterNameLists.Get(_names);
        init => _names = ParameterNameLists.Intern(value);
    }

    object?[] IValueAndGradient.Gradients => [D1, D2, D3, D4, D5, D6, D7];

    /// <summary>Equal values and equal gradients (arrays by reference, as before); the names are not compared.</summary>
    /// <param name="other">The result to compare with.</param>
    public bool Equals(ValueAndGradient<T1, T2, T3, T4, T5, T6, T7> other) =>
        EqualityComparer<double>.Default.Equals(Value, other.Value)
        && EqualityComparer<T1>.Default.Equals(D1, other.D1)
        && EqualityComparer<T2>.Default.Equals(D2, other.D2)
        && EqualityComparer<T3>.Default.Equals(D3, other.D3)
        && EqualityComparer<T4>.Default.Equals(D4, other.D4)
        && EqualityComparer<T5>.Default.Equals(D5, other.D5)
        && EqualityComparer<T6>.Default.Equals(D6, other.D6)
        && EqualityComparer<T7>.Default.Equals(D7, other.D7);

    /// <summary>A hash of the value and the gradients, consistent with <see cref="Equals(ValueAndGradient{T1, T2, T3, T4, T5, T6, T7})"/>.</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Value);
        hash.Add(D1);
        hash.Add(D2);
        hash.Add(D3);
        hash.Add(D4);
        hash.Add(D5);
        hash.Add(D6);
        hash.Add(D7);
        return hash.ToHashCode();
    }

    /// <summary>The parts by parameter name: <c>f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3</c> (<c>Value = ..., D1 = ...</c> without names).</summary>
    public override string ToString() => ValueAndGradientDisplay.Text(this);
}

/// <summary>The compiled gradient of a function of 8 parameters, each <c>double</c> or <c>double[]</c>.</summary>
/// <typeparam name="T1">The type of parameter 1: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T2">The type of parameter 2: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T3">The type of parameter 3: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T4">The type of parameter 4: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T5">The type of parameter 5: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T6">The type of parameter 6: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T7">The type of parameter 7: <c>double</c> or <c>double[]</c>.</typeparam>
/// <typeparam name="T8">The type of parameter 8: <c>double</c> or <c>double[]</c>.</typeparam>
public sealed class Gradient<T1, T2, T3, T4, T5, T6, T7, T8> : Gradient
{
    private readonly TypedKernel<T1, T2, T3, T4, T5, T6, T7, T8>? _typed;

    internal Gradient(StagedGraph graph, LambdaExpression? typedExpression, Delegate? typed, Kernel? kernel)
        : base(graph, typedExpression, kernel) => _typed = (TypedKernel<T1, T2, T3, T4, T5, T6, T7, T8>?)typed;

    /// <summary>Evaluates the function and its gradient at a point: one gradient per parameter, shaped like it.</summary>
    /// <param name="a1">Parameter 1.</param>
    /// <param name="a2">Parameter 2.</param>
    /// <param name="a3">Parameter 3.</param>
    /// <param name="a4">Parameter 4.</param>
    /// <param name="a5">Parameter 5.</param>
    /// <param name="a6">Parameter 6.</param>
    /// <param name="a7">Parameter 7.</param>
    /// <param name="a8">Parameter 8.</param>
    /// <returns>The value and the gradient, deconstructible as <c>var (value, d1, d2, d3, d4, d5, d6, d7, d8) = ...</c>.</returns>
    public ValueAndGradient<T1, T2, T3, T4, T5, T6, T7, T8> Evaluate(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8)
    {
        if (_typed is { } typed)
        {
            Check(0, a1);
            Check(1, a2);
            Check(2, a3);
            Check(3, a4);
            Check(4, a5);
            Check(5, a6);
            Check(6, a7);
            Check(7, a8);
            var value = typed(a1, a2, a3, a4, a5, a6, a7, a8, out var d1, out var d2, out var d3, out var d4, out var d5, out var d6, out var d7, out var d8);
            return new(value, d1, d2, d3, d4, d5, d6, d7, d8, NameList);
        }
        return EvaluateSplit(a1, a2, a3, a4, a5, a6, a7, a8);
    }

    /// <summary>
    /// The Hessian-vector product H·v at a point, without forming H: the gradient of ∇f·v, staged from the gradient's own
    /// stages (reverse over reverse) and compiled once, on first use, at a small constant times one gradient's cost.
    /// Vector and matrix parameters included: the product of a network's loss with respect to its weight matrices is
    /// again matrix products.
    /// </summary>
    /// <param name="a1">Parameter 1 of the point.</param>
    /// <param name="a2">Parameter 2 of the point.</param>
    /// <param name="a3">Parameter 3 of the point.</param>
    /// <param name="a4">Parameter 4 of the point.</param>
    /// <param name="a5">Parameter 5 of the point.</param>
    /// <param name="a6">Parameter 6 of the point.</param>
    /// <param name="a7">Parameter 7 of the point.</param>
    /// <param name="a8">Parameter 8 of the point.</param>
    /// <param name="v1">The direction's part for parameter 1, shaped like it.</param>
    /// <param name="v2">The direction's part for parameter 2, shaped like it.</param>
    /// <param name="v3">The direction's part for parameter 3, shaped like it.</param>
    /// <param name="v4">The direction's part for parameter 4, shaped like it.</param>
    /// <param name="v5">The direction's part for parameter 5, shaped like it.</param>
    /// <param name="v6">The direction's part for parameter 6, shaped like it.</param>
    /// <param name="v7">The direction's part for parameter 7, shaped like it.</param>
    /// <param name="v8">The direction's part for parameter 8, shaped like it.</param>
    /// <returns>H·v, one part per parameter, shaped like it: deconstructible as <c>var (h1, h2, h3, h4, h5, h6, h7, h8) = ...</c>.</returns>
    /// <exception cref="ArgumentException">A part of the direction is not shaped like its parameter.</exception>
    /// <exception cref="ExprGradException">An operation of the function has no second derivative (a rule of your own whose partials have none).</exception>
    public (T1 H1, T2 H2, T3 H3, T4 H4, T5 H5, T6 H6, T7 H7, T8 H8) HessianVectorProduct(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T1 v1, T2 v2, T3 v3, T4 v4, T5 v5, T6 v6, T7 v7, T8 v8)
    {
        CheckDirection(0, a1, v1);
        CheckDirection(1, a2, v2);
        CheckDirection(2, a3, v3);
        CheckDirection(3, a4, v4);
        CheckDirection(4, a5, v5);
        CheckDirection(5, a6, v6);
        CheckDirection(6, a7, v7);
        CheckDirection(7, a8, v8);
        TypedHessianVectorProduct<HessianVectorKernel<T1, T2, T3, T4, T5, T6, T7, T8>>()(a1, a2, a3, a4, a5, a6, a7, a8, v1, v2, v3, v4, v5, v6, v7, v8, out var h1, out var h2, out var h3, out var h4, out var h5, out var h6, out var h7, out var h8);
        return (h1, h2, h3, h4, h5, h6, h7, h8);
    }

    // Too large for one method: through the flat, split kernel. Kept apart so that Evaluate stays small enough to inline.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueAndGradient<T1, T2, T3, T4, T5, T6, T7, T8> EvaluateSplit(T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8)
    {
        var work = Begin();
        Pack(work, 0, a1);
        Pack(work, 1, a2);
        Pack(work, 2, a3);
        Pack(work, 3, a4);
        Pack(work, 4, a5);
        Pack(work, 5, a6);
        Pack(work, 6, a7);
        Pack(work, 7, a8);
        var value = Run(work);
        var result = new ValueAndGradient<T1, T2, T3, T4, T5, T6, T7, T8>(value, Unpack(work, 0, a1), Unpack(work, 1, a2), Unpack(work, 2, a3), Unpack(work, 3, a4), Unpack(work, 4, a5), Unpack(work, 5, a6), Unpack(work, 6, a7), Unpack(work, 7, a8), NameList);
        End(work);
        return result;
    }
}

/// <summary>A function's value and its gradient with respect to each of its 8 parameters.</summary>
/// <typeparam name="T1">The type of parameter 1 and of its gradient.</typeparam>
/// <typeparam name="T2">The type of parameter 2 and of its gradient.</typeparam>
/// <typeparam name="T3">The type of parameter 3 and of its gradient.</typeparam>
/// <typeparam name="T4">The type of parameter 4 and of its gradient.</typeparam>
/// <typeparam name="T5">The type of parameter 5 and of its gradient.</typeparam>
/// <typeparam name="T6">The type of parameter 6 and of its gradient.</typeparam>
/// <typeparam name="T7">The type of parameter 7 and of its gradient.</typeparam>
/// <typeparam name="T8">The type of parameter 8 and of its gradient.</typeparam>
/// <param name="Value">The function's value.</param>
/// <param name="D1">The gradient with respect to parameter 1, shaped like it.</param>
/// <param name="D2">The gradient with respect to parameter 2, shaped like it.</param>
/// <param name="D3">The gradient with respect to parameter 3, shaped like it.</param>
/// <param name="D4">The gradient with respect to parameter 4, shaped like it.</param>
/// <param name="D5">The gradient with respect to parameter 5, shaped like it.</param>
/// <param name="D6">The gradient with respect to parameter 6, shaped like it.</param>
/// <param name="D7">The gradient with respect to parameter 7, shaped like it.</param>
/// <param name="D8">The gradient with respect to parameter 8, shaped like it.</param>
[TypeFormatterSource(typeof(ValueAndGradientFormatterSource), PreferredMimeTypes = ["text/html", "text/plain"])]
public readonly record struct ValueAndGradient<T1, T2, T3, T4, T5, T6, T7, T8>(double Value, T1 D1, T2 D2, T3 D3, T4 D4, T5 D5, T6 D6, T7 D7, T8 D8) : IValueAndGradient
{
    // The number of the parameters' names in ParameterNameLists: an int, so that Evaluate pays one plain store.
    private readonly int _names;

    // What Evaluate calls: the names come as their number.
    internal ValueAndGradient(double value, T1 d1, T2 d2, T3 d3, T4 d4, T5 d5, T6 d6, T7 d7, T8 d8, int names) : this(value, d1, d2, d3, d4, d5, d6, d7, d8) => _names = names;

    /// <summary>
    /// The parameters' names in order (<c>x</c>, <c>y</c>, ...), set by <c>Evaluate</c> so that the result shows by name;
    /// null for a result built by hand (unless set here). For display only: it takes no part in equality.
    /// </summary>
    public IReadOnlyList<string>? ParameterNames
    {
        get => ParameterNameLists.Get(_names);
        init => _names = ParameterNameLists.Intern(value);
    }

    object?[] IValueAndGradient.Gradients => [D1, D2, D3, D4, D5, D6, D7, D8];

    /// <summary>Equal values and equal gradients (arrays by reference, as before); the names are not compared.</summary>
    /// <param name="other">The result to compare with.</param>
    public bool Equals(ValueAndGradient<T1, T2, T3, T4, T5, T6, T7, T8> other) =>
        EqualityComparer<double>.Default.Equals(Value, other.Value)
        && EqualityComparer<T1>.Default.Equals(D1, other.D1)
        && EqualityComparer<T2>.Default.Equals(D2, other.D2)
        && EqualityComparer<T3>.Default.Equals(D3, other.D3)
        && EqualityComparer<T4>.Default.Equals(D4, other.D4)
        && EqualityComparer<T5>.Default.Equals(D5, other.D5)
        && EqualityComparer<T6>.Default.Equals(D6, other.D6)
        && EqualityComparer<T7>.Default.Equals(D7, other.D7)
        && EqualityComparer<T8>.Default.Equals(D8, other.D8);

    /// <summary>A hash of the value and the gradients, consistent with <see cref="Equals(ValueAndGradient{T1, T2, T3, T4, T5, T6, T7, T8})"/>.</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Value);
        hash.Add(D1);
        hash.Add(D2);
        hash.Add(D3);
        hash.Add(D4);
        hash.Add(D5);
        hash.Add(D6);
        hash.Add(D7);
        hash.Add(D8);
        return hash.ToHashCode();
    }

    /// <summary>The parts by parameter name: <c>f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3</c> (<c>Value = ..., D1 = ...</c> without names).</summary>
    public override string ToString() => ValueAndGradientDisplay.Text(this);
}
