using System.Text.Json.Nodes;
using Granary.Model.Configuration;
using Granary.Model.Modeling;
using Granary.Model.Tokenization;
using static TorchSharp.torch;

namespace Granary.Model.Checkpoints;

/// <summary>
/// Writes the pieces of a Hugging Face model folder that Granary loads: config.json, weights
/// (model.safetensors or shards + index), tokenizer.json + tokenizer_config.json, generation_config.json.
/// Shared by the synthesizer (random weights) and the trainer (learned weights).
/// </summary>
public static class ModelFolderWriter
{
    public const string GenerationConfigFile = "generation_config.json";

    /// <summary>config.json, generation_config.json and the network's weights under their HF names.</summary>
    public static void WriteModel(string outDir, LlamaForCausalLM network, long? maxShardBytes = null)
    {
        ModelConfigJson.Save(network.Config, outDir);
        WriteGenerationConfig(outDir, network.Config);
        WriteWeights(outDir, network, maxShardBytes);
    }

    public static void WriteTokenizer(string outDir, ByteLevelBpeModel bpe, SpecialTokenSet specials)
    {
        TokenizerJsonWriter.Write(Path.Combine(outDir, TextTokenizer.TokenizerJsonFile), bpe);
        TokenizerConfigWriter.Write(outDir, specials.Bos, specials.Eos, specials.Family);
    }

    static void WriteWeights(string outDir, LlamaForCausalLM network, long? maxShardBytes)
    {
        // detach: the trainer's parameters carry requires_grad, and the writer only needs the values.
        var tensors = network.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach()))
            .ToList();
        try
        {
            if (maxShardBytes is { } maxBytes)
                SafetensorsWriter.WriteSharded(outDir, tensors, maxBytes);
            else
                SafetensorsWriter.Write(Path.Combine(outDir, CheckpointReader.SingleFileName), tensors,
                    new Dictionary<string, string> { ["format"] = "pt" });
        }
        finally
        {
            foreach (var (_, tensor) in tensors) tensor.Dispose();
        }
    }

    static void WriteGenerationConfig(string outDir, ModelConfig config)
    {
        var json = new JsonObject
        {
            ["bos_token_id"] = config.BosTokenId,
            ["eos_token_id"] = config.EosTokenIds[0],
            ["do_sample"] = true,
            ["temperature"] = 0.7,
            ["top_p"] = 0.9,
        };
        File.WriteAllText(Path.Combine(outDir, GenerationConfigFile), json.ToJsonString(new() { WriteIndented = true }));
    }
}
