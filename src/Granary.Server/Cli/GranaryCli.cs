using System.CommandLine;
using Granary.Abstractions;
using Granary.Model.Runtime;

namespace Granary.Server.Cli;

/// <summary>
/// The `granary` command line. Every verb reports bad input as one line on stderr naming the flag or file,
/// with exit code 2, and never a stack trace (set GRANARY_DEBUG=1 to see one for unexpected failures).
/// </summary>
public static class GranaryCli
{
    public const int ExitOk = 0;
    public const int ExitUsage = 2;
    public const int ExitFailure = 1;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        TorchRuntime.EnsureInitialized();
        var root = new RootCommand("Granary: a distributed LLM inference cluster on Orleans and TorchSharp.");
        root.Subcommands.Add(ServeCommand.Create(stdout, stderr));
        root.Subcommands.Add(GenerateCommand.Create(stdout, stderr));
        root.Subcommands.Add(BenchCommand.Create(stdout, stderr));
        root.Subcommands.Add(ModelCommand.Create(stdout, stderr));
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // Usage mistakes go to stderr only, so a script reading stdout (e.g. --json) never gets help text.
            foreach (var error in parse.Errors) stderr.WriteLine($"error: {error.Message}");
            stderr.WriteLine($"run '{CommandPath(parse.CommandResult)} --help' for usage");
            return ExitUsage;
        }
        var configuration = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            return parse.Invoke(configuration);
        }
        catch (Exception e) when (Unwrap(e) is GranaryUserError userError)
        {
            stderr.WriteLine($"error: {userError.Message}");
            return ExitUsage;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("GRANARY_DEBUG") != "1")
        {
            var inner = Unwrap(e);
            stderr.WriteLine($"error: {inner.GetType().Name}: {inner.Message.Split('\n')[0]} (set GRANARY_DEBUG=1 for details)");
            return ExitFailure;
        }
    }

    // "granary model synth": the root's own name is whatever hosts us (e.g. a test runner), so it is fixed here.
    static string CommandPath(System.CommandLine.Parsing.CommandResult result)
    {
        var names = new List<string>();
        for (var r = result; r is not null && r.Command is not RootCommand; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command.Name);
        return string.Join(' ', ["granary", .. names]);
    }

    static Exception Unwrap(Exception e)
    {
        while (e is AggregateException or System.Reflection.TargetInvocationException or TypeInitializationException && e.InnerException is not null)
            e = e.InnerException!;
        return e;
    }
}
