namespace ExprGrad.Notebook;

/// <summary>
/// Names the formatter source of a type for .NET Interactive (Polyglot Notebooks, and Jupyter through its .NET kernel).
/// .NET Interactive finds it by convention, by the attribute's type name alone, so ExprGrad needs no package reference:
/// it activates <see cref="FormatterSourceType"/>, calls its public <c>CreateTypeFormatters()</c>, and for each
/// returned object reads its public <c>MimeType</c> (and <c>Type</c>) and calls its public
/// <c>bool Format(object instance, TextWriter writer)</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct)]
internal sealed class TypeFormatterSourceAttribute(Type formatterSourceType) : Attribute
{
    /// <summary>The class whose <c>CreateTypeFormatters()</c> makes the formatters.</summary>
    public Type FormatterSourceType { get; } = formatterSourceType;

    /// <summary>The MIME types a notebook shows by default for the attributed type, richest first.</summary>
    public string[] PreferredMimeTypes { get; set; } = [];
}
