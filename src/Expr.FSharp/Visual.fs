namespace ExprGrad.Symbolic

// Being written.
module internal VisualPlaceholder = let x = 0
