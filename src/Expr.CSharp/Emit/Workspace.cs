namespace ExprGrad.Emit;

/// <summary>
/// Per-thread scratch arrays for one call: the flat point, the flat gradient and the tape that carries values
/// between the methods of a split graph. Renting takes the thread's cached workspace (so a call re-entered from a
/// captured property getter gets a fresh one, never a shared one); returning puts it back.
/// </summary>
internal sealed class Workspace
{
    [ThreadStatic]
    private static Workspace? _cached;

    private Workspace(int dimension, int tape)
    {
        X = new double[dimension];
        G = new double[dimension];
        Tape = new double[tape];
    }

    public double[] X { get; }

    public double[] G { get; }

    public double[] Tape { get; }

    public static Workspace Rent(int dimension, int tape)
    {
        var work = _cached;
        _cached = null;
        if (work is null || work.X.Length < dimension || work.Tape.Length < tape)
            work = new Workspace(Math.Max(dimension, work?.X.Length ?? 0), Math.Max(tape, work?.Tape.Length ?? 0));
        return work;
    }

    public static void Return(Workspace work) => _cached = work;
}
