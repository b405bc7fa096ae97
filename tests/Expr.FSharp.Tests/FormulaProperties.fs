module ExprGrad.Symbolic.Tests.FormulaProperties

let private placeholder = 0
