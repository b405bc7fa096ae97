module ExprGrad.Symbolic.Tests.InteropTests

let private placeholder = 0
