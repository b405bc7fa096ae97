using System.Buffers;
using System.Linq.Expressions;
using System.Runtime.InteropServices;
using ExprGrad.Emit;
using ExprGrad.Staging;

namespace ExprGrad.SecondOrder;

/// <summary>
/// A compiled list of output nodes: the emitter's flat kernel with the outputs written where a gradient's adjoints
/// would be (output k to slot k), reading a point in the given parameter layout. Safe to call from many threads.
/// </summary>
internal sealed class OutputKernel
{
    private readonly Kernel _kernel;

    private readonly bool _writesWholePoint;

    private OutputKernel(Kernel kernel, int inputCount, int outputCount, int stageCount, bool writesWholePoint)
    {
        _kernel = kernel;
        _writesWholePoint = writesWholePoint;
        InputCount = inputCount;
        OutputCount = outputCount;
        StageCount = stageCount;
    }

    /// <summary>The length of the input point.</summary>
    public int InputCount { get; }

    /// <summary>The number of outputs written.</summary>
    public int OutputCount { get; }

    /// <summary>The number of stages compiled, after dead-stage elimination.</summary>
    public int StageCount { get; }

    /// <summary>The methods the kernel is compiled into (see <see cref="Kernel.MethodCount"/>), for tests.</summary>
    public int MethodCount => _kernel.MethodCount;

    /// <summary>The loops its straight-line stages were re-rolled into (see <see cref="Kernel.LoopCount"/>), for tests.</summary>
    public int LoopCount => _kernel.LoopCount;

    /// <summary>The compiled lambda, for display and tests.</summary>
    public LambdaExpression Expression => _kernel.Expression;

    /// <summary>
    /// Compiles <paramref name="outputs"/> (null: 0) of the nodes in <paramref name="b"/>, read from a point laid out as
    /// <paramref name="parameters"/>; <paramref name="value"/> is what a call returns. With <paramref name="cleared"/>, the
    /// caller clears the output before each call, and slots with no output are not written. With
    /// <paramref name="followsPoint"/>, the outputs are laid out as the point (see <see cref="StagedGraph.OutputsFollowPoint"/>).
    /// </summary>
    public static OutputKernel Compile(LambdaExpression source, GraphBuilder b, ParameterLayout[] parameters, Node value, Node?[] outputs, int forwardCount,
        bool cleared = false, bool followsPoint = true)
    {
        var graph = new StagedGraph(source, b, value, parameters)
        {
            ForwardCount = forwardCount, Adjoints = outputs, OutputsCleared = cleared, OutputsFollowPoint = followsPoint,
        };
        DeadStages.Prune(graph);
        var stages = DeadStages.Regions(graph.Root).Sum(r => r.Nodes.Count(n => n.Op != Op.Constant));
        var inputs = parameters.Length == 0 ? 0 : parameters[^1].Offset + parameters[^1].Extent;
        return new OutputKernel(Emitter.Compile(graph), inputs, outputs.Length, stages, graph.EndsDynamic && followsPoint);
    }

    /// <summary>
    /// Runs on <paramref name="input"/> (<see cref="InputCount"/> long) and writes the outputs to
    /// <paramref name="output"/> (<see cref="OutputCount"/> long); the spans must not overlap. Returns the value node's value.
    /// </summary>
    /// <param name="input">The input.</param>
    /// <param name="output">The outputs.</param>
    /// <param name="pointLength">The point's length, when a direction follows it in <paramref name="input"/>
    /// (<see cref="ParameterLayout.IsDirection"/>); else the input's.</param>
    public double Run(ReadOnlySpan<double> input, Span<double> output, int? pointLength = null)
    {
        ref var x = ref MemoryMarshal.GetReference(input);
        ref var g = ref MemoryMarshal.GetReference(output);
        var length = pointLength ?? input.Length;
        // The kernel writes without bounds checks: one whose outputs follow a point of any length writes all of it.
        if (_writesWholePoint && output.Length < length)
            throw new ArgumentException($"internal error: the output has room for {output.Length} values, the kernel writes {length}", nameof(output));        if (_kernel.Direct is { } direct)
            return direct(ref x, ref g, [], length);
        var tape = ArrayPool<double>.Shared.Rent(_kernel.TapeLength);
        try
        {
            return _kernel.Run(ref x, ref g, tape, length);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(tape);
        }
    }
}

/// <summary>
/// Some entries of a dense matrix, compiled as an <see cref="OutputKernel"/> that writes each at its place in the
/// row-major matrix (and, for a symmetric one given by its upper triangle, at its mirror too): the caller clears the
/// matrix, and the kernel writes only the entries that are not zero by the function's structure.
/// </summary>
internal sealed class SparseKernel(OutputKernel kernel)
{
    public OutputKernel Kernel { get; } = kernel;

    /// <summary>Clears <paramref name="result"/> (the whole matrix, row-major) and writes the entries. Returns the kernel's value.</summary>
    public double Evaluate(ReadOnlySpan<double> input, Span<double> result)
    {
        result.Clear();
        return Kernel.Run(input, result);
    }

    /// <summary>
    /// Compiles <paramref name="entries"/> of the nodes of <paramref name="graph"/>'s builder, read in the layout
    /// <paramref name="parameters"/>, as a <paramref name="rows"/> × <paramref name="columns"/> matrix; with
    /// <paramref name="mirror"/>, each entry also at its transposed place.
    /// </summary>
    public static SparseKernel Compile(StagedGraph graph, ParameterLayout[] parameters, List<(int Row, int Column, Node Value)> entries,
        int forwardCount, int rows, int columns, bool mirror)
    {
        var outputs = new Node?[rows * columns];
        foreach (var (row, column, value) in entries)
        {
            outputs[row * columns + column] = value;
            if (mirror)
                outputs[column * columns + row] = value;
        }
        // The value is not needed: a constant keeps the function's own forward stages out of the kernel unless an entry reads them.
        return new(OutputKernel.Compile(graph.Source, graph.Builder, parameters, graph.Builder.Constant(0), outputs, forwardCount, cleared: true,
            followsPoint: false));
    }
}
