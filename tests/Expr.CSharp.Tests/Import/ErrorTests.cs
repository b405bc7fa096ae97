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
        Assert.Contains("(x % 3)", e.Message);
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
        Assert.Contains("parameter 'f' has type Single", e.Message);

        // A LINQ method that is no loop ExprGrad differentiates names itself and the loops that are.
        var a = Expression.Parameter(typeof(double[]), "a");
        var average = Expression.Lambda(Expression.Call(typeof(Enumerable).GetMethod(nameof(Enumerable.Average), [typeof(IEnumerable<double>)])!, a), a);
        e = Assert.Throws<ExprGradException>(() => Grad.Of(average));
        Assert.Contains("LINQ method 'Average'", e.Message);
        Assert.Contains("Enumerable.Range(start, count).Sum(i => ...)", e.Message);
    }

    [Fact]
    public void A_computed_array_index_is_rejected()
    {
        var e = Assert.Throws<ExprGradException>(() => Grad.Of((double[] a, double x) => a[(int)x]));
        Assert.Contains("depends on a parameter's value", e.Message);
        Assert.Contains("Enumerable.Range(0, a.Length).Sum(i => a[i] * ...)", e.Message);
    }
}
