using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.Loader;

namespace ExprGrad.Cli.Notebooks;

/// <summary>
/// The one load context both kernels share: the process's default context. Left to themselves, Roslyn scripting
/// loads each <c>#r</c> assembly into a context of its own and F# Interactive into the default one, so a C# cell and an
/// F# cell referencing the same DLL would see two copies of every type in it. Here every <c>#r</c> is loaded once,
/// into the default context, and both kernels are handed that one assembly.
/// </summary>
/// <remarks>
/// An assembly the process already holds (the runner itself ships ExprGrad) is shared only if the referenced file is
/// the same build (same module version id); a different build fails the reference, since one context holds one copy.
/// Dependencies of referenced assemblies are looked for beside them.
/// </remarks>
internal sealed class SharedAssemblies : IDisposable
{
    private readonly List<string> _folders = [];

    public SharedAssemblies() => AssemblyLoadContext.Default.Resolving += Resolve;

    /// <summary>The version of FSharp.Core the runner hosts (F# Interactive needs exactly the one FSharp.Compiler.Service was built with).</summary>
    public static Version HostedFSharpCore { get; } = typeof(Microsoft.FSharp.Core.Unit).Assembly.GetName().Version!;

    /// <summary>Loads the assembly at <paramref name="path"/> (absolute) into the shared context, or returns the copy already there.</summary>
    public Assembly Load(string path)
    {
        if (!File.Exists(path))
            throw new NotebookException($"#r: no such file: {path}");
        var (name, mvid, fsharpCore) = ReadIdentity(path);
        if (fsharpCore is not null && fsharpCore > HostedFSharpCore)
            throw new NotebookException(
                $"#r \"{path}\": {name} was built against FSharp.Core {fsharpCore}, newer than the FSharp.Core {HostedFSharpCore} " +
                "this runner hosts (FSharp.Compiler.Service pins it); build it against that FSharp.Core or an older one");

        var folder = Path.GetDirectoryName(path)!;
        lock (_folders)
            if (!_folders.Contains(folder))
                _folders.Add(folder);

        var assembly = AssemblyLoadContext.Default.Assemblies.FirstOrDefault(a => a.GetName().Name == name)
            ?? AssemblyLoadContext.Default.LoadFromAssemblyPath(path); // may still give the runner's own copy of the same name
        if (assembly.ManifestModule.ModuleVersionId != mvid)
            throw new NotebookException(
                $"#r \"{path}\": this process already holds another build of {name} (from {assembly.Location}); " +
                "rebuild so that the notebook's reference and the runner are the same build (dotnet build)");
        return assembly;
    }

    public void Dispose() => AssemblyLoadContext.Default.Resolving -= Resolve;

    private Assembly? Resolve(AssemblyLoadContext context, AssemblyName name)
    {
        lock (_folders)
            foreach (var folder in _folders)
            {
                var candidate = Path.Combine(folder, name.Name + ".dll");
                if (File.Exists(candidate))
                    return context.LoadFromAssemblyPath(candidate);
            }
        return null;
    }

    /// <summary>Reads a DLL's name, module version id and the FSharp.Core version it references, without loading it.</summary>
    public static (string Name, Guid Mvid, Version? FSharpCore) ReadIdentity(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            var reader = pe.GetMetadataReader();
            var name = reader.GetString(reader.GetAssemblyDefinition().Name);
            var mvid = reader.GetGuid(reader.GetModuleDefinition().Mvid);
            var fsharpCore = reader.AssemblyReferences
                .Select(h => reader.GetAssemblyReference(h))
                .Where(r => reader.GetString(r.Name) == "FSharp.Core")
                .Select(r => r.Version)
                .FirstOrDefault();
            return (name, mvid, fsharpCore);
        }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException)
        {
            throw new NotebookException($"#r \"{path}\": not a .NET assembly ({e.Message})");
        }
    }
}

/// <summary>A notebook the runner cannot run: a file that is not a notebook, a bad reference, a cell that fails.</summary>
internal class NotebookException(string message) : Exception(message);

/// <summary>A cell that failed: its number (from 1, counting every cell of the file), kernel and error.</summary>
internal sealed class NotebookCellException(int cell, string kernel, string error)
    : NotebookException($"cell {cell} ({kernel}) failed: {error}")
{
    public int Cell { get; } = cell;

    public string Error { get; } = error;
}
