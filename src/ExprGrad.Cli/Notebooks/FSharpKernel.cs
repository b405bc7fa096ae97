using System.Reflection;
using FSharp.Compiler.Diagnostics;
using Microsoft.FSharp.Core;
using Microsoft.FSharp.Reflection;
using static FSharp.Compiler.Interactive.Shell;

namespace ExprGrad.Cli.Notebooks;

/// <summary>
/// F# cells through F# Interactive hosted in the runner (FSharp.Compiler.Service's <c>FsiEvaluationSession</c>): one
/// session for the whole notebook, so bindings carry over from cell to cell. It runs on FSharp.Core as the runner
/// hosts it, which is why an F# DLL a notebook references must not need a newer one. A cell's value is shown as
/// F# Interactive prints it, unless the value's type has a notebook formatter (a .NET object that is no F# type prints as its text).
/// </summary>
internal sealed class FSharpKernel : IKernel
{
    private readonly FsiEvaluationSession _session;
    private readonly StringWriter _echo = new(); // F# Interactive's own "val x: int = 1" lines, which notebooks do not show

    public FSharpKernel()
    {
        var configuration = FsiEvaluationSession.GetDefaultConfiguration();
        string[] arguments = ["fsi.exe", "--noninteractive", "--nologo", "--gui-"];
        _session = FsiEvaluationSession.Create(configuration, arguments, new StringReader(""), _echo, _echo,
            collectible: FSharpOption<bool>.None, legacyReferenceResolver: null);
        Reference(typeof(NotebookFunctions).Assembly);
        Evaluate($"open {typeof(NotebookFunctions).Namespace}\nopen type {typeof(NotebookFunctions).FullName}", "prelude.fsx");
    }

    // F# values (records, unions, tuples, lists, arrays, numbers) print as F# Interactive prints them; strings and
    // .NET objects print as their text, as in C# cells.
    public Func<object, string>? PlainText => value => IsFSharpShaped(value.GetType())
        ? _session.FormatValue(value, value.GetType())
        : MimeBundle.Plain(value);

    private static bool IsFSharpShaped(Type type) =>
        type.IsArray || type.IsPrimitive || FSharpType.IsTuple(type)
        || FSharpType.IsRecord(type, FSharpOption<BindingFlags>.None) || FSharpType.IsUnion(type, FSharpOption<BindingFlags>.None);

    public void Reference(Assembly assembly) => Evaluate($"#r @\"{assembly.Location}\"", "references.fsx");

    public Task<object?> RunAsync(string code, int cell)
    {
        var value = Evaluate(code, $"cell{cell}.fsx");
        return Task.FromResult(value is { ReflectionValue: { } v } && value.ReflectionType != typeof(Unit) ? v : null);
    }

    private FsiValue? Evaluate(string code, string file)
    {
        var result = _session.EvalInteractionNonThrowing(code, file, FSharpOption<CancellationToken>.None);
        var errors = result.Item2.Where(d => d.Severity == FSharpDiagnosticSeverity.Error).ToList();
        if (errors.Count > 0)
            throw new NotebookException(string.Join("\n", errors.Select(d => d.ToString())));
        return result.Item1 switch
        {
            FSharpChoice<FSharpOption<FsiValue>, Exception>.Choice1Of2 ok => ok.Item?.Value,
            FSharpChoice<FSharpOption<FsiValue>, Exception>.Choice2Of2 failed => throw Unwrap(failed.Item),
            _ => null,
        };
    }

    // F# Interactive wraps what a cell throws; the cell's own exception says what went wrong.
    private static Exception Unwrap(Exception e) =>
        e is TargetInvocationException { InnerException: { } inner } ? inner : e;

    public void Dispose() => ((IDisposable)_session).Dispose();
}
