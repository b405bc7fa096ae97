module ExprGrad.Symbolic.Tests.RationalTests

let private placeholder = 0
