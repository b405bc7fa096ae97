namespace ExprGrad.Notebook;

/// <summary>
/// How a <see cref="Gradient"/> shows in a notebook: its derivatives typeset (<c>text/latex</c>; <c>text/markdown</c>
/// with <c>$$...$$</c>, which VS Code and Jupyter render offline, followed by the staged code) and as text.
/// </summary>
internal sealed class GradientFormatterSource
{
    /// <summary>Called by the convention, through reflection.</summary>
    public IEnumerable<object> CreateTypeFormatters() =>
    [
        new MimeFormatter("text/markdown", typeof(Gradient), g => Markdown((Gradient)g)),
        new MimeFormatter("text/latex", typeof(Gradient), g => Math((Gradient)g)),
        new MimeFormatter("text/plain", typeof(Gradient), g => Plain((Gradient)g)),
    ];

    private static string Math(Gradient g) => "$$\n" + g.ToLatex() + "\n$$";

    private static string Markdown(Gradient g) => Math(g) + "\n\n```csharp\n" + g.ToCode() + "```\n";

    private static string Plain(Gradient g) => g + "\n\n" + g.ToCode();
}

/// <summary>
/// How a <see cref="Trace"/> shows in a notebook: its circuit (<c>image/svg+xml</c>, and <c>text/html</c> embedding the
/// same SVG) and its table of values and gradients as text.
/// </summary>
internal sealed class TraceFormatterSource
{
    /// <summary>Called by the convention, through reflection.</summary>
    public IEnumerable<object> CreateTypeFormatters() =>
    [
        new MimeFormatter("text/html", typeof(Trace), t => "<div class=\"exprgrad-trace\">" + ((Trace)t).ToSvg() + "</div>"),
        new MimeFormatter("image/svg+xml", typeof(Trace), t => ((Trace)t).ToSvg()),
        new MimeFormatter("text/plain", typeof(Trace), t => ((Trace)t).ToString()),
    ];
}
