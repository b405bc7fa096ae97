using System.Linq.Expressions;
using ExprGrad.Rules;
using ExprGrad.Staging;

namespace ExprGrad.Emit;

/// <summary>
/// Emit: turns the staged graph into Linq and compiles it once. Each stage assigns one block variable, and a
/// variable is reused once its last reader is past, so the JIT sees few locals. A graph larger than the JIT
/// optimizes as one method (it falls back to MinOpts past about 20,000 IL instructions or 2,000 locals) is split
/// into several methods run in order, which hand values on through the tape. Conditionals become if/else on
/// both passes, so only the branch taken runs.
/// </summary>
internal sealed class Emitter
{
    /// <summary>Stages per compiled method: well inside the JIT's limits for full optimization (about 8 IL instructions a stage).</summary>
    internal const int StagesPerMethod = 1500;

    /// <summary>
    /// Graphs of at least this many stages have their repeated runs re-rolled into loops. Below it the straight-line
    /// code fits the instruction cache and runs faster than a loop.
    /// </summary>
    internal const int RollFrom = 2000;

    private readonly StagedGraph _graph;
    private readonly int _budget;
    private readonly Node?[] _byId;
    private readonly int[] _position, _part, _lastUse, _tapeSlot;
    private readonly bool[] _crosses;
    private readonly Dictionary<Node, List<int>> _stores = [];
    private readonly Dictionary<Node, (int Then, int Else)> _branchEnds = [];
    private readonly Dictionary<Region, Node> _topLevel = [];
    private int _nesting;
    private readonly List<List<Node>> _parts = [[]];
    private readonly int _rollFrom;
    private readonly Dictionary<Node, RolledLoop> _loopAt = [];
    private readonly bool[] _inLoop;
    private int _nextPosition, _partSize, _tapeLength;
    private Frame _frame;
    private readonly bool _hasLoops;
    // Sums whose backward loop runs in their forward loop, by forward loop.
    private readonly Dictionary<Node, Node> _fused = [];
    // Loops with a backward loop (which may be in a conditional's backward branch): their forward loop keeps its state.
    private readonly HashSet<Node> _pulledBack = [];
    // In a graph with loops: the top-level stages that check indices (and may throw), and those that write gradients.
    // Every write is scheduled after every check, and slot gradients are stored at the end, so that an index out of
    // range throws before anything is written to the caller's gradient.
    private readonly HashSet<Node> _checks = [], _effects = [];

    private Emitter(StagedGraph graph, int budget, int rollFrom)
    {
        _rollFrom = rollFrom;
        _graph = graph;
        _frame = new FlatFrame(graph);
        _hasLoops = graph.HasLoops;
        // Values passed between methods travel as doubles: a graph with vectors and matrices stays one method (its
        // stages are few, and each is a kernel call). So does a graph with loops over data: a loop's state (a fold's
        // tape) lives in its method, and its body is written once, so such a graph is small.
        _budget = graph.Builder.HasTensors || _hasLoops ? int.MaxValue : budget;
        var n = graph.Builder.Count;
        _byId = new Node?[n];
        _position = new int[n];
        _part = new int[n];
        _lastUse = new int[n];
        _tapeSlot = new int[n];
        _crosses = new bool[n];
        _inLoop = new bool[n];
        Array.Fill(_tapeSlot, -1);
        Array.Fill(_lastUse, -1);
    }

    /// <summary>Compiles the flat (span) form: <c>(ref x, ref g, tape) =&gt; value</c>, split into several methods when large.</summary>
    public static Kernel Compile(StagedGraph graph, int stagesPerMethod = StagesPerMethod, int rollFrom = RollFrom)
    {
        if (graph.NoFlatLayout is { } reason && !graph.HasTensorParameters)
            throw new NotSupportedException(reason);
        var emitter = new Emitter(graph, stagesPerMethod, rollFrom);
        emitter.Analyze();
        return emitter.Build();
    }

    /// <summary>
    /// Compiles the typed form <c>(a1, ..., an, out d1, ..., out dn) =&gt; value</c> as a
    /// <paramref name="kernelType"/> (a <see cref="TypedKernel{T1}"/> of the lambda's arity). A graph too large for
    /// one method gets the flat, split form instead (<paramref name="flat"/>), and the result is null, unless
    /// <paramref name="singleMethod"/> (a kernel with no flat form).
    /// </summary>
    public static LambdaExpression? CompileTyped(
        StagedGraph graph, Type kernelType, out Delegate? compiled, out Kernel? flat, int rollFrom = RollFrom, bool singleMethod = false)
    {
        var emitter = new Emitter(graph, singleMethod ? int.MaxValue : StagesPerMethod, rollFrom);
        emitter.Analyze();
        compiled = null;
        flat = null;
        if (emitter._parts.Count > 1)
        {
            flat = emitter.Build();
            return null;
        }
        var frame = new TypedFrame(graph);
        emitter._frame = frame;
        var body = new PartWriter(emitter, 0).Write();
        var lambda = Expression.Lambda(kernelType, body, "Gradient", frame.Parameters);
        compiled = emitter.Compile(lambda);
        return lambda;
    }

    private void Analyze()
    {
        Index();
        for (var slot = 0; slot < _graph.Adjoints.Length; slot++)
            if (_graph.Adjoints[slot] is { Op: not Op.Constant } adjoint)
                Stores(adjoint).Add(slot);
        FindFusedLoops();
        var order = Schedule();
        if (!_graph.Builder.HasTensors && !_hasLoops && order.Count >= _rollFrom)
            order = RollLoops(order);
        StackGuard.Run(() => Place(order, topLevel: true));
        StackGuard.Run(() => CollectUses(_graph.Root));
        if (DefersStores)
            foreach (var stored in _stores.Keys)
                _lastUse[stored.Id] = int.MaxValue;

        _tapeLength = _parts.Count > 1 ? 1 : 0; // slot 0 carries the value out of a split graph
        for (var id = 0; id < _crosses.Length; id++)
            if (_crosses[id])
                _tapeSlot[id] = _tapeLength++;
    }

    // A top-level sum whose adjoint reads nothing the sum itself feeds is written as one loop doing both passes.
    private void FindFusedLoops()
    {
        if (!_hasLoops)
            return;
        foreach (var region in DeadStages.Regions(_graph.Root))
            foreach (var node in region.Nodes)
                if (node.Op == Op.LoopAdjoint)
                    _pulledBack.Add(node.Args[0]);
        foreach (var node in _graph.Root.Nodes)
        {
            if (Contains(node, n => n.Op is Op.Loop or Op.Read))
                _checks.Add(node);
            if (Contains(node, n => n.HasEffects))
                _effects.Add(node);
        }
        foreach (var adjoint in _graph.Root.Nodes)
        {
            // A fused sum writes as it runs: no other check may come after it, so nothing that checks may read it, its
            // seed must be plain arithmetic, ready before it, and it is the only one (two would each wait for the other).
            if (_fused.Count > 0 || adjoint.Op != Op.LoopAdjoint || adjoint.Args[0] is not { Owner: var owner } loop || owner != _graph.Root
                || !LoopWriter.CanFuse(loop) || DependsOn(adjoint.Args[1], loop)
                || DependsOnStructure(adjoint.Args[1]) || _checks.Any(c => c != loop && DependsOn(c, loop)))
                continue;
            _fused[loop] = adjoint;
            _effects.Add(loop);
        }
    }

    // True if a top-level stage, or a stage in one of its branches, satisfies the test.
    private static bool Contains(Node node, Func<Node, bool> test) =>
        test(node) || (node.Op == Op.Condition && DeadStages.Regions(node.Then!).Concat(DeadStages.Regions(node.Else!)).Any(r => r.Nodes.Any(test)));


    // True if value reads target, directly or through other stages (which come after target in id order).
    private static bool DependsOn(Node value, Node target) => Reaches(value, n => n == target, target.Id);

    // True if a value reads a loop, a conditional or any other stage with regions or effects, directly or not.
    private static bool DependsOnStructure(Node value) =>
        Reaches(value, n => n.Op is Op.Loop or Op.LoopAdjoint or Op.Condition or Op.Project or Op.Read or Op.ScatterAdd, 0);

    // True if value, or a stage it reads (through arguments, branches and their hosts) with an id from floor on, passes the test.
    private static bool Reaches(Node value, Func<Node, bool> test, int floor)
    {
        var seen = new HashSet<Node>();
        var pending = new Stack<Node>([value]);
        while (pending.TryPop(out var n))
        {
            if (test(n))
                return true;
            if (n.Id < floor || !seen.Add(n))
                continue;
            foreach (var arg in n.Args)
                pending.Push(arg);
            if (n.Owner?.Host is { } host)
                pending.Push(host);
            if (n.Op == Op.Condition)
                foreach (var result in n.Then!.Results.Concat(n.Else!.Results))
                    pending.Push(result);
        }
        return false;
    }

    /// <summary>The number of loops the straight-line stages were re-rolled into.</summary>
    internal int LoopCount => _loopAt.Count;

    // Runs of like stages become loops (see LoopFinder), after backward stages are sunk to their readers. Returns
    // the new schedule. Each loop stays in one method.
    private List<Node> RollLoops(List<Node> order)
    {
        var readers = new List<int>?[order.Count];
        var at = new Dictionary<Node, int>(order.Count);
        for (var i = 0; i < order.Count; i++)
            at[order[i]] = i;
        var deps = new List<Node>();
        for (var i = 0; i < order.Count; i++)
        {
            Dependencies(order[i], deps);
            foreach (var dep in deps)
                if (at.TryGetValue(dep, out var d))
                    (readers[d] ??= []).Add(i);
        }

        var sunk = Sink(order, readers);
        var position = new int[sunk.Length];
        for (var p = 0; p < sunk.Length; p++)
            position[sunk[p]] = p;
        var lastReader = new int[_byId.Length];
        for (var i = 0; i < order.Count; i++)
            foreach (var r in readers[i] ?? [])
                lastReader[order[i].Id] = Math.Max(lastReader[order[i].Id], position[r]);
        lastReader[_graph.Output.Id] = order.Count;

        List<Node> rolled = [.. sunk.Select(i => order[i])];
        foreach (var loop in LoopFinder.Find(rolled, lastReader, _stores, _graph))
        {
            _loopAt[loop.At(0, 0)] = loop;
            for (var k = 0; k < loop.Count; k++)
                for (var j = 0; j < loop.Period; j++)
                    _inLoop[loop.At(k, j).Id] = true;
        }
        return rolled;
    }

    private List<int> Stores(Node n)
    {
        if (!_stores.TryGetValue(n, out var slots))
            _stores[n] = slots = [];
        return slots;
    }

    // Every staged node by id.
    private void Index()
    {
        foreach (var region in DeadStages.Regions(_graph.Root))
        {
            _nesting = Math.Max(_nesting, region.Depth);
            foreach (var node in region.Nodes)
                _byId[node.Id] = node;
        }
    }

    // Dead stages were pruned after the sweep: every staged node is needed, constants are inlined.
    private bool IsLive(Node n) => n.Op != Op.Constant;

    /// <summary>
    /// The order of the top-level stages: a topological order that always continues with a stage just made ready
    /// (Kahn's algorithm with a stack). A stage's backward partner then follows it closely, as in a loss that is a
    /// sum of terms, where each term's adjoint needs only that term: values die young, few cross into another method.
    /// Of the stages ready, one that reads only lower array elements goes first, so that a sum's terms run in the
    /// order of their elements whichever sweep built them (a Hessian-vector product's second sweep builds them last
    /// to first). Inputs are always ready, so they wait for nothing and hold nothing back: each is read just before its
    /// first reader.
    /// </summary>
    private List<Node> Schedule()
    {
        var root = _graph.Root.Nodes.Where(n => IsLive(n) && n.Op != Op.Input).ToList();
        var waiting = new int[_byId.Length];
        // The highest array element a stage reads, directly or not.
        var element = new int[_byId.Length];
        var users = new List<Node>?[_byId.Length];
        // The inputs each stage reads, found by the same walk, to place them before their first reader.
        var inputsRead = new List<Node>?[_byId.Length];
        var ready = new PriorityQueue<Node, (int Element, int Latest)>();
        var pushes = 0;
        void Ready(Node node) => ready.Enqueue(node, (element[node.Id], -pushes++));
        var deps = new List<Node>();
        for (var i = root.Count - 1; i >= 0; i--)
        {
            // A stage that reads one value twice waits for it twice and is released twice: the counts stay consistent.
            Dependencies(root[i], deps);
            foreach (var input in deps)
                if (input.Op == Op.Input)
                {
                    element[root[i].Id] = Math.Max(element[root[i].Id], input.Element);
                    (inputsRead[root[i].Id] ??= []).Add(input);
                }
            deps.RemoveAll(d => d.Op == Op.Input);
            foreach (var dep in deps)
                (users[dep.Id] ??= []).Add(root[i]);
            waiting[root[i].Id] = deps.Count;
            if (deps.Count == 0)
                Ready(root[i]);
        }

        var order = new List<Node>(root.Count);
        while (ready.TryDequeue(out var node, out _))
        {
            order.Add(node);
            if (users[node.Id] is not { } list)
                continue;
            for (var i = list.Count - 1; i >= 0; i--)
            {
                var user = list[i];
                element[user.Id] = Math.Max(element[user.Id], element[node.Id]);
                if (--waiting[user.Id] == 0)
                    Ready(user);
            }
        }
        if (order.Count != root.Count)
            throw new InvalidOperationException("internal error: the staged graph has a cycle");

        // Inputs first read where they are first needed; an input nobody reads (a slot that is an input, stored as it is) first of all.
        var placed = new HashSet<Node>();
        var inputs = _graph.Root.Nodes.Where(n => n.Op == Op.Input).ToList();
        var withInputs = new List<Node>(order.Count + inputs.Count);
        foreach (var node in order)
        {
            foreach (var input in inputsRead[node.Id] ?? [])
                if (placed.Add(input))
                    withInputs.Add(input);
            withInputs.Add(node);
        }
        return [.. inputs.Where(n => !placed.Contains(n)), .. withInputs];
    }

    /// <summary>
    /// Moves every backward stage that has a reader down to just before its first reader (conditionals and their
    /// outputs stay put). The schedule computes a stage as soon as it can, so a backward factor that needs only
    /// forward values, such as the 2·a[i] of d(a[i]²), lands among the forward stages and is read only in the
    /// backward ones; sunk to its reader, it no longer reaches across the forward run, which then repeats and can
    /// become a loop. Forward stages stay: sinking them would gather a whole forward chain before its first reader.
    /// </summary>
    /// <returns>The schedule indices in their new order.</returns>
    private int[] Sink(List<Node> order, List<int>?[] readers)
    {
        // The stage each one is emitted just before (itself, if it stays), found from the last stage back.
        var backward = new HashSet<Node>(_graph.Root.Nodes.Skip(_graph.ForwardCount));
        var anchor = new int[order.Count];
        for (var i = order.Count - 1; i >= 0; i--)
        {
            anchor[i] = i;
            if (readers[i] is not { } list || order[i].Op is Op.Condition or Op.Project || !backward.Contains(order[i]))
                continue;
            anchor[i] = int.MaxValue;
            foreach (var r in list)
                anchor[i] = Math.Min(anchor[i], anchor[r]);
        }
        return [.. Enumerable.Range(0, order.Count).OrderBy(i => anchor[i]).ThenBy(i => anchor[i] == i ? 1 : 0).ThenBy(i => i)];
    }

    // The top-level stages a top-level stage reads: its arguments, or for a conditional everything its branches
    // read from outside (a backward branch may read a forward branch: that is its conditional's stage).
    private void Dependencies(Node node, List<Node> deps)
    {
        deps.Clear();
        void Add(Node arg)
        {
            if (arg.Op == Op.Constant)
                return;
            var top = arg.Owner == _graph.Root ? arg : TopLevel(arg.Owner!);
            if (top != node)
                deps.Add(top);
        }
        foreach (var arg in node.Args)
            Add(arg);
        // A fused sum reads its adjoint's seed.
        if (_fused.TryGetValue(node, out var fusedAdjoint))
            Add(fusedAdjoint.Args[1]);
        // A write waits for every check.
        if (_effects.Contains(node))
            foreach (var check in _checks)
                if (check != node)
                    Add(check);
        if (node.Op != Op.Condition)
            return;
        var pending = new Stack<Region>([node.Then!, node.Else!]);
        while (pending.TryPop(out var region))
        {
            foreach (var result in region.Results)
                Add(result);
            foreach (var inner in region.Nodes)
            {
                if (!IsLive(inner))
                    continue;
                foreach (var arg in inner.Args)
                    Add(arg);
                if (inner.Op == Op.Condition)
                {
                    pending.Push(inner.Then!);
                    pending.Push(inner.Else!);
                }
            }
        }
    }

    // Conditionals nested this deep make Expression.Compile recurse deeper than a thread-pool stack holds.
    private const int DeepNesting = 100;

    private TDelegate Compile<TDelegate>(Expression<TDelegate> lambda) where TDelegate : Delegate =>
        _nesting > DeepNesting ? StackGuard.OnLargeStack(lambda.Compile) : lambda.Compile();

    private Delegate Compile(LambdaExpression lambda) =>
        _nesting > DeepNesting ? StackGuard.OnLargeStack(lambda.Compile) : lambda.Compile();

    // The top-level conditional a branch belongs to, memoized along the path (branches nest as deep as the user's
    // conditionals, and every stage inside asks).
    private Node TopLevel(Region region)
    {
        var path = new List<Region>();
        Node top;
        for (var r = region; ; r = r.Host!.Owner!)
        {
            if (_topLevel.TryGetValue(r, out top!))
                break;
            path.Add(r);
            if (r.Host!.Owner == _graph.Root)
            {
                top = r.Host;
                break;
            }
        }
        foreach (var r in path)
            _topLevel[r] = top;
        return top;
    }

    // Positions in emission order, and the method (part) of each top-level stage; a conditional stays in one part.
    private void Place(Region region, bool topLevel) => Place(region.Nodes, topLevel);

    private void Place(List<Node> nodes, bool topLevel)
    {
        foreach (var node in nodes)
        {
            if (!IsLive(node))
                continue;
            if (topLevel && node.Op != Op.Project)
            {
                // A loop costs its body once, plus its counter and carried copies; its other iterations cost nothing,
                // and never open a method (they would land in one that does not run the loop).
                var size = _loopAt.TryGetValue(node, out var loop) ? loop.Period + 4 : _inLoop[node.Id] ? 0 : Size(node);
                if (size > 0 && _partSize > 0 && _partSize + size > _budget)
                {
                    _parts.Add([]);
                    _partSize = 0;
                }
                _partSize += size;
                _parts[^1].Add(node);
            }
            var part = node.Op == Op.Project ? _part[node.Args[0].Id] : _parts.Count - 1;
            _part[node.Id] = part;
            if (node.Op == Op.Project)
            {
                _position[node.Id] = _position[node.Args[0].Id];
                continue;
            }
            _position[node.Id] = _nextPosition++;
            if (node.Op == Op.Condition)
            {
                StackGuard.Run(() => Place(node.Then!, topLevel: false));
                var thenEnd = _nextPosition++;
                StackGuard.Run(() => Place(node.Else!, topLevel: false));
                _branchEnds[node] = (thenEnd, _nextPosition++);
            }
        }
    }

    // A conditional's stages, branches included, all go into one method.
    private static int Size(Node node) =>
        node.Op != Op.Condition ? 1 : 1 + DeadStages.Regions(node.Then!).Concat(DeadStages.Regions(node.Else!)).Sum(r => r.Nodes.Count);

    private void CollectUses(Region region)
    {
        foreach (var node in region.Nodes)
        {
            if (!IsLive(node) || node.Op == Op.Project)
                continue;
            var (at, part) = (_position[node.Id], _part[node.Id]);
            foreach (var arg in node.Args)
                Use(arg, at, part);
            if (_fused.TryGetValue(node, out var fusedAdjoint))
                Use(fusedAdjoint.Args[1], at, part);
            if (node.Op == Op.Condition)
            {
                var (thenEnd, elseEnd) = _branchEnds[node];
                StackGuard.Run(() => CollectUses(node.Then!));
                StackGuard.Run(() => CollectUses(node.Else!));
                foreach (var result in node.Then!.Results)
                    Use(result, thenEnd, part);
                foreach (var result in node.Else!.Results)
                    Use(result, elseEnd, part);
            }
        }
    }

    // In a graph with loops, gradients are stored at the end (see _checks): what is stored lives until then.
    private bool DefersStores => _hasLoops;

    private void Use(Node value, int at, int part)
    {
        if (value.Op == Op.Constant)
            return;
        if (_part[value.Id] == part)
            _lastUse[value.Id] = Math.Max(_lastUse[value.Id], at);
        else if (value.Op != Op.Input)
            _crosses[value.Id] = true; // inputs are read from x again instead
    }

    private Kernel Build()
    {
        var frame = (FlatFrame)_frame;
        if (_parts.Count == 1)
        {
            var body = new PartWriter(this, 0).Write();
            var lambda = Expression.Lambda<FlatKernel>(body, "Gradient", frame.Parameters);
            return new Kernel(lambda, Compile(lambda), LoopCount);
        }

        var parts = new Expression<FlatPart>[_parts.Count];
        for (var p = 0; p < parts.Length; p++)
            parts[p] = Expression.Lambda<FlatPart>(new PartWriter(this, p).Write(), $"Gradient_{p}", frame.Parameters);
        // What runs is each part compiled on its own; this lambda shows the whole in one piece.
        var whole = Expression.Lambda<FlatKernel>(
            Expression.Block(parts.Select(part => (Expression)Expression.Invoke(part, frame.Parameters))
                .Append(Expression.ArrayIndex(frame.Tape, Expression.Constant(0)))),
            "Gradient", frame.Parameters);
        // Parts are independent trees: compiling them on all cores is what keeps set-up linear and short.
        var compiled = new FlatPart[parts.Length];
        Parallel.For(0, parts.Length, p => compiled[p] = Compile(parts[p]));
        return new Kernel(whole, compiled, _tapeLength, valueSlot: 0, LoopCount);
    }

    /// <summary>Writes one compiled method: its stages in order, with block variables allocated and reused by liveness.</summary>
    private sealed class PartWriter(Emitter e, int part) : EmitContext, ILoopScope
    {
        private readonly Dictionary<Node, ParameterExpression> _home = [];
        private readonly List<ParameterExpression> _variables = [];
        private readonly Dictionary<Type, Stack<ParameterExpression>> _free = [];
        private readonly HashSet<Node> _stored = [];
        private TensorPrologue? _tensors;
        private ParameterExpression? _result;

        public override Expression Dim(int dimension) => _tensors!.Dim(dimension);

        // A temporary read for the last time here, by a stage in the same method, that is neither an input, a captured
        // value, a conditional's output (which may be another stage's value) nor a gradient handed out: nothing else
        // holds its storage, so the stage may write its result there.
        public override bool IsLastRead(Node value, Node reader) =>
            value.Op is not (Op.Input or Op.Captured or Op.Constant or Op.Project) && value.Owner == reader.Owner
            && e._part[value.Id] == part && e._lastUse[value.Id] == e._position[reader.Id]
            && !e._stores.ContainsKey(value) && _home.ContainsKey(value);

        private bool Single => e._parts.Count == 1;

        public Expression Write()
        {
            var statements = new List<Expression>();
            if (part == 0)
            {
                _variables.AddRange(e._frame.Locals);
                statements.AddRange(e._frame.Prologue);
                if (e._graph.Builder.HasTensors)
                {
                    _tensors = new TensorPrologue(e._graph, e._frame);
                    _variables.AddRange(_tensors.Locals);
                    statements.AddRange(_tensors.Statements);
                }
                // Slots whose adjoint is a number (0 where the function does not depend on them) are written first
                // (in a graph with loops, last).
                // (An array of any length that no loop writes, as in a Hessian-vector product of a function linear in it, is
                // cleared first: nothing else writes it.)
                if (!e.DefersStores)
                    statements.AddRange([.. e._frame.ClearDynamic, .. ConstantStores()]);
                else
                    _variables.Add(_cleared);
                if (e._graph.Output.Op == Op.Constant && !Single)
                    statements.Add(Expression.Assign(TapeAt(0), Expression.Constant(e._graph.Output.Value)));
            }
            StackGuard.Run(() => WriteStages(e._parts[part], statements));
            if (e.DefersStores)
            {
                Clear(statements);
                statements.AddRange(ConstantStores());
                foreach (var (node, slots) in e._stores.OrderBy(s => s.Value[0]))
                    foreach (var slot in slots)
                        statements.Add(e._frame.Store(slot, Owned(node, Read(node))));
            }

            if (Single)
            {
                statements.Add(e._frame.Result(_result ?? (Expression)Expression.Constant(e._graph.Output.Value)));
                return Expression.Block(e._frame.ReturnType, _variables, statements);
            }
            statements.Add(Expression.Empty());
            return Expression.Block(typeof(void), _variables, statements);
        }

        // The slots whose adjoint is a number: 0 where the function does not depend on them (an array of any length
        // is cleared as a whole instead).
        private IEnumerable<Expression> ConstantStores()
        {
            for (var slot = 0; slot < e._graph.Adjoints.Length; slot++)
            {
                var adjoint = e._graph.Adjoints[slot];
                // (An array of any length is cleared as a whole: adding 0 to it is nothing.)
                if ((adjoint is null || adjoint is { Op: Op.Constant, Value: 0 }) && (IsDynamicSlot(slot) || e._graph.OutputsCleared))
                    continue;
                if (adjoint is null || adjoint.Op == Op.Constant)
                    yield return e._frame.Store(slot, Zero(slot, adjoint?.Value ?? 0.0));
            }
        }

        private bool IsDynamicSlot(int slot) => e._graph.OutputsFollowPoint &&
            Array.Find(e._graph.Parameters, p => slot >= p.Offset && slot < p.Offset + p.Extent) is { IsDynamic: true };

        // True once the clearing of the gradients of arrays of any length has run (a graph with loops clears them just
        // before its first write, after every check).
        private readonly ParameterExpression _cleared = Expression.Variable(typeof(bool), "cleared");

        private void Clear(List<Expression> statements)
        {
            var clear = e._frame.ClearDynamic.ToList();
            if (clear.Count > 0)
                statements.Add(Expression.IfThen(Expression.Not(_cleared),
                    Expression.Block(typeof(void), clear.Append(Expression.Assign(_cleared, Expression.Constant(true))))));
        }

        private void WriteStages(IEnumerable<Node> nodes, List<Expression> statements)
        {
            foreach (var node in nodes)
            {
                if (!e.IsLive(node) || node.Op == Op.Project)
                    continue;
                if (e._effects.Contains(node) && !e._fused.ContainsKey(node))
                    Clear(statements);
                if (e._loopAt.TryGetValue(node, out var loop))
                {
                    WriteLoop(loop, statements);
                    continue;
                }
                if (e._inLoop[node.Id])
                    continue;
                if (node.Op == Op.Condition)
                {
                    WriteCondition(node, statements);
                    continue;
                }
                if (node.Op == Op.Loop)
                {
                    WriteDataLoop(node, statements);
                    continue;
                }
                if (node.Op == Op.LoopAdjoint)
                {
                    WriteLoopAdjoint(node, statements);
                    continue;
                }
                if (node.Op == Op.ScatterAdd)
                {
                    statements.Add(e._frame.ArrayScatter(node.Param, AsIndex(node.Args[1]), Read(node.Args[0])));
                    ReleaseDead(node.Args, e._position[node.Id]);
                    continue;
                }
                var rule = node.Op is Op.Input or Op.Captured or Op.Length or Op.Read ? null : RuleTable.Of(node);
                var value = node.Op switch
                {
                    Op.Input => e._frame.Input(e._graph.Slot(node)),
                    Op.Length => Expression.Convert(e._frame.ArrayLength(node.Param), typeof(double)),
                    Op.Read => ReadElement(node),
                    Op.Captured => _tensors?.Captured(node) ?? node.Live!,
                    _ when rule!.EmitTensor is { } emit => emit(this, node, Array.ConvertAll(node.Args, Read)),
                    _ => rule!.Emit(Array.ConvertAll(node.Args, Read)),
                };
                ReleaseDead(node.Args, e._position[node.Id]);
                Define(node, value, statements);
            }
        }

        private void WriteCondition(Node condition, List<Expression> statements)
        {
            var at = e._position[condition.Id];
            var test = Read(condition.Args[0]);
            ReleaseDead(condition.Args, at);

            // The builder stages a conditional's projections right after it.
            var outputs = new List<Node>();
            // (a projection nobody reads was pruned: its slot in _byId is empty).
            for (var k = 1; k <= condition.Then!.Results.Length; k++)
                if (e._byId[condition.Id + k] is { } p)
                    outputs.Add(p);
            var homes = outputs.ConvertAll(o => _home[o] = Allocate(o));
            var (thenEnd, elseEnd) = e._branchEnds[condition];

            Expression Branch(Region region, int end)
            {
                var body = new List<Expression>();
                StackGuard.Run(() => WriteStages(region.Nodes, body));
                foreach (var (output, home) in outputs.Zip(homes))
                    body.Add(Expression.Assign(home, Read(region.Results[output.Param])));
                ReleaseDead(region.Results, end);
                body.Add(Expression.Empty());
                return Expression.Block(typeof(void), body);
            }

            statements.Add(Expression.IfThenElse(test, Branch(condition.Then!, thenEnd), Branch(condition.Else!, elseEnd)));
            foreach (var output in outputs)
                Bind(output, _home[output], statements);
        }

        // An array parameter's element at an index known at the call: checked, then read.
        private Expression ReadElement(Node read)
        {
            var index = Expression.Variable(typeof(int), "index");
            return Expression.Block(typeof(double), [index],
                Expression.Assign(index, AsIndex(read.Args[0])),
                Expression.Call(typeof(LoopRuntime), nameof(LoopRuntime.Index), null, index, e._frame.ArrayLength(read.Param),
                    Expression.Constant(e._graph.Parameters[read.Param].Name), Expression.Constant(read.IndexText ?? "?")),
                e._frame.ArrayRead(read.Param, index));
        }

        private Expression AsIndex(Node index) =>
            index.Op == Op.Constant ? Expression.Constant((int)index.Value) : Expression.Convert(Read(index), typeof(int));

        public Frame Frame => e._frame;

        public StagedGraph Graph => e._graph;

        public Dictionary<Node, ParameterExpression> States { get; } = [];

        public ParameterExpression Variable(Type type, string name)
        {
            var v = Expression.Variable(type, name);
            _variables.Add(v);
            return v;
        }

        // A loop over data: its forward loop, which for a fused sum also runs its pullback and binds its adjoint's outputs.
        private void WriteDataLoop(Node loop, List<Expression> statements)
        {
            Expression value;
            List<(Node, ParameterExpression)> outputs = [];
            if (e._fused.TryGetValue(loop, out var adjoint))
            {
                var homes = Array.ConvertAll(LoopWriter.Projections(adjoint), p => p is null ? null : (_home[p] = Allocate(p)));
                outputs = LoopWriter.Projections(adjoint).Zip(homes).Where(p => p.First is not null).Select(p => (p.First!, p.Second!)).ToList();
                // The first write of the graph (every other waits for it): it clears what it does not write itself.
                value = LoopWriter.Forward(this, loop, keepState: false, adjoint, homes, clearsFirst: e._frame.ClearDynamic.Any());
            }
            else
            {
                value = LoopWriter.Forward(this, loop, keepState: e._pulledBack.Contains(loop));
            }
            ReleaseDead(loop.Args, e._position[loop.Id]);
            Define(loop, value, statements);
            if (adjoint is not null && e._frame.ClearDynamic.Any())
                statements.Add(Expression.Assign(_cleared, Expression.Constant(true)));
            foreach (var (output, home) in outputs)
                Bind(output, home, statements);
        }

        // A loop's pullback: its backward loop (unless its forward loop ran it), then its outputs handed on.
        private void WriteLoopAdjoint(Node adjoint, List<Expression> statements)
        {
            if (e._fused.ContainsKey(adjoint.Args[0]))
                return;
            var projections = LoopWriter.Projections(adjoint);
            var homes = Array.ConvertAll(projections, p => p is null ? null : (_home[p] = Allocate(p)));
            statements.Add(LoopWriter.Backward(this, adjoint, homes));
            ReleaseDead(adjoint.Args, e._position[adjoint.Id]);
            for (var k = 0; k < projections.Length; k++)
                if (projections[k] is { } p)
                    Bind(p, homes[k]!, statements);
        }

        /// <summary>
        /// A rolled loop: <c>k = 0; do { body stages; carried values; k++; } while (k &lt; count);</c>. Each body stage
        /// has one variable for all iterations, so after the loop the variables hold the last iteration's values, the
        /// only ones read later.
        /// </summary>
        private void WriteLoop(RolledLoop loop, List<Expression> statements)
        {
            var period = loop.Period;
            var values = new ParameterExpression[period];
            for (var j = 0; j < period; j++)
                values[j] = Allocate(loop.At(0, j));

            // A value the next iteration reads needs a variable of its own only if a stage reads it after it is overwritten.
            var carried = new ParameterExpression?[period];
            var overwritten = new bool[period];
            for (var j = 0; j < period; j++)
                foreach (var arg in loop.Args[j])
                    if (arg.Source == ArgSource.Carried && arg.Stage < j)
                        overwritten[arg.Stage] = true;
            for (var j = 0; j < period; j++)
            {
                if (loop.Init[j] is not { } init)
                    continue;
                carried[j] = overwritten[j] ? Expression.Variable(values[j].Type, $"prev{values[j].Name}") : values[j];
                if (overwritten[j])
                    _variables.Add(carried[j]!);
                statements.Add(Expression.Assign(carried[j]!, Read(init)));
            }

            var k = Expression.Variable(typeof(int), "k");
            _variables.Add(k);
            var body = new List<Expression>();
            for (var j = 0; j < period; j++)
            {
                var node = loop.At(0, j);
                var args = Array.ConvertAll(loop.Args[j], arg => arg.Source switch
                {
                    ArgSource.Local => values[arg.Stage],
                    ArgSource.Carried => carried[arg.Stage]!,
                    ArgSource.Element => e._frame.Input(e._graph.Slot(arg.Node!), arg.Stride, k),
                    _ => Read(arg.Node!),
                });
                var value = node.Op == Op.Input
                    ? e._frame.Input(e._graph.Slot(node), loop.InputStride[j], k)
                    : RuleTable.Of(node).Emit(args);
                body.Add(Expression.Assign(values[j], value));
                if (e._stores.TryGetValue(node, out var slots))
                    for (var s = 0; s < slots.Count; s++)
                        body.Add(e._frame.Store(slots[s], loop.StoreStride[j][s], k, values[j]));
            }
            for (var j = 0; j < period; j++)
                if (carried[j] is { } previous && previous != values[j])
                    body.Add(Expression.Assign(previous, values[j]));
            body.Add(Expression.PreIncrementAssign(k));

            var done = Expression.Label("done");
            statements.Add(Expression.Assign(k, Expression.Constant(0)));
            statements.Add(Expression.Loop(
                Expression.Block(typeof(void), body.Append(
                    Expression.IfThen(Expression.GreaterThanOrEqual(k, Expression.Constant(loop.Count)), Expression.Break(done)))),
                done));

            // What was read in the loop for the last time is free now; the last iteration's values live on.
            var end = e._position[loop.At(loop.Count - 1, period - 1).Id];
            foreach (var arg in loop.Args.SelectMany(a => a).Where(a => a.Source == ArgSource.Invariant).Select(a => a.Node!).Concat(loop.Init.OfType<Node>()))
                if (arg.Op != Op.Constant && e._lastUse[arg.Id] <= end)
                    Release(arg);
            for (var j = 0; j < period; j++)
            {
                var node = loop.At(loop.Count - 1, j);
                _home[node] = values[j];
                Bind(node, values[j], statements, storesWritten: true);
                if (e._lastUse[node.Id] <= end)
                    Release(node);
            }
        }

        private void Define(Node node, Expression value, List<Expression> statements)
        {
            var id = node.Id;
            var needsLocal = e._lastUse[id] > e._position[id] || e._stores.ContainsKey(node) || node == e._graph.Output;
            if (!needsLocal)
            {
                if (e._crosses[id])
                    statements.Add(Expression.Assign(TapeAt(e._tapeSlot[id]), ToDouble(value)));
                return;
            }
            var home = Allocate(node);
            _home[node] = home;
            statements.Add(Expression.Assign(home, value));
            Bind(node, home, statements);
        }

        // Hands a freshly computed value on: to its gradient slots, the result, and the tape; frees it if nothing here reads it again.
        private void Bind(Node node, ParameterExpression home, List<Expression> statements, bool storesWritten = false)
        {
            if (!storesWritten && !e.DefersStores && e._stores.TryGetValue(node, out var slots))
                foreach (var slot in slots)
                    statements.Add(e._frame.Store(slot, Owned(node, home)));
            if (node == e._graph.Output)
            {
                if (Single)
                    statements.Add(Expression.Assign(_result = Expression.Variable(typeof(double), "value"), home));
                else
                    statements.Add(Expression.Assign(TapeAt(0), home));
                if (Single)
                    _variables.Add(_result!);
            }
            if (e._crosses[node.Id])
                statements.Add(Expression.Assign(TapeAt(e._tapeSlot[node.Id]), ToDouble(home)));
            if (e._lastUse[node.Id] <= e._position[node.Id])
                Release(node);
        }

        public Expression Read(Node n)
        {
            if (n.Op == Op.Constant)
                return n.IsBool ? Expression.Constant(n.Value != 0) : Expression.Constant(n.Value);
            if (_home.TryGetValue(n, out var home))
                return home;
            if (n.Op == Op.Input)
                return e._frame.Input(e._graph.Slot(n));
            var slot = e._tapeSlot[n.Id];
            if (slot < 0)
                throw new InvalidOperationException($"internal error: stage {n} is read before it is computed");
            return IsBool(n) ? Expression.NotEqual(TapeAt(slot), Expression.Constant(0.0)) : TapeAt(slot);
        }

        private void ReleaseDead(Node[] args, int at)
        {
            foreach (var arg in args)
                if (arg.Op != Op.Constant && e._lastUse[arg.Id] == at && _home.ContainsKey(arg))
                    Release(arg);
        }

        private void Release(Node n)
        {
            if (_home.Remove(n, out var home))
                Pool(home.Type).Push(home);
        }

        private Stack<ParameterExpression> Pool(Type type) =>
            _free.TryGetValue(type, out var pool) ? pool : _free[type] = new();

        private ParameterExpression Allocate(Node n)
        {
            var type = IsBool(n) ? typeof(bool) : n.Shape.Type;
            if (Pool(type).TryPop(out var reused))
                return reused;
            var fresh = Expression.Variable(type, $"v{n.Id}");
            _variables.Add(fresh);
            return fresh;
        }

        // A gradient the caller receives is theirs to change: a vector or matrix that is also an input, a captured value
        // or another parameter's gradient is handed out as a copy.
        private Expression Owned(Node adjoint, Expression value)
        {
            var shared = adjoint.Op is Op.Input or Op.Captured || !_stored.Add(adjoint);
            return adjoint.Shape.IsTensor && shared ? Expression.Call(value, value.Type.GetMethod("Clone", Type.EmptyTypes)!) : value;
        }

        // The gradient of a slot the function does not depend on: zeros, shaped like a vector or matrix parameter.
        private Expression Zero(int slot, double value)
        {
            // (A slot past the parameters is an output of a derivative kernel: a number.)
            var p = Array.Find(e._graph.Parameters, p => slot >= p.Offset && slot < p.Offset + p.Extent);
            if (p is null || p.Kind == Kind.Scalar)
                return Expression.Constant(value);
            var input = e._frame.Input(slot);
            return p.Kind == Kind.Matrix
                ? Expression.Call(typeof(Tensors), nameof(Tensors.Matrix), null,
                    Expression.Property(input, nameof(MathNet.Numerics.LinearAlgebra.Matrix<double>.RowCount)),
                    Expression.Property(input, nameof(MathNet.Numerics.LinearAlgebra.Matrix<double>.ColumnCount)))
                : Expression.Call(typeof(Tensors), nameof(Tensors.Vector), null,
                    Expression.Property(input, nameof(MathNet.Numerics.LinearAlgebra.Vector<double>.Count)));
        }

        private static bool IsBool(Node n) => n.IsBool;

        private Expression TapeAt(int slot) => Expression.ArrayAccess(((FlatFrame)e._frame).Tape, Expression.Constant(slot));

        private static Expression ToDouble(Expression value) =>
            value.Type == typeof(bool) ? Expression.Condition(value, Expression.Constant(1.0), Expression.Constant(0.0)) : value;
    }
}
