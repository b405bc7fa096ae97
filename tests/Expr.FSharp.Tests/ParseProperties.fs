module ExprGrad.Symbolic.Tests.ParseProperties

let private placeholder = 0
