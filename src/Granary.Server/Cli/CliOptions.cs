using System.CommandLine;
using Granary.Abstractions;

namespace Granary.Server.Cli;

/// <summary>Options more than one verb takes, and range checks whose errors name the flag.</summary>
internal static class CliOptions
{
    public static Option<string> Model(bool required, string description = "Model folder (Hugging Face layout)") =>
        new("--model", "-m") { Description = description, Required = required };

    public static Option<string?> DType() =>
        new("--dtype") { Description = "Run dtype: fp32, bf16 or fp16 (default: the checkpoint's own)" };

    public static Option<string> Device() =>
        new("--device") { Description = "Device: cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };

    public static Option<bool> Json() => new("--json") { Description = "Print one JSON object instead of text" };

    public static int Positive(int value, string flag) =>
        value >= 1 ? value : throw new GranaryUserError($"{flag} must be >= 1 (got {value})");

    public static int AtLeast(int value, int minimum, string flag) =>
        value >= minimum ? value : throw new GranaryUserError($"{flag} must be >= {minimum} (got {value})");
}
