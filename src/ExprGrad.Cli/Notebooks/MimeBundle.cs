using System.Collections;
using System.Globalization;
using System.Linq.Expressions;

namespace ExprGrad.Cli.Notebooks;

/// <summary>
/// A value formatted for a notebook: text per MIME type, richest first, always with <c>text/plain</c>. Types that
/// name a formatter source by .NET Interactive's convention (an attribute whose type is named
/// <c>TypeFormatterSourceAttribute</c>) are formatted by it, found and called through reflection exactly as
/// .NET Interactive does, so a library needs no reference to the runner (nor to .NET Interactive).
/// </summary>
internal sealed class MimeBundle : IEnumerable<KeyValuePair<string, string>>
{
    private readonly List<KeyValuePair<string, string>> _items = [];

    public string this[string mimeType] => _items.First(i => i.Key == mimeType).Value;

    public bool Contains(string mimeType) => _items.Exists(i => i.Key == mimeType);

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Formats a value: its convention formatters (each that accepts it), then text/plain if they gave none.</summary>
    public static MimeBundle Of(object value, Func<object, string>? plainText = null)
    {
        var bundle = new MimeBundle();
        foreach (var formatter in ConventionFormatters(value.GetType()))
        {
            if (bundle.Contains(formatter.MimeType) || !formatter.Type.IsInstanceOfType(value))
                continue;
            var writer = new StringWriter(CultureInfo.InvariantCulture);
            if (formatter.Format(value, writer))
                bundle._items.Add(new(formatter.MimeType, writer.ToString()));
        }
        if (!bundle.Contains("text/plain"))
            bundle._items.Add(new("text/plain", plainText?.Invoke(value) ?? Plain(value)));
        return bundle;
    }

    /// <summary>Content given under one MIME type, as it is.</summary>
    public static MimeBundle Single(string mimeType, string content)
    {
        var bundle = new MimeBundle();
        bundle._items.Add(new(mimeType, content));
        return bundle;
    }

    /// <summary>Text for a value with no formatter: numbers in the invariant culture, sequences as <c>[a, b, c]</c>.</summary>
    public static string Plain(object? value, int depth = 0) => value switch
    {
        null => "null",
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable sequence when depth < 3 => "[" + string.Join(", ", sequence.Cast<object?>().Select(v => Plain(v, depth + 1))) + "]",
        _ => value.ToString() ?? "",
    };

    private sealed record Convention(string MimeType, Type Type, Func<object, TextWriter, bool> Format);

    // Per type: the formatters of the first formatter-source attributes found along its base types.
    private static readonly Dictionary<Type, Convention[]> Cache = [];

    private static Convention[] ConventionFormatters(Type type)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(type, out var formatters))
                Cache[type] = formatters = Discover(type).ToArray();
            return formatters;
        }
    }

    private static IEnumerable<Convention> Discover(Type type)
    {
        foreach (var attribute in type.GetCustomAttributes(inherit: true).Where(a => a.GetType().Name == "TypeFormatterSourceAttribute"))
        {
            if (attribute.GetType().GetProperty("FormatterSourceType")?.GetValue(attribute) is not Type sourceType)
                continue;
            var source = Activator.CreateInstance(sourceType);
            if (sourceType.GetMethod("CreateTypeFormatters")?.Invoke(source, null) is not IEnumerable formatters)
                continue;
            foreach (var formatter in formatters)
            {
                var t = formatter.GetType();
                if (t.GetProperty("MimeType")?.GetValue(formatter) is not string mimeType
                    || t.GetMethod("Format", [typeof(object), typeof(TextWriter)]) is not { } format || format.ReturnType != typeof(bool))
                    continue;
                var formatted = t.GetProperty("Type")?.GetValue(formatter) as Type ?? type;
                var instance = Expression.Parameter(typeof(object), "instance");
                var writer = Expression.Parameter(typeof(TextWriter), "writer");
                var call = Expression.Lambda<Func<object, TextWriter, bool>>(
                    Expression.Call(Expression.Constant(formatter), format, instance, writer), instance, writer).Compile();
                yield return new Convention(mimeType, formatted, call);
            }
        }
    }
}
