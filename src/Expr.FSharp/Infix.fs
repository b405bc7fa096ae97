namespace ExprGrad.Symbolic

// Being written.
module internal InfixPlaceholder = let x = 0
