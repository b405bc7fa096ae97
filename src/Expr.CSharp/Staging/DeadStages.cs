namespace ExprGrad.Staging;

/// <summary>
/// Dead-stage elimination: removes every stage that neither the value nor a gradient needs (contributions a rule
/// built for nobody, inputs read only in a folded-away branch), so listings, stage counts and emitted code show
/// only what runs. Ids are a topological order, so one descending pass over them marks everything needed.
/// </summary>
internal static class DeadStages
{
    public static void Prune(StagedGraph graph)
    {
        var byId = new Node?[graph.Builder.Count];
        foreach (var region in Regions(graph.Root))
            foreach (var node in region.Nodes)
                byId[node.Id] = node;

        var live = new bool[byId.Length];
        void Mark(Node n)
        {
            // A live stage inside a branch keeps its conditional live (a backward branch may be its only reader).
            for (var node = n; node is not null && node.Op != Op.Constant && !live[node.Id]; node = node.Owner?.Host)
                live[node.Id] = true;
        }

        Mark(graph.Output);
        // Stages that write array gradients are needed for what they write.
        foreach (var node in byId)
            if (node is { HasEffects: true })
                Mark(node);
        foreach (var adjoint in graph.Adjoints)
            if (adjoint is not null)
                Mark(adjoint);
        for (var id = byId.Length - 1; id >= 0; id--)
        {
            if (!live[id] || byId[id] is not { } node)
                continue;
            foreach (var arg in node.Args)
                Mark(arg);
            if (node.Op == Op.Condition)
                foreach (var result in node.Then!.Results.Concat(node.Else!.Results))
                    Mark(result);
        }

        var root = graph.Root.Nodes;
        graph.ForwardCount = root.Take(graph.ForwardCount).Count(n => live[n.Id]);
        foreach (var region in Regions(graph.Root))
            region.Nodes.RemoveAll(n => !live[n.Id]);
    }

    /// <summary>The root and every branch nested in it, without recursion.</summary>
    public static IEnumerable<Region> Regions(Region root)
    {
        var pending = new Stack<Region>();
        pending.Push(root);
        while (pending.TryPop(out var region))
        {
            yield return region;
            foreach (var node in region.Nodes)
                if (node.Op == Op.Condition)
                {
                    pending.Push(node.Then!);
                    pending.Push(node.Else!);
                }
        }
    }
}
