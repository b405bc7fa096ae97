using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using Perfolizer.Horology;

namespace ExprGrad.Benchmarks.Infrastructure;

// Columns and output location shared by every benchmark class. The jobs are attached per class (NoisyBoxJob,
// SetUpJob) rather than here, because a job in the global config would run in addition to, not instead of, a
// class's own job.
public static class BenchConfig
{
    public static IConfig Create() =>
        ManualConfig.Create(DefaultConfig.Instance)
            .AddColumn(
                StatisticColumn.Median,
                // The targets are stated on medians, and BenchmarkDotNet's own Ratio column is a ratio of means
                // (more sensitive to the odd slow iteration on a shared box), so both median ratios are added.
                new MedianRatioColumn("HandWritten"),
                new MedianRatioColumn("Primal"))
            .WithArtifactsPath(ArtifactsPath());

    // Results go next to this project (BenchmarkDotNet.Artifacts/ is git-ignored) rather than into whatever the
    // current directory is, which for `dotnet run --project ...` is the repository root.
    private static string ArtifactsPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ExprGrad.Benchmarks.csproj")))
                return Path.Combine(dir.FullName, "BenchmarkDotNet.Artifacts");
        }

        return Path.Combine(Directory.GetCurrentDirectory(), "BenchmarkDotNet.Artifacts");
    }
}

// The per-call benchmarks' job, sized for a noisy 2-core machine: one process, a few warm-up iterations and
// enough measured iterations (20 × ~250 ms) for a stable median, so the whole suite stays well under 15 minutes.
[AttributeUsage(AttributeTargets.Class)]
public sealed class NoisyBoxJobAttribute : JobConfigBaseAttribute
{
    public NoisyBoxJobAttribute()
        : base(Job.Default
            .WithId("NoisyBox")
            .WithLaunchCount(1)
            .WithWarmupCount(5)
            .WithIterationCount(20)
            .WithIterationTime(TimeInterval.FromMilliseconds(250)))
    {
    }
}

// The same job on one core (DOTNET_PROCESSOR_COUNT=1: ExprGrad's matrix products then run on one thread), for the
// figures of issue 17 stated per core and against TorchSharp's 1-thread time; beside NoisyBoxJob it adds a row per method.
[AttributeUsage(AttributeTargets.Class)]
public sealed class NoisyBoxOneCoreJobAttribute : JobConfigBaseAttribute
{
    public NoisyBoxOneCoreJobAttribute()
        : base(Job.Default
            .WithId("NoisyBox1Core")
            .WithEnvironmentVariable("DOTNET_PROCESSOR_COUNT", "1")
            .WithLaunchCount(1)
            .WithWarmupCount(5)
            .WithIterationCount(20)
            .WithIterationTime(TimeInterval.FromMilliseconds(250)))
    {
    }
}

// The set-up benchmarks' job: Grad.Of is a one-off, millisecond-scale operation, so each iteration is a
// single cold call on a freshly built tree (Monitoring strategy: no pilot stage, no overhead subtraction).
[AttributeUsage(AttributeTargets.Class)]
public sealed class SetUpJobAttribute : JobConfigBaseAttribute
{
    public SetUpJobAttribute()
        : base(Job.Default
            .WithId("SetUp")
            .WithStrategy(RunStrategy.Monitoring)
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(25))
    {
    }
}
