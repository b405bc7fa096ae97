using System.Linq.Expressions;

namespace ExprGrad.Emit;

/// <summary>
/// The compiled value-and-gradient code: one delegate, or for a graph too large for the JIT to optimize as one
/// method, several run in order that pass values through the tape.
/// </summary>
internal sealed class Kernel
{
    private readonly Func<double[], double[], double[], double>? _single;
    private readonly Action<double[], double[], double[]>[] _parts;
    private readonly int _valueSlot;

    public Kernel(LambdaExpression expression, Func<double[], double[], double[], double> single, int loopCount)
    {
        LoopCount = loopCount;
        Expression = expression;
        _single = single;
        _parts = [];
    }

    public Kernel(LambdaExpression expression, Action<double[], double[], double[]>[] parts, int tapeLength, int valueSlot, int loopCount)
    {
        LoopCount = loopCount;
        Expression = expression;
        _parts = parts;
        TapeLength = tapeLength;
        _valueSlot = valueSlot;
    }

    public LambdaExpression Expression { get; }

    public int TapeLength { get; }

    /// <summary>The number of loops that runs of like stages were re-rolled into.</summary>
    public int LoopCount { get; }

    /// <summary>The number of compiled methods the graph was split into.</summary>
    public int MethodCount => _single is null ? _parts.Length : 1;

    public double Run(Workspace work) => _single is not null ? _single(work.X, work.G, work.Tape) : RunParts(work);

    private double RunParts(Workspace work)
    {
        foreach (var part in _parts)
            part(work.X, work.G, work.Tape);
        return work.Tape[_valueSlot];
    }
}
