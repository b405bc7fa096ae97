using ExprGrad.Rules;
using ExprGrad.Staging;

namespace ExprGrad.Display;

/// <summary>
/// The text of a gate in a circuit, as the CS231n notes draw them: the operation's symbol, with a constant operand
/// folded in (<c>*2</c>, <c>+1</c>, <c>1/x</c>, <c>&gt;0</c>, <c>max(x,0)</c>), where <c>x</c> stands for the wire.
/// </summary>
internal static class GateLabel
{
    public static string Of(Op op, Rule rule, Node[] args)
    {
        var constant = Array.FindIndex(args, a => a.Op == Op.Constant);
        if (constant < 0)
            return op switch
            {
                Op.Square => "x²",
                Op.Negate => "-x",
                Op.Not => "!x",
                _ => rule.Symbol,
            };

        var c = TraceNode.Number(args[constant].Value);
        if (rule.Method is not null)
            return constant == 0 ? $"{rule.Symbol}({c},x)" : $"{rule.Symbol}(x,{c})";
        return (op, constant) switch
        {
            (Op.Add, _) => args[constant].Value < 0 ? c : "+" + c,
            (Op.Multiply, _) => "*" + c,
            (_, 1) => rule.Symbol + c,
            _ => c + rule.Symbol + "x",
        };
    }
}
