using System.Buffers;

namespace ExprGrad.Emit;

/// <summary>What compiled loops call at run time: checks that name what is wrong, and a fold's tape.</summary>
internal static class LoopRuntime
{
    /// <summary>A range's count, checked as <see cref="Enumerable.Range"/> checks it.</summary>
    public static int Count(int count, string loop) =>
        count >= 0 ? count : throw new ArgumentOutOfRangeException(nameof(count), count, $"{loop}: the range's count is {count}, and a count cannot be negative");

    /// <summary>An index, checked against its array's length before anything is read or written there.</summary>
    public static void Index(int index, int length, string array, string indexText)
    {
        if ((uint)index >= (uint)length)
            Throw(index, length, array, indexText);
    }

    private static void Throw(int index, int length, string array, string indexText) =>
        throw new IndexOutOfRangeException($"{array}[{indexText}]: the index is {index}, but {array} has {length} element{(length == 1 ? "" : "s")}");

    /// <summary><c>Max</c> or <c>Min</c> of no values, refused as LINQ refuses it.</summary>
    public static InvalidOperationException Empty(string loop) => new($"{loop}: the sequence contains no elements");

    /// <summary>A fold's tape: the accumulator entering each iteration, for the backward loop.</summary>
    public static double[] RentTape(int count) => count == 0 ? [] : ArrayPool<double>.Shared.Rent(count);

    public static void ReturnTape(double[] tape)
    {
        if (tape.Length > 0)
            ArrayPool<double>.Shared.Return(tape);
    }
}
