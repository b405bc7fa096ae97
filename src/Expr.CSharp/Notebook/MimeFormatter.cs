namespace ExprGrad.Notebook;

/// <summary>
/// One formatter in the shape .NET Interactive's convention expects: a public <see cref="MimeType"/>, the
/// <see cref="Type"/> it formats, and a public <see cref="Format(object, TextWriter)"/> with exactly those parameter types.
/// <see cref="Type"/> may be a generic type definition (<c>typeof(ValueAndGradient&lt;&gt;)</c>): it then formats every
/// construction of it, as .NET Interactive matches such a formatter.
/// </summary>
internal sealed class MimeFormatter(string mimeType, Type type, Func<object, string?> format)
{
    public string MimeType { get; } = mimeType;

    public Type Type { get; } = type;

    /// <summary>Writes <paramref name="instance"/> as <see cref="MimeType"/>; false if it is not a <see cref="Type"/> or has no such form.</summary>
    public bool Format(object instance, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (!Formats(instance) || format(instance) is not { } text)
            return false;
        writer.Write(text);
        return true;
    }

    // Our generic types are sealed structs and classes, so an open type matches only the instance's own definition.
    private bool Formats(object? instance) => Type.IsGenericTypeDefinition
        ? instance?.GetType() is { IsGenericType: true } t && t.GetGenericTypeDefinition() == Type
        : Type.IsInstanceOfType(instance);
}
