namespace ExprGrad.Symbolic

// Being written.
module internal LinqPlaceholder = let x = 0
