using System.Linq.Expressions;
using System.Runtime.InteropServices;

namespace ExprGrad.Emit;

/// <summary>
/// The compiled value-and-gradient code: one delegate, or for a graph too large for the JIT to optimize as one
/// method, several run in order that pass values through the tape.
/// </summary>
internal sealed class Kernel
{
    private readonly FlatKernel? _single;
    private readonly FlatPart[] _parts;
    private readonly int _valueSlot;

    public Kernel(LambdaExpression expression, FlatKernel single, int loopCount)
    {
        LoopCount = loopCount;
        Expression = expression;
        _single = single;
        _parts = [];
    }

    public Kernel(LambdaExpression expression, FlatPart[] parts, int tapeLength, int valueSlot, int loopCount)
    {
        LoopCount = loopCount;
        Expression = expression;
        _parts = parts;
        TapeLength = tapeLength;
        _valueSlot = valueSlot;
    }

    public LambdaExpression Expression { get; }

    public int TapeLength { get; }

    /// <summary>The compiled method, for a graph compiled as one (which needs no tape); else null.</summary>
    public FlatKernel? Direct => _single;

    /// <summary>The number of loops that runs of like stages were re-rolled into.</summary>
    public int LoopCount { get; }

    /// <summary>The number of compiled methods the graph was split into.</summary>
    public int MethodCount => _single is null ? _parts.Length : 1;

    /// <summary>Runs on the workspace's point and gradient arrays, whose first <paramref name="length"/> values are the point's.</summary>
    public double Run(Workspace work, int length) =>
        Run(ref MemoryMarshal.GetArrayDataReference(work.X), ref MemoryMarshal.GetArrayDataReference(work.G), work.Tape, length);

    /// <summary>
    /// Runs on the point at <paramref name="x"/> and writes the gradient at <paramref name="g"/>, both at least
    /// the graph's dimension long and both <paramref name="length"/> long; <paramref name="tape"/> is at least
    /// <see cref="TapeLength"/> long.
    /// </summary>
    public double Run(ref double x, ref double g, double[] tape, int length) =>
        _single is not null ? _single(ref x, ref g, tape, length) : RunParts(ref x, ref g, tape, length);

    private double RunParts(ref double x, ref double g, double[] tape, int length)
    {
        foreach (var part in _parts)
            part(ref x, ref g, tape, length);
        return tape[_valueSlot];
    }
}
