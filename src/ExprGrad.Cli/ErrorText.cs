using System.Globalization;
using System.Text;

namespace ExprGrad.Cli;

/// <summary>
/// Makes user text safe to print on an error line: every character a terminal would act on instead of showing
/// (C0 and C1 controls, ESC, DEL, bidi overrides and other format characters, line and paragraph separators, lone
/// surrogates) is written as a visible escape such as <c>\u001b</c>, and long text is cut to a bounded length.
/// The work done is bounded by the length printed, never by the length of the text.
/// </summary>
internal static class ErrorText
{
    /// <summary>The longest error line, in printed characters, before the text in it is cut.</summary>
    public const int MaxLine = 300;

    /// <summary>How many printed characters of the offending line are shown around a caret.</summary>
    public const int ExcerptWidth = 72;

    private const string Cut = "...";

    /// <summary>
    /// <paramref name="text"/> with unsafe characters escaped, cut to at most <paramref name="max"/> printed characters
    /// (plus a note of the full length) when longer.
    /// </summary>
    /// <example><c>Clip("a\u001b[31mb", 100)</c> is <c>a\u001b[31mb</c> with the ESC written as the six characters <c>\u001b</c>.</example>
    public static string Clip(string text, int max = MaxLine)
    {
        var sb = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            var (piece, width) = Piece(text, i);
            if (sb.Length + piece.Length > max)
                return sb.Append(Cut).Append(CultureInfo.InvariantCulture, $" ({text.Length:N0} characters in all)").ToString();
            sb.Append(piece);
            i += width;
        }
        return sb.ToString();
    }

    /// <summary>
    /// The line of <paramref name="text"/> that holds <paramref name="index"/> (0-based; the text's length when the
    /// error is at its end), escaped and cut to a window of about <paramref name="width"/> printed characters around
    /// the index, with "..." where it was cut; and the 0-based printed column of the index in that excerpt, so a
    /// caret at that column points at the offending character.
    /// </summary>
    public static (string Excerpt, int Caret) Excerpt(string text, int index, int width = ExcerptWidth)
    {
        index = Math.Clamp(index, 0, text.Length);
        // The line is bounded by \n, \r\n or \r on each side (a lone \r is a line break to the parser too).
        var lineStart = text.AsSpan(0, index).LastIndexOfAny('\n', '\r') + 1;
        var lineEnd = text.AsSpan(index).IndexOfAny('\n', '\r');
        lineEnd = lineEnd < 0 ? text.Length : index + lineEnd;

        // Every character prints as at least one, so the window never reaches further than width from the index.
        var left = new List<string>();
        var shownLeft = 0;
        var start = index;
        GrowLeft(width / 2);
        var right = new StringBuilder();
        var end = index;
        while (end < lineEnd)
        {
            var (piece, advance) = Piece(text, end);
            if (shownLeft + right.Length + piece.Length > width)
                break;
            right.Append(piece);
            end += advance;
        }
        // Near the end of the line, the room not needed on the right goes to the left.
        GrowLeft(width - right.Length);
        left.Reverse();
        var prefix = start > lineStart ? Cut : "";
        var excerpt = prefix + string.Concat(left) + right + (end < lineEnd ? Cut : "");
        return (excerpt, prefix.Length + shownLeft);

        // Takes characters (a surrogate pair as one) leftwards from start while the left part prints within room.
        void GrowLeft(int room)
        {
            while (start > lineStart)
            {
                var from = start - 1;
                if (from > lineStart && char.IsLowSurrogate(text[from]) && char.IsHighSurrogate(text[from - 1]))
                    from--;
                var (piece, _) = Piece(text, from);
                if (shownLeft + piece.Length > room)
                    return;
                left.Add(piece);
                shownLeft += piece.Length;
                start = from;
            }
        }
    }

    // The printed form of the character (or surrogate pair) at i, and how many chars of the text it covers.
    private static (string Piece, int Advance) Piece(string text, int i)
    {
        var c = text[i];
        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            var pair = text.Substring(i, 2);
            return CharUnicodeInfo.GetUnicodeCategory(pair, 0) == UnicodeCategory.Format
                ? ($"\\U{char.ConvertToUtf32(c, text[i + 1]):x8}", 2)
                : (pair, 2);
        }
        return IsUnsafe(c) ? ($"\\u{(int)c:x4}", 1) : (c.ToString(), 1);
    }

    // Cc covers C0, DEL and C1 (ESC, CSI, ...); Cf covers the bidi overrides and isolates, zero-width characters and
    // the BOM; Zl and Zp are line breaks to some terminals; a lone surrogate cannot be encoded at all.
    private static bool IsUnsafe(char c) =>
        char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c) is
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}
