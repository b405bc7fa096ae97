namespace ExprGrad.Symbolic

// Being written.
module internal LatexPlaceholder = let x = 0
