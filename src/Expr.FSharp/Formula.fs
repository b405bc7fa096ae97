namespace ExprGrad.Symbolic

// Being written.
module internal FormulaPlaceholder = let x = 0
