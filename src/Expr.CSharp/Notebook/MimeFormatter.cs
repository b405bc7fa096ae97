namespace ExprGrad.Notebook;

/// <summary>
/// One formatter in the shape .NET Interactive's convention expects: a public <see cref="MimeType"/>, the
/// <see cref="Type"/> it formats, and a public <see cref="Format(object, TextWriter)"/> with exactly those parameter types.
/// </summary>
internal sealed class MimeFormatter(string mimeType, Type type, Func<object, string?> format)
{
    public string MimeType { get; } = mimeType;

    public Type Type { get; } = type;

    /// <summary>Writes <paramref name="instance"/> as <see cref="MimeType"/>; false if it is not a <see cref="Type"/> or has no such form.</summary>
    public bool Format(object instance, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (!Type.IsInstanceOfType(instance) || format(instance) is not { } text)
            return false;
        writer.Write(text);
        return true;
    }
}
