namespace ExprGrad;

/// <summary>
/// Thrown by <see cref="GradCheck.AssertAgrees(Func{double[], double}, Func{double[], double[]}, Box, int, int?, double, double)"/>
/// and <see cref="GradCheck.AssertAgreesAt(Func{double[], double}, Func{double[], double[]}, double[], double, double)"/>
/// when a hand-written gradient disagrees with its reference. The message names the component (<c>∂f/∂y</c>), the
/// (shrunk) point, both values and the seed that replays the run; the properties hold the same facts for a test to read.
/// </summary>
/// <example>
/// <code>
/// var e = Assert.Throws&lt;GradCheckException&gt;(() =&gt; GradCheck.AssertAgrees(f, grad, box));
/// Assert.Equal("y", e.Variable);
/// </code>
/// </example>
public sealed class GradCheckException : Exception
{
    internal GradCheckException(string message, int component, string variable, double[] point, double handWritten,
        double reference, double[] firstPoint, int? seed) : base(message)
    {
        Component = component;
        Variable = variable;
        Point = point;
        HandWritten = handWritten;
        Reference = reference;
        FirstPoint = firstPoint;
        Seed = seed;
    }

    /// <summary>The index of the wrong component in the flat layout.</summary>
    public int Component { get; }

    /// <summary>The wrong component's variable, as the message names it (<c>y</c>, <c>w[3]</c>, or <c>x[1]</c> when unnamed).</summary>
    public string Variable { get; }

    /// <summary>The point reported: the shrunk counterexample (for a single-point check, that point).</summary>
    public IReadOnlyList<double> Point { get; }

    /// <summary>The hand-written gradient's value of the component at <see cref="Point"/>.</summary>
    public double HandWritten { get; }

    /// <summary>The reference value (ExprGrad's gradient or central differences) of the component at <see cref="Point"/>.</summary>
    public double Reference { get; }

    /// <summary>The first failing point drawn, before shrinking.</summary>
    public IReadOnlyList<double> FirstPoint { get; }

    /// <summary>The seed that replays the run (pass it as <c>seed:</c>); null for a single-point check.</summary>
    public int? Seed { get; }
}
