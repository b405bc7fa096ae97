using System.Globalization;
using System.Linq.Expressions;
using System.Xml.Linq;
using ExprGrad.Display;

namespace ExprGrad.Tests.Display;

/// <summary>
/// The circuit renderers: the SVG is well-formed, self-contained XML in the CS231n style; DOT and Mermaid carry every
/// wire; the layout puts each node one layer right of its deepest input; large circuits are summarized.
/// </summary>
public sealed class CircuitTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    private static Trace Patterns() => Grad.Of((double x, double y, double z, double w) => 2 * (x * y + Math.Max(z, w))).Trace(3, -4, 2, -1);

    private static Trace Staged() => Grad.Of((double x, double y) => (x + Fn.Sigmoid(y)) / (Fn.Sigmoid(x) + (x + y) * (x + y))).Trace(3, -4);

    private static Trace Chain(int depth)
    {
        var x = Expression.Parameter(typeof(double), "x");
        Expression body = x;
        for (var i = 0; i < depth; i++)
            body = Expression.Call(typeof(Math).GetMethod(nameof(Math.Sin), [typeof(double)])!, body);
        return Grad.Of(Expression.Lambda<Func<double, double>>(body, x)).Trace(0.5);
    }

    private static List<string> Texts(XDocument svg, string colour) =>
        svg.Descendants(Svg + "text").Where(t => (string?)t.Attribute("fill") == colour).Select(t => t.Value).ToList();

    [Fact]
    public void The_SVG_is_well_formed_and_draws_values_in_green_and_gradients_in_red()
    {
        var svg = XDocument.Parse(Patterns().ToSvg());
        Assert.Equal(Svg + "svg", svg.Root!.Name);
        // 2 (xy + max(z, w)) at (3, −4, 2, −1): the notes' numbers on the wires.
        Assert.Equal(["3", "-4", "-12", "2", "-1", "2", "-10", "-20"], Texts(svg, "#1a7f37").Where(t => t.Length < 4));
        Assert.Equal(["-8", "6", "2", "2", "0", "2", "2", "1"], Texts(svg, "#c62828").Where(t => t.Length < 4));
        var circles = svg.Descendants(Svg + "circle").Count();
        Assert.Equal(4, circles); // *, max, +, *2; inputs are names, not circles
        var gates = svg.Descendants(Svg + "text").Select(t => t.Value).ToHashSet();
        Assert.Superset(new HashSet<string> { "x", "y", "z", "w", "*", "max", "+", "*2", "f" }, gates);
        Assert.Contains(gates, t => t.Contains("gradient", StringComparison.Ordinal)); // the legend
        // One arrowhead per wire between nodes: x, y → *; z, w → max; *, max → +; + → *2.
        Assert.Equal(7, svg.Descendants(Svg + "polygon").Count());
    }

    [Fact]
    public void The_SVG_is_self_contained()
    {
        var text = Staged().ToSvg();
        var svg = XDocument.Parse(text);
        Assert.Empty(svg.Descendants(Svg + "script"));
        Assert.Empty(svg.Descendants(Svg + "style"));
        Assert.DoesNotContain(svg.Descendants().Attributes(), a => a.Name.LocalName == "href");
        Assert.DoesNotContain("url(", text, StringComparison.Ordinal);
        Assert.DoesNotContain("@import", text, StringComparison.Ordinal);
        Assert.DoesNotContain("http", text.Replace(Svg.NamespaceName, "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal("sans-serif", (string?)svg.Root!.Attribute("font-family"));
        Assert.NotNull(svg.Root.Attribute("viewBox"));
    }

    [Fact]
    public void Labels_that_are_markup_are_escaped()
    {
        // A test gate is labelled ">0" and a branch "if": the SVG stays well-formed XML.
        var t = Grad.Of((double x, double y) => x > 0 && y <= 1 ? x * y : -y).Trace(1, 0.5);
        var svg = XDocument.Parse(t.ToSvg());
        var texts = svg.Descendants(Svg + "text").Select(e => e.Value).ToList();
        Assert.Contains(">0", texts);
        Assert.Contains("<=1", texts);
        Assert.Contains("&&", texts);
        Assert.Contains("true", texts);
        Assert.Contains("\"<=1\"", t.ToDot());
        Assert.Contains("#lt;=1", t.ToMermaid());
    }

    [Fact]
    public void Layers_are_longest_paths_from_the_inputs()
    {
        var t = Staged();
        var layout = new CircuitLayout(t);
        foreach (var n in t.Nodes)
        {
            var wires = CircuitLayout.Wires(n).ToList();
            var expected = wires.Count == 0 ? 0 : wires.Max(a => layout[a].Layer) + 1;
            Assert.Equal(expected, layout[n].Layer);
        }
        Assert.Equal(4, layout[t.Output].Layer); // x + y → square → + σ(x) → divide
        Assert.Equal(5, layout.Layers);
        // Within a layer, nodes are at least a row apart.
        foreach (var layer in t.Nodes.GroupBy(n => layout[n].Layer))
        {
            var rows = layer.Select(n => layout[n].Row).Order().ToList();
            Assert.All(rows.Zip(rows.Skip(1)), p => Assert.True(p.Second - p.First >= 1 - 1e-12));
        }
    }

    [Fact]
    public void DOT_and_Mermaid_carry_every_wire_with_its_value_and_gradient()
    {
        var t = Patterns();
        var dot = t.ToDot();
        Assert.StartsWith("digraph circuit {", dot, StringComparison.Ordinal);
        Assert.Contains("rankdir=LR;", dot, StringComparison.Ordinal);
        Assert.Equal(8, dot.Split('\n').Count(l => l.Contains("->", StringComparison.Ordinal))); // 7 wires and the output
        Assert.Contains("<font color=\"#1a7f37\">3</font><br/><font color=\"#c62828\">-8</font>", dot, StringComparison.Ordinal);

        var mermaid = t.ToMermaid();
        Assert.StartsWith("flowchart LR", mermaid, StringComparison.Ordinal);
        Assert.Equal(8, mermaid.Split('\n').Count(l => l.Contains("-->", StringComparison.Ordinal)));
        Assert.Contains("|\"3 / grad -8\"|", mermaid, StringComparison.Ordinal);
        Assert.Contains("((\"max\"))", mermaid, StringComparison.Ordinal);
    }

    [Fact]
    public void Circuits_of_more_than_60_nodes_are_summarized_and_say_so()
    {
        var small = Chain(Trace.MaxDrawnNodes - 1);
        Assert.Equal(Trace.MaxDrawnNodes, small.DrawnCount);
        Assert.True(small.IsDrawable);
        Assert.Equal(Trace.MaxDrawnNodes - 1, XDocument.Parse(small.ToSvg()).Descendants(Svg + "circle").Count());

        var large = Chain(Trace.MaxDrawnNodes);
        Assert.False(large.IsDrawable);
        var svg = XDocument.Parse(large.ToSvg());
        Assert.Empty(svg.Descendants(Svg + "circle"));
        var text = string.Join("\n", svg.Descendants(Svg + "text").Select(e => e.Value));
        Assert.Contains("This circuit has 61 nodes: more than 60 are not drawn", text, StringComparison.Ordinal);
        Assert.Contains($"∂f/∂x = {CircuitSvg.Short(large.Gradient[0])}", text, StringComparison.Ordinal);
        Assert.Contains("too many to draw", large.ToMermaid(), StringComparison.Ordinal);
        Assert.Equal(61, large.ToDot().Split('\n').Count(l => l.Contains("label=", StringComparison.Ordinal) && !l.Contains("->", StringComparison.Ordinal)));
        Assert.Equal(3, large.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length - 1);
    }

    [Theory]
    [InlineData(-12.0, "-12")]
    [InlineData(0.7310585786300049, "0.73")]
    [InlineData(-0.19661193324148185, "-0.20")]
    [InlineData(0.0062, "0.0062")]
    [InlineData(-0.0, "0")]
    [InlineData(123456.7, "1.23E+05")]
    [InlineData(double.PositiveInfinity, "∞")]
    public void Numbers_print_as_the_notes_print_them(double value, string text)
    {
        Assert.Equal(text, CircuitSvg.Short(value));
        Assert.Equal(value.ToString("R", CultureInfo.InvariantCulture), Trace.Exact(value));
    }
}
