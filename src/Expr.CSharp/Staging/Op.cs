namespace ExprGrad.Staging;

/// <summary>
/// The closed catalogue of staged operations. Names follow <see cref="System.Linq.Expressions.ExpressionType"/>
/// and <see cref="Math"/>; every value but the structural ones and <see cref="Call"/> (whose rule is the node's own,
/// <see cref="Node.Function"/>) has exactly one entry in <see cref="Rules.RuleTable"/>.
/// </summary>
internal enum Op
{
    // Structural: leaves and the plumbing of conditionals. They have no entry in the rule table.
    Constant,
    Input,
    Captured,
    Condition,
    Project,

    // Loops over data (see LoopBody). A Loop's stages live in its body's own graph, which reads the loop's variable
    // (Index) and array elements at indices of it (Read); its pullback is a LoopAdjoint, whose scatters
    // (ScatterAdd) add to array gradients. Length is an array parameter's length at the call.
    Loop,
    LoopAdjoint,
    Index,
    Read,
    ScatterAdd,
    Length,

    // Arithmetic.
    Add,
    Subtract,
    Multiply,
    Divide,
    Negate,

    // Integer arithmetic on loop variables and lengths (carried as doubles): C#'s int / and %.
    IntegerDivide,
    Remainder,

    // Math.*
    Exp,
    Log,
    LogBase,
    Log10,
    Log2,
    Sqrt,
    Cbrt,
    Pow,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Abs,
    Max,
    Min,
    Sign,
    Floor,
    Ceiling,
    Round,
    Truncate,

    // Fused gates (Fn.*).
    Sigmoid,
    Relu,
    Softplus,
    Square,

    // Special functions (MathNet.Numerics.SpecialFunctions) that log-likelihoods need; Logistic is Sigmoid.
    // TriGamma is reached only as DiGamma's derivative, TetraGamma only as TriGamma's, which has no derivative of its own.
    Erf,
    Erfc,
    Gamma,
    GammaLn,
    DiGamma,
    TriGamma,
    TetraGamma,
    Beta,
    BetaLn,
    Logit,

    // A user's static method with a derivative rule (DerivativeRules, [Derivative]): Node.Function is its rule.
    Call,

    // Vectors and matrices (MathNet). Element-wise operations are all Map, whose scalar body the engine differentiates.
    Map,
    MatMul,
    Outer,
    Transpose,
    Sum,
    Dot,
    Norm,
    RowSums,
    ColumnSums,
    RepeatRow,
    RepeatColumn,
    Fill,
    Size,
    Element,
    Scatter,
    Softmax,
    LogSumExp,
    CrossEntropy,
    SquaredError,

    // test ? a : b on values already computed (both operands are): how a routing gate (max, min, abs, relu) passes its
    // adjoint to the operand it picked and nothing to the other, never multiplying by a 0/1 step (0·NaN is NaN).
    Select,

    // Boolean: conditions of conditionals. They carry no adjoint.
    LessThan,
    LessThanOrEqual,
    GreaterThan,
    GreaterThanOrEqual,
    Equal,
    NotEqual,
    AndAlso,
    OrElse,
    Not,
}
