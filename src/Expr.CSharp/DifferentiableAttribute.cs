namespace ExprGrad;

/// <summary>
/// Asks the ExprGrad source generator for the gradient of this method at compile time. For
/// <c>[Differentiable] static double Neuron(double w0, double x0) =&gt; Fn.Sigmoid(w0 * x0);</c> in a partial class it
/// writes, next to it, <c>static double NeuronWithGradient(double w0, double x0, out double dw0, out double dx0)</c>:
/// the staged forward and backward pass as plain C#, which the JIT inlines into the caller like backprop written by
/// hand.
/// </summary>
/// <remarks>
/// <para>
/// The method returns <c>double</c>, takes <c>double</c> and <c>double[]</c> parameters, and its body is one
/// expression (<c>=&gt; ...</c>, or <c>{ var q = ...; return ...; }</c> with local variables) written in the operation
/// catalogue of <see cref="Grad"/>. An array parameter <c>a</c> gets a <c>Span&lt;double&gt; da</c> with room for
/// <c>a.Length</c> values. A gradient's name is <c>d</c> and the parameter's unless another parameter is called that;
/// then <c>_</c> is appended until the name is free: <c>F(double x, double dx)</c> gets
/// <c>FWithGradient(double x, double dx, out double dx_, out double ddx)</c>.
/// </para>
/// <para>
/// Arrays may have any length, and the body may loop over them with <c>for</c> loops that carry one local:
/// <c>double s = 0; for (int i = 0; i + 1 &lt; a.Length; i++) s += ...;</c> is the sum
/// <c>Enumerable.Range(0, a.Length - 1).Sum(i =&gt; ...)</c> (the same additions in the same order), and any other
/// update, such as the recurrence <c>o = Fn.Sigmoid(o * w[k]);</c>, the fold <c>Enumerable.Range(0, w.Length).Aggregate(o, (o, k) =&gt; ...)</c>.
/// A loop's start and bound are integer arithmetic on lengths, captured integers and enclosing loops' variables, and
/// an index is integer arithmetic on its variables (<c>a[i + 1]</c>). The gradient is generated as the same
/// <c>for</c> loops. <c>while</c>, <c>do</c>, <c>foreach</c>, <c>break</c>, <c>continue</c>, an index or bound that
/// depends on a parameter's value and a bound the body assigns are errors at their syntax. A bound below the start
/// runs no iterations, as a <c>for</c> loop does (where <c>Enumerable.Range</c> throws).
/// </para>
/// <para>
/// The generated method computes exactly what <c>Grad.Of</c> of the same lambda computes, bit for bit. Fields and
/// properties the body reads are data, as captured variables are to <c>Grad.Of</c>: read live at every call and never
/// differentiated. Anything outside the catalogue is an error at the sub-expression that uses it (EXG001 to EXG004),
/// never a wrong gradient.
/// </para>
/// </remarks>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class DifferentiableAttribute : Attribute;
