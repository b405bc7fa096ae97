using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace ExprGrad.Benchmarks.Infrastructure;

// The median of a benchmark divided by the median of the benchmark method named reference in the same
// class, job and parameter values (e.g. "Med/HandWritten", "Med/Primal").
public sealed class MedianRatioColumn(string reference) : IColumn
{
    public string Id => $"{nameof(MedianRatioColumn)}.{reference}";

    public string ColumnName => $"Med/{reference}";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => reference == "HandWritten" ? 0 : 1;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => $"Median time divided by the median time of {reference} (same class and parameters)";

    // Hidden in a summary with no such method (e.g. the set-up benchmarks).
    public bool IsAvailable(Summary summary) =>
        summary.BenchmarksCases.Any(c => c.Descriptor.WorkloadMethod.Name == reference);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
        GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var referenceCase = summary.BenchmarksCases.FirstOrDefault(c =>
            c.Descriptor.Type == benchmarkCase.Descriptor.Type
            && c.Descriptor.WorkloadMethod.Name == reference
            && c.Job.DisplayInfo == benchmarkCase.Job.DisplayInfo
            && c.Parameters.ValueInfo == benchmarkCase.Parameters.ValueInfo);
        var mine = summary[benchmarkCase]?.ResultStatistics?.Median;
        var theirs = referenceCase is null ? null : summary[referenceCase]?.ResultStatistics?.Median;
        return mine is { } m && theirs is > 0 ? (m / theirs.Value).ToString("0.00", style.CultureInfo) : "-";
    }

    public override string ToString() => ColumnName;
}
