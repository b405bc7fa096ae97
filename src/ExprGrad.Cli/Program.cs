using ExprGrad.Cli;

return Command.Run(args, Console.In, Console.Out, Console.Error, stdinIsTerminal: !Console.IsInputRedirected);
