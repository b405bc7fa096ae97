using System.Linq.Expressions;

namespace ExprGrad.Tests.Import;

/// <summary>Anything outside the catalogue fails at Grad.Of with the operation named and the sub-expression shown.</summary>
public class ErrorTests
{
    [Fact]
    public void Modulo_is_named_with_its_subexpression()
    {
        var e = Assert.Throws<ExprGradException>(() => Grad.Of((double x) => x % 3 + 1));
        Assert.Contains("'Modulo'", e.Message);
        Assert.Contains("in x % 3 (", e.Message);
        Assert.Contains("supported:", e.Message);
        Assert.Equal(ExpressionType.Modulo, e.SubExpression!.NodeType);
    }

    [Fact]
    public void A_method_without_a_rule_is_named()
    {
        var e = Assert.Throws<ExprGradException>(() => Grad.Of((double x) => Math.FusedMultiplyAdd(x, x, 1)));
        Assert.Contains("'Math.FusedMultiplyAdd'", e.Message);
        Assert.Contains("no rule", e.Message);
    }

    [Fact]
    public void A_delegate_call_is_explained()
    {
        Func<double, double> f = t => t * t;
        var e = Assert.Throws<ExprGradException>(() => Grad.Of((double x) => f(x)));
        Assert.Contains("delegate call", e.Message);
    }

    [Fact]
    public void Strings_loops_and_non_double_results_are_rejected()
    {
        Assert.Throws<ExprGradException>(() => Grad.Of((double x) => double.Parse(x.ToString())));
        var x = Expression.Parameter(typeof(double), "x");
        var exit = Expression.Label(typeof(double));
        var loop = Expression.Lambda(Expression.Loop(Expression.Break(exit, x), exit), x);
        var e = Assert.Throws<ExprGradException>(() => Grad.Of(loop));
        Assert.Contains("'Loop'", e.Message);
        var intResult = Expression.Lambda(Expression.Constant(1), x);
        Assert.Contains("must return double", Assert.Throws<ExprGradException>(() => Grad.Of(intResult)).Message);
    }

    [Fact]
    public void Unsupported_parameter_types_and_whole_arrays_are_rejected()
    {
        var f = Expression.Parameter(typeof(float), "f");
        var e = Assert.Throws<ExprGradException>(() => Grad.Of(Expression.Lambda(Expression.Convert(f, typeof(double)), f)));
        Assert.Contains("parameter 'f' has type float", e.Message);

        // A LINQ method that is no loop ExprGrad differentiates names itself and the loops that are.
        var a = Expression.Parameter(typeof(double[]), "a");
        var average = Expression.Lambda(Expression.Call(typeof(Enumerable).GetMethod(nameof(Enumerable.Average), [typeof(IEnumerable<double>)])!, a), a);
        e = Assert.Throws<ExprGradException>(() => Grad.Of(average));
        Assert.Contains("LINQ method 'Average'", e.Message);
        Assert.Contains("Enumerable.Range(start, count).Sum(i => ...)", e.Message);
    }

    [Fact]
    public void A_by_reference_parameter_is_named_as_such()
    {
        // A compiled gradient's own lambda takes its gradients by reference: it is no function to differentiate.
        var g = Grad.Of((double x) => x * x);
        var e = Assert.Throws<ExprGradException>(() => Grad.Of(g.Expression));
        Assert.Matches("parameter '[^']+' is a ref or out double", e.Message);
        Assert.DoesNotContain("Double", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sub_expression_is_shown_as_the_CSharp_the_user_wrote()
    {
        // A method group, a captured variable, a method on a parenthesized product: C#, not Linq's ToString().
        var k = 2.0;
        Func<double, double> twice = t => 2 * t;
        var e = Assert.Throws<ExprGradException>(() => Grad.Of((double x) => Math.Round(x * k, MidpointRounding.ToEven) % (x + Math.BitIncrement(k))));
        Assert.Contains("in Math.Round(x * k, MidpointRounding.ToEven) % (x + Math.BitIncrement(k)) (", e.Message);
        e = Assert.Throws<ExprGradException>(() => Grad.Of((double x) => twice(x) + 1));
        Assert.Contains("the delegate call twice(x)", e.Message);
    }

    [Fact]
    public void A_sub_expression_100000_deep_is_shown_shortened()
    {
        var x = Expression.Parameter(typeof(double), "x");
        Expression body = x;
        for (var i = 0; i < 100_000; i++)
            body = Expression.Add(body, Expression.Constant(1.0));
        body = Expression.Modulo(body, x);
        var text = ExprGrad.Import.Errors.Show(body);
        Assert.True(text.Length <= 300, text);
        Assert.Contains("…", text, StringComparison.Ordinal);
        Assert.EndsWith("+ 1) % x", text, StringComparison.Ordinal);
        Assert.EndsWith(" % x", ExprGrad.Import.Errors.Show(Expression.Modulo(Expression.Add(x, Expression.Constant(1.0)), x)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_computed_array_index_is_rejected()
    {
        var e = Assert.Throws<ExprGradException>(() => Grad.Of((double[] a, double x) => a[(int)x]));
        Assert.Contains("depends on a parameter's value", e.Message);
        Assert.Contains("Enumerable.Range(0, a.Length).Sum(i => a[i] * ...)", e.Message);
    }
}
