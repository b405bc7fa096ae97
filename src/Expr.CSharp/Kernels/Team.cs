namespace ExprGrad.Kernels;

/// <summary>
/// Runs the parts of one parallel kernel on the calling thread and on helper threads that, after a job, wait for the
/// next by spinning for a short while before they sleep (OpenMP's active wait). A thread-pool worker that has gone to
/// sleep between two products can take longer to wake on a virtual machine than a part of a 256 × 784 × 64 product
/// lasts: traced on a busy 2-core machine, <see cref="Parallel.For(int, int, Action{int})"/> ran both halves of such a
/// product on the calling thread nearly every time, so two cores cost more than one. Parts are claimed one at a time
/// by whoever is free, the caller included, so a helper that comes late takes only what is left, and a job never
/// waits for a helper that has not started.
/// </summary>
/// <remarks>
/// One job at a time: a caller that finds the helpers busy (another thread's product) runs its parts itself. Which
/// thread runs a part never changes what the part computes.
/// </remarks>
internal static class Team
{
    // How long a helper keeps spinning for the next job: about the time from one large product of an MLP step to the next.
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 1000;

    private static readonly object Gate = new();
    private static readonly SemaphoreSlim Wake = new(0);
    private static Job? _job;
    private static int _busy, _sleepers, _helpers;

    /// <summary>
    /// Runs <paramref name="body"/>(0 .. parts−1), each once, on this thread and on up to <paramref name="threads"/> − 1
    /// helpers (never more helpers than other cores); the first exception a part throws is rethrown here.
    /// </summary>
    public static void Run(int parts, int threads, Action<int> body)
    {
        var job = new Job(body, parts);
        var helpers = Math.Min(Math.Min(threads, parts), Environment.ProcessorCount) - 1;
        if (helpers < 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            job.Work();
            job.Error?.Throw();
            return;
        }
        try
        {
            Hire(helpers);
            Volatile.Write(ref _job, job);
            var sleepers = Interlocked.Exchange(ref _sleepers, 0);
            if (sleepers > 0)
                Wake.Release(sleepers);
            job.Work();
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Done) < parts)
                spin.SpinOnce(sleep1Threshold: -1);
            Volatile.Write(ref _job, null);
            job.Error?.Throw();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static void Hire(int count)
    {
        if (Volatile.Read(ref _helpers) >= count)
            return;
        lock (Gate)
        {
            for (; _helpers < count; _helpers++)
                new Thread(Help) { IsBackground = true, Name = "ExprGrad kernel helper" }.Start();
        }
    }

    private static void Help()
    {
        Job? last = null;
        while (true)
        {
            var idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
            Job? job;
            while ((job = Volatile.Read(ref _job)) is null || job == last)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() - idleSince < SpinTicks)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                // Sleep until the next job; checking again after saying so means a job published meanwhile is not missed.
                Interlocked.Increment(ref _sleepers);
                if ((job = Volatile.Read(ref _job)) is not null && job != last)
                    break;
                Wake.Wait();
                idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
            }
            last = job;
            job.Work();
        }
    }

    /// <summary>One call's parts: claimed by counting up <see cref="_next"/>, counted off in <see cref="Done"/>.</summary>
    private sealed class Job(Action<int> body, int parts)
    {
        private int _next;
        public int Done;
        public System.Runtime.ExceptionServices.ExceptionDispatchInfo? Error;

        public void Work()
        {
            int part;
            while ((part = Interlocked.Increment(ref _next) - 1) < parts)
            {
                try
                {
                    body(part);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref Error, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e), null);
                }
                Interlocked.Increment(ref Done);
            }
        }
    }
}
