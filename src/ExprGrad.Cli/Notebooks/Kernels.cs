using System.Reflection;
using System.Text.RegularExpressions;

namespace ExprGrad.Cli.Notebooks;

/// <summary>A language that runs cells, keeping its state (variables, references) from one cell to the next.</summary>
internal interface IKernel : IDisposable
{
    /// <summary>Makes an assembly of the shared context visible to the following cells.</summary>
    void Reference(Assembly assembly);

    /// <summary>Runs one cell; returns the value of its last expression, or null if it has none to show.</summary>
    Task<object?> RunAsync(string code, int cell);

    /// <summary>How this kernel prints a value that has no notebook formatter (null: the runner's default).</summary>
    Func<object, string>? PlainText { get; }
}

/// <summary>The kernels a notebook may name, as Polyglot Notebooks names them.</summary>
internal static class KernelNames
{
    public const string CSharp = "csharp";
    public const string FSharp = "fsharp";

    /// <summary>A Polyglot kernel name or language as the runner knows it (<c>C#</c> and <c>c#</c> are <c>csharp</c>); other names pass unchanged.</summary>
    public static string Canonical(string name) => name.ToLowerInvariant() switch
    {
        "csharp" or "c#" => CSharp,
        "fsharp" or "f#" => FSharp,
        var other => other,
    };
}

/// <summary>
/// The directives of a cell that the runner handles itself, as Polyglot does: a first line <c>#!csharp</c> or
/// <c>#!fsharp</c> choosing the kernel, and <c>#r "path"</c> references (a relative path is relative to the notebook's
/// folder). Their lines are blanked, not removed, so line numbers in errors still match the cell.
/// </summary>
internal sealed partial record CellCode(string Code, string? Kernel, IReadOnlyList<string> References)
{
    [GeneratedRegex("""^\s*#r\s+@?"(?<path>[^"]+)"\s*;?\s*$""")]
    private static partial Regex Reference();

    [GeneratedRegex("""^\s*#!(?<kernel>\S+)\s*$""")]
    private static partial Regex Magic();

    public static CellCode Parse(string source)
    {
        var lines = source.ReplaceLineEndings("\n").Split('\n');
        string? kernel = null;
        var references = new List<string>();
        var seenCode = false;
        for (var i = 0; i < lines.Length; i++)
        {
            if (!seenCode && Magic().Match(lines[i]) is { Success: true } magic)
            {
                kernel = KernelNames.Canonical(magic.Groups["kernel"].Value);
                lines[i] = "";
            }
            else if (Reference().Match(lines[i]) is { Success: true } reference)
            {
                var path = reference.Groups["path"].Value;
                if (path.StartsWith("nuget:", StringComparison.OrdinalIgnoreCase))
                    throw new NotebookException($"#r \"{path}\": NuGet references are not supported by the headless runner; reference a built DLL by its path");
                references.Add(path);
                lines[i] = "";
            }
            else if (lines[i].Trim().Length > 0)
                seenCode = true;
        }
        return new CellCode(string.Join("\n", lines), kernel, references);
    }
}
