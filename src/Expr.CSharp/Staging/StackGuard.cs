using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace ExprGrad.Staging;

/// <summary>
/// Lets a recursive walk over a user's tree go as deep as the tree does: when the stack runs low, the walk
/// continues on a fresh thread with a large stack (as .NET's own expression compiler does). A stack overflow
/// cannot be caught, so every recursion over user input goes through here.
/// </summary>
internal static class StackGuard
{
    private const int FreshStackBytes = 64 * 1024 * 1024;

    /// <summary>Runs <paramref name="walk"/> here if the stack has room, else on a fresh thread, and returns its result.</summary>
    public static T Run<T>(Func<T> walk)
    {
        return RuntimeHelpers.TryEnsureSufficientExecutionStack() ? walk() : OnLargeStack(walk, FreshStackBytes);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a fresh thread with a stack of <paramref name="bytes"/>: for code we do not own
    /// that recurses as deep as our trees nest (Expression.Compile's own guard hops onto thread-pool threads and
    /// starves the pool on trees nested thousands deep).
    /// </summary>
    public static T OnLargeStack<T>(Func<T> work, int bytes = 512 * 1024 * 1024)
    {
        T result = default!;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(() =>
        {
            try { result = work(); }
            catch (Exception e) { error = ExceptionDispatchInfo.Capture(e); }
        }, bytes);
        thread.Start();
        thread.Join();
        error?.Throw();
        return result;
    }

    /// <summary>Runs <paramref name="walk"/> here if the stack has room, else on a fresh thread.</summary>
    public static void Run(Action walk) => Run(() => { walk(); return 0; });

    /// <summary>True if the caller may recurse once more on this thread.</summary>
    public static bool HasRoom => RuntimeHelpers.TryEnsureSufficientExecutionStack();
}
