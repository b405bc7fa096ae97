using System.Globalization;
using ExprGrad.Emit;
using ExprGrad.Staging;

namespace ExprGrad.Display;

/// <summary>
/// Loops over data in the listing, written as <see cref="LoopWriter"/> runs them: a sum, fold, max or min is its forward
/// <c>for</c> loop (the body's stages declared inside it, <c>double r = a[i + 1] - a[i] * a[i];</c>) and its pullback a
/// second loop (backwards over the fold's tape for a fold, the one picked iteration for a max or min). A sum whose
/// adjoint is a constant (the function's value is the sum, or a multiple of it) is one loop doing both passes.
/// </summary>
/// <remarks>
/// Both loops run the same operations in the same order as the compiled gradient, so the listing computes it bit for
/// bit. An adjoint that the loop's pullback delivers to a value outside is added up in the adjoint's own variable when
/// it is that adjoint's first contribution (<c>dx = 0; for (...) dx += ...;</c>), else in a temporary. Indices and
/// bounds print as integers (<c>a[i + 1]</c>, <c>i &lt; a.Length - 1</c>); where a double is read, an integer is cast.
/// </remarks>
internal static partial class StagedCode
{
    private sealed partial class Printer
    {
        private string _indent = "";
        // Integers: loop variables, array lengths and integer arithmetic on them (printed inline, never named).
        private readonly HashSet<Node> _indexLike = [];
        // A body's invariant input and the loop argument it reads.
        private readonly Dictionary<Node, Node> _invariantOf = [];
        private readonly Dictionary<Node, string> _bodyNames = [];
        // Body stages that are another value under its name (1 * t1 is t1), per pass.
        private readonly HashSet<Node> _aliased = [];
        private readonly HashSet<Node> _directHomes = [];
        private readonly HashSet<Node> _fusedLoops = [];
        private readonly Dictionary<Node, string> _states = [];
        private readonly Dictionary<System.Linq.Expressions.Expression, string> _arrays = [];
        private readonly List<string> _loopVariables = [];

        private void Statement(string text) => _text.Append(_indent).AppendLine(text);

        private void Open()
        {
            Statement("{");
            _indent += "    ";
        }

        private void Close()
        {
            _indent = _indent[..^4];
            Statement("}");
        }

        private bool IsIndexLike(Node n) => _indexLike.Contains(n);

        private bool IsUnitSeed(Node n) => n.Op == Op.Input && n.Param == -1 && n.Owner != graph.Root && _names.TryGetValue(n, out var seed) && seed == "1";

        // True for a value a loop's pullback delivers: it is printed as its home, never inline.
        private static bool IsLoopOutput(Node n) => n.Op == Op.Project && n.Args[0].Op == Op.LoopAdjoint;

        /// <summary>Finds the integers of every region and loop body, in topological order, and maps each body's invariants.</summary>
        private void ClassifyIntegers()
        {
            var tops = new Queue<Region>([graph.Root]);
            while (tops.TryDequeue(out var top))
                foreach (var region in DeadStages.Regions(top))
                    foreach (var n in region.Nodes)
                    {
                        if (n.Op == Op.Loop)
                        {
                            foreach (var input in n.Loop!.Builder.Root.Nodes)
                                if (input.Op == Op.Input && input.Param >= 1)
                                    _invariantOf[input] = n.Args[LoopBody.FirstInvariant + input.Param - 1];
                            tops.Enqueue(n.Loop.Builder.Root);
                        }
                        if (IsInteger(n))
                            _indexLike.Add(n);
                    }
        }

        private bool IsInteger(Node n) => n.Op switch
        {
            Op.Index or Op.Length => true,
            Op.Input => _invariantOf.TryGetValue(n, out var outer) && _indexLike.Contains(outer),
            Op.Add or Op.Subtract or Op.Multiply or Op.Negate or Op.IntegerDivide or Op.Remainder =>
                n.Args.All(a => _indexLike.Contains(a) || (a.Op == Op.Constant && a.Value == Math.Floor(a.Value) && Math.Abs(a.Value) < int.MaxValue))
                && n.Args.Any(_indexLike.Contains),
            _ => false,
        };

        /// <summary>An integer as C# (an index, a bound): arithmetic on loop variables, lengths and constants; anything else cast.</summary>
        private (string Text, int Precedence) IntText(Node n)
        {
            switch (n.Op)
            {
                case Op.Constant:
                    var v = (int)n.Value;
                    return (v.ToString(CultureInfo.InvariantCulture), v < 0 ? Unary : Primary);
                case Op.Index:
                    return (_names[n], Primary);
                case Op.Length:
                    return ($"{graph.Parameters[n.Param].Name}.Length", Primary);
                case Op.Input when _invariantOf.TryGetValue(n, out var outer):
                    return IntText(outer);
                case Op.Captured when captured is null && n.Live is System.Linq.Expressions.UnaryExpression { NodeType: System.Linq.Expressions.ExpressionType.Convert } u
                    && u.Operand.Type == typeof(int):
                    // The user's own integer (a count, a captured array's length), as they wrote it.
                    return (CapturedName(n.Live), Primary);
                case Op.Add or Op.Subtract when _indexLike.Contains(n):
                    return ($"{IntOperand(n.Args[0], 5)} {(n.Op == Op.Add ? "+" : "-")} {IntOperand(n.Args[1], 6)}", 5);
                case Op.Multiply or Op.IntegerDivide or Op.Remainder when _indexLike.Contains(n):
                    var symbol = n.Op switch { Op.Multiply => "*", Op.IntegerDivide => "/", _ => "%" };
                    return ($"{IntOperand(n.Args[0], 6)} {symbol} {IntOperand(n.Args[1], 7)}", 6);
                case Op.Negate when _indexLike.Contains(n):
                    var operand = IntOperand(n.Args[0], Unary);
                    return ("-" + (operand.StartsWith('-') ? $"({operand})" : operand), Unary);
                default:
                    var (text, precedence) = Expr(n);
                    return ($"(int){(precedence < Primary ? $"({text})" : text)}", Unary);
            }
        }

        private string IntOperand(Node n, int atLeast)
        {
            var (text, precedence) = IntText(n);
            return precedence < atLeast ? $"({text})" : text;
        }

        private (string, int) BodyInput(Node n) =>
            _invariantOf.TryGetValue(n, out var outer) ? Expr(outer)
            : _names.TryGetValue(n, out var name) ? (name, Primary)
            : throw new InvalidOperationException($"internal error: body input {n} is read outside its loop");

        private string ArrayText(Node read)
        {
            if (read.Live is null)
                return graph.Parameters[read.Param].Name;
            if (captured is null)
                return CapturedName(read.Live);
            if (!_arrays.TryGetValue(read.Live, out var local))
            {
                // A captured array is read once per call, before anything runs, as the compiled loop reads it.
                var (hint, text, _) = captured(read.Live);
                _arrays[read.Live] = local = Claim(hint);
                CapturedLoads.Add($"var {local} = {text};");
            }
            return local;
        }

        // In a method, an element at a constant index of a constant array: a captured value as the method's reader stages it.
        private static bool IsCapturedElement(Node read) =>
            read.Live is System.Linq.Expressions.ConstantExpression && read.Args.Length == 1 && read.Args[0].Op == Op.Constant;

                private static Node? AdjointOf(Node loop) => loop.Owner!.Nodes.Find(a => a.Op == Op.LoopAdjoint && a.Args[0] == loop);

        private static Node? BodyInputOf(LoopBody body, int param) =>
            body.Builder.Root.Nodes.Find(n => n.Op == Op.Input && n.Param == param);

        // The loop variable as the user named it, unless another name spells it or an enclosing loop's variable is so named.
        private string LoopVariable(LoopBody body)
        {
            var name = body.Variable;
            if (!_userLoopVariables.Contains(name) || _loopVariables.Contains(name))
                name = Reserve(name);
            _names[body.Index] = name;
            return name;
        }

        private (string Start, string Count, string End) Range(Node loop)
        {
            var start = IntText(loop.Args[0]).Text;
            var (count, precedence) = IntText(loop.Args[1]);
            var end = start == "0" ? count : $"{start} + {(precedence <= 5 ? $"({count})" : count)}";
            return (start, count, end);
        }

        private static string Offset(string variable, string start) => start == "0" ? variable : $"{variable} - ({start})";

        // A double variable of the enclosing scope: a top-level one is assigned (and declared once by whoever compiles
        // the listing), one inside a loop is declared where it is assigned.
        private void Assign(string name, string value, bool declare)
        {
            if (declare)
                Statement($"double {name} = {value};");
            else
                Line(name, " = ", value);
        }

        /// <summary>The forward loop of <paramref name="loop"/>, its value in <paramref name="name"/>; for a fused sum, its pullback too.</summary>
        private void LoopForward(Node loop, string name, bool declare)
        {
            var body = loop.Loop!;
            var adjoint = AdjointOf(loop);
            var fused = body.Kind == LoopKind.Sum && adjoint is not null && adjoint.Args[1].Op == Op.Constant && loop.Owner == graph.Root;
            var (start, count, end) = Range(loop);
            // Before the sum's variable is set: a value live across the clearing calls would live on the stack in the loop.
            if (_isMethod && fused)
                FirstWrites(body, start, end);
            string? state = null;
            switch (body.Kind)
            {
                case LoopKind.Sum:
                    Assign(name, "0", declare);
                    break;
                case LoopKind.Fold:
                    Assign(name, Render(loop.Args[2]), declare);
                    if (adjoint is not null)
                    {
                        // The accumulator entering each iteration, for the backward loop.
                        _states[loop] = state = Reserve(name + "Tape");
                        // A bound below the start runs no iterations (as a for loop does), and keeps nothing.
                        Statement($"double[] {state} = new double[{(_isMethod ? "global::System." : "")}Math.Max(0, {count})];");
                    }
                    break;
                default:
                    Statement($"if ({count} <= 0) throw new {(_isMethod ? "global::" : "")}System.InvalidOperationException(\"{Escape(body.Text)}: the sequence contains no elements\");");
                    Assign(name, "0", declare);
                    if (adjoint is not null)
                    {
                        _states[loop] = state = Reserve(name + "At");
                        Statement($"int {state} = 0;");
                    }
                    break;
            }

            List<Node> roots = [body.Output];
            Node?[] homes = [];
            if (fused)
            {
                _fusedLoops.Add(loop);
                roots.AddRange(PullbackRoots(adjoint!));
                homes = Homes(adjoint!);
            }
            var v = LoopVariable(body);
            if (_isMethod && loop.Owner == graph.Root)
                CheckIndices(loop, start, count, end, v);
            Statement($"for (int {v} = {start}; {v} < {end}; {v}++)");
            Open();
            _loopVariables.Add(v);
            if (BodyInputOf(body, 0) is { } accumulator)
                _names[accumulator] = name;
            if (fused && BodyInputOf(body, -1) is { } seed)
                _names[seed] = DoubleLiteral(adjoint!.Args[1].Value);
            if (body.Kind == LoopKind.Fold && state is not null)
                Statement($"{state}[{Offset(v, start)}] = {name};");
            PrintBody(body, Needed(roots), nameOutput: body.Kind is LoopKind.Max or LoopKind.Min);
            var output = Render(body.Output);
            switch (body.Kind)
            {
                case LoopKind.Sum:
                    Statement($"{name} += {output};");
                    break;
                case LoopKind.Fold:
                    Statement($"{name} = {output};");
                    break;
                default:
                    // The first value, and after it each one that beats it, with NaN as LINQ orders it: Min takes the first
                    // NaN and stops; Max ranks NaN below every number.
                    Statement(body.Kind == LoopKind.Max
                        ? $"if ({v} == {start} || {output} > {name} || double.IsNaN({name}))"
                        : $"if ({v} == {start} || {output} < {name} || double.IsNaN({output}))");
                    Open();
                    Statement($"{name} = {output};");
                    if (state is not null)
                        Statement($"{state} = {v};");
                    if (body.Kind == LoopKind.Min)
                        Statement($"if (double.IsNaN({output})) break;");
                    Close();
                    break;
            }
            if (fused)
                AddToHomes(adjoint!, homes, add: true);
            _loopVariables.Remove(v);
            Close();
        }

        /// <summary>The arrays whose gradient the first loop that writes it clears itself (see <see cref="FirstWrites"/>).</summary>
        public HashSet<int> ClearedByLoops { get; } = [];

        private readonly HashSet<int> _written = [];
        private readonly HashSet<Node> _stores = [];

        /// <summary>
        /// In a generated method, a fused sum that is the first to write an array's gradient stores the first write of each
        /// element (its scatter at the largest offset, <c>da[i + 1] = ...</c>) and clears only the elements it never
        /// writes, as the compiled loop does (<c>LoopWriter.FirstWrites</c>), instead of the method clearing the whole span.
        /// </summary>
        private void FirstWrites(LoopBody body, string start, string end)
        {
            foreach (var p in graph.Parameters.Select((p, k) => (p, k)).Where(x => x.p.IsDynamic).Select(x => x.k))
            {
                var scatters = DeadStages.Regions(body.Builder.Root).SelectMany(r => r.Nodes).Any(n => n.Op == Op.ScatterAdd && n.Param == p);
                if (!scatters)
                    continue;
                if (!_written.Add(p) || Emit.LoopWriter.FirstStore(body, p) is not { } store)
                    continue;
                _stores.Add(store.Scatter);
                ClearedByLoops.Add(p);
                var (name, gradient) = (graph.Parameters[p].Name, _gradients[p]);
                Statement($"{gradient}[..global::System.Math.Clamp({start} + {store.Offset}, 0, {name}.Length)].Clear();");
                Statement($"{gradient}[global::System.Math.Clamp({end} + {store.Offset}, 0, {name}.Length)..{name}.Length].Clear();");
            }
        }

        /// <summary>The backward loop of <paramref name="adjoint"/>, which delivers its outputs to their homes.</summary>
        private void LoopBackward(Node adjoint)
        {
            var loop = adjoint.Args[0];
            var body = loop.Loop!;
            var pullback = body.Pullback;
            var nested = adjoint.Owner != graph.Root;
            var (saved, savedName, savedAlias) = (_bar, _barName, _barIsAlias);
            _bar = null;
            var homes = Homes(adjoint);
            var seed = Seed(loop, adjoint, nested);
            var (start, _, end) = Range(loop);
            var needed = Needed(PullbackRoots(adjoint));
            var seedInput = BodyInputOf(body, -1);
            var v = LoopVariable(body);
            _loopVariables.Add(v);
            switch (body.Kind)
            {
                case LoopKind.Sum:
                    Statement($"for (int {v} = {start}; {v} < {end}; {v}++)");
                    Open();
                    if (seedInput is not null)
                        _names[seedInput] = seed;
                    PrintBody(body, needed, nameOutput: false);
                    AddToHomes(adjoint, homes, add: true);
                    Close();
                    break;
                case LoopKind.Fold:
                {
                    // Backwards over the tape: the accumulator's adjoint passes from each iteration to the one before.
                    var acc = Reserve("acc");
                    var bar = "d" + acc; // reserved with acc
                    Assign(bar, seed, nested);
                    Statement($"for (int {v} = {end} - 1; {v} >= {start}; {v}--)");
                    Open();
                    Statement($"double {acc} = {_states[loop]}[{Offset(v, start)}];");
                    if (BodyInputOf(body, 0) is { } accumulator)
                        _names[accumulator] = acc;
                    if (seedInput is not null)
                        _names[seedInput] = bar;
                    PrintBody(body, needed, nameOutput: false);
                    AddToHomes(adjoint, homes, add: true);
                    // The accumulator's adjoint for the iteration before (unchanged where the body adds to it).
                    var before = pullback.Accumulator is { } a ? Render(a) : "0";
                    if (before != bar)
                        Statement($"{bar} = {before};");
                    Close();
                    var init = Array.FindIndex(LoopWriter.Projections(adjoint), p => p?.Param == 2);
                    if (init >= 0 && homes[init] is { } home)
                        Statement($"{_names[home]} = {bar};");
                    break;
                }
                default:
                    // Only the iteration that was picked has a gradient.
                    Open();
                    Statement($"int {v} = {_states[loop]};");
                    if (seedInput is not null)
                        _names[seedInput] = seed;
                    PrintBody(body, needed, nameOutput: false);
                    AddToHomes(adjoint, homes, add: false);
                    Close();
                    break;
            }
            _loopVariables.Remove(v);
            (_bar, _barName, _barIsAlias) = (saved, savedName, savedAlias);
        }

        // The adjoint of the loop's value as a name or a literal: dq where the backward pass summed it, else its value.
        private string Seed(Node loop, Node adjoint, bool nested)
        {
            var bar = adjoint.Args[1];
            if (bar.Op == Op.Constant)
                return DoubleLiteral(bar.Value);
            if (!nested)
                return AdjointName(loop);
            var text = Render(bar);
            if (IsIdentifier(text) || double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                return text;
            var name = Reserve("seed");
            Assign(name, text, nested);
            return name;
        }

        private static bool IsIdentifier(string text) => text.Length > 0 && (char.IsLetter(text[0]) || text[0] == '_') && text.All(c => char.IsLetterOrDigit(c) || c == '_');

        /// <summary>
        /// A variable per output of a loop's pullback, set to 0: the adjoint it is the first contribution to (so the
        /// line that would add it is not printed), or a temporary.
        /// </summary>
        private Node?[] Homes(Node adjoint)
        {
            var loop = adjoint.Args[0];
            var nested = adjoint.Owner != graph.Root;
            var projections = LoopWriter.Projections(adjoint);
            foreach (var p in projections)
            {
                if (p is null)
                    continue;
                string home;
                var step = nested ? -1 : graph.Backprop.FindIndex(s => s.Contribution == p && s.From == loop);
                if (step >= 0 && graph.Backprop[step].First)
                {
                    home = AdjointName(graph.Backprop[step].Target);
                    _directHomes.Add(p);
                }
                else
                    home = Reserve("t" + ++_nextTemp);
                Assign(home, "0", nested);
                _names[p] = home;
                if (nested)
                    _bodyNames[p] = home;
            }
            return projections;
        }

        private void AddToHomes(Node adjoint, Node?[] homes, bool add)
        {
            var pullback = adjoint.Loop!.Pullback;
            foreach (var p in homes)
                if (p is not null && p.Param != 2)
                    Statement($"{_names[p]} {(add ? "+=" : "=")} {Render(pullback.Invariants[p.Param - LoopBody.FirstInvariant]!)};");
        }

        // What a body's pullback computes: the accumulator's and the delivered invariants' adjoints, and every scatter.
        private static List<Node> PullbackRoots(Node adjoint)
        {
            var body = adjoint.Loop!;
            var pullback = body.Pullback;
            var roots = new List<Node>();
            if (body.Kind == LoopKind.Fold && pullback.Accumulator is { } a)
                roots.Add(a);
            foreach (var p in LoopWriter.Projections(adjoint))
                if (p is not null && p.Param != 2)
                    roots.Add(pullback.Invariants[p.Param - LoopBody.FirstInvariant]!);
            foreach (var region in DeadStages.Regions(body.Builder.Root))
                roots.AddRange(region.Nodes.Where(n => n.HasEffects));
            return roots;
        }

        // What the roots read, transitively, as the loop writer finds it: an index brings its leaves, a branch's stage its conditional.
        private HashSet<Node> Needed(IEnumerable<Node> roots)
        {
            var needed = new HashSet<Node>();
            var pending = new Stack<Node>(roots);
            while (pending.TryPop(out var n))
            {
                if (n.Op == Op.Constant || !needed.Add(n))
                    continue;
                var (first, indices) = n.Op switch { Op.Read => (0, n.Args.Length), Op.ScatterAdd => (1, n.Args.Length - 1), _ => (0, 0) };
                for (var k = 0; k < n.Args.Length; k++)
                    if (k < first || k >= first + indices || !_indexLike.Contains(n.Args[k]))
                        pending.Push(n.Args[k]);
                if (n.Owner?.Host is { } host)
                    pending.Push(host);
                if (n.Op == Op.Condition)
                    foreach (var result in n.Then!.Results.Concat(n.Else!.Results))
                        pending.Push(result);
                if (n.Op == Op.Project)
                    pending.Push(n.Args[0]);
            }
            return needed;
        }

        /// <summary>One iteration's stages that <paramref name="needed"/> holds, each declared in the loop's block.</summary>
        private void PrintBody(LoopBody body, HashSet<Node> needed, bool nameOutput)
        {
            var nodes = body.Builder.Root.Nodes;
            // Each pass declares its stages again: the forward loop's variables are out of scope in the backward loop.
            foreach (var n in nodes)
                if ((_bodyNames.ContainsKey(n) || _aliased.Contains(n)) && !IsLoopOutput(n))
                    _names.Remove(n);
            var outputRead = nameOutput || needed.Any(n => n.Args.Contains(body.Output)
                || (n.Op == Op.Condition && n.Then!.Results.Concat(n.Else!.Results).Contains(body.Output)));
            foreach (var n in nodes)
            {
                if (!needed.Contains(n) || n.IsBool || n.Op is Op.Input or Op.Index or Op.Constant or Op.Read or Op.Project || IsIndexLike(n))
                    continue;
                switch (n.Op)
                {
                    case Op.Condition:
                        if (HasEffects(n))
                            PrintEffects(n);
                        continue;
                    case Op.ScatterAdd:
                        Scatter(n);
                        continue;
                    case Op.Loop:
                    {
                        var name = BodyName(n, backward: false);
                        LoopForward(n, name, declare: true);
                        _names[n] = name;
                        continue;
                    }
                    case Op.LoopAdjoint:
                        LoopBackward(n);
                        continue;
                }
                if (n == body.Output && !outputRead)
                    continue;
                var value = Render(n, top: true);
                if (IsIdentifier(value))
                {
                    // 1 * t1 is t1: no copy.
                    _names[n] = value;
                    _aliased.Add(n);
                    continue;
                }
                var stage = BodyName(n, backward: !body.IsForward(n));
                Statement($"double {stage} = {value};");
                _names[n] = stage;
            }
        }

        private string BodyName(Node n, bool backward)
        {
            if (!_bodyNames.TryGetValue(n, out var name))
                _bodyNames[n] = name = backward ? Reserve("t" + ++_nextTemp) : NextForwardName();
            return name;
        }

        private void Scatter(Node scatter)
        {
            _written.Add(scatter.Param);
            var gradient = _gradients[scatter.Param];
            var index = string.Join(", ", scatter.Args.Skip(1).Select(a => IntText(a).Text));
            var target = IsChecked(scatter.Param, scatter.Args.Skip(1)) ? Unchecked(gradient, index, span: true) : $"{gradient}[{index}]";
            Statement($"{target} {(_stores.Contains(scatter) ? "=" : "+=")} {Render(scatter.Args[0])};");
        }

        // A parameter's element at an index the method checked before its loop (with the gradient span's length, at its
        // top): C#'s own bounds check is not repeated in every iteration.
        private readonly HashSet<(int Param, Node Index)> _checkedIndices = [];

        private bool IsChecked(int param, IEnumerable<Node> indices) =>
            _isMethod && indices.ToList() is [var index] && _checkedIndices.Contains((param, index));

        private static string Unchecked(string array, string index, bool span) =>
            $"global::System.Runtime.CompilerServices.Unsafe.Add(ref global::System.Runtime.InteropServices.MemoryMarshal.{(span ? "GetReference" : "GetArrayDataReference")}({array}), {index})";

        private static bool HasEffects(Node condition) => HasEffects(condition.Then!) || HasEffects(condition.Else!);

        private static bool HasEffects(Region region) => DeadStages.Regions(region).Any(r => r.Nodes.Any(n => n.HasEffects));

        // A backward conditional that scatters: an if statement whose branches scatter (their other stages print inline).
        private void PrintEffects(Node condition)
        {
            var (then, otherwise) = (HasEffects(condition.Then!), HasEffects(condition.Else!));
            var test = Render(condition.Args[0]);
            Statement(then ? $"if ({test})" : $"if (!({test}))");
            Branch(then ? condition.Then! : condition.Else!);
            if (then && otherwise)
            {
                Statement("else");
                Branch(condition.Else!);
            }

            void Branch(Region region)
            {
                Open();
                foreach (var n in region.Nodes)
                    if (n.Op == Op.ScatterAdd)
                        Scatter(n);
                    else if (n.Op == Op.Condition && HasEffects(n))
                        PrintEffects(n);
                    else if (n.HasEffects)
                        throw new NotSupportedException("ToCode prints no loop inside a conditional's branch: ToListing() shows its stages");
                Close();
            }
        }

        /// <summary>Where each backward loop of the root goes among the printed steps: before the first step of a stage before its loop.</summary>
        private Queue<(Node Adjoint, int At)> BackwardLoops(List<BackpropStep> steps)
        {
            var placed = new List<(Node Adjoint, int At)>();
            foreach (var adjoint in graph.Root.Nodes)
            {
                if (adjoint.Op != Op.LoopAdjoint || _fusedLoops.Contains(adjoint.Args[0]))
                    continue;
                var loop = adjoint.Args[0];
                var at = steps.FindIndex(s => s.From is { } from
                    ? from == loop || from.Id < loop.Id
                    : s.Contribution.Owner == graph.Root && s.Contribution.Id > adjoint.Id);
                placed.Add((adjoint, at < 0 ? steps.Count : at));
            }
            return new Queue<(Node, int)>(placed.OrderBy(p => p.At));
        }

        /// <summary>
        /// In a method: the checks, before anything is written, of the elements a top-level loop reads in every iteration at
        /// an index affine in its variable, at its first and last iteration, as the compiled loop checks them: an index out of
        /// range throws, naming the array, the index and the length, and leaves the gradient untouched. Other indices are
        /// checked by C# where they are read.
        /// </summary>
        public List<string> IndexChecks { get; } = [];

        private void CheckIndices(Node loop, string start, string count, string end, string variable)
        {
            // Only a range known from the top of the method (lengths, constants, captured values) is checked up front.
            if (!AtTop(loop.Args[0]) || !AtTop(loop.Args[1]))
                return;
            var body = loop.Loop!;
            var checks = new List<string>();
            foreach (var read in body.Builder.Root.Nodes.Where(n => n.Op == Op.Read && n.Args.All(IsAffine) && !IsCapturedElement(n)))
            {
                var array = ArrayText(read);
                var lengths = read.Args.Length == 1 ? [$"{array}.Length"] : new[] { $"{array}.GetLength(0)", $"{array}.GetLength(1)" };
                if (read.Live is not null && read.Live.Type != typeof(double[]))
                    continue;
                // A parameter's element checked here is read (and its gradient written) without C#'s own check in the loop.
                if (read.Live is null && read.Args.Length == 1)
                    _checkedIndices.Add((read.Param, read.Args[0]));
                foreach (var at in new[] { $"({start})", $"({end} - 1)" })
                {
                    _names[body.Index] = at;
                    for (var d = 0; d < read.Args.Length; d++)
                    {
                        var index = IntText(read.Args[d]).Text;
                        checks.Add($"if ((uint)({index}) >= (uint){lengths[d]}) throw new global::System.IndexOutOfRangeException(" +
                            $"$\"{Escape(ArrayName(read))}[{Escape(read.IndexText ?? "?")}]: the index is {{{index}}}, but {Escape(ArrayName(read))} has {{{lengths[d]}}} elements\");");
                    }
                }
            }
            _names[body.Index] = variable;
            if (checks.Count == 0)
                return;
            IndexChecks.Add($"if ({count} > 0)");
            IndexChecks.Add("{");
            IndexChecks.AddRange(checks.Distinct().Select(c => "    " + c));
            IndexChecks.Add("}");
        }

        private string ArrayName(Node read) => read.Live is null ? graph.Parameters[read.Param].Name : captured!(read.Live).Name;

        // Known before anything runs: constants, lengths, captured values and integer arithmetic on them.
        private bool AtTop(Node n) => n.Op is Op.Constant or Op.Length or Op.Captured
            || (n.Op is Op.Add or Op.Subtract or Op.Multiply or Op.Negate && n.Args.All(AtTop));

        // Integer arithmetic on the loop variable with coefficients fixed for the loop: its extremes are at the ends.
        private bool IsAffine(Node n) => n.Op switch
        {
            Op.Constant or Op.Index => true,
            Op.Input => _invariantOf.TryGetValue(n, out var outer) && AtTop(outer),
            Op.Add or Op.Subtract => IsAffine(n.Args[0]) && IsAffine(n.Args[1]),
            Op.Negate => IsAffine(n.Args[0]),
            Op.Multiply => (n.Args[0].Op == Op.Constant && IsAffine(n.Args[1])) || (n.Args[1].Op == Op.Constant && IsAffine(n.Args[0])),
            _ => false,
        };

        private static string Escape(string text) => text.Replace("\\", "\\\\").Replace("\"", "\\\"");
    }
}
