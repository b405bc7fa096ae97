namespace ExprGrad.Display;

/// <summary>
/// Places a trace's drawn nodes (everything but constants) on a grid: the layer of a node is its longest path from
/// the inputs (inputs and captured values are layer 0, on the left), and its row is the mean row of the nodes it
/// reads, pushed down just enough to keep one row between nodes of a layer. One pass in evaluation order, which
/// is topological, so no recursion.
/// </summary>
internal sealed class CircuitLayout
{
    private readonly Dictionary<TraceNode, (int Layer, double Row)> _places = [];

    public CircuitLayout(Trace trace)
    {
        var layers = new List<List<TraceNode>>();
        foreach (var n in trace.Nodes)
        {
            var reads = Wires(n).ToList();
            var layer = reads.Count == 0 ? 0 : reads.Max(a => _places[a].Layer) + 1;
            while (layers.Count <= layer)
                layers.Add([]);
            layers[layer].Add(n);
            _places[n] = (layer, 0);
        }

        // Layers are settled left to right, so the inputs of a node have their rows when it is placed. Leaves keep their
        // evaluation order; a stage wants to sit level with the mean of what it reads.
        for (var layer = 0; layer < layers.Count; layer++)
        {
            var ordered = layers[layer]
                .Select((n, i) => (Node: n, Wanted: layer == 0 ? i : Wires(n).Average(a => _places[a].Row)))
                .OrderBy(m => m.Wanted)
                .ToList();
            var previous = double.NegativeInfinity;
            foreach (var (node, wanted) in ordered)
            {
                var row = Math.Max(wanted, previous + 1);
                _places[node] = (layer, row);
                previous = row;
            }
        }
        Layers = layers.Count;
        Rows = _places.Count == 0 ? 0 : _places.Values.Max(p => p.Row) + 1;
    }

    /// <summary>The number of layers (columns).</summary>
    public int Layers { get; }

    /// <summary>The height of the grid, in rows (rows may be fractional: a gate sits level with the mean of its inputs).</summary>
    public double Rows { get; }

    /// <summary>Where a drawn node sits.</summary>
    public (int Layer, double Row) this[TraceNode n] => _places[n];

    /// <summary>The inputs of a node that are drawn as wires: every input but constants.</summary>
    public static IEnumerable<TraceNode> Wires(TraceNode n) => n.Inputs.Where(a => a.Kind != TraceNodeKind.Constant).Distinct();
}
