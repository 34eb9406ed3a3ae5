using Granary.Server.Cli;

return GranaryCli.Run(args, Console.Out, Console.Error);
