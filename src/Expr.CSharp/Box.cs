using System.Globalization;

namespace ExprGrad;

/// <summary>
/// A box of points for <see cref="GradCheck.AssertAgrees(Func{double[], double}, Func{double[], double[]}, Box, int, int?, double, double)"/>:
/// each coordinate between its own finite bounds, optionally named. It draws points uniformly from a seed and
/// shrinks a point toward simpler ones (0, then integers, then fewer decimals), never leaving the box.
/// </summary>
/// <example>
/// <code>
/// var box = Box.Of(("x", -3, 3), ("y", 0.5, 2));   // x ∈ [-3, 3], y ∈ [0.5, 2]
/// var cube = Box.Cube(4, -1, 1);                   // x[0] .. x[3] ∈ [-1, 1]
/// </code>
/// </example>
public sealed class Box
{
    private readonly double[] _lower;
    private readonly double[] _upper;
    private readonly string?[] _names;

    private Box(double[] lower, double[] upper, string?[] names)
    {
        for (var i = 0; i < lower.Length; i++)
            if (!double.IsFinite(lower[i]) || !double.IsFinite(upper[i]) || lower[i] > upper[i])
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"coordinate {i}{(names[i] is { } n ? $" ({n})" : "")} has bounds [{lower[i]}, {upper[i]}]: a box needs finite bounds, lower ≤ upper"));
        _lower = lower;
        _upper = upper;
        _names = names;
    }

    /// <summary>A box of named coordinates, in the order of the function's flat layout.</summary>
    /// <param name="coordinates">Each coordinate's name (as the message should print it: <c>x</c>, <c>w[2]</c>) and bounds.</param>
    /// <example><c>Box.Of(("x", -3, 3), ("y", -3, 3))</c></example>
    /// <exception cref="ArgumentException">A bound is not finite, or a lower bound exceeds its upper bound.</exception>
    public static Box Of(params (string Name, double Lower, double Upper)[] coordinates)
    {
        ArgumentNullException.ThrowIfNull(coordinates);
        return new Box(coordinates.Select(c => c.Lower).ToArray(), coordinates.Select(c => c.Upper).ToArray(),
            coordinates.Select(c => (string?)c.Name).ToArray());
    }

    /// <summary>
    /// A cube: <paramref name="dimension"/> unnamed coordinates, all in [<paramref name="lower"/>, <paramref name="upper"/>].
    /// Checked against a <see cref="Gradient"/>, its coordinates take the gradient's names; else they print as <c>x[i]</c>.
    /// </summary>
    /// <param name="dimension">The number of coordinates.</param>
    /// <param name="lower">Every coordinate's lower bound.</param>
    /// <param name="upper">Every coordinate's upper bound.</param>
    /// <example><c>Box.Cube(3, -1, 1)</c></example>
    public static Box Cube(int dimension, double lower, double upper)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(dimension);
        return new Box(Enumerable.Repeat(lower, dimension).ToArray(), Enumerable.Repeat(upper, dimension).ToArray(), new string?[dimension]);
    }

    /// <summary>The number of coordinates.</summary>
    public int Dimension => _lower.Length;

    /// <summary>Coordinate <paramref name="i"/>'s lower bound.</summary>
    /// <param name="i">The coordinate.</param>
    public double Lower(int i) => _lower[i];

    /// <summary>Coordinate <paramref name="i"/>'s upper bound.</summary>
    /// <param name="i">The coordinate.</param>
    public double Upper(int i) => _upper[i];

    /// <summary>Coordinate <paramref name="i"/>'s name, or null for a <see cref="Cube"/>.</summary>
    /// <param name="i">The coordinate.</param>
    public string? Name(int i) => _names[i];

    /// <summary>True if every coordinate of <paramref name="point"/> lies within its bounds.</summary>
    /// <param name="point">A point of <see cref="Dimension"/> coordinates.</param>
    /// <example><c>Box.Cube(2, -1, 1).Contains([0.5, 1.0])</c> is true; <c>Contains([0.5, 1.5])</c> is false.</example>
    public bool Contains(ReadOnlySpan<double> point)
    {
        if (point.Length != Dimension)
            return false;
        for (var i = 0; i < point.Length; i++)
            if (!(point[i] >= _lower[i] && point[i] <= _upper[i]))
                return false;
        return true;
    }

    /// <summary>
    /// A point drawn uniformly from the box, the same for the same <paramref name="seed"/> on every run and machine.
    /// For FsCheck, <c>Gen.Choose(0, int.MaxValue).Select(box.Sample)</c> is a generator of points.
    /// </summary>
    /// <param name="seed">Any number.</param>
    /// <example><c>Box.Of(("x", -3, 3)).Sample(7)</c> is the same one-coordinate point on every run.</example>
    public double[] Sample(int seed)
    {
        var point = new double[Dimension];
        Sample(new Random(seed), point);
        return point;
    }

    // new Random(seed) is the seeded algorithm .NET keeps stable across versions, so a seed replays anywhere.
    // Writes into the caller's buffer: a run of many samples reuses one.
    internal void Sample(Random random, Span<double> point)
    {
        for (var i = 0; i < point.Length; i++)
            point[i] = Math.Min(_upper[i], _lower[i] + random.NextDouble() * (_upper[i] - _lower[i]));
    }

    /// <summary>
    /// Simpler points than <paramref name="point"/>, simplest first, each differing from it in one coordinate and all
    /// inside the box: a coordinate moves to the simplest number of its interval (0 if the interval holds 0), then to
    /// integers closer to it, then loses decimals. Simpler means fewer decimals, then closer to that simplest number,
    /// so repeated shrinking ends. This is FsCheck's shrinker contract: <c>Arb.From(gen, box.Shrink)</c>.
    /// </summary>
    /// <param name="point">A point of <see cref="Dimension"/> coordinates.</param>
    /// <example><c>Box.Of(("x", -3, 3)).Shrink([2.75])</c> gives [0], [1], [2], [2.7].</example>
    public IEnumerable<double[]> Shrink(double[] point)
    {
        ArgumentNullException.ThrowIfNull(point);
        if (point.Length != Dimension)
            throw new ArgumentException($"the point has {point.Length} coordinates but the box has {Dimension}", nameof(point));
        for (var i = 0; i < point.Length; i++)
            foreach (var c in Simpler(point[i], _lower[i], _upper[i]))
            {
                var candidate = (double[])point.Clone();
                candidate[i] = c;
                yield return candidate;
            }
    }

    // Candidates for one coordinate, simplest first; each is in [lo, hi] and strictly simpler than v.
    internal static IEnumerable<double> Simpler(double v, double lo, double hi)
    {
        if (!double.IsFinite(v) || v < lo || v > hi)
            yield break;
        var s = Simplest(lo, hi);
        var seen = new HashSet<double>();
        foreach (var c in Candidates(v, s))
            if (c >= lo && c <= hi && IsSimpler(c, v, s) && seen.Add(c))
                yield return c;
    }

    private static IEnumerable<double> Candidates(double v, double s)
    {
        yield return s;
        // Integers from s toward v, halving the distance each time (QuickCheck's shrink for integers), then v's
        // integer part.
        var t = v >= s ? Math.Floor(v) : Math.Ceiling(v);
        var d = t - s;
        for (var h = Math.Truncate(d / 2); Math.Abs(h) >= 1 && double.IsFinite(h); h = Math.Truncate(h / 2))
            yield return t - h;
        yield return t;
        // Fewer decimals: v cut to 1, 2, ... decimals, toward s.
        for (var k = 1; k <= MaxDecimals; k++)
            yield return Math.Round(v, k, v >= s ? MidpointRounding.ToNegativeInfinity : MidpointRounding.ToPositiveInfinity);
    }

    // The number in [lo, hi] with the fewest decimals, nearest 0 among those.
    internal static double Simplest(double lo, double hi)
    {
        if (lo <= 0 && hi >= 0)
            return 0;
        if (hi < 0)
            return -Simplest(-hi, -lo);
        for (var k = 0; k <= MaxDecimals; k++)
        {
            var c = Math.Round(lo, k, MidpointRounding.ToPositiveInfinity);
            if (c >= lo && c <= hi)
                return c;
        }
        return lo;
    }

    private static bool IsSimpler(double c, double v, double s)
    {
        var (dc, dv) = (Decimals(c), Decimals(v));
        return dc < dv || (dc == dv && Math.Abs(c - s) < Math.Abs(v - s));
    }

    // Math.Round takes at most 15 decimals; a number that needs more counts as 16.
    private const int MaxDecimals = 15;

    private static int Decimals(double v)
    {
        for (var k = 0; k <= MaxDecimals; k++)
            if (Math.Round(v, k) == v)
                return k;
        return MaxDecimals + 1;
    }

    /// <summary>The box as the message prints it: <c>x ∈ [-3, 3], y ∈ [0.5, 2]</c>.</summary>
    public override string ToString() => Format(Enumerable.Range(0, Dimension).Select(NameOrIndex).ToArray());

    // The name a message gives coordinate i: its own, or x[i] for a cube's.
    internal string NameOrIndex(int i) => _names[i] ?? string.Create(CultureInfo.InvariantCulture, $"x[{i}]");

    // The box under the given coordinate names (a cube checked against a Gradient takes the gradient's names).
    internal string Format(IReadOnlyList<string> names) => string.Join(", ", Enumerable.Range(0, Dimension).Select(i =>
        string.Create(CultureInfo.InvariantCulture, $"{names[i]} ∈ [{_lower[i]:R}, {_upper[i]:R}]")));
}
