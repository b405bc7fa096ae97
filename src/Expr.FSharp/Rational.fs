namespace ExprGrad.Symbolic

// Being written.
module internal RationalPlaceholder = let x = 0
