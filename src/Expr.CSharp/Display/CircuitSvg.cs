using System.Globalization;
using System.Xml.Linq;

namespace ExprGrad.Display;

/// <summary>
/// Draws a trace as an SVG circuit in the style of the CS231n notes: inputs on the left, gates as labelled circles in
/// layers (<see cref="CircuitLayout"/>), and after every node a short wire with its value above in green and its
/// gradient below in red, from which wires run on to the gates that read it. Built as XML (so it is well formed
/// whatever the labels), with nothing external: no script, no fonts but the generic family, no links.
/// </summary>
internal static class CircuitSvg
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    private const double Radius = 18;
    private const double Stub = 84;                          // the wire after a node, carrying its value and gradient
    private const double Column = Radius + Stub + 48 + Radius; // from one layer's centres to the next
    private const double RowHeight = 70;
    private const double Top = 48;
    private const string ValueColour = "#1a7f37";
    private const string GradientColour = "#c62828";
    private const string TestColour = "#777777";

    public static string Render(Trace trace) =>
        (trace.IsDrawable ? Circuit(trace) : Summary(trace)).ToString(SaveOptions.DisableFormatting);

    private static XElement Circuit(Trace trace)
    {
        var layout = new CircuitLayout(trace);
        var left = 24 + 7.5 * trace.Nodes.Where(n => layout[n].Layer == 0).Select(n => n.Name.Length).DefaultIfEmpty(1).Max();
        double X(TraceNode n) => left + layout[n].Layer * Column;
        double Y(TraceNode n) => Top + layout[n].Row * RowHeight;
        double End(TraceNode n) => X(n) + Radius + Stub;

        var wires = new XElement(Svg + "g", new XAttribute("stroke", "black"), new XAttribute("fill", "none"));
        var shapes = new XElement(Svg + "g");
        foreach (var n in trace.Nodes)
        {
            var (x, y) = (X(n), Y(n));
            var isTest = n.Kind == TraceNodeKind.Test;
            var leaf = n.Kind is TraceNodeKind.Input or TraceNodeKind.Captured;
            if (leaf)
                shapes.Add(Text(x - 6, y + 5, n.Name, "end", 15, n.Kind == TraceNodeKind.Captured ? TestColour : "black",
                    italic: n.Kind == TraceNodeKind.Captured));
            else
            {
                shapes.Add(new XElement(Svg + "circle", At("cx", x), At("cy", y), At("r", Radius), new XAttribute("fill", "white"),
                    new XAttribute("stroke", isTest ? TestColour : "black"), Dashed(isTest)));
                shapes.Add(Text(x, y + 5, n.Label, "middle", n.Label.Length > 4 ? 10 : 14, isTest ? TestColour : "black"));
            }

            // The node's own wire, with its value above and its gradient below.
            var start = leaf ? x : x + Radius;
            wires.Add(Line(start, y, End(n), y, isTest));
            var middle = x + Radius + Stub / 2;
            shapes.Add(Text(middle, y - 7, isTest ? (n.Value != 0 ? "true" : "false") : Short(n.Value), "middle", 13, isTest ? TestColour : ValueColour));
            if (n.Adjoint is { } adjoint)
                shapes.Add(Text(middle, y + 18, Short(adjoint), "middle", 13, GradientColour));
            if (n == trace.Output)
                shapes.Add(Text(End(n) + 6, y + 5, "f", "start", 15, "black"));

            // Wires in from the nodes it reads: from the end of each one's wire to the left of this gate.
            foreach (var a in CircuitLayout.Wires(n))
            {
                var (sx, sy, tx, ty) = (End(a), Y(a), x - Radius, y);
                var dashed = a.Kind == TraceNodeKind.Test;
                if (Blocked(a, n))
                {
                    // A straight wire would run through a node of a layer in between: detour half a row above both ends.
                    var lane = Math.Min(sy, ty) - RowHeight / 2;
                    wires.Add(Polyline(dashed, (sx, sy), (sx + 12, lane), (tx - 30, lane), (tx, ty)));
                    shapes.Add(Arrowhead(tx - 30, lane, tx, ty));
                }
                else
                {
                    wires.Add(Line(sx, sy, tx, ty, dashed));
                    shapes.Add(Arrowhead(sx, sy, tx, ty));
                }
            }
        }

        bool Blocked(TraceNode from, TraceNode to)
        {
            var (first, last) = (layout[from].Layer, layout[to].Layer);
            if (last - first < 2)
                return false;
            return trace.Nodes.Any(n =>
            {
                var (layer, row) = layout[n];
                if (layer <= first || layer >= last)
                    return false;
                var along = (layer - first) / (double)(last - first);
                var lineRow = layout[from].Row + along * (layout[to].Row - layout[from].Row);
                return Math.Abs(lineRow - row) < 0.45;
            });
        }

        var width = left + Math.Max(layout.Layers - 1, 0) * Column + Radius + Stub + 28;
        var legendTop = Top + Math.Max(layout.Rows - 0.5, 0) * RowHeight + 12;
        var height = legendTop + 58;
        var svg = Document(Math.Max(width, 430), height);
        svg.Add(Text(8, 20, Title(trace), "start", 13, "black"));
        if (trace.Output.Kind == TraceNodeKind.Constant)
            shapes.Add(Text(8, 38, $"f is the constant {Short(trace.Value)}", "start", 13, "black"));
        svg.Add(wires, shapes, Legend(legendTop));
        return svg;
    }

    private static XElement Summary(Trace trace)
    {
        const int Listed = 12;
        const double Width = 860, Line = 22;
        var shown = trace.Inputs.Take(Listed).ToList();
        var count = 4 + shown.Count + (trace.Inputs.Count > Listed ? 1 : 0);
        var svg = Document(Width, 24 + count * Line);
        svg.Add(new XElement(Svg + "rect", At("x", 1), At("y", 1), At("width", Width - 2), At("height", 22 + count * Line),
            new XAttribute("fill", "#fafafa"), new XAttribute("stroke", TestColour)));
        var y = 28.0;
        void Add(string text, string colour, double x = 14)
        {
            svg.Add(Text(x, y, text, "start", 14, colour));
        }
        Add($"This circuit has {trace.DrawnCount:N0} nodes: more than {Trace.MaxDrawnNodes} are not drawn, as they would not be readable.", "black");
        y += Line;
        Add($"f = {Short(trace.Value)}", ValueColour);
        foreach (var input in shown)
        {
            y += Line;
            Add($"{input.Name} = {Short(input.Value)}", ValueColour);
            Add($"∂f/∂{input.Name} = {Short(input.Adjoint ?? 0)}", GradientColour, 240);
        }
        if (trace.Inputs.Count > Listed)
        {
            y += Line;
            Add($"... and {trace.Inputs.Count - Listed:N0} more inputs: Trace.Gradient has them all.", "black");
        }
        y += Line;
        Add("Trace.Nodes lists every stage with its value and gradient;", "black");
        y += Line;
        Add("ToDot() writes the whole graph for Graphviz.", "black");
        return svg;
    }

    private static XElement Legend(double top)
    {
        var legend = new XElement(Svg + "g");
        legend.Add(Line(10, top + 24, 70, top + 24, false));
        legend.Add(Text(40, top + 17, "value", "middle", 12, ValueColour));
        legend.Add(Text(40, top + 41, "gradient", "middle", 12, GradientColour));
        legend.Add(Text(82, top + 20, "above each wire: its value (forward pass)", "start", 12, ValueColour));
        legend.Add(Text(82, top + 36, "below: the gradient ∂f/∂(wire) (backward pass)", "start", 12, GradientColour));
        return legend;
    }

    private static string Title(Trace trace)
    {
        var point = trace.Point;
        if (point.Length > 90)
            point = point[..87] + "...";
        return $"f = {Short(trace.Value)} at {point}";
    }

    private static XElement Document(double width, double height) => new(Svg + "svg",
        At("width", width), At("height", height),
        new XAttribute("viewBox", $"0 0 {N(width)} {N(height)}"),
        new XAttribute("font-family", "sans-serif"));

    private static XElement Line(double x1, double y1, double x2, double y2, bool dashed) => new(Svg + "line",
        At("x1", x1), At("y1", y1), At("x2", x2), At("y2", y2),
        new XAttribute("stroke", dashed ? TestColour : "black"), new XAttribute("stroke-width", "1.2"), Dashed(dashed));

    private static XElement Polyline(bool dashed, params (double X, double Y)[] points) => new(Svg + "polyline",
        new XAttribute("points", string.Join(" ", points.Select(p => $"{N(p.X)},{N(p.Y)}"))),
        new XAttribute("fill", "none"), new XAttribute("stroke", dashed ? TestColour : "black"), new XAttribute("stroke-width", "1.2"), Dashed(dashed));

    // A small filled triangle at (x2, y2), pointing along the wire.
    private static XElement Arrowhead(double x1, double y1, double x2, double y2)
    {
        var (dx, dy) = (x2 - x1, y2 - y1);
        var length = Math.Max(Math.Sqrt(dx * dx + dy * dy), 1e-9);
        (dx, dy) = (dx / length, dy / length);
        var (bx, by) = (x2 - 8 * dx, y2 - 8 * dy);
        var points = $"{N(x2)},{N(y2)} {N(bx - 3.5 * dy)},{N(by + 3.5 * dx)} {N(bx + 3.5 * dy)},{N(by - 3.5 * dx)}";
        return new XElement(Svg + "polygon", new XAttribute("points", points), new XAttribute("fill", "black"));
    }

    private static XElement Text(double x, double y, string text, string anchor, double size, string colour, bool italic = false) =>
        new(Svg + "text", At("x", x), At("y", y), new XAttribute("text-anchor", anchor), At("font-size", size),
            new XAttribute("fill", colour), italic ? new XAttribute("font-style", "italic") : null, text);

    private static XAttribute? Dashed(bool dashed) => dashed ? new XAttribute("stroke-dasharray", "4 3") : null;

    private static XAttribute At(string name, double value) => new(name, N(value));

    private static string N(double v) => Math.Round(v, 1).ToString(CultureInfo.InvariantCulture);

    /// <summary>A number as the CS231n circuits print it: whole numbers as they are, others to two decimals, small or large ones to three digits.</summary>
    public static string Short(double v)
    {
        if (double.IsNaN(v))
            return "NaN";
        if (double.IsInfinity(v))
            return v > 0 ? "∞" : "-∞";
        if (v == 0)
            return "0"; // not "-0"
        var a = Math.Abs(v);
        if (v == Math.Round(v) && a < 1e6)
            return v.ToString("0", CultureInfo.InvariantCulture);
        return a is >= 0.01 and < 1e5
            ? v.ToString("0.00", CultureInfo.InvariantCulture)
            : v.ToString("G3", CultureInfo.InvariantCulture);
    }
}
