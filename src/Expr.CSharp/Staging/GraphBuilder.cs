using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using ExprGrad.Rules;

namespace ExprGrad.Staging;

/// <summary>
/// Builds the staged graph. Every node goes through here, so every node is hash-consed (one node per distinct
/// operation on distinct inputs in scope), constant-folded, and locally simplified by identities that hold for
/// every double, signed zeros included (x·1 = x, x − 0 = x, −(−x) = x; never x·0 = 0, which would hide a NaN, nor
/// x + 0 = x, which is +0 at x = −0).
/// </summary>
internal sealed class GraphBuilder
{
    private readonly Dictionary<Key, Node> _table = [];
    private readonly List<Key> _undo = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<(long Bits, bool IsBool), Node> _constants = [];
    private readonly Dictionary<(int Param, int Element), Node> _inputs = [];
    private readonly double[] _fold = new double[2];
    private Region _current;
    private int _nextId;

    /// <summary>The region new stages go into: the root, or the branch being built.</summary>
    public Region Current => _current;

    public GraphBuilder()
    {
        Root = new Region(null);
        _current = Root;
    }

    public Region Root { get; }

    /// <summary>The number of nodes created so far (ids are 0 .. Count − 1).</summary>
    public int Count => _nextId;

    public IReadOnlyCollection<Node> Inputs => _inputs.Values;

    public Node Constant(double value) => Constant(value, isBool: false);

    public Node Boolean(bool value) => Constant(value ? 1 : 0, isBool: true);

    private Node Constant(double value, bool isBool)
    {
        // Keyed by bits, so 0.0 and −0.0 (and distinct NaN payloads) stay distinct.
        var key = (BitConverter.DoubleToInt64Bits(value), isBool);
        if (!_constants.TryGetValue(key, out var node))
            _constants[key] = node = new Node(_nextId++, Op.Constant, [], null) { Value = value, IsBool = isBool };
        return node;
    }

    // Constants a formula shows as how they were computed, at most this many nodes written out.
    private const int MaxOrigin = 24;

    // A folded constant: a constant node as any other (the value is all that runs), but a new one remembers the fold
    // that made it (Node.Origin) where that and every value in it is a finite number and it stays small.
    private Node Folded(Op op, Node[] args, double value, bool isBool)
    {
        var key = (BitConverter.DoubleToInt64Bits(value), isBool);
        if (_constants.TryGetValue(key, out var node))
            return node;
        static int Size(Node c) => c.Origin is { } o ? 1 + o.Args.Sum(Size) : 1;
        var shown = !isBool && double.IsFinite(value) && op is not (Op.Select or Op.IntegerDivide or Op.Remainder)
            && Array.TrueForAll(args, a => !a.IsBool && double.IsFinite(a.Value)) && 1 + args.Sum(Size) <= MaxOrigin;
        var origin = shown ? new Node(-1, op, [.. args], null) : null;
        return _constants[key] = new Node(_nextId++, Op.Constant, [], null) { Value = value, IsBool = isBool, Origin = origin };
    }

    /// <summary>A read of a lambda parameter (element <paramref name="element"/> of an array parameter, or −1). Inputs live in the root region.</summary>
    public Node Input(int param, int element)
    {
        if (!_inputs.TryGetValue((param, element), out var node))
        {
            node = new Node(_nextId++, Op.Input, [], Root) { Param = param, Element = element };
            _inputs[(param, element)] = node;
            Root.Nodes.Add(node);
        }
        return node;
    }

    /// <summary>A live read of a captured variable; <paramref name="root"/> and <paramref name="path"/> identify it for sharing.</summary>
    public Node Captured(Expression live, object? root, string path) =>
        Intern(new Key(Op.Captured, -1, -1, 0, root, path), () => Leaf(new Node(_nextId++, Op.Captured, [], _current) { Live = live, IsBool = live.Type == typeof(bool) }, Shape.KindOf(live.Type)));

    /// <summary>A read of a vector or matrix parameter; its dimensions are new, read from it at each call.</summary>
    public Node TensorInput(int param, Kind kind)
    {
        var node = Input(param, -1);
        return node.Shape.Kind == kind ? node : Leaf(node, kind);
    }

    // A leaf vector or matrix brings its own dimensions.
    private Node Leaf(Node node, Kind? kind)
    {
        node.Shape = kind switch
        {
            Kind.Vector => Shape.Vector(Dims.New(node, "Count")),
            Kind.Matrix => Shape.Matrix(Dims.New(node, "RowCount"), Dims.New(node, "ColumnCount")),
            _ => Shape.Scalar,
        };
        return node;
    }

    /// <summary>Which dimensions must be equal, and the checks that say so at a call.</summary>
    public Dimensions Dims { get; } = new();

    /// <summary>The user's sub-expression being staged, named by shape errors; null while the sweep builds adjoints.</summary>
    public Expression? Site { get; set; }

    /// <summary>True once any vector or matrix has been staged.</summary>
    public bool HasTensors => Dims.Count > 0;

    public Node Add(Node a, Node b) => Apply(Op.Add, a, b);

    public Node Subtract(Node a, Node b) => Apply(Op.Subtract, a, b);

    public Node Multiply(Node a, Node b) => Apply(Op.Multiply, a, b);

    public Node Divide(Node a, Node b) => Apply(Op.Divide, a, b);

    public Node Negate(Node a) => Apply(Op.Negate, a);

    /// <summary><paramref name="test"/> ? <paramref name="a"/> : <paramref name="b"/>, both already computed (see <see cref="Op.Select"/>).</summary>
    public Node Select(Node test, Node a, Node b) => Apply(Op.Select, [test, a, b]);

    public Node Apply(Op op, Node a) => Apply(op, [a]);

    public Node Apply(Op op, Node a, Node b) => Apply(op, [a, b]);

    public Node Apply(Op op, Node[] args, int param = 0)
    {
        var rule = RuleTable.Get(op);
        if (args.Length != rule.Arity && rule.Arity >= 0)
            throw new ArgumentException($"{op} takes {rule.Arity} arguments", nameof(args));
        if (rule.Infer is { } infer)
            return Tensor(op, args, param, infer);
        if (Array.Exists(args, a => a.Shape.IsTensor))
        {
            var shape = Array.Find(args, a => a.Shape.IsTensor)!.Shape;
            args = Array.ConvertAll(args, Unfill); // before the body is built, so a constant fill is built in
            return Map(MapBody.Of(rule.Symbol, args, (b, x) => b.Apply(op, x), op), args, shape);
        }

        if (Array.TrueForAll(args, a => a.Op == Op.Constant))
        {
            for (var i = 0; i < args.Length; i++) _fold[i] = args[i].Value;
            return Folded(op, args, rule.Evaluate(_fold), rule.IsBool);
        }
        if (Simplify(op, args) is { } simpler)
            return simpler;
        // Operands by id, but a product's constant first (c·x), where the rewrites above look for it.
        static int Order(Op op, Node n) => op == Op.Multiply && n.Op == Op.Constant ? -1 : n.Id;
        if (rule.Commutative && Order(op, args[1]) < Order(op, args[0]))
            (args[0], args[1]) = (args[1], args[0]);

        var key = new Key(op, args[0].Id, args.Length > 1 ? args[1].Id : -1, args.Length > 2 ? args[2].Id : 0, null, null);
        return Intern(key, () => new Node(_nextId++, op, args, _current) { IsBool = rule.IsBool });
    }

    /// <summary>A call of a user's method with a rule (<see cref="Op.Call"/>): folded on constants, hash-consed like any stage.</summary>
    public Node Call(Rule rule, Node[] args)
    {
        if (rule.CallText is null && Array.TrueForAll(args, a => a.Op == Op.Constant))
            return Constant(rule.Evaluate(Array.ConvertAll(args, a => a.Value)));
        var key = new Key(Op.Call, -1, -1, 0, rule, string.Join(",", args.Select(a => a.Id)));
        return Intern(key, () => new Node(_nextId++, Op.Call, args, _current) { Function = rule });
    }

    // A vector or matrix operation: its rule infers the shape (and relates the dimensions it needs equal).
    private Node Tensor(Op op, Node[] args, int param, Func<GraphBuilder, Node[], int, Shape> infer)
    {
        if (TensorSimplify(op, args, param) is { } simpler)
            return simpler;
        var shape = infer(this, args, param);
        var key = new Key(op, args.Length > 0 ? args[0].Id : -1, args.Length > 1 ? args[1].Id : -1, param, null, null);
        return Intern(key, () => new Node(_nextId++, op, args, _current) { Param = param, Shape = shape });
    }

    private Node? TensorSimplify(Op op, Node[] a, int param)
    {
        // (Aᵀ)ᵀ = A; a transposed matrix operand of a product is a flag of the product, so no transpose is materialized.
        if (op == Op.Transpose && a[0].Op == Op.Transpose)
            return a[0].Args[0];
        if (op == Op.MatMul && a[0].Op == Op.Transpose)
            return Apply(Op.MatMul, [a[0].Args[0], a[1]], param ^ 1);
        if (op == Op.MatMul && a[1].Op == Op.Transpose)
            return Apply(Op.MatMul, [a[0], a[1].Args[0]], param ^ 2);
        // Repeating a constant vector is a constant matrix, which a Map reads as one number.
        if (op == Op.RepeatRow && a[0].Op == Op.Fill)
            return Fill(a[0].Args[0], Shape.Matrix(param, a[0].Shape.Rows));
        if (op == Op.RepeatColumn && a[0].Op == Op.Fill)
            return Fill(a[0].Args[0], Shape.Matrix(a[0].Shape.Rows, param));
        return null;
    }

    /// <summary>A product op(a)·op(b), where op transposes the first operand if <paramref name="transposeA"/> and the second if <paramref name="transposeB"/>.</summary>
    public Node MatMul(Node a, Node b, bool transposeA = false, bool transposeB = false) =>
        Apply(Op.MatMul, [a, b], (transposeA ? 1 : 0) | (transposeB ? 2 : 0));

    /// <summary>
    /// <paramref name="body"/> applied element by element to <paramref name="args"/> (vectors or matrices of one shape,
    /// and scalars), giving a value of <paramref name="shape"/> (by default the first tensor argument's).
    /// </summary>
    public Node Map(MapBody body, Node[] args, Shape? shape = null)
    {
        args = (Node[])args.Clone();
        Shape? first = shape;
        for (var k = 0; k < args.Length; k++)
        {
            if (!args[k].Shape.IsTensor)
                continue;
            if (first is { } s)
                Elementwise(s, args[k].Shape, body.Name ?? "Map");
            first ??= args[k].Shape;
            args[k] = Unfill(args[k]);
        }
        var result = first ?? throw new ArgumentException("a Map needs a vector or matrix argument", nameof(args));

        // The identity (x + 0, 1·x, a derivative that is the adjoint itself) is its argument.
        if (body.Output == body.Cached)
            return args[body.CachedArg];
        if (body.Output.Op == Op.Input && body.Output.Param < args.Length && body.Output != body.Cached)
        {
            var arg = args[body.Output.Param];
            return arg.Shape.IsTensor ? arg : Fill(arg, result);
        }
        if (body.Name is null)
            return Stage(new Node(_nextId++, Op.Map, args, _current) { Body = body, Shape = result });
        // Equal operations (or names) on equal arguments are one node: two symbols may be alike, two operations are not.
        var key = new Key(Op.Map, -1, -1, 0, null, $"{body.Operation}|{body.Name}:{string.Join(",", args.Select(a => a.Id))}");
        return Intern(key, () => new Node(_nextId++, Op.Map, args, _current) { Body = body, Shape = result });
    }

    // A Map reads a vector or matrix whose elements are all one value as that value.
    private static Node Unfill(Node arg) => arg.Op == Op.Fill ? arg.Args[0] : arg;

    /// <summary>A vector or matrix of <paramref name="shape"/> whose every element is <paramref name="value"/>.</summary>
    public Node Fill(Node value, Shape shape) =>
        Intern(new Key(Op.Fill, value.Id, shape.Rows, shape.Columns, null, null),
            () => new Node(_nextId++, Op.Fill, [value], _current) { Shape = shape });

    /// <summary>
    /// Element (<paramref name="row"/>, <paramref name="column"/>) of a matrix, or element <paramref name="row"/> of a vector
    /// (<paramref name="column"/> −1). The index is checked against the dimension at every call.
    /// </summary>
    public Node Element(Node tensor, int row, int column)
    {
        var shape = tensor.Shape;
        Bounds(shape.Rows, row);
        if (shape.Kind == Kind.Matrix)
            Bounds(shape.Columns, column);
        return Intern(new Key(Op.Element, tensor.Id, column, row, null, null),
            () => new Node(_nextId++, Op.Element, [tensor], _current) { Param = row, Element = column });
    }

    private void Bounds(int dimension, int index) =>
        Dims.Bound(dimension, index, () => Site is { } e ? Import.Errors.ShowSite(e) : "an element");

    /// <summary>The vector or matrix of <paramref name="shape"/> that is <paramref name="value"/> at one element and 0 elsewhere: the adjoint of <see cref="Element"/>.</summary>
    public Node Scatter(Node value, int row, int column, Shape shape) =>
        Intern(new Key(Op.Scatter, value.Id, column, row, null, $"{shape.Rows}x{shape.Columns}"),
            () => new Node(_nextId++, Op.Scatter, [value], _current) { Param = row, Element = column, Shape = shape });

    /// <summary>The size of dimension <paramref name="dimension"/> at the call, as a number.</summary>
    public Node Size(int dimension) =>
        Intern(new Key(Op.Size, -1, -1, Dims.Find(dimension), null, null),
            () => new Node(_nextId++, Op.Size, [], _current) { Param = dimension });

    /// <summary>The matrix with <paramref name="rows"/> rows, each a copy of the vector <paramref name="row"/>.</summary>
    public Node RepeatRow(Node row, int rows) => Apply(Op.RepeatRow, [row], rows);

    /// <summary>The matrix with <paramref name="columns"/> columns, each a copy of the vector <paramref name="column"/>.</summary>
    public Node RepeatColumn(Node column, int columns) => Apply(Op.RepeatColumn, [column], columns);

    /// <summary>Relates two dimensions that an operation needs equal; a mismatch is reported at the call, naming both shapes.</summary>
    public void Unify(int a, int b, Shape left, Shape right, string requirement) =>
        Dims.Unify(a, b, () => new ShapeCheck(a, b, Site is { } site ? Import.Errors.ShowSite(site) : "a derivative", requirement, left, right));

    /// <summary>Relates the dimensions of two operands of an element-wise operation.</summary>
    public void Elementwise(Shape left, Shape right, string operation)
    {
        if (left.Kind != right.Kind)
            throw new ExprGradException($"{operation}: cannot combine a {left.Kind.ToString().ToLowerInvariant()} with a {right.Kind.ToString().ToLowerInvariant()} element by element", Site);
        const string same = "element-wise operands must have one shape";
        Unify(left.Rows, right.Rows, left, right, same);
        if (left.Kind == Kind.Matrix)
            Unify(left.Columns, right.Columns, left, right, same);
    }

    /// <summary>A loop body's variable: its value in iteration k is the range's start + k. Staged once, in the body's root.</summary>
    public Node LoopIndex() =>
        Intern(new Key(Op.Index, -1, -1, 0, null, null), () => new Node(_nextId++, Op.Index, [], _current));

    /// <summary>The length of array parameter <paramref name="param"/> at the call, as a number. Staged in the root.</summary>
    public Node Length(int param)
    {
        var key = new Key(Op.Length, -1, -1, param, null, null);
        if (_table.TryGetValue(key, out var node))
            return node;
        node = new Node(_nextId++, Op.Length, [], Root) { Param = param };
        Root.Nodes.Add(node);
        _table[key] = node; // in the root's scope: never undone by a branch
        return node;
    }

    /// <summary>
    /// Element <paramref name="indices"/> of array parameter <paramref name="param"/> (<paramref name="live"/> null), or of
    /// the captured array or MathNet vector or matrix <paramref name="live"/> (data), in a loop body. With
    /// <paramref name="direction"/>, an element of a direction, read but never differentiated (<see cref="Node.IsDirection"/>).
    /// </summary>
    public Node Read(int param, Expression? live, Node[] indices, string indexText, bool direction = false) =>
        Intern(new Key(Op.Read, indices[0].Id, indices.Length > 1 ? indices[1].Id : -1, param, live, null),
            () => new Node(_nextId++, Op.Read, indices, _current) { Param = param, Live = live, IndexText = indexText, IsDirection = direction });

    /// <summary>Adds <paramref name="value"/> to the gradient of the element that <paramref name="read"/> reads: a Read's pullback.</summary>
    public Node ScatterAdd(Node read, Node value) =>
        Stage(new Node(_nextId++, Op.ScatterAdd, [value, .. read.Args], _current) { Param = read.Param, IndexText = read.IndexText });

    /// <summary>A loop over data: <paramref name="body"/> run for <c>start, start + 1, ..., start + count − 1</c>.</summary>
    public Node Loop(LoopBody body, Node start, Node count, Node init, Node[] invariants) =>
        Stage(new Node(_nextId++, Op.Loop, [start, count, init, .. invariants], _current) { Loop = body });

    /// <summary>
    /// The pullback of <paramref name="loop"/> given its adjoint <paramref name="bar"/>: a loop that runs the body's
    /// pullback (backwards, for a fold), scatters into array gradients and returns one <see cref="Op.Project"/> per
    /// argument of the loop with an adjoint: init (<c>Param</c> 2) and the invariants (<c>Param</c> 3 + j). Its arguments are
    /// <c>[loop, bar, .. loop's arguments]</c>.
    /// </summary>
    public Node[] LoopAdjoint(Node loop, Node bar, int[] outputs)
    {
        var adjoint = Stage(new Node(_nextId++, Op.LoopAdjoint, [loop, bar, .. loop.Args], _current) { Loop = loop.Loop });
        var projections = new Node[outputs.Length];
        for (var k = 0; k < outputs.Length; k++)
            projections[k] = Stage(new Node(_nextId++, Op.Project, [adjoint], _current) { Param = outputs[k] });
        return projections;
    }

    private Node Stage(Node node)
    {
        _current.Nodes.Add(node);
        return node;
    }

    // Identities exact for every double but the sign of a zero result (x + 0 where x = −0), as in JAX and PyTorch.
    private Node? Simplify(Op op, Node[] a)
    {
        static bool Is(Node n, double v) => n.Op == Op.Constant && !n.IsBool && n.Value == v;
        // Signed zeros: x + (−0) = x and x − (+0) = x for every x, but x + (+0) is +0 at x = −0, and (+0) − x is +0, not
        // −x, at x = +0 (atan2 and 1/x tell them apart).
        static bool IsZero(Node n, bool negative) => Is(n, 0) && double.IsNegative(n.Value) == negative;
        return op switch
        {
            Op.Select when a[0].Op == Op.Constant => a[0].Value != 0 ? a[1] : a[2],
            Op.Select when a[1] == a[2] => a[1],
            Op.Add when IsZero(a[1], negative: true) => a[0],
            Op.Add when IsZero(a[0], negative: true) => a[1],
            Op.Subtract when IsZero(a[1], negative: false) => a[0],
            Op.Subtract when IsZero(a[0], negative: true) => Negate(a[1]),
            Op.Subtract when a[1].Op == Op.Negate => Add(a[0], a[1].Args[0]),
            Op.Add when a[1].Op == Op.Negate => Subtract(a[0], a[1].Args[0]),
            Op.Add when a[0].Op == Op.Negate => Subtract(a[1], a[0].Args[0]),
            Op.Multiply when Is(a[1], 1) => a[0],
            Op.Multiply when Is(a[0], 1) => a[1],
            Op.Multiply when Is(a[1], -1) => Negate(a[0]),
            Op.Multiply when Is(a[0], -1) => Negate(a[1]),
            Op.Multiply when a[0] == a[1] => Apply(Op.Square, a[0]),
            Op.Divide when Is(a[1], 1) => a[0],
            Op.Negate when a[0].Op == Op.Negate => a[0].Args[0],
            Op.Negate when a[0].Op == Op.Multiply && a[0].Args[0].Op == Op.Constant => Multiply(Negate(a[0].Args[0]), a[0].Args[1]),
            Op.Multiply when ExactProduct(a[0], a[1]) is { } folded => folded,
            Op.Multiply when ExactProduct(a[1], a[0]) is { } folded => folded,
            // (−c·x)·y = −(c·x·y) when c·x is already staged: no new product, and a sum absorbs the negation
            // (x + (−y) = x − y). In Rosenbrock's backward pass, −200t·2a accumulated into ā is then one subtraction.
            Op.Multiply when a[1].Op != Op.Constant && Opposite(a[0]) is { } p => Negate(Multiply(p, a[1])),
            Op.Multiply when a[0].Op != Op.Constant && Opposite(a[1]) is { } p => Negate(Multiply(a[0], p)),
            Op.Pow when Is(a[1], 0) => Constant(1), // IEEE pow(x, 0) is 1 for every x, NaN included
            Op.Pow when Is(a[1], 1) => a[0],
            Op.Pow when Is(a[1], 2) => Apply(Op.Square, a[0]),
            _ => null,
        };
    }

    // For (−c)·x with c > 0, the product c·x if it is already staged: (−c·x)·y is then −(c·x·y), with no new product.
    private Node? Opposite(Node n)
    {
        if (n.Op != Op.Multiply || n.Args[0].Op != Op.Constant || n.Args[0].IsBool || !(n.Args[0].Value < 0))
            return null;
        // Only a lookup: if c itself was never staged, no product of it was either.
        return _constants.TryGetValue((BitConverter.DoubleToInt64Bits(-n.Args[0].Value), false), out var c)
            ? _table.GetValueOrDefault(new Key(Op.Multiply, c.Id, n.Args[1].Id, 0, null, null))
            : null;
    }

    // c·(d·x) = (c·d)·x exactly when c or d is a power of two and c·d is a normal number: scaling by 2ᵏ only moves the exponent.
    private Node? ExactProduct(Node c, Node product)
    {
        if (c.Op != Op.Constant || c.IsBool || product.Op != Op.Multiply || product.Args[0].Op != Op.Constant)
            return null;
        var d = product.Args[0].Value;
        var cd = c.Value * d;
        var exact = (double.IsPow2(Math.Abs(c.Value)) || double.IsPow2(Math.Abs(d))) && double.IsNormal(cd);
        return exact ? Multiply(Multiply(c, product.Args[0]), product.Args[1]) : null; // c·d folds to cd
    }

    /// <summary>Opens a branch region nested in the current one; nodes built until <see cref="EndRegion"/> go there.</summary>
    public void BeginRegion()
    {
        _current = new Region(_current);
        _marks.Push(_undo.Count);
    }

    /// <summary>Closes the current branch, delivering <paramref name="results"/>; nodes interned in it go out of scope.</summary>
    public Region EndRegion(Node[] results)
    {
        var region = _current;
        region.Results = results;
        var mark = _marks.Pop();
        for (var i = _undo.Count - 1; i >= mark; i--)
            _table.Remove(_undo[i]);
        _undo.RemoveRange(mark, _undo.Count - mark);
        _current = region.Parent!;
        return region;
    }

    /// <summary>
    /// <c>test ? then() : else()</c> with each branch staged in its own region, so only the branch taken is evaluated
    /// (and differentiated). Used for the user's conditionals and by rules that must avoid a NaN at a special point.
    /// </summary>
    public Node If(Node test, Func<Node> then, Func<Node> @else)
    {
        if (test.Op == Op.Constant)
            return test.Value != 0 ? then() : @else();
        BeginRegion();
        var a = then();
        var thenRegion = EndRegion([a]);
        BeginRegion();
        var b = @else();
        var elseRegion = EndRegion([b]);
        if (a == b && thenRegion.Nodes.Count == 0 && elseRegion.Nodes.Count == 0)
            return a;
        return Condition(test, thenRegion, elseRegion)[0];
    }

    /// <summary>
    /// A conditional: evaluates only <paramref name="then"/> or <paramref name="else"/>, by <paramref name="test"/>;
    /// returns one <see cref="Op.Project"/> node per result.
    /// </summary>
    public Node[] Condition(Node test, Region then, Region @else)
    {
        var condition = new Node(_nextId++, Op.Condition, [test], _current) { Then = then, Else = @else };
        then.Host = condition;
        @else.Host = condition;
        _current.Nodes.Add(condition);
        var outputs = new Node[then.Results.Length];
        for (var k = 0; k < outputs.Length; k++)
        {
            outputs[k] = new Node(_nextId++, Op.Project, [condition], _current) { Param = k, Shape = then.Results[k].Shape };
            _current.Nodes.Add(outputs[k]);
        }
        return outputs;
    }

    private Node Intern(Key key, Func<Node> create)
    {
        if (_table.TryGetValue(key, out var node))
            return node;
        node = create();
        _current.Nodes.Add(node);
        _table[key] = node;
        if (_marks.Count > 0)
            _undo.Add(key);
        return node;
    }

    private readonly struct Key(Op op, int a, int b, int c, object? root, string? path) : IEquatable<Key>
    {
        private readonly Op _op = op;
        private readonly int _a = a, _b = b, _c = c;
        private readonly object? _root = root;
        private readonly string? _path = path;

        // Captured roots compare by reference: two user objects that are Equal are still two variables.
        public bool Equals(Key other) =>
            _op == other._op && _a == other._a && _b == other._b && _c == other._c && ReferenceEquals(_root, other._root) && _path == other._path;

        public override bool Equals(object? obj) => obj is Key k && Equals(k);

        public override int GetHashCode() =>
            HashCode.Combine(_op, _a, _b, _c, _root is null ? 0 : RuntimeHelpers.GetHashCode(_root), _path);
    }
}
