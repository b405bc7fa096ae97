using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using ExprGrad.Rules;
using ExprGrad.Staging;

namespace ExprGrad.Display;

/// <summary>
/// Prints the staged graph as C# statements named like the seeds: forward stages <c>q = x + y; f = q * z;</c>, then
/// the backward pass in sweep order, <c>dq = z; dz = q; dx = dq; dy = dq;</c>, with <c>+=</c> where gradients meet
/// at a fork. Every statement is valid C# once its variables are declared (doubles; an array parameter's gradient
/// is an array), so a test can compile the listing and compare it with the gradient.
/// </summary>
/// <remarks>
/// Root stages are named; booleans, constants and the stages inside a conditional's branches print inline (a
/// conditional as <c>test ? a : b</c>, so the untaken branch is never evaluated). A backward value that several
/// lines read is named once (<c>t1</c>). In the lines that pull back a stage q, its adjoint reads <c>dq</c>.
/// </remarks>
internal static partial class StagedCode
{
    private static readonly string[] ForwardNames = ["q", "r", "s", "t", "u", "v"];

    public static string Print(StagedGraph graph) => new Printer(graph, captured: null).Print();

    /// <summary>
    /// The name of each parameter's gradient, in <see cref="Gradient.ToCode"/> and in a generated method's signature:
    /// <c>d</c> and the parameter's name (<c>dx</c>, <c>da</c>), unless a name the user wrote already spells it (a
    /// parameter <c>dx</c>; in the listing also a captured variable) or an earlier parameter's gradient took it; then
    /// <c>_</c> is appended until it is free (<c>x</c> and <c>dx</c> have gradients <c>dx_</c> and <c>ddx</c>).
    /// </summary>
    /// <param name="graph">The staged function.</param>
    /// <param name="forMethod">
    /// True for a generated method, whose captured values are read through <c>this.</c> or <c>global::</c>, so only
    /// parameter names count: the method's signature depends on nothing else.
    /// </param>
    public static string[] GradientNames(StagedGraph graph, bool forMethod = false)
    {
        var taken = forMethod ? graph.Parameters.Select(p => p.Name).ToHashSet() : UserNames(graph);
        var names = new string[graph.Parameters.Length];
        for (var i = 0; i < names.Length; i++)
        {
            var name = "d" + graph.Parameters[i].Name;
            while (taken.Contains(name))
                name += "_";
            taken.Add(name);
            names[i] = name;
        }
        return names;
    }

    /// <summary>
    /// Every identifier the user wrote that the listing shows: the parameters, each identifier of a captured value's
    /// text (<c>data</c> and <c>y</c> of <c>data.y</c>) and the loops' variables, in every branch and loop body.
    /// </summary>
    public static HashSet<string> UserNames(StagedGraph graph)
    {
        var names = WrittenNames(graph, out var loopVariables);
        names.UnionWith(loopVariables);
        return names;
    }

    // The parameters and captured values' identifiers; and apart, the loops' variables.
    private static HashSet<string> WrittenNames(StagedGraph graph, out HashSet<string> loopVariables)
    {
        var names = graph.Parameters.Select(p => p.Name).ToHashSet();
        loopVariables = [];
        var pending = new Stack<Region>();
        pending.Push(graph.Root);
        while (pending.TryPop(out var region))
            foreach (var n in region.Nodes)
            {
                if (n.Live is { } live && n.Op is Op.Captured or Op.Read)
                    foreach (Match m in Identifier().Matches(CapturedName(live)))
                        names.Add(m.Value);
                if (n.Op == Op.Condition)
                {
                    pending.Push(n.Then!);
                    pending.Push(n.Else!);
                }
                if (n.Op == Op.Loop)
                {
                    loopVariables.Add(n.Loop!.Variable);
                    pending.Push(n.Loop.Builder.Root);
                }
            }
        return names;
    }

    [GeneratedRegex(@"[\p{L}_][\p{L}\p{Nd}_]*")]
    private static partial Regex Identifier();

    /// <summary>
    /// The listing as a C# method, what the source generator writes for a <see cref="DifferentiableAttribute"/>
    /// method: <c>modifiers double name(double x, double[] a, out double dx, Span&lt;double&gt; da)</c> returns the
    /// value and writes the gradient, a scalar's to its out parameter, an array's to a span with room for the array.
    /// Method names are global (<c>global::System.Math.Exp</c>), so the method compiles wherever it is put.
    /// </summary>
    /// <remarks>
    /// Inputs and gradients live in locals (<c>a_0</c>, <c>da_0</c>, <c>dx_</c>): each element is read once (a store to
    /// <c>da</c> could alias <c>a</c>, so the JIT would read <c>a[k]</c> again after every store) and each gradient
    /// written once at the end, highest index first (one bounds check covers the rest). An array a loop runs over is
    /// read and added to in place (<c>da[i] += ...</c>): the indices its top-level loops read are checked first, then
    /// its gradient is cleared, and its constant-index elements' adjoints are added at the end.
    /// </remarks>
    /// <param name="graph">The staged gradient.</param>
    /// <param name="name">The method's name.</param>
    /// <param name="modifiers">Its modifiers (<c>public static</c>).</param>
    /// <param name="indent">The indentation of its first line.</param>
    /// <param name="captured">
    /// For each captured value, its C# (<c>this.scale</c>), a name for the local that holds it, and whether it must run
    /// once (a call: C# evaluates each occurrence once). A captured value of the top level is read once, first; one
    /// inside a conditional's branch where that branch runs, at each read, or at the first read if it must run once.
    /// </param>
    public static string PrintMethod(StagedGraph graph, string name, string modifiers, string indent, Func<Expression, (string Name, string Text, bool Once)> captured)
    {
        var printer = new Printer(graph, captured);
        var body = printer.Print();
        var parameters = graph.Source.Parameters;
        var gradients = GradientNames(graph, forMethod: true);
        string D(ParameterLayout p) => gradients[Array.IndexOf(graph.Parameters, p)];
        var text = new StringBuilder();
        text.Append(indent).Append(modifiers).Append(" double ").Append(name).Append('(')
            .AppendJoin(", ", parameters.Select(p => (p.Type == typeof(double) ? "double " : "double[] ") + p.Name)
                .Concat(parameters.Select((p, i) => p.Type == typeof(double) ? $"out double {gradients[i]}" : $"global::System.Span<double> {gradients[i]}")))
            .AppendLine(")");
        text.Append(indent).AppendLine("{");
        var inner = indent + "    ";
        foreach (var array in graph.Parameters.Where(p => p.IsArray && (p.Extent > 0 || p.IsDynamic)))
        {
            // One check up front also lets the JIT drop the bounds checks of the constant indices below.
            if (array.Extent > 0)
                text.Append(inner).Append($"if ({array.Name}.Length < {array.Extent}) ")
                    .AppendLine($"throw new global::System.ArgumentException(\"the function reads {array.Name}[{array.Extent - 1}]\", nameof({array.Name}));");
            text.Append(inner).Append($"if ({D(array)}.Length < {array.Name}.Length) ")
                .AppendLine($"throw new global::System.ArgumentException(\"{D(array)} needs room for {array.Name}.Length values\", nameof({D(array)}));");
        }
        var reads = graph.Parameters.Where(p => p.IsArray)
            .SelectMany(p => Enumerable.Range(0, p.Extent).Reverse().Where(k => printer.Reads(p.Offset + k))
                .Select(k => (Local: printer.SlotValue(p.Offset + k), Element: $"{p.Name}[{k}]")))
            .ToList();
        var loads = reads.Select(r => $"{r.Local} = {r.Element};");
        var locals = reads.Select(r => r.Local).Concat(printer.Assigned).ToList();
        if (locals.Count > 0)
            text.Append(inner).Append("double ").AppendJoin(", ", locals).AppendLine(";");
        var stores = graph.Parameters.SelectMany(p => p.IsDynamic
            ? Enumerable.Range(0, p.Extent).Reverse().Where(k => graph.Adjoints[p.Offset + k] is not null)
                .Select(k => $"{D(p)}[{k}] += {printer.SlotAdjoint(p.Offset + k)};")
            : p.IsArray
            ? Enumerable.Range(0, p.Extent).Reverse().Select(k => $"{D(p)}[{k}] = {printer.SlotAdjoint(p.Offset + k)};")
                .Append($"if ({p.Name}.Length > {p.Extent}) {D(p)}[{p.Extent}..{p.Name}.Length].Clear();")
            : [$"{D(p)} = {printer.SlotAdjoint(p.Offset)};"]);
        // Lines keep their indentation: a loop's body is indented inside it.
        var lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).Where(l => l.Length > 0);
        // An array a loop runs over has its gradient added to, element by element: it starts at 0, once every index
        // the loops read is known to be in range.
        var clears = graph.Parameters.Where((p, k) => p.IsDynamic && !printer.ClearedByLoops.Contains(k)).Select(p => $"{D(p)}.Slice(0, {p.Name}.Length).Clear();");
        foreach (var line in printer.CapturedLoads.Concat(printer.IndexChecks).Concat(clears).Concat(loads).Concat(lines).Concat(stores))
            text.Append(inner).AppendLine(line);
        text.Append(inner).Append("return ").Append(printer.OutputName).AppendLine(";");
        text.Append(indent).AppendLine("}");
        return text.ToString();
    }

    /// <summary>
    /// A double as C# reads it back exactly: round-trip digits, <c>double.NaN</c> and the infinities by name, and
    /// <c>-0.0</c> (<c>-0</c> would be the integer 0, which converts to +0.0: a division by it flips an infinity's sign).
    /// A whole number prints without a decimal point (<c>2</c>), which is a double only where C# converts it to one.
    /// </summary>
    public static string DoubleLiteral(double v) =>
        double.IsNaN(v) ? "double.NaN"
        : double.IsPositiveInfinity(v) ? "double.PositiveInfinity"
        : double.IsNegativeInfinity(v) ? "double.NegativeInfinity"
        : v == 0 && double.IsNegative(v) ? "-0.0"
        : v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>
    /// The display name of a captured value: its variable, member path and indices (<c>data.y</c>, <c>w[2]</c>,
    /// <c>w.Length</c>), or for any other data its C# (<c>Math.Clamp(k, 0, 1)</c>, <c>h.Get()</c>).
    /// </summary>
    public static string CapturedName(Expression live)
    {
        var parts = new List<string>();
        for (var e = live; ;)
            switch (e)
            {
                case MemberExpression m:
                    if (!DataText.IsCompilerLink(m))
                        parts.Add("." + m.Member.Name);
                    if (m.Expression is null || m.Expression is ConstantExpression)
                        return Join(parts);
                    e = m.Expression;
                    break;
                case BinaryExpression { NodeType: ExpressionType.ArrayIndex } index:
                    parts.Add($"[{(index.Right is ConstantExpression { Value: { } i } ? Convert.ToString(i, CultureInfo.InvariantCulture) : "i")}]");
                    e = index.Left;
                    break;
                case UnaryExpression { NodeType: ExpressionType.ArrayLength } length:
                    parts.Add(".Length");
                    e = length.Operand;
                    break;
                case UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } u:
                    e = u.Operand;
                    break;
                default:
                    return DataText.Of(live);
            }

        static string Join(List<string> parts)
        {
            parts.Reverse();
            return string.Concat(parts).TrimStart('.');
        }
    }

    // captured is null for the display listing, and gives a captured value's C# when printing a method.
    private sealed partial class Printer(StagedGraph graph, Func<Expression, (string Name, string Text, bool Once)>? captured)
    {
        private readonly bool _isMethod = captured is not null;
        private readonly Dictionary<Node, string> _names = [];
        private readonly Dictionary<Node, string> _onceLocals = [];
        private readonly HashSet<string> _taken = [];
        private readonly Dictionary<Node, int> _reads = [];
        private readonly HashSet<Node> _temps = [];
        private readonly Dictionary<Node, int> _contributions = [];
        private readonly StringBuilder _text = new();
        private int _nextForward;
        private int _nextTemp;

        // The adjoint being pulled back by the current line, and its name (dq while q's rule runs). When that adjoint
        // is a named value itself (dq = z), only the rule's own use of it reads dq: the line's top node and its
        // operands; deeper down, z is z (so sin's rule prints dq * Math.Cos(x), not Math.Cos(dq), when dq = x).
        private Node? _bar;
        private string? _barName;
        private bool _barIsAlias;
        private int _depth;

        // Per flat slot: the name of its value and of its adjoint. For display the user's own, x, a[0], dx, da[0]; in a
        // method, locals a_0, da_0, dx_ (the parameters a, da, dx are read and written once, outside the listing).
        private readonly string[] _slotValues = new string[graph.Dimension];
        private readonly string[] _slotAdjoints = new string[graph.Dimension];
        private readonly HashSet<int> _inputsRead = [];
        private readonly HashSet<string> _assigned = [];

        // Each parameter's gradient: dx, or dx_ where the user named something dx (GradientNames).
        private readonly string[] _gradients = GradientNames(graph, forMethod: captured is not null);

        // The adjoints of stages that print inline (no name of their own), named once when first needed.
        private readonly Dictionary<Node, string> _adjointNames = [];

        // The loops' variables as the user named them, which no generated name takes.
        private readonly HashSet<string> _userLoopVariables = [];

        /// <summary>The variable holding the function's value, once <see cref="Print"/> has run.</summary>
        public string OutputName { get; private set; } = "f";

        /// <summary>Every variable the listing assigns, in order of first assignment.</summary>
        public List<string> Assigned { get; } = [];

        /// <summary>In a method: the declarations that read the top level's captured values (<c>double scale = this.scale;</c>).</summary>
        public List<string> CapturedLoads { get; } = [];

        public string SlotValue(int slot) => _slotValues[slot];

        public string SlotAdjoint(int slot) => _slotAdjoints[slot];

        /// <summary>True if the listing reads the input in flat slot <paramref name="slot"/>.</summary>
        public bool Reads(int slot) => _inputsRead.Contains(slot);

        public string Print()
        {
            ClassifyIntegers();
            // Every name the user wrote and every gradient's name is taken before any generated name is chosen, so
            // no generated name (q, dq, t1, a_0) spells a user's, whatever the user's names are.
            var written = WrittenNames(graph, out var loopVariables);
            _taken.UnionWith(_isMethod ? graph.Parameters.Select(p => p.Name) : written);
            _taken.UnionWith(_gradients);
            // A loop keeps its variable's name where nothing else spells it (LoopVariable).
            _userLoopVariables.UnionWith(loopVariables.Except(_taken));
            _taken.UnionWith(_userLoopVariables);
            for (var i = 0; i < graph.Parameters.Length; i++)
            {
                var p = graph.Parameters[i];
                for (var k = 0; k < p.Extent; k++)
                {
                    _slotValues[p.Offset + k] = _isMethod && p.IsArray ? Claim($"{p.Name}_{k}") : p.SlotName(k);
                    // An array whose length is read at the call is added to by its loops: its other elements' adjoints
                    // are locals, added to it at the end.
                    _slotAdjoints[p.Offset + k] = _isMethod || p.IsDynamic ? Claim(p.IsArray ? $"{_gradients[i]}_{k}" : $"{_gradients[i]}_")
                        : p.IsArray ? $"{_gradients[i]}[{k}]" : _gradients[i];
                }
            }
            foreach (var n in graph.Root.Nodes)
                if (n.Op == Op.Input)
                    _names[n] = _slotValues[Slot(n)];
                else if (n.Op == Op.Captured && captured is not null)
                {
                    var (hint, text, _) = captured(n.Live!);
                    _names[n] = Claim(hint);
                    CapturedLoads.Add($"{(n.IsBool ? "bool" : "double")} {_names[n]} = {text};");
                }
                else if (n.Op == Op.Captured)
                    _names[n] = CapturedName(n.Live!); // as the user wrote it: its identifiers are taken

            _text.AppendLine("// forward");
            var root = graph.Root.Nodes;
            for (var i = 0; i < graph.ForwardCount; i++)
                Forward(root[i]);
            if (!_names.ContainsKey(graph.Output) || graph.Output.Op is Op.Input or Op.Captured)
                Line(OutputName = Reserve("f"), " = ", Render(graph.Output));

            var backward = _text.Length;
            _text.AppendLine("// backward");
            var header = _text.Length;
            var steps = Needed();
            foreach (var step in steps)
            {
                CountReads(step);
                _contributions[step.Target] = _contributions.GetValueOrDefault(step.Target) + 1;
            }
            var loops = BackwardLoops(steps);
            for (var s = 0; s < steps.Count; s++)
            {
                while (loops.Count > 0 && loops.Peek().At == s)
                    LoopBackward(loops.Dequeue().Adjoint);
                Backward(steps[s]);
            }
            while (loops.Count > 0)
                LoopBackward(loops.Dequeue().Adjoint);
            foreach (var p in graph.Parameters)
                for (var k = 0; k < p.Extent; k++)
                    if ((graph.Adjoints.Length == 0 || graph.Adjoints[p.Offset + k] is null) && !p.IsDynamic)
                        Line(_slotAdjoints[p.Offset + k], " = ", "0");
            if (!_isMethod)
                for (var i = 0; i < graph.Parameters.Length; i++)
                {
                    var p = graph.Parameters[i];
                    for (var k = 0; k < p.Extent && p.IsDynamic; k++)
                        if (graph.Adjoints.Length > 0 && graph.Adjoints[p.Offset + k] is not null)
                            Statement($"{_gradients[i]}[{k}] += {_slotAdjoints[p.Offset + k]};");
                }
            if (_text.Length == header)
                _text.Length = backward; // a function of no variables has no backward pass: no empty heading
            return _text.ToString();
        }

        private int Slot(Node input) => graph.Parameters[input.Param].Offset + Math.Max(input.Element, 0);

        // A name nothing else uses, kept as it is where it can be: a_0, or a_0_ if a parameter is called a_0.
        private string Claim(string name)
        {
            while (!_taken.Add(name))
                name += "_";
            return name;
        }

        // One statement. Its value is rendered before the line starts, since rendering may first define a temporary.
        private void Line(string target, string assign, string value)
        {
            if (assign == " = " && _assigned.Add(target))
                Assigned.Add(target);
            _text.Append(_indent).Append(target).Append(assign).Append(value).AppendLine(";");
        }

        private string Reserve(string name)
        {
            // A name and its adjoint's name (q and dq) are both free, so no variable shadows a parameter or its gradient.
            var unique = name;
            for (var k = 1; _taken.Contains(unique) || _taken.Contains("d" + unique); k++)
                unique = $"{name}{k}";
            _taken.Add(unique);
            _taken.Add("d" + unique);
            return unique;
        }

        private void Forward(Node n)
        {
            if (n.IsBool || n.Op is Op.Input or Op.Captured or Op.Condition or Op.Constant || IsIndexLike(n))
                return;
            var name = n == graph.Output ? OutputName = Reserve("f") : NextForwardName();
            if (n.Op == Op.Loop)
            {
                LoopForward(n, name, declare: false);
                _names[n] = name;
                return;
            }
            Line(name, " = ", Render(n, top: true));
            _names[n] = name;
        }

        private string NextForwardName() =>
            Reserve(_nextForward < ForwardNames.Length ? ForwardNames[_nextForward++] : $"q{++_nextForward - ForwardNames.Length}");

        /// <summary>
        /// The backward steps worth a line: those whose target is an input or is itself pulled back later by a line
        /// that reads its adjoint's name (a constant adjoint is read as the constant).
        /// </summary>
        private List<BackpropStep> Needed()
        {
            // A loop is pulled back by its adjoint, which the backward pass prints whether or not it exports values.
            var pulled = new HashSet<Node>(graph.Root.Nodes.Where(n => n.Op == Op.LoopAdjoint).Select(n => n.Args[0]));
            var needed = new List<BackpropStep>();
            for (var i = graph.Backprop.Count - 1; i >= 0; i--)
            {
                var step = graph.Backprop[i];
                if (i == 0 && step.From is null && step.Target == graph.Output && step.Target.Op != Op.Input)
                    continue; // the seed df = 1 prints as the constant wherever it is read
                if (step.Target.Op != Op.Input && !pulled.Contains(step.Target))
                    continue;
                needed.Add(step);
                // A constant adjoint (dq = 1) is written where it is read: the line naming it would be dead.
                if (step.From is not null && step.FromBar is not { Op: Op.Constant })
                    pulled.Add(step.From);
            }
            needed.Reverse();
            return needed;
        }

        private string AdjointName(Node n)
        {
            if (n.Op == Op.Input)
                return _slotAdjoints[Slot(n)];
            if (_names.TryGetValue(n, out var name))
                return "d" + name; // reserved with the name
            if (!_adjointNames.TryGetValue(n, out name))
                _adjointNames[n] = name = "d" + Reserve(GraphPrinter.Name(n));
            return name;
        }

        private void Backward(BackpropStep step)
        {
            if (step.From is { Op: Op.Loop } && _directHomes.Contains(step.Contribution))
                return; // the loop's pullback added it to the adjoint itself
            (_bar, _barName) = step.From is null || step.FromBar is null || step.FromBar.Op == Op.Constant
                ? (null, null)
                : (step.FromBar, AdjointName(step.From));
            _barIsAlias = _bar is not null && _names.ContainsKey(_bar);
            var target = AdjointName(step.Target);
            var c = step.Contribution;
            if (_temps.Contains(c) && !_names.ContainsKey(c) && step.First && c != _bar
                && _contributions[step.Target] == 1)
            {
                // A shared value that is this adjoint's only contribution: the adjoint's name is its name.
                Line(target, " = ", Render(c, top: true));
                _names[c] = target;
                return;
            }
            // A shared value read again later is defined once, in its temp, which this line then reads (not
            // `dq = 1 / q; ... t1 = 1 / q;`: the adjoint has changed by the time the other read comes).
            var shared = _temps.Contains(c) && !_names.ContainsKey(c) && c != _bar;
            Line(target, step.First ? " = " : " += ", Render(c, top: !shared));
        }

        // Counts how many lines read each unnamed root backward value; one read twice becomes a temp.
        private void CountReads(BackpropStep step)
        {
            var pending = new Stack<Node>();
            pending.Push(step.Contribution);
            while (pending.TryPop(out var n))
            {
                if (n == step.FromBar || _names.ContainsKey(n) || n.Op is Op.Constant or Op.LoopAdjoint || n.IsBool || n.Owner != graph.Root
                    || IsLoopOutput(n))
                    continue;
                var reads = _reads[n] = _reads.GetValueOrDefault(n) + 1;
                if (reads == 2)
                    _temps.Add(n);
                if (reads == 1)
                    foreach (var arg in n.Args)
                        pending.Push(arg);
            }
        }

        private string Render(Node n, bool top = false)
        {
            _depth = 0;
            return StackGuard.Run(() => Expr(n, top).Text);
        }

        private (string Text, int Precedence) Expr(Node n, bool top = false)
        {
            if (n == _bar && (!_barIsAlias || _depth <= 1))
                return (_barName!, Primary);
            _depth++;
            try
            {
                return Inner(n, top);
            }
            finally
            {
                _depth--;
            }
        }

        private (string Text, int Precedence) Inner(Node n, bool top)
        {
            if (n.Op == Op.Input && n.Owner != graph.Root)
                return BodyInput(n);
            if (n.Op == Op.Input)
                _inputsRead.Add(Slot(n));
            if (_names.TryGetValue(n, out var name))
                return (name, Primary);
            if (n.Op == Op.Constant)
                return Literal(n);
            if (!top && _temps.Contains(n))
            {
                // Defined on first read, in the line before the one that reads it.
                var temp = Reserve("t" + ++_nextTemp);
                var depth = _depth;
                _depth = 0;
                var definition = Expr(n, top: true).Text;
                _depth = depth;
                Line(temp, " = ", definition);
                _names[n] = temp;
                return (temp, Primary);
            }
            switch (n.Op)
            {
                case Op.Project:
                    var condition = n.Args[0];
                    var test = Operand(condition.Args[0], Conditional + 1);
                    var then = Operand(condition.Then!.Results[n.Param], Conditional);
                    var otherwise = Operand(condition.Else!.Results[n.Param], Conditional);
                    // Two whole-number literals would make an int conditional (and Math.Round of it ambiguous): write 1.0.
                    if (IsWhole(then) && IsWhole(otherwise))
                        then += ".0";
                    return ($"{test} ? {then} : {otherwise}", Conditional);
                case Op.Select:
                {
                    var (whenTrue, whenFalse) = (Operand(n.Args[1], Conditional), Operand(n.Args[2], Conditional));
                    if (IsWhole(whenTrue) && IsWhole(whenFalse))
                        whenTrue += ".0";
                    return ($"{Operand(n.Args[0], Conditional + 1)} ? {whenTrue} : {whenFalse}", Conditional);
                }
                case Op.Input:
                    return (_slotValues[Slot(n)], Primary);
                case Op.Captured when captured is not null:
                    // Read where it is used when it is inside a branch: element 5 of a captured array may not exist
                    // when the branch is not taken.
                    // A call still runs once: every read goes through a nullable local that the first read sets.
                    if (_names.TryGetValue(n, out var local))
                        return (local, Primary);
                    var (hint, text, once) = captured(n.Live!);
                    if (!once)
                        return ($"({text})", Primary);
                    if (!_onceLocals.TryGetValue(n, out local))
                    {
                        _onceLocals[n] = local = Claim(hint);
                        CapturedLoads.Add($"{(n.IsBool ? "bool" : "double")}? {local} = null;");
                    }
                    return ($"({local} ??= {text})", Primary);
                case Op.Captured:
                    return (CapturedName(n.Live!), Primary);
                case Op.Length:
                    return ($"{graph.Parameters[n.Param].Name}.Length", Primary);
                case Op.Read when captured is not null && IsCapturedElement(n):
                    // A captured value the method's reader holds as an element (read in a branch of a loop's body):
                    // its own C#, read where it is used, as the compiled loop reads it.
                    return ($"({captured(Expression.ArrayIndex(n.Live!, Expression.Constant((int)n.Args[0].Value))).Text})", Primary);
                case Op.Read when n.Live is null && IsChecked(n.Param, n.Args):
                    return (Unchecked(ArrayText(n), IntText(n.Args[0]).Text, span: false), Primary);
                case Op.Read:
                    return ($"{ArrayText(n)}[{string.Join(", ", n.Args.Select(a => IntText(a).Text))}]", Primary);
                case Op.Index or Op.Loop or Op.LoopAdjoint or Op.ScatterAdd:
                    throw new InvalidOperationException($"internal error: {n} is printed before its loop names it");
            }
            if (IsIndexLike(n))
                return IntText(n);

            // A fused loop's seed is the literal 1, and 1 * x is x, bit for bit.
            if (n.Op == Op.Multiply && (IsUnitSeed(n.Args[0]) || IsUnitSeed(n.Args[1])))
                return Expr(IsUnitSeed(n.Args[0]) ? n.Args[1] : n.Args[0]);
            var rule = RuleTable.Of(n);
            if (n.Op is Op.Negate or Op.Not)
            {
                var operand = Operand(n.Args[0], Unary);
                return ((n.Op == Op.Negate ? "-" : "!") + (operand.StartsWith('-') ? $"({operand})" : operand), Unary);
            }
            if (rule.CallText is { } callText)
                return ($"{callText}({string.Join(", ", n.Args.Select(Argument))})", Primary);
            if (rule.Method is { } method)
                return ($"{MethodName(method)}({string.Join(", ", n.Args.Select(Argument))})", Primary);
            var precedence = Binary(n.Op);
            // Left-associative: the right operand of an equal-precedence operator needs parentheses.
            return ($"{Operand(n.Args[0], precedence)} {rule.Symbol} {Operand(n.Args[1], precedence + 1)}", precedence);
        }

        // A whole-number literal passed to Math.Ceiling and the like would pick the decimal overload: write 2.0.
        private string Argument(Node n)
        {
            var text = Operand(n, 0);
            return n.Op == Op.Constant && IsWhole(text) ? text + ".0" : text;
        }

        private static bool IsWhole(string literal) => literal.Length > 0 && literal.All(c => char.IsDigit(c) || c == '-');

        private string Operand(Node n, int atLeast)
        {
            var (text, precedence) = Expr(n);
            // An integer (a loop variable, a length) where a double is read: 1 / (i + 1) must not divide integers.
            if (IsIndexLike(n))
                (text, precedence) = ($"(double){(precedence < Primary ? $"({text})" : text)}", Unary);
            return precedence < atLeast ? $"({text})" : text;
        }

        private static (string, int) Literal(Node n)
        {
            if (n.IsBool)
                return (n.Value != 0 ? "true" : "false", Primary);
            var text = DoubleLiteral(n.Value);
            return (text, text.StartsWith('-') ? Unary : Primary);
        }

        // The rule's own method: Math.Exp, Fn.Sigmoid, and Fn.Sign for a sign (Math.Sign is an int, so
        // Math.Truncate(Math.Sign(x)) would not compile and Math.Sign(x) / Math.Sign(y) would divide integers).
        private string MethodName(MethodInfo call) =>
            _isMethod ? $"global::{call.DeclaringType!.FullName}.{call.Name}"
            : $"{call.DeclaringType!.Name}.{call.Name}";

        private const int Conditional = 0;
        private const int Unary = 7;
        private const int Primary = 9;

        private static int Binary(Op op) => op switch
        {
            Op.OrElse => 1,
            Op.AndAlso => 2,
            Op.Equal or Op.NotEqual => 3,
            Op.LessThan or Op.LessThanOrEqual or Op.GreaterThan or Op.GreaterThanOrEqual => 4,
            Op.Add or Op.Subtract => 5,
            _ => 6,
        };
    }
}
