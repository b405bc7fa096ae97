using ExprGrad.Kernels;

namespace ExprGrad.Tests.Kernels;

/// <summary><see cref="Team"/>: every part runs once, whoever runs it, from one caller or many, and errors come back.</summary>
public sealed class TeamTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(34, 64)]
    [InlineData(7, 3)]
    public void Every_part_runs_exactly_once(int parts, int threads)
    {
        for (var round = 0; round < 200; round++)
        {
            var runs = new int[parts];
            Team.Run(parts, threads, part => Interlocked.Increment(ref runs[part]));
            Assert.All(runs, count => Assert.Equal(1, count));
        }
    }

    [Fact]
    public void Callers_on_many_threads_each_get_all_their_parts()
    {
        Parallel.For(0, 64, _ =>
        {
            var runs = new int[5];
            Team.Run(5, 2, part => Interlocked.Increment(ref runs[part]));
            Assert.All(runs, count => Assert.Equal(1, count));
        });
    }

    [Fact]
    public void A_job_started_from_a_part_runs_on_its_caller()
    {
        var inner = new int[4];
        Team.Run(2, 2, _ => Team.Run(2, 2, part => Interlocked.Increment(ref inner[part])));
        Assert.Equal([2, 2, 0, 0], inner);
    }

    [Fact]
    public void A_part_that_throws_fails_the_job_after_the_other_parts_ran()
    {
        var runs = new int[6];
        var error = Assert.Throws<InvalidOperationException>(() => Team.Run(6, 2, part =>
        {
            Interlocked.Increment(ref runs[part]);
            if (part == 3)
                throw new InvalidOperationException("part 3");
        }));
        Assert.Equal("part 3", error.Message);
        Assert.All(runs, count => Assert.Equal(1, count));
        // The team is free again.
        var after = new int[2];
        Team.Run(2, 2, part => after[part]++);
        Assert.Equal([1, 1], after);
    }
}
