using System.Globalization;

namespace ExprGrad.Cli.Notebooks;

/// <summary>
/// Runs a notebook headless, as Polyglot Notebooks would: code cells in order, each in its kernel (C# or F#), state
/// carried from cell to cell, <c>#r</c> references shared by both kernels, values shown through the notebook
/// formatters. The first cell that fails stops the run. Formatting uses the invariant culture, so outputs are the
/// same on every machine.
/// </summary>
internal static class NotebookRunner
{
    /// <summary>Runs the notebook at <paramref name="path"/>; with <paramref name="write"/>, stores the outputs in it (only if every cell ran).</summary>
    /// <exception cref="NotebookException">The file is not a notebook, or a cell failed (a <see cref="NotebookCellException"/>).</exception>
    public static async Task<NotebookRun> RunAsync(string path, bool write)
    {
        var file = Path.GetFullPath(path);
        var document = NotebookDocument.Load(file);
        var folder = Path.GetDirectoryName(file)!;
        var results = new List<(NotebookCell Cell, IReadOnlyList<CellOutput> Outputs)>();

        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        using var assemblies = new SharedAssemblies();
        var kernels = new Dictionary<string, IKernel>();
        try
        {
            foreach (var cell in document.Cells.Where(c => c.IsCode))
            {
                var kernelName = KernelNames.Canonical(cell.Kernel ?? document.DefaultKernel);
                try
                {
                    var code = CellCode.Parse(cell.Source);
                    kernelName = code.Kernel ?? kernelName;
                    if (code.Code.Trim().Length == 0 && code.References.Count == 0)
                    {
                        results.Add((cell, []));
                        continue;
                    }
                    var kernel = Kernel(kernels, kernelName);
                    foreach (var reference in code.References)
                        kernel.Reference(assemblies.Load(Path.GetFullPath(reference, folder)));
                    var outputs = new CellOutputs { PlainText = kernel.PlainText };
                    await CellContext.Capture(outputs, async () =>
                    {
                        if (await kernel.RunAsync(code.Code, cell.Number).ConfigureAwait(false) is { } value)
                            outputs.Result(value);
                        return 0;
                    }).ConfigureAwait(false);
                    results.Add((cell, outputs.Items));
                }
                catch (NotebookException e) when (e is not NotebookCellException)
                {
                    throw new NotebookCellException(cell.Number, kernelName, e.Message);
                }
                catch (Exception e) when (e is not NotebookException)
                {
                    throw new NotebookCellException(cell.Number, kernelName, $"{e.GetType().Name}: {e.Message}");
                }
            }
        }
        finally
        {
            foreach (var kernel in kernels.Values)
                kernel.Dispose();
            CultureInfo.CurrentCulture = culture;
        }

        var count = 0;
        foreach (var (cell, outputs) in results)
            cell.Store(++count, outputs);
        if (write)
            await File.WriteAllTextAsync(file, document.ToJson()).ConfigureAwait(false);
        return new NotebookRun(document, count);
    }

    // Kernels start when a cell first needs them: F# Interactive takes seconds to start, and most notebooks are C# only.
    private static IKernel Kernel(Dictionary<string, IKernel> kernels, string name)
    {
        if (kernels.TryGetValue(name, out var kernel))
            return kernel;
        kernel = name switch
        {
            KernelNames.CSharp => new CSharpKernel(),
            KernelNames.FSharp => new FSharpKernel(),
            _ => throw new NotebookException($"the kernel '{name}' is not supported by the headless runner (csharp and fsharp are)"),
        };
        kernels[name] = kernel;
        return kernel;
    }
}

/// <summary>A notebook that ran to the end: the document with the new outputs stored in its cells, and how many code cells ran.</summary>
internal sealed record NotebookRun(NotebookDocument Document, int CodeCells);
