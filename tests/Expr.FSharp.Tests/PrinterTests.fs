module ExprGrad.Symbolic.Tests.PrinterTests

let private placeholder = 0
