using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.CodeAnalysis.Scripting.Hosting;

namespace ExprGrad.Cli.Notebooks;

/// <summary>
/// C# cells through Roslyn scripting: the first cell starts a script, each next one continues it
/// (<c>ContinueWithAsync</c>), so variables and usings carry over. Scripting references nothing by default that a
/// notebook expects, so the framework assemblies are named explicitly: System.Linq for LINQ, System.Linq.Expressions
/// for lambdas passed as expression trees (<c>Grad.Of(...)</c>), and the runner itself for <c>display</c>.
/// </summary>
internal sealed class CSharpKernel : IKernel
{
    private static readonly string[] Imports =
    [
        "System", "System.Collections.Generic", "System.Linq", "System.Text", "System.Threading.Tasks",
        typeof(NotebookFunctions).Namespace!, typeof(NotebookFunctions).FullName!,
    ];

    // Assembly.Load by name, not typeof(...): the implementation of System.Runtime is CoreLib, but compilations need the facade.
    private static readonly string[] Framework =
        ["System.Runtime", "System.Console", "System.Collections", "System.Linq", "System.Linq.Expressions", "System.Text.RegularExpressions", "System.Runtime.Numerics"];

    private readonly InteractiveAssemblyLoader _loader = new();
    private ScriptOptions _options;
    private ScriptState<object>? _state;

    public CSharpKernel()
    {
        var references = Framework.Select(name => Assembly.Load(name)).Append(typeof(object).Assembly).Append(typeof(NotebookFunctions).Assembly)
            .Select(a => MetadataReference.CreateFromFile(a.Location));
        _options = ScriptOptions.Default.WithReferences(references).WithImports(Imports);
    }

    public Func<object, string>? PlainText => null;

    public void Reference(Assembly assembly)
    {
        _loader.RegisterDependency(assembly); // the script's loader hands out the shared copy, never its own
        _options = _options.AddReferences(MetadataReference.CreateFromFile(assembly.Location));
    }

    public async Task<object?> RunAsync(string code, int cell)
    {
        var options = _options.WithFilePath($"cell{cell}.csx");
        try
        {
            _state = _state is null
                ? await CSharpScript.Create(code, options, assemblyLoader: _loader).RunAsync().ConfigureAwait(false)
                : await _state.ContinueWithAsync(code, options).ConfigureAwait(false);
        }
        catch (CompilationErrorException e)
        {
            throw new NotebookException(string.Join("\n", e.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        }
        return _state.ReturnValue;
    }

    public void Dispose() => _loader.Dispose();
}
