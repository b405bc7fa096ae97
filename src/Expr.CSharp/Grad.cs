using System.Linq.Expressions;
using ExprGrad.Emit;
using ExprGrad.Import;
using ExprGrad.Reverse;
using ExprGrad.Staging;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad;

/// <summary>
/// The entry point: <c>Grad.Of(lambda)</c> stages the lambda, differentiates it in reverse mode and compiles the
/// value and gradient into one delegate.
/// </summary>
/// <remarks>
/// A sub-expression that reads no parameter is data, whatever it calls (<c>Math.Clamp(k, 0, 1) * x</c> with a captured
/// <c>k</c>, <c>h.Get() * x</c>, <c>w.Length * x</c>): evaluated as written at every call, inside a conditional's
/// branch only when that branch runs, and never differentiated; an exception it throws reaches the caller unchanged.
/// A pure read (fields, properties, elements, lengths and operators on them) is one value however often it is
/// written; a method or delegate call runs once per occurrence per call, as C# runs it (<c>h.Get() + h.Get()</c> calls
/// <c>Get</c> twice), in no promised order between occurrences.
/// <para>Loops over data are written with LINQ and run as loops, never unrolled: <c>Enumerable.Range(start,
/// count).Sum(i =&gt; ...)</c>, <c>a.Sum(v =&gt; ...)</c>, <c>a.Select((v, i) =&gt; ...).Sum()</c>, <c>a.Zip(b, (u, v) =&gt;
/// ...).Sum()</c>, <c>Max</c>, <c>Min</c> and <c>Enumerable.Range(0, n).Aggregate(seed, (acc, i) =&gt; ...)</c>, nested
/// as deep as needed, over array parameters (whose length is then read at the call) and captured arrays, vectors and
/// matrices read at indices of the loop variables. <c>Max</c> and <c>Min</c> give the gradient to the first element
/// that attains the extremum. In the flat (span) layout an array of any length is the last parameter and takes the
/// rest of the point.</para>
/// </remarks>
/// <example>
/// <code>
/// var g = Grad.Of((double x, double y, double z) =&gt; (x + y) * z);
/// var (value, dx, dy, dz) = g.Evaluate(-2, 5, -4);   // -12, -4, -4, 3
/// </code>
/// </example>
public static class Grad
{
    /// <summary>
    /// Differentiates a lambda built by hand (with <see cref="Expression"/> factories) whose parameters are
    /// <c>double</c> or <c>double[]</c> and whose result is <c>double</c>; evaluate it through the flat (span) layout.
    /// </summary>
    /// <param name="f">The function.</param>
    /// <exception cref="ExprGradException">The lambda uses something outside the catalogue.</exception>
    public static Gradient Of(LambdaExpression f)
    {
        var graph = Differentiate(f);
        if (graph.HasTensorParameters)
            throw new ExprGradException("a function with Vector<double> or Matrix<double> parameters has no flat layout: " +
                "differentiate it as a typed lambda, Grad.Of((Matrix<double> W, ...) => ...)", f);
        if (graph.NoFlatLayout is not null)
            throw new ExprGradException($"parameter '{graph.Parameters.First(p => p.IsDynamic).Name}' is an array of any length (a loop runs over it, " +
                "or its Length is read) but not the last parameter, so it has no place in the flat layout: make it the last parameter, " +
                "or differentiate a typed lambda, Grad.Of((double[] a, double[] b) => ...)", f);
        return new Gradient(graph, typedExpression: null, kernel: null);
    }

    /// <summary>
    /// Differentiates an F# quotation of a function of <c>float</c> or <c>float[]</c> parameters, curried
    /// (<c>&lt;@ fun x y -&gt; x * y + sin x @&gt;</c>) or tupled (<c>&lt;@ fun (x, y) -&gt; ... @&gt;</c>);
    /// evaluate it through the flat (span) layout, parameters in the quotation's order.
    /// </summary>
    /// <param name="quotation">The function, quoted.</param>
    /// <exception cref="Symbolic.UnsupportedQuotationException">The quotation uses a construct with no Linq counterpart.</exception>
    /// <exception cref="ExprGradException">The function uses something outside the catalogue.</exception>
    public static Gradient Of(Microsoft.FSharp.Quotations.FSharpExpr quotation)
    {
        ArgumentNullException.ThrowIfNull(quotation);
        return Of(Symbolic.Quotation.ToLambda(quotation));
    }

    /// <summary>Differentiates a function of 1 parameter (each <c>double</c> or <c>double[]</c>) and compiles its gradient.</summary>
    /// <param name="f">The function, written as a C# lambda.</param>
    /// <exception cref="ExprGradException">The lambda uses something outside the catalogue.</exception>
    public static Gradient<T1> Of<T1>(Expression<Func<T1, double>> f)
    {
        var graph = Differentiate(f);
        var typed = Emitter.CompileTyped(graph, typeof(TypedKernel<T1>), out var compiled, out var kernel);
        return new Gradient<T1>(graph, typed, compiled, kernel);
    }

    /// <summary>Differentiates a function of 2 parameters (each <c>double</c> or <c>double[]</c>) and compiles its gradient.</summary>
    /// <param name="f">The function, written as a C# lambda.</param>
    /// <exception cref="ExprGradException">The lambda uses something outside the catalogue.</exception>
    public static Gradient<T1, T2> Of<T1, T2>(Expression<Func<T1, T2, double>> f)
    {
        var graph = Differentiate(f);
        var typed = Emitter.CompileTyped(graph, typeof(TypedKernel<T1, T2>), out var compiled, out var kernel);
        return new Gradient<T1, T2>(graph, typed, compiled, kernel);
    }

    /// <summary>Differentiates a function of 3 parameters (each <c>double</c> or <c>double[]</c>) and compiles its gradient.</summary>
    /// <param name="f">The function, written as a C# lambda.</param>
    /// <exception cref="ExprGradException">The lambda uses something outside the catalogue.</exception>
    public static Gradient<T1, T2, T3> Of<T1, T2, T3>(Expression<Func<T1, T2, T3, double>> f)
    {
        var graph = Differentiate(f);
        var typed = Emitter.CompileTyped(graph, typeof(TypedKernel<T1, T2, T3>), out var compiled, out var kernel);
        return new Gradient<T1, T2, T3>(graph, typed, compiled, kernel);
    }

    /// <summary>Differentiates a function of 4 parameters (each <c>double</c> or <c>double[]</c>) and compiles its gradient.</summary>
    /// <param name="f">The function, written as a C# lambda.</param>
    /// <exception cref="ExprGradException">The lambda uses something outside the catalogue.</exception>
    public static Gradient<T1, T2, T3, T4> Of<T1, T2, T3, T4>(Expression<Func<T1, T2, T3, T4, double>> f)
    {
        var graph = Differentiate(f);
        var typed = Emitter.CompileTyped(graph, typeof(TypedKernel<T1, T2, T3, T4>), out var compiled, out var kernel);
        return new Gradient<T1, T2, T3, T4>(graph, typed, compiled, kernel);
    }

    /// <summary>Differentiates a function of 5 parameters (each <c>double</c> or <c>double[]</c>) and compiles its gradient.</summary>
    /// <param name="f">The function, written as a C# lambda.</param>
    /// <exception cref="ExprGradException">The lambda uses something outside the catalogue.</exception>
    public static Gradient<T1, T2, T3, T4, T5> Of<T1, T2, T3, T4, T5>(Expression<Func<T1, T2, T3, T4, T5, double>> f)
    {
        var graph = Differentiate(f);
        var typed = Emitter.CompileTyped(graph, typeof(TypedKernel<T1, T2, T3, T4, T5>), out var compiled, out var kernel);
        return new Gradient<T1, T2, T3, T4, T5>(graph, typed, compiled, kernel);
    }

    /// <summary>Differentiates a function of 6 parameters (each <c>double</c> or <c>double[]</c>) and compiles its gradient.</summary>
    /// <param name="f">The function, written as a C# lambda.</param>
    /// <exception cref="ExprGradException">The lambda uses something outside the catalogue.</exception>
    public static Gradient<T1, T2, T3, T4, T5, T6> Of<T1, T2, T3, T4, T5, T6>(Expression<Func<T1, T2, T3, T4, T5, T6, double>> f)
    {
        var graph = Differentiate(f);
        var typed = Emitter.CompileTyped(graph, typeof(TypedKernel<T1, T2, T3, T4, T5, T6>), out var compiled, out var kernel);
        return new Gradient<T1, T2, T3, T4, T5, T6>(graph, typed, compiled, kernel);
    }

    /// <summary>Differentiates a function of 7 parameters (each <c>double</c> or <c>double[]</c>) and compiles its gradient.</summary>
    /// <param name="f">The function, written as a C# lambda.</param>
    /// <exception cref="ExprGradException">The lambda uses something outside the catalogue.</exception>
    public static Gradient<T1, T2, T3, T4, T5, T6, T7> Of<T1, T2, T3, T4, T5, T6, T7>(Expression<Func<T1, T2, T3, T4, T5, T6, T7, double>> f)
    {
        var graph = Differentiate(f);
        var typed = Emitter.CompileTyped(graph, typeof(TypedKernel<T1, T2, T3, T4, T5, T6, T7>), out var compiled, out var kernel);
        return new Gradient<T1, T2, T3, T4, T5, T6, T7>(graph, typed, compiled, kernel);
    }

    /// <summary>Differentiates a function of 8 parameters (each <c>double</c> or <c>double[]</c>) and compiles its gradient.</summary>
    /// <param name="f">The function, written as a C# lambda.</param>
    /// <exception cref="ExprGradException">The lambda uses something outside the catalogue.</exception>
    public static Gradient<T1, T2, T3, T4, T5, T6, T7, T8> Of<T1, T2, T3, T4, T5, T6, T7, T8>(Expression<Func<T1, T2, T3, T4, T5, T6, T7, T8, double>> f)
    {
        var graph = Differentiate(f);
        var typed = Emitter.CompileTyped(graph, typeof(TypedKernel<T1, T2, T3, T4, T5, T6, T7, T8>), out var compiled, out var kernel);
        return new Gradient<T1, T2, T3, T4, T5, T6, T7, T8>(graph, typed, compiled, kernel);
    }

    /// <summary>
    /// The Jacobian of a function of an array with several results written out: <c>a =&gt; new[] { a[0] * a[1], Math.Sin(a[0]) }</c>.
    /// </summary>
    /// <param name="f">The function, written as a C# lambda.</param>
    /// <exception cref="ExprGradException">The results are not written out, or use something outside the catalogue.</exception>
    public static Jacobian Jacobian(Expression<Func<double[], double[]>> f) => Jacobian((LambdaExpression)f);

    /// <summary>
    /// The Jacobian of a function of an array whose result is a MathNet vector built from its components:
    /// <c>a =&gt; Vector&lt;double&gt;.Build.Dense(new[] { a[0] * a[1], Math.Sin(a[0]) })</c>.
    /// </summary>
    /// <param name="f">The function, written as a C# lambda.</param>
    /// <exception cref="ExprGradException">The results are not written out, or use something outside the catalogue.</exception>
    public static Jacobian Jacobian(Expression<Func<double[], Vector<double>>> f) => Jacobian((LambdaExpression)f);

    /// <summary>
    /// The Jacobian of a function of <c>double</c> and <c>double[]</c> parameters whose results are written out as a
    /// <c>double[]</c> (<c>new[] { ... }</c>), a tuple of doubles (<c>ValueTuple.Create</c> or <c>Tuple.Create</c>: C# allows no
    /// tuple literal in an expression tree) or a vector built from one:
    /// <c>Grad.Jacobian((double r, double t) =&gt; ValueTuple.Create(r * Math.Cos(t), r * Math.Sin(t)))</c>. The flat layout of a point
    /// is that of <see cref="Gradient"/>: the parameters in order.
    /// </summary>
    /// <param name="f">The function.</param>
    /// <exception cref="ExprGradException">The results are not written out, or use something outside the catalogue; or the
    /// function loops over data or has vector or matrix parameters (not supported for Jacobians yet).</exception>
    public static Jacobian Jacobian(LambdaExpression f)
    {
        ArgumentNullException.ThrowIfNull(f);
        return new Jacobian(f);
    }

    /// <summary>
    /// The Jacobian of an F# quotation of a function of <c>float</c> or <c>float[]</c> parameters whose results are an
    /// array written out: <c>&lt;@ fun (a: float[]) -&gt; [| a.[0] * a.[1]; sin a.[0] |] @&gt;</c>.
    /// </summary>
    /// <param name="quotation">The function, quoted.</param>
    /// <exception cref="Symbolic.UnsupportedQuotationException">The quotation uses a construct with no Linq counterpart.</exception>
    /// <exception cref="ExprGradException">The results are not written out, or use something outside the catalogue.</exception>
    public static Jacobian Jacobian(Microsoft.FSharp.Quotations.FSharpExpr quotation)
    {
        ArgumentNullException.ThrowIfNull(quotation);
        return Jacobian(Symbolic.Quotation.ToLambda(quotation));
    }

    /// <summary>Stages and differentiates without compiling: what ToCode and the source generator print.</summary>
    internal static StagedGraph Differentiate(LambdaExpression f)
    {
        ArgumentNullException.ThrowIfNull(f);
        var graph = Import(f);
        ReverseSweep.Run(graph);
        return graph;
    }

    // An F# lambda arrives full of FSharp.Core witness calls and let-blocks, which Import refuses; normalized, it is
    // the tree the C# lambda of the same function gives. Only a refused tree pays for the normalizing walk, so a C#
    // lambda is imported as it is, and a C# tree that is really unsupported gets Import's own error.
    internal static StagedGraph Import(LambdaExpression f) => Import(f, Importer.Import);

    /// <summary><paramref name="import"/> of <paramref name="f"/>, or of its normalized form if it is an F# lambda that needs one.</summary>
    internal static T Import<T>(LambdaExpression f, Func<LambdaExpression, T> import)
    {
        try
        {
            return import(f);
        }
        catch (ExprGradException)
        {
            var normalized = Symbolic.FSharpLinq.Normalize(f);
            if (ReferenceEquals(normalized, f))
                throw;
            return import(normalized);
        }
    }
}
