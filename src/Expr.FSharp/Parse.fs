namespace ExprGrad.Symbolic

// Being written.
module internal ParsePlaceholder = let x = 0
