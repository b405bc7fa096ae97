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
        foreach (var f in formatters.Where(f => f.Type.IsInstanceOfType(value)))
        {
            var writer = new StringWriter();
            Assert.True(f.Format(value, writer));
            output[f.MimeType] = writer.ToString();
        }
        return output;
    }

    [Fact]
    public void The_attribute_is_internal_and_found_by_name_on_derived_gradient_types()
    {
        var g = Grad.Of((double x, double y, double z) => (x + y) * z);
        var attribute = Assert.Single(g.GetType().GetCustomAttributes(inherit: true), a => a.GetType().Name == "TypeFormatterSourceAttribute");
        Assert.False(attribute.GetType().IsPublic);
        Assert.Equal(AttributeTargets.Class, attribute.GetType().GetCustomAttribute<AttributeUsageAttribute>()!.ValidOn);
        Assert.Equal(["text/markdown", "text/plain"], Convention(g.GetType()).Preferred);
        Assert.Equal(["text/html", "text/plain"], Convention(typeof(Trace)).Preferred);
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
}
