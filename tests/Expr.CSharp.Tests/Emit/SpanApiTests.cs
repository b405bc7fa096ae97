namespace ExprGrad.Tests.Emit;

/// <summary>
/// The span API reads the point and writes the gradient in place, through the caller's spans: every way a caller
/// can lay them out gives the same numbers.
/// </summary>
public class SpanApiTests
{
    [Fact]
    public void Point_and_gradient_in_the_same_memory()
    {
        // The gradient overwrites the point it is computed from; the inputs must all be read first.
        var g = Grad.Of((double x, double y) => x * y + Math.Sin(x));
        g.Evaluate([1.0, 1.0], new double[2]); // after a first call, calls run on the spans directly
        double[] buffer = [4, -3];
        var value = g.Evaluate(buffer, buffer);
        Assert.Equal(-12 + Math.Sin(4), value);
        Assert.Equal([-3 + Math.Cos(4), 4], buffer);

        // Overlapping by one element.
        double[] shifted = [4, -3, 0];
        value = g.Evaluate(shifted.AsSpan(0, 2), shifted.AsSpan(1, 2));
        Assert.Equal(-12 + Math.Sin(4), value);
        Assert.Equal([4, -3 + Math.Cos(4), 4], shifted);

        // Gradients of slots the function ignores are written first (zeros): here dx would land on z before z is read.
        var h = Grad.Of((double x, double y, double z) => z * z);
        h.Evaluate([1.0, 1.0, 1.0], new double[3]);
        double[] memory = [1, 2, 3, 0, 0];
        Assert.Equal(9, h.Evaluate(memory.AsSpan(0, 3), memory.AsSpan(2, 3)));
        Assert.Equal([1, 2, 0, 0, 6], memory);
    }

    [Fact]
    public void Spans_inside_larger_arrays_and_longer_than_the_dimension()
    {
        var g = Grad.Of((double[] a) => a[0] * a[1] * a[2]);
        var points = new double[] { 9, 1, 2, 3, 9 };
        var gradients = new double[] { 7, 7, 7, 7, 7, 7 };
        Assert.Equal(6, g.Evaluate(points.AsSpan(1), gradients.AsSpan(2)));
        Assert.Equal([7, 7, 6, 3, 2, 7], gradients); // the element past the dimension is left alone
    }

    [Fact]
    public void The_first_call_may_come_after_typed_calls_and_from_many_threads()
    {
        // The typed delegate is compiled first; the flat one on the span API's first use, possibly by several threads.
        var g = Grad.Of((double x, double y) => Math.Exp(x) * y);
        Assert.Equal(Math.Exp(1) * 2, g.Evaluate(1, 2).Value);
        Parallel.For(0, 64, i =>
        {
            var gradient = new double[2];
            var value = g.Evaluate([i * 0.01, 2], gradient);
            Assert.Equal(Math.Exp(i * 0.01) * 2, value);
            Assert.Equal([Math.Exp(i * 0.01) * 2, Math.Exp(i * 0.01)], gradient);
        });
    }
}
