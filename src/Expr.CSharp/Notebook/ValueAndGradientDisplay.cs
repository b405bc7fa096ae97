using System.Globalization;
using System.Net;
using System.Text;
using MathNet.Numerics.LinearAlgebra;

namespace ExprGrad.Notebook;

/// <summary>
/// What every arity of <c>ValueAndGradient</c> shares for display: the value, the gradients in parameter order and
/// the parameters' names (null when the result was built by hand rather than by <c>Evaluate</c>).
/// </summary>
internal interface IValueAndGradient
{
    /// <summary>The function's value.</summary>
    double Value { get; }

    /// <summary>The gradient with respect to each parameter, in order, boxed.</summary>
    object?[] Gradients { get; }

    /// <summary>The parameters' names, in order; null if unknown.</summary>
    IReadOnlyList<string>? ParameterNames { get; }
}

/// <summary>
/// A <c>ValueAndGradient</c> by parameter name: one line of text (<c>f = -12, ∂f/∂x = -4, ...</c>, its
/// <c>ToString()</c>) and an HTML table for notebooks. Without names (a result built by hand) the parts are labelled
/// by their properties, <c>Value</c>, <c>D1</c>, ...
/// </summary>
/// <remarks>
/// Text is exact: every number round-trips. The HTML table is for reading: numbers inside arrays, vectors and matrices
/// show 6 significant digits, as MathNet prints matrices, and long ones are cut with an ellipsis and their shape.
/// </remarks>
internal static class ValueAndGradientDisplay
{
    // Beyond these, text and tables show the first elements, rows or columns and say how many there are.
    private const int MaxElements = 20;
    private const int MaxRows = 8;
    private const int MaxColumns = 8;

    private static (string Label, object? Part)[] Parts(IValueAndGradient result)
    {
        var gradients = result.Gradients;
        var names = result.ParameterNames;
        var named = names is not null && names.Count == gradients.Length;
        var parts = new (string, object?)[gradients.Length + 1];
        parts[0] = (named ? "f" : "Value", result.Value);
        for (var k = 0; k < gradients.Length; k++)
            parts[k + 1] = (named ? "∂f/∂" + names![k] : "D" + (k + 1).ToString(CultureInfo.InvariantCulture), gradients[k]);
        return parts;
    }

    /// <summary>One line: <c>f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3</c>; arrays, vectors and matrices in brackets.</summary>
    public static string Text(IValueAndGradient result) =>
        string.Join(", ", Parts(result).Select(p => p.Label + " = " + Text(p.Part)));

    private static string Text(object? part) => part switch
    {
        null => "null",
        double d => Number(d),
        double[] array => Sequence(array, array.Length, Number),
        Vector<double> vector => Sequence(vector, vector.Count, Number),
        Matrix<double> matrix => Shape(matrix) + " " + Sequence(
            matrix.EnumerateRows().Take(MaxRows), matrix.RowCount, row => Sequence(row, row.Count, Number, MaxColumns), MaxRows),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => part.ToString() ?? "",
    };

    private static string Number(double d) => d.ToString("R", CultureInfo.InvariantCulture);

    private static string Shape(Matrix<double> matrix) =>
        matrix.RowCount.ToString(CultureInfo.InvariantCulture) + "×" + matrix.ColumnCount.ToString(CultureInfo.InvariantCulture);

    private static string Sequence<T>(IEnumerable<T> items, int count, Func<T, string> show, int max = MaxElements)
    {
        var shown = string.Join(", ", items.Take(max).Select(show));
        return count > max ? $"[{shown}, … ({count} in all)]" : $"[{shown}]";
    }

    /// <summary>
    /// A table with one column per part: the labels (<c>f</c>, <c>∂f/∂x</c>, ...) as its header, the values below;
    /// an array or vector as a bracketed list, a matrix as a nested table with its shape.
    /// </summary>
    public static string Html(IValueAndGradient result)
    {
        var parts = Parts(result);
        var html = new StringBuilder("<table class=\"exprgrad-value-and-gradient\"><thead><tr>");
        foreach (var (label, _) in parts)
            html.Append("<th>").Append(WebUtility.HtmlEncode(label)).Append("</th>");
        html.Append("</tr></thead><tbody><tr>");
        foreach (var (_, part) in parts)
            html.Append("<td style=\"vertical-align: top\">").Append(Html(part)).Append("</td>");
        return html.Append("</tr></tbody></table>").ToString();
    }

    private static string Html(object? part) => part switch
    {
        double d => WebUtility.HtmlEncode(Number(d)),
        double[] array => WebUtility.HtmlEncode(Sequence(array, array.Length, Short)),
        Vector<double> vector => WebUtility.HtmlEncode(Sequence(vector, vector.Count, Short)),
        Matrix<double> matrix => Grid(matrix),
        _ => WebUtility.HtmlEncode(Text(part)),
    };

    private static string Short(double d) => d.ToString("G6", CultureInfo.InvariantCulture);

    private static string Grid(Matrix<double> matrix)
    {
        var rows = Math.Min(matrix.RowCount, MaxRows);
        var columns = Math.Min(matrix.ColumnCount, MaxColumns);
        var html = new StringBuilder("<table class=\"exprgrad-matrix\"><caption>")
            .Append(Shape(matrix)).Append(" matrix</caption><tbody>");
        for (var i = 0; i < rows; i++)
        {
            html.Append("<tr>");
            for (var j = 0; j < columns; j++)
                html.Append("<td style=\"text-align: right\">").Append(Short(matrix[i, j])).Append("</td>");
            if (columns < matrix.ColumnCount)
                html.Append("<td>…</td>");
            html.Append("</tr>");
        }
        if (rows < matrix.RowCount)
            html.Append("<tr><td>⋮</td></tr>");
        return html.Append("</tbody></table>").ToString();
    }
}

/// <summary>
/// How every <c>ValueAndGradient</c> shows in a notebook: a table of its parts by parameter name (<c>text/html</c>)
/// and its one-line <c>ToString()</c> (<c>text/plain</c>). One formatter per arity's open generic type: .NET
/// Interactive matches a formatter whose <c>Type</c> is a generic type definition against every construction of it.
/// </summary>
internal sealed class ValueAndGradientFormatterSource
{
    private static readonly Type[] Arities =
    [
        typeof(ValueAndGradient<>), typeof(ValueAndGradient<,>), typeof(ValueAndGradient<,,>), typeof(ValueAndGradient<,,,>),
        typeof(ValueAndGradient<,,,,>), typeof(ValueAndGradient<,,,,,>), typeof(ValueAndGradient<,,,,,,>), typeof(ValueAndGradient<,,,,,,,>),
    ];

    /// <summary>Called by the convention, through reflection.</summary>
    public IEnumerable<object> CreateTypeFormatters() => Arities.SelectMany(type => new object[]
    {
        new MimeFormatter("text/html", type, r => ValueAndGradientDisplay.Html((IValueAndGradient)r)),
        new MimeFormatter("text/plain", type, r => ValueAndGradientDisplay.Text((IValueAndGradient)r)),
    });
}
