using System.CommandLine;
using Granary.Abstractions;
using Granary.Model.Configuration;
using Granary.Model.Loading;
using Granary.Model.Synthesis;

namespace Granary.Server.Cli;

/// <summary>`granary model synth`: write a random-weight model in Hugging Face layout.</summary>
internal static class ModelCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("model", "Make and inspect model folders");
        command.Subcommands.Add(Synth(stdout));
        return command;
    }

    static Command Synth(TextWriter stdout)
    {
        var defaults = new SynthesisOptions();
        var outDir = new Option<string>("--out", "-o") { Description = "Folder to write", Required = true };
        var arch = new Option<string>("--arch") { Description = "llama, mistral or qwen2", DefaultValueFactory = _ => "llama" };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => defaults.NumLayers };
        var hidden = new Option<int>("--hidden") { DefaultValueFactory = _ => defaults.HiddenSize };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => defaults.NumHeads };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Default: as many as --heads, capped at 2" };
        var intermediate = new Option<int?>("--intermediate") { Description = "MLP width (default: about 8/3 of --hidden)" };
        var vocab = new Option<int>("--vocab") { DefaultValueFactory = _ => defaults.VocabSize };
        var maxPosition = new Option<int>("--max-position") { DefaultValueFactory = _ => defaults.MaxPositionEmbeddings };
        var tie = new Option<bool>("--tie-embeddings") { Description = "Share the embedding and LM head weights" };
        var dtype = new Option<string>("--dtype") { Description = "fp32, bf16 or fp16", DefaultValueFactory = _ => "fp32" };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var shardMb = new Option<double?>("--shard-size-mb") { Description = "Split weights into shards of at most this size, with an index" };
        var command = new Command("synth", "Write a random-weight model (Hugging Face layout) with a trained byte-level BPE tokenizer")
        {
            outDir, arch, layers, hidden, heads, kvHeads, intermediate, vocab, maxPosition, tie, dtype, seed, shardMb,
        };
        command.SetAction(parse =>
        {
            int numHeads = parse.GetValue(heads);
            int hiddenSize = parse.GetValue(hidden);
            var options = new SynthesisOptions
            {
                Architecture = ParseArchitecture(parse.GetValue(arch)!),
                NumLayers = parse.GetValue(layers),
                HiddenSize = hiddenSize,
                NumHeads = numHeads,
                NumKvHeads = parse.GetValue(kvHeads) ?? Math.Min(numHeads, 2),
                IntermediateSize = parse.GetValue(intermediate) ?? Math.Max(1, hiddenSize * 8 / 3),
                VocabSize = parse.GetValue(vocab),
                MaxPositionEmbeddings = parse.GetValue(maxPosition),
                TieWordEmbeddings = parse.GetValue(tie),
                DType = RunDType.Parse(parse.GetValue(dtype)!, "--dtype"),
                Seed = parse.GetValue(seed),
                MaxShardBytes = parse.GetValue(shardMb) is { } mb ? (long)(mb * 1024 * 1024) : null,
            };
            string dir = parse.GetValue(outDir)!;
            var config = ModelSynthesizer.Synthesize(dir, options);
            stdout.WriteLine($"wrote {config.Architecture.HfName()} with {config.NumParameters() / 1e6:F2}M parameters to {dir}");
            return GranaryCli.ExitOk;
        });
        return command;
    }

    static ModelArchitecture ParseArchitecture(string name) => name.ToLowerInvariant() switch
    {
        "llama" => ModelArchitecture.Llama,
        "mistral" => ModelArchitecture.Mistral,
        "qwen2" => ModelArchitecture.Qwen2,
        _ => throw new GranaryUserError($"--arch: unknown architecture \"{name}\"; use llama, mistral or qwen2"),
    };
}
