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

    public static Option<string?> Draft() =>
        new("--draft") { Description = "Draft model folder (the target's tokenizer), or \"default\" for the shipped draft: decode speculatively" };

    public static Option<int> Speculate() =>
        new("--speculate") { Description = "Most tokens the draft proposes per step, k (adapted down at run time; 0 = off)", DefaultValueFactory = _ => 4 };

    public static Option<int> DraftVocab() =>
        new("--draft-vocab") { Description = "VocabTrim: keep the draft's LM head to the N most frequent tokens (vocab_trim.json beside the draft; 0 = all)" };

    public static int InRange(int value, int minimum, int maximum, string flag) =>
        value >= minimum && value <= maximum ? value : throw new GranaryUserError($"{flag} must be in {minimum}..{maximum} (got {value})");

    public static Option<bool> Json() => new("--json") { Description = "Print one JSON object instead of text" };

    public static int Positive(int value, string flag) =>
        value >= 1 ? value : throw new GranaryUserError($"{flag} must be >= 1 (got {value})");

    public static int AtLeast(int value, int minimum, string flag) =>
        value >= minimum ? value : throw new GranaryUserError($"{flag} must be >= {minimum} (got {value})");
}
