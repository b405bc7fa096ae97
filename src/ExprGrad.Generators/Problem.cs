using System.Collections;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace ExprGrad.Generators;

/// <summary>
/// A diagnostic as plain data: the generator's results are cached and compared between edits, and a
/// <see cref="Diagnostic"/> neither compares by value nor should hold on to a syntax tree.
/// </summary>
internal sealed record Problem(DiagnosticDescriptor Descriptor, string Path, TextSpan Span, LinePositionSpan Lines, EquatableArray<string> Arguments)
{
    public static Problem At(DiagnosticDescriptor descriptor, Location location, params string[] arguments) =>
        new(descriptor, location.SourceTree?.FilePath ?? "", location.SourceSpan, location.GetLineSpan().Span, new([.. arguments]));

    public Diagnostic ToDiagnostic() =>
        Diagnostic.Create(Descriptor, Location.Create(Path, Span, Lines), Arguments.Cast<object>().ToArray());
}

/// <summary>An immutable array that compares by its elements, so that an unchanged result compares equal to its cache.</summary>
internal readonly struct EquatableArray<T>(ImmutableArray<T> items) : IEquatable<EquatableArray<T>>, IEnumerable<T>
    where T : IEquatable<T>
{
    private readonly ImmutableArray<T> _items = items;

    private ImmutableArray<T> Items => _items.IsDefault ? [] : _items;

    public int Length => Items.Length;

    public bool Equals(EquatableArray<T> other) => Items.SequenceEqual(other.Items);

    public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in Items)
            hash.Add(item);
        return hash.ToHashCode();
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
