module ExprGrad.Symbolic.Tests.FormulaTests

let private placeholder = 0
