module ExprGrad.Symbolic.Tests.ParseTests

let private placeholder = 0
