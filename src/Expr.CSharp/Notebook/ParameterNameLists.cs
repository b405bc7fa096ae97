namespace ExprGrad.Notebook;

/// <summary>
/// Parameter name lists by number, so that a <c>ValueAndGradient</c> carries its names as an <c>int</c>. A reference
/// field would cost every <c>Evaluate</c> a GC write barrier (the result may be written anywhere) and the spills and
/// frame zeroing around it, about 3 ns a call, as much as a small gradient itself; an <c>int</c> is one plain store.
/// </summary>
/// <remarks>
/// Lists are interned by content: every gradient of <c>(x, y)</c> shares one number, so the table grows with the distinct
/// name lists a program uses, not with its gradients. It is internal and append-only, and bounded: past
/// <see cref="Capacity"/> lists, new ones get 0 and their results show by position (<c>Value</c>, <c>D1</c>, ...).
/// </remarks>
internal static class ParameterNameLists
{
    /// <summary>The most distinct lists kept.</summary>
    public const int Capacity = 1 << 16;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, int> Numbers = new(StringComparer.Ordinal);
    private static readonly List<string[]> Lists = [[]]; // number 0: no names

    /// <summary>The number of <paramref name="names"/>, added if new; 0 (no names) for null or when full.</summary>
    public static int Intern(IReadOnlyList<string>? names)
    {
        if (names is null)
            return 0;
        // '\0' cannot occur in a parameter name that a lambda or the formula parser makes.
        var key = string.Join('\0', names) + "\0" + names.Count;
        lock (Gate)
        {
            if (Numbers.TryGetValue(key, out var number))
                return number;
            if (Lists.Count >= Capacity)
                return 0;
            Lists.Add([.. names]);
            return Numbers[key] = Lists.Count - 1;
        }
    }

    /// <summary>The list numbered <paramref name="number"/>; null for 0 or an unknown number.</summary>
    public static IReadOnlyList<string>? Get(int number)
    {
        if (number <= 0)
            return null;
        lock (Gate)
            return number < Lists.Count ? Lists[number] : null;
    }
}
