using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using ExprGrad.Rules;
using ExprGrad.Staging;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Double;

namespace ExprGrad.Kernels;

/// <summary>
/// A matrix stage's storage kept from one call to the next, per thread, so a training loop does not allocate its
/// temporaries again at every step. A stage takes its slot's matrix (the slot is then empty, so a call re-entered on the
/// same thread, or one that failed half-way, simply allocates); the stage that reads it for the last time gives it back
/// (<see cref="EmitContext.IsLastRead"/>: no output, input or other value shares it). A value handed out as a gradient
/// is never read for the last time, so it is never given back: the caller owns it.
/// </summary>
internal sealed class Scratch
{
    // One slot per stage of a graph, shared by every kernel compiled from it (take and give keep them apart).
    private static readonly ConditionalWeakTable<Node, Scratch> Slots = [];

    private readonly ThreadLocal<DenseMatrix?> _held = new();

    /// <summary>The slot of a matrix stage.</summary>
    public static Scratch Of(Node stage) => Slots.GetValue(stage, _ => new Scratch());

    /// <summary>
    /// A stage that writes into an argument's storage (a Map over a temporary read for the last time) gives that storage
    /// back, when it dies, to the slot it came from: the argument's producer takes it again at the next call.
    /// </summary>
    public static void Alias(Node stage, Node storageOf) => Slots.AddOrUpdate(stage, Of(storageOf));

    /// <summary>The slot's matrix if it has this shape (the slot is emptied), else a new one; its elements are not cleared.</summary>
    public static Matrix<double> Take(Scratch slot, int rows, int columns)
    {
        var held = slot._held.Value;
        if (held is not null)
        {
            slot._held.Value = null;
            if (held.RowCount == rows && held.ColumnCount == columns)
                return held;
        }
        return new DenseMatrix(rows, columns, GC.AllocateUninitializedArray<double>(rows * columns));
    }

    /// <summary>Puts a dead matrix back into its stage's slot on this thread.</summary>
    public static void Give(Scratch slot, Matrix<double> dead)
    {
        if (dead is DenseMatrix dense)
            slot._held.Value = dense;
    }

    /// <summary><see cref="Take"/> for a stage, as an expression.</summary>
    public static Expression TakeFor(Node stage, Expression rows, Expression columns) =>
        Expression.Call(typeof(Scratch), nameof(Take), null, Expression.Constant(Of(stage)), rows, columns);

    /// <summary>
    /// After <paramref name="reader"/> has read its arguments: gives back each matrix argument it read for the last
    /// time that is a stage with a slot (a product, a Map, a softmax or a repeated row), except <paramref name="kept"/> (storage the reader took over).
    /// </summary>
    public static IEnumerable<Expression> GiveBack(EmitContext context, Node reader, Expression[] args, int kept = -1)
    {
        var given = new HashSet<Node>();
        for (var k = 0; k < reader.Args.Length; k++)
        {
            var arg = reader.Args[k];
            if (k == kept || arg == (kept >= 0 ? reader.Args[kept] : null) || arg.Shape.Kind != Kind.Matrix
                || arg.Op is not (Op.MatMul or Op.Map or Op.Softmax or Op.RepeatRow) || !context.IsLastRead(arg, reader) || !given.Add(arg))
                continue;
            yield return Expression.Call(typeof(Scratch), nameof(Give), null, Expression.Constant(Of(arg)), args[k]);
        }
    }
}
