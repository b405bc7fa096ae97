namespace ExprGrad.Cli.Notebooks;

/// <summary>
/// The functions notebook cells call, as in Polyglot Notebooks: <c>display(value)</c> shows a value below the cell,
/// formatted as the notebook shows results (a <c>Gradient</c> as typeset formulas and staged code, a <c>Trace</c> as
/// its circuit). C# cells call it unqualified; F# cells call <c>display value</c>.
/// </summary>
public static class NotebookFunctions
{
    /// <summary>Shows <paramref name="value"/> below the cell being run, in every format it has (nothing for null).</summary>
    /// <exception cref="InvalidOperationException">Called outside a cell run by <c>exprgrad notebook run</c>.</exception>
#pragma warning disable IDE1006 // lower case, as notebooks spell it
    public static void display(object? value) => CellContext.Current.Display(value);
#pragma warning restore IDE1006
}

/// <summary>The <c>.Display()</c> extension of Polyglot Notebooks: <c>g.Trace(3, -4).Display();</c>.</summary>
public static class DisplayExtensions
{
    /// <summary>Shows <paramref name="value"/> below the cell being run, in every format it has (nothing for null).</summary>
    /// <exception cref="InvalidOperationException">Called outside a cell run by <c>exprgrad notebook run</c>.</exception>
    public static void Display(this object? value) => CellContext.Current.Display(value);

    /// <summary>
    /// Shows <paramref name="content"/> as it is, under one MIME type, as Polyglot's <c>DisplayAs</c> does: an SVG
    /// drawn in the cell with <c>svg.DisplayAs("image/svg+xml")</c>, HTML with <c>"text/html"</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called outside a cell run by <c>exprgrad notebook run</c>.</exception>
    public static void DisplayAs(this string content, string mimeType) => CellContext.Current.DisplayAs(content, mimeType);
}

/// <summary>
/// The outputs of the cell running on this logical thread (an async-local, so notebooks run side by side in one
/// process each keep their own), and the console redirection that sends what cells print there.
/// </summary>
internal static class CellContext
{
    private static readonly AsyncLocal<CellOutputs?> Outputs = new();
    private static readonly Lock ConsoleLock = new();
    private static bool _redirected;

    public static CellOutputs Current =>
        Outputs.Value ?? throw new InvalidOperationException("display() shows a value in a notebook cell run by 'exprgrad notebook run'");

    /// <summary>Runs <paramref name="run"/> with its display calls and console output going to <paramref name="outputs"/>.</summary>
    public static async Task<T> Capture<T>(CellOutputs outputs, Func<Task<T>> run)
    {
        RedirectConsole();
        var previous = Outputs.Value;
        Outputs.Value = outputs;
        try
        {
            return await run().ConfigureAwait(false);
        }
        finally
        {
            Outputs.Value = previous;
        }
    }

    // Once per process: Console.Out and Console.Error become writers that route to the current cell, or pass through.
    private static void RedirectConsole()
    {
        lock (ConsoleLock)
        {
            if (_redirected)
                return;
            Console.SetOut(new RoutingWriter(Console.Out, "stdout"));
            Console.SetError(new RoutingWriter(Console.Error, "stderr"));
            _redirected = true;
        }
    }

    private sealed class RoutingWriter(TextWriter original, string stream) : TextWriter
    {
        public override System.Text.Encoding Encoding => original.Encoding;

        public override void Write(char value) => Write(value.ToString());

        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

        public override void Write(string? value)
        {
            if (string.IsNullOrEmpty(value))
                return;
            if (Outputs.Value is { } outputs)
                outputs.Write(stream, value);
            else
                original.Write(value);
        }

        public override void Flush() => original.Flush();
    }
}
