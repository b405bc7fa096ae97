using System.Collections;
using System.Linq.Expressions;
using System.Reflection;
using System.Xml.Linq;

namespace ExprGrad.Tests.Notebook;

/// <summary>
/// Notebook display by convention, loaded the way .NET Interactive loads it: an attribute found by its type name
/// alone, its formatter source activated, <c>CreateTypeFormatters()</c> invoked, and each formatter's
/// <c>Format(object, TextWriter)</c> called through a compiled expression, as the host does.
/// </summary>
public sealed class FormatterConventionTests
{
    private sealed record Found(string MimeType, Type Type, Func<object, TextWriter, bool> Format);

    private static (List<Found> Formatters, string[] Preferred) Convention(Type type)
    {
        var found = new List<Found>();
        string[] preferred = [];
        foreach (var attribute in type.GetCustomAttributes(inherit: true).Where(a => a.GetType().Name == "TypeFormatterSourceAttribute"))
        {
            var sourceType = (Type)attribute.GetType().GetProperty("FormatterSourceType")!.GetValue(attribute)!;
            preferred = (string[]?)attribute.GetType().GetProperty("PreferredMimeTypes")?.GetValue(attribute) ?? [];
            var source = Activator.CreateInstance(sourceType)!;
            var formatters = (IEnumerable)sourceType.GetMethod("CreateTypeFormatters")!.Invoke(source, null)!;
            foreach (var formatter in formatters)
            {
                var t = formatter.GetType();
                var mime = (string)t.GetProperty("MimeType")!.GetValue(formatter)!;
                var formatted = (Type?)t.GetProperty("Type")?.GetValue(formatter) ?? type;
                var method = t.GetMethod("Format")!;
                Assert.Equal([typeof(object), typeof(TextWriter)], method.GetParameters().Select(p => p.ParameterType));
                Assert.Equal(typeof(bool), method.ReturnType);
                var instance = Expression.Parameter(typeof(object));
                var writer = Expression.Parameter(typeof(TextWriter));
                var call = Expression.Lambda<Func<object, TextWriter, bool>>(
                    Expression.Call(Expression.Constant(formatter), method, instance, writer), instance, writer).Compile();
                found.Add(new(mime, formatted, call));
            }
        }
        return (found, preferred);
    }

    private static Dictionary<string, string> FormatAll(object value)
    {
        var (formatters, _) = Convention(value.GetType());
        var output = new Dictionary<string, string>();
        foreach (var f in formatters.Where(f => Matches(f.Type, value)))
        {
            var writer = new StringWriter();
            Assert.True(f.Format(value, writer));
            output[f.MimeType] = writer.ToString();
        }
        return output;
    }

    // As .NET Interactive matches a formatter's type: a generic type definition matches its constructions.
    private static bool Matches(Type formatted, object value) => formatted.IsGenericTypeDefinition
        ? value.GetType().IsGenericType && value.GetType().GetGenericTypeDefinition() == formatted
        : formatted.IsInstanceOfType(value);

    [Fact]
    public void The_attribute_is_internal_and_found_by_name_on_derived_gradient_types()
    {
        var g = Grad.Of((double x, double y, double z) => (x + y) * z);
        var attribute = Assert.Single(g.GetType().GetCustomAttributes(inherit: true), a => a.GetType().Name == "TypeFormatterSourceAttribute");
        Assert.False(attribute.GetType().IsPublic);
        Assert.Equal(AttributeTargets.Class | AttributeTargets.Struct, attribute.GetType().GetCustomAttribute<AttributeUsageAttribute>()!.ValidOn);
        Assert.Equal(["text/markdown", "text/plain"], Convention(g.GetType()).Preferred);
        Assert.Equal(["text/html", "text/plain"], Convention(typeof(Trace)).Preferred);
        Assert.Equal(["text/html", "text/plain"], Convention(typeof(ValueAndGradient<double, double[]>)).Preferred);
    }

    [Fact]
    public void A_gradient_shows_its_formulas_typeset_and_its_staged_code()
    {
        var g = Grad.Of((double x, double y, double z) => (x + y) * z);
        var output = FormatAll(g);
        Assert.Equal(["text/markdown", "text/latex", "text/plain"], output.Keys);
        Assert.Equal("$$\n" + g.ToLatex() + "\n$$", output["text/latex"]);
        Assert.Contains(@"\frac{\partial f}{\partial z} &= x + y", output["text/latex"], StringComparison.Ordinal);
        Assert.StartsWith(output["text/latex"] + "\n\n```csharp\n", output["text/markdown"], StringComparison.Ordinal);
        Assert.Contains("dq = z;", output["text/markdown"], StringComparison.Ordinal);
        Assert.EndsWith("```\n", output["text/markdown"], StringComparison.Ordinal);
        Assert.StartsWith("∂f/∂x = z\n∂f/∂y = z\n∂f/∂z = x + y\n\n// forward\n", output["text/plain"], StringComparison.Ordinal);
    }

    [Fact]
    public void A_trace_shows_its_circuit_as_SVG_and_HTML_and_its_table_as_text()
    {
        var t = Grad.Of((double x, double y, double z) => (x + y) * z).Trace(-2, 5, -4);
        var output = FormatAll(t);
        Assert.Equal(["text/html", "image/svg+xml", "text/plain"], output.Keys);
        var svg = XDocument.Parse(output["image/svg+xml"]);
        Assert.Equal("svg", svg.Root!.Name.LocalName);
        Assert.Equal(t.ToSvg(), output["image/svg+xml"]);
        var html = XElement.Parse(output["text/html"]);
        Assert.Equal("div", html.Name.LocalName);
        Assert.Equal(t.ToSvg(), html.Elements().Single().ToString(SaveOptions.DisableFormatting));
        Assert.Equal(t.ToString(), output["text/plain"]);
    }

    [Fact]
    public void A_formatter_declines_what_is_not_its_type()
    {
        var (formatters, _) = Convention(typeof(Trace));
        Assert.All(formatters, f => Assert.False(f.Format("not a trace", new StringWriter())));
    }

    [Fact]
    public void A_gradient_of_matrices_shows_its_listing_and_declines_to_typeset()
    {
        var g = Grad.Of((MathNet.Numerics.LinearAlgebra.Matrix<double> w) => w.FrobeniusNorm());
        var (formatters, _) = Convention(g.GetType());
        var output = new Dictionary<string, (bool Done, string Text)>();
        foreach (var f in formatters)
        {
            var writer = new StringWriter();
            output[f.MimeType] = (f.Format(g, writer), writer.ToString());
        }
        Assert.False(output["text/latex"].Done);
        Assert.Equal(g.ToListing(), output["text/plain"].Text);
        Assert.Contains(g.ToListing(), output["text/markdown"].Text);
    }

    [Fact]
    public void A_value_and_gradient_shows_a_table_by_parameter_name_for_every_arity()
    {
        var result = Grad.Of((double x, double y, double z) => (x + y) * z).Evaluate(-2, 5, -4);
        var output = FormatAll(result);
        Assert.Equal(["text/html", "text/plain"], output.Keys);
        Assert.Equal("f = -12, ∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3", output["text/plain"]);
        var table = XElement.Parse(output["text/html"]);
        Assert.Equal(["f", "∂f/∂x", "∂f/∂y", "∂f/∂z"], table.Descendants("th").Select(th => th.Value));
        Assert.Equal(["-12", "-4", "-4", "3"], table.Descendants("td").Select(td => td.Value));

        // One formatter per arity's open generic type; each declines the other arities.
        var (formatters, _) = Convention(result.GetType());
        Assert.Equal(8, formatters.Select(f => f.Type).Distinct().Count());
        Assert.All(formatters.Select(f => f.Type), t => Assert.True(t.IsGenericTypeDefinition));
        Assert.All(formatters.Where(f => f.Type != typeof(ValueAndGradient<,,>)), f => Assert.False(f.Format(result, new StringWriter())));
        var eight = Grad.Of((double a, double b, double c, double d, double e, double f, double g, double h) => a * h).Evaluate(1, 2, 3, 4, 5, 6, 7, 8);
        Assert.StartsWith("f = 8, ∂f/∂a = 8, ∂f/∂b = 0,", FormatAll(eight)["text/plain"], StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_and_gradient_of_matrices_shows_each_gradient_as_a_table_with_its_shape()
    {
        var w = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(new double[,] { { 3, 0, 0 }, { 0, 4, 0 } });
        var result = Grad.Of((MathNet.Numerics.LinearAlgebra.Matrix<double> W) => W.FrobeniusNorm()).Evaluate(w);
        var html = XElement.Parse(FormatAll(result)["text/html"]);
        var matrix = html.Descendants("table").Single();
        Assert.Equal("2×3 matrix", matrix.Element("caption")!.Value);
        Assert.Equal([["0.6", "0", "0"], ["0", "0.8", "0"]], matrix.Descendants("tr").Select(tr => tr.Elements("td").Select(td => td.Value).ToArray()));
    }
}
