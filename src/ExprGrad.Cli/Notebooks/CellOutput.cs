using System.Text;
using System.Text.Json.Nodes;

namespace ExprGrad.Cli.Notebooks;

/// <summary>One output of a code cell, as nbformat 4 stores it: printed text, a displayed value, or the cell's result.</summary>
internal abstract record CellOutput
{
    /// <summary>The output as nbformat JSON (keys in Jupyter's order).</summary>
    public abstract JsonObject ToJson(int executionCount);
}

/// <summary>Text a cell printed to standard output or standard error (<c>"output_type": "stream"</c>).</summary>
internal sealed record StreamOutput(string Name, StringBuilder Text) : CellOutput
{
    public override JsonObject ToJson(int executionCount) => new()
    {
        ["name"] = Name,
        ["output_type"] = "stream",
        ["text"] = NotebookDocument.Lines(Text.ToString()),
    };
}

/// <summary>A value shown by <c>display(...)</c> (<c>display_data</c>) or the value of the cell's last expression (<c>execute_result</c>).</summary>
internal sealed record DataOutput(bool IsResult, MimeBundle Data) : CellOutput
{
    public override JsonObject ToJson(int executionCount)
    {
        var data = new JsonObject();
        foreach (var (mime, text) in Data)
            data[mime] = NotebookDocument.Lines(text);
        var json = new JsonObject { ["data"] = data };
        if (IsResult)
            json["execution_count"] = executionCount;
        json["metadata"] = new JsonObject();
        json["output_type"] = IsResult ? "execute_result" : "display_data";
        return json;
    }
}

/// <summary>
/// The outputs of the cell being run, in order. Printed text joins the previous output when that is text of the same
/// stream, as Jupyter shows it. Writes may come from any thread the cell starts, so they are serialized.
/// </summary>
internal sealed class CellOutputs
{
    private readonly List<CellOutput> _outputs = [];

    /// <summary>How values without a notebook formatter print as text: the F# kernel prints them as F# Interactive does.</summary>
    public Func<object, string>? PlainText { get; init; }

    public IReadOnlyList<CellOutput> Items
    {
        get
        {
            lock (_outputs)
                return _outputs.ToList();
        }
    }

    public void Write(string stream, string text)
    {
        lock (_outputs)
        {
            if (_outputs.Count > 0 && _outputs[^1] is StreamOutput last && last.Name == stream)
                last.Text.Append(text);
            else
                _outputs.Add(new StreamOutput(stream, new StringBuilder(text)));
        }
    }

    public void Display(object? value)
    {
        if (value is not null)
            Add(new DataOutput(false, MimeBundle.Of(value, PlainText)));
    }

    public void DisplayAs(string content, string mimeType)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrWhiteSpace(mimeType);
        Add(new DataOutput(false, MimeBundle.Single(mimeType, content)));
    }

    public void Result(object value) => Add(new DataOutput(true, MimeBundle.Of(value, PlainText)));

    private void Add(CellOutput output)
    {
        lock (_outputs)
            _outputs.Add(output);
    }
}
