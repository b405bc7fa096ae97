using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ExprGrad.Display;
using ExprGrad.Emit;
using ExprGrad.Notebook;
using ExprGrad.Staging;
using ExprGrad.Symbolic;

namespace ExprGrad;

/// <summary>
/// A compiled value-and-gradient function of a lambda, made by <see cref="Grad"/>. Immutable and safe to call
/// from many threads at once.
/// </summary>
/// <remarks>
/// The flat (span) layout of a point lists the parameters in order: a <c>double</c> takes one slot, a
/// <c>double[]</c> parameter takes as many slots as its highest index read plus one.
/// </remarks>
[TypeFormatterSource(typeof(GradientFormatterSource), PreferredMimeTypes = ["text/markdown", "text/plain"])]
public partial class Gradient
{
    private readonly StagedGraph _graph;
    // The graph's dimension and tensor flag, copied here: the span Evaluate reads them on every call.
    private readonly int _dimension;
    private readonly string? _noFlatLayout;
    // True if the last parameter is an array whose length is read at the call: it takes the rest of the point.
    private readonly bool _endsDynamic;
    private readonly LambdaExpression? _typedExpression;
    private Kernel? _kernel;
    private FlatKernel? _direct;

    /// <param name="graph">The differentiated graph.</param>
    /// <param name="typedExpression">The typed lambda compiled for <c>Evaluate(a1, ..., an)</c>, if there is one.</param>
    /// <param name="kernel">The flat kernel, if already compiled; else it is compiled now, or, when there is a typed
    /// lambda, on the span API's first use.</param>
    internal Gradient(StagedGraph graph, LambdaExpression? typedExpression, Kernel? kernel)
    {
        _graph = graph;
        _dimension = graph.Dimension;
        _noFlatLayout = graph.NoFlatLayout;
        _endsDynamic = graph.EndsDynamic;
        _typedExpression = typedExpression;
        NameList = ParameterNameLists.Intern(Array.ConvertAll(graph.Parameters, p => p.Name));
        _kernel = kernel ?? (typedExpression is null ? Emitter.Compile(graph) : null);
        _direct = _kernel?.Direct;
    }

    /// <summary>
    /// The staged value-and-gradient lambda that was compiled: <c>(a1, ..., an, out d1, ..., out dn) =&gt; { forward
    /// stages; backward stages; return value; }</c> for a typed gradient of one method's size, else the flat form
    /// <c>(ref x, ref g, tape) =&gt; value</c>, whose parts (for a large graph) were compiled as separate methods.
    /// </summary>
    public LambdaExpression Expression => _typedExpression ?? Kernel.Expression;

    // Compiled once, on first use; a race compiles twice and keeps one, which is harmless.
    private Kernel Kernel => _kernel ?? Interlocked.CompareExchange(ref _kernel, Emitter.Compile(_graph), null) ?? _kernel!;

    /// <summary>
    /// The number of the parameters' names (<see cref="ParameterNameLists"/>): every typed <c>Evaluate</c> stores it in
    /// its result, so that the result shows by name, for one plain <c>int</c> store.
    /// </summary>
    private protected int NameList { get; }

    /// <summary>The differentiated graph, for tests and display.</summary>
    internal StagedGraph Graph => _graph;

    /// <summary>True if the function reads only numbers, so formulas, staged code and circuits apply.</summary>
    internal bool IsScalar => !_graph.Builder.HasTensors;

    /// <summary>
    /// The length of a point (and of its gradient) in the flat layout; for a function whose last parameter is an
    /// array of any length (one a loop runs over, or whose <c>Length</c> it reads), the shortest a point may be.
    /// </summary>
    public int Dimension => _dimension;

    /// <summary>
    /// True if the last parameter is a <c>double[]</c> whose length is read at the call: a point's slots from that
    /// parameter's offset to the end of the span are its elements, and the gradient is as long as the point.
    /// </summary>
    public bool HasVariableLength => _endsDynamic;

    /// <summary>The number of stages (forward and backward) in the staged graph.</summary>
    public int StageCount => _graph.StageCount;

    /// <summary>
    /// Evaluates the function at <paramref name="point"/> (flat layout) and writes its gradient to
    /// <paramref name="gradient"/>. Allocates nothing.
    /// </summary>
    /// <returns>The function's value.</returns>
    /// <remarks>
    /// When the last parameter is an array of any length (<see cref="HasVariableLength"/>), the whole of
    /// <paramref name="point"/> is read (that parameter is the rest of it) and <paramref name="gradient"/> must be at
    /// least as long: for <c>(double[] a) =&gt; a.Sum(v =&gt; v * v)</c>, the point is <c>a</c> itself.
    /// </remarks>
    /// <exception cref="ArgumentException">A span is shorter than <see cref="Dimension"/>, or than the point.</exception>
    /// <exception cref="NotSupportedException">The function has no flat layout: a parameter is a vector or matrix, or an
    /// array of any length is not the last parameter. Use the typed <c>Evaluate</c>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Evaluate(ReadOnlySpan<double> point, Span<double> gradient)
    {
        if (_noFlatLayout is not null)
            ThrowNoFlatLayout();
        var n = _endsDynamic ? point.Length : _dimension;
        if (point.Length < _dimension || gradient.Length < n)
            ThrowTooShort(point.Length, gradient.Length, point.Length < _dimension ? _dimension : n);

        if (_direct is { } direct && !point.Overlaps(gradient))
            return direct(ref MemoryMarshal.GetReference(point), ref MemoryMarshal.GetReference(gradient), [], n);
        return EvaluateOnWorkspace(point, gradient, n);
    }

    // The first call when the typed kernel came first (it compiles the flat one), a split graph (which needs a
    // tape) and a gradient span that overlaps the point (which would overwrite inputs not yet read) run on the
    // thread's workspace.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private double EvaluateOnWorkspace(ReadOnlySpan<double> point, Span<double> gradient, int n)
    {
        var kernel = Kernel;
        _direct ??= kernel.Direct;
        var work = Workspace.Rent(n, kernel.TapeLength);
        Copy(point, work.X, n);
        var value = kernel.Run(work, n);
        Copy(work.G, gradient, n);
        Workspace.Return(work);
        return value;
    }

    private void ThrowNoFlatLayout() => throw new NotSupportedException(_noFlatLayout);

    // Kept out of Evaluate so that the hot path stays small.
    private static void ThrowTooShort(int point, int gradient, int n) =>
        throw (point < n
            ? new ArgumentException($"the point has {point} values but the function reads {n}", nameof(point))
            : new ArgumentException($"the gradient has room for {gradient} values but the function has {n}", nameof(gradient)));

    // A short point is copied faster element by element than through a general block move.
    private static void Copy(ReadOnlySpan<double> from, Span<double> to, int n)
    {
        if (n > 16)
        {
            from[..n].CopyTo(to);
            return;
        }
        from = from[..n];
        to = to[..n];
        for (var i = 0; i < from.Length; i++)
            to[i] = from[i];
    }

    /// <summary>
    /// The forward and backward stages as C#, named like hand-written backprop, with <c>+=</c> where gradients meet
    /// at a fork. For <c>(x + y) * z</c>:
    /// <code>
    /// // forward
    /// q = x + y;
    /// f = q * z;
    /// // backward
    /// dq = z;
    /// dz = q;
    /// dx = dq;
    /// dy = dq;
    /// </code>
    /// Each line is valid C# once its variables are declared as doubles (arrays for array gradients). No generated name
    /// spells a name the user wrote: a parameter's gradient is <c>d</c> and its name (<c>dx</c>) unless the function
    /// already reads something called that, then <c>_</c> is appended until it is free (for <c>(dx, x) =&gt; dx * x</c>
    /// the gradients are <c>ddx</c> and <c>dx_</c>); a stage is <c>q</c>, <c>r</c>, ... only where neither it nor its
    /// adjoint's name (<c>dq</c>) is the user's, else <c>q1</c>, ....
    /// </summary>
    /// <exception cref="NotSupportedException">The function reads vectors or matrices: see <see cref="ToListing"/>.</exception>
    public string ToCode() => StagedCode.Print(ScalarGraph(nameof(ToCode)));

    // Formulas, seed-style code and circuits speak scalars; a vector or matrix function has its listing.
    private StagedGraph ScalarGraph(string what) => _graph.Builder.HasTensors
        ? throw new NotSupportedException($"{what} is for scalar functions; this one reads vectors or matrices: ToListing() shows its stages")
        : _graph;

    /// <summary>
    /// Evaluates the staged graph at <paramref name="point"/> (flat layout) and keeps every forward stage with its inputs,
    /// value and adjoint: the circuit diagram of the CS231n notes (<see cref="ExprGrad.Trace.ToSvg"/>). The inputs'
    /// adjoints are the gradient <see cref="Evaluate(ReadOnlySpan{double}, Span{double})"/> computes, bit for bit (but
    /// see <see cref="ExprGrad.Trace.Gradient"/> for an array of any length). A loop over data is one gate (<c>Σ i</c>, <c>fold k</c>, <c>max i</c>, <c>min i</c>) with its total value and
    /// adjoint, reading the array elements it read. If the last parameter is an array of any length, it is the rest of
    /// the point: <c>Trace(y, a0, a1, a2)</c> for <c>(double y, double[] a) =&gt; ...</c> traces <c>a</c> of length 3.
    /// </summary>
    /// <exception cref="ArgumentException">The point is shorter than <see cref="Dimension"/>.</exception>
    /// <exception cref="NotSupportedException">The function reads vectors or matrices (circuits are drawn for scalar
    /// functions), or has no flat layout (an array of any length that is not the last parameter).</exception>
    /// <exception cref="IndexOutOfRangeException">A loop reads past an array's end at this point, as the compiled code would.</exception>
    public Trace Trace(params double[] point) => Tracer.Run(ScalarGraph(nameof(Trace)), point);

    /// <summary>The staged graph, one stage per line (<c>v3 = v1 * v2</c>), forward then backward, as a jaxpr lists it.</summary>
    public string ToListing() => GraphPrinter.Print(_graph);

    /// <summary>Formulas larger than this many nodes, written out, are neither simplified nor printed.</summary>
    public const long MaxFormulaSize = 20_000;

    /// <summary>
    /// One simplified formula per partial derivative, in the flat layout's order (<c>x</c>, <c>w[0]</c>, <c>w[1]</c>,
    /// ...): the staged graph inlined, then simplified. For reading: what runs is the staged code.
    /// </summary>
    /// <remarks>
    /// A sum over data prints as a sum over its range: <c>sum(i = 0..a.Length - 2, ...)</c>, LaTeX
    /// <c>\sum_{i=0}^{a.Length - 2} ...</c>, with elements at computed indices as <c>a[i + 1]</c>. An array parameter of
    /// any length has no partial per slot: it has one formula, <c>∂f/∂a[k]</c>, for every element k, the sum of
    /// everything added to that element's gradient (a read <c>a[e]</c> in a sum contributes <c>(k == e ? c : 0)</c> in each
    /// iteration, Kronecker's delta); it evaluates (<see cref="Symbolic.Formula"/>'s <c>Evaluate</c>, with <c>k</c>,
    /// <c>a.Length</c> and the elements <c>a[0]</c>, ... as variables) to the compiled gradient's element k.
    /// </remarks>
    /// <exception cref="NotSupportedException">The function reads vectors or matrices, or has a loop no formula shows:
    /// a fold (<c>Aggregate</c>), <c>Max</c> or <c>Min</c> over data (<see cref="ToListing"/> and <see cref="Trace"/>
    /// show such a function).</exception>
    public IReadOnlyList<Derivative> Formulas
    {
        get
        {
            // Built once on first use; a race builds twice and keeps one, which is harmless.
            if (Volatile.Read(ref _formulas) is { } formulas)
                return formulas;
            Interlocked.CompareExchange(ref _formulas, BuildFormulas(), null);
            return _formulas!;
        }
    }

    private IReadOnlyList<Derivative>? _formulas;

    private Derivative[] BuildFormulas()
    {
        var trees = new FormulaTrees(ScalarGraph(nameof(Formulas)));
        if (trees.Unprintable is { } why)
            throw new NotSupportedException($"no formula shows this function: {why}; ToListing() shows its stages with each loop's body, and Trace(point) its values and gradients");
        var formulas = new List<Derivative>();
        foreach (var p in _graph.Parameters)
        {
            if (p.IsDynamic)
            {
                // An array of any length: one formula for every element k.
                var k = trees.FreeIndex();
                var tree = trees.ArrayGradient(Array.IndexOf(_graph.Parameters, p), k, out var written);
                formulas.Add(new Derivative($"{p.Name}[{k.Name}]", written > MaxFormulaSize ? null : Symbolic.Linq.ToFormula(Fn.Library, tree), written));
                continue;
            }
            for (var e = 0; e < p.Extent; e++)
            {
                var slot = p.Offset + e;
                var size = trees.PartialSize(slot);
                formulas.Add(new Derivative(p.SlotName(e), size > MaxFormulaSize ? null : Symbolic.Linq.ToFormula(Fn.Library, trees.Partial(slot)), size));
            }
        }
        return [.. formulas];
    }

    /// <summary>
    /// The partial derivatives typeset as LaTeX, one aligned line each:
    /// <c>\begin{aligned} \frac{\partial f}{\partial x} &amp;= y \\ ... \end{aligned}</c>.
    /// </summary>
    public string ToLatex() =>
        "\\begin{aligned}\n" + string.Join(" \\\\\n", Formulas.Select(d => Align(d.ToLatex()))) + "\n\\end{aligned}";

    // The header's "=" becomes the alignment point.
    private static string Align(string line)
    {
        var eq = line.IndexOf(" = ", StringComparison.Ordinal);
        return eq < 0 ? line : string.Concat(line.AsSpan(0, eq), " &= ", line.AsSpan(eq + 3));
    }

    /// <summary>
    /// The partial derivatives, one per line: <c>∂f/∂x = y</c>; for a function of vectors or matrices, or with loops
    /// over data, which have no formulas, its staged listing (<see cref="ToListing"/>).
    /// </summary>
    public override string ToString() => HasFormulas ? string.Join("\n", Formulas) : ToListing();

    /// <summary>True if <see cref="Formulas"/> exist: a scalar function whose loops over data are all sums.</summary>
    internal bool HasFormulas => IsScalar && (!_graph.HasLoops || new FormulaTrees(_graph).Unprintable is null);

    private protected Workspace Begin() => Workspace.Rent(_dimension, Kernel.TapeLength);

    private protected double Run(Workspace work) => Kernel.Run(work, _dimension);

    /// <summary>Checks an argument of the typed path: an array must hold every element the function reads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected void Check<T>(int param, T value)
    {
        if (typeof(T) != typeof(double))
            CheckReference(param, value);
    }

    // An array, vector or matrix argument: not null, and an array long enough for the elements read.
    private void CheckReference(int param, object? value)
    {
        var p = _graph.Parameters[param];
        ArgumentNullException.ThrowIfNull(value, p.Name);
        if (value is not double[] array)
            return; // a vector or matrix: the compiled code checks its shape

        if (array.Length < p.Extent)
            throw new ArgumentException($"parameter '{p.Name}' has length {array.Length} but the function reads {p.Name}[{p.Extent - 1}]", p.Name);
    }

    /// <summary>Writes an argument into the flat point (for a graph too large for the typed delegate).</summary>
    private protected void Pack<T>(Workspace work, int param, T value)
    {
        Check(param, value);
        var p = _graph.Parameters[param];
        if (typeof(T) == typeof(double))
            work.X[p.Offset] = (double)(object)value!;
        else
            ((double[])(object)value!).AsSpan(0, p.Extent).CopyTo(work.X.AsSpan(p.Offset));
    }

    /// <summary>Reads an argument's gradient out of the flat gradient, shaped like the argument.</summary>
    private protected T Unpack<T>(Workspace work, int param, T value)
    {
        var p = _graph.Parameters[param];
        if (typeof(T) == typeof(double))
            return (T)(object)work.G[p.Offset];
        var gradient = new double[((double[])(object)value!).Length];
        work.G.AsSpan(p.Offset, p.Extent).CopyTo(gradient);
        return (T)(object)gradient;
    }

    private protected static void End(Workspace work) => Workspace.Return(work);
}
