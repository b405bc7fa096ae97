namespace ExprGrad.Notebook;

/// <summary>
/// How a <see cref="Gradient"/> shows in a notebook: its derivatives typeset (<c>text/latex</c>; <c>text/markdown</c>
/// with <c>$$...$$</c>, which VS Code and Jupyter render offline, followed by the staged code) and as text; a function
/// of vectors or matrices, its staged listing.
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

    // A function of vectors or matrices has no formulas or seed-style code: it shows its staged listing.
    private static string? Math(Gradient g) => g.HasFormulas ? "$$\n" + g.ToLatex() + "\n$$" : null;

    private static string Markdown(Gradient g) =>
        g.IsScalar ? Math(g) + "\n\n```csharp\n" + g.ToCode() + "```\n" : "```\n" + g.ToListing() + "```\n";

    private static string Plain(Gradient g) => g.IsScalar ? g + "\n\n" + g.ToCode() : g.ToListing();
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
