namespace ExprGrad.Symbolic

// Being written.
module internal QuotationsPlaceholder = let x = 0
