using System.Text.Json.Nodes;
using Granary.Abstractions;
using Granary.Model.Checkpoints;
using Granary.Model.Configuration;
using Granary.Model.Loading;
using Granary.Model.Modeling;
using Granary.Model.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Synthesis;

/// <summary>
/// Writes a random-weight model in exactly the Hugging Face layout Granary loads — config.json,
/// model.safetensors (or shards + index), tokenizer.json trained on a built-in sample, tokenizer_config.json,
/// generation_config.json — deterministically for a seed. For tests and for smoke-testing deployments.
/// </summary>
public static class ModelSynthesizer
{
    public static ModelConfig Synthesize(string outDir, SynthesisOptions options)
    {
        if (options.Validate() is { } problem) throw new GranaryUserError(problem);
        if (File.Exists(outDir)) throw new GranaryUserError($"--out {outDir} is a file; name a folder");
        Directory.CreateDirectory(outDir);
        var family = options.Architecture == ModelArchitecture.Qwen2 ? ChatTemplateFamily.ChatML : ChatTemplateFamily.Llama3;
        var (bos, eos) = family == ChatTemplateFamily.ChatML ? ("<|endoftext|>", "<|im_end|>") : ("<|begin_of_text|>", "<|end_of_text|>");
        var specials = new[] { bos, eos }.Concat(ChatPromptFormatter.MarkerTokens(family)).Distinct().ToList();
        var bpe = ByteLevelBpeTrainer.Train(SampleCorpus.Texts, options.VocabSize, specials);
        TokenizerJsonWriter.Write(Path.Combine(outDir, TextTokenizer.TokenizerJsonFile), bpe);
        TokenizerConfigWriter.Write(outDir, bos, eos, family);

        var config = ConfigFor(options, bpe.SpecialTokenId(bos), bpe.SpecialTokenId(eos));
        ModelConfigJson.Save(config, outDir);
        WriteGenerationConfig(outDir, config);
        WriteWeights(outDir, config, options);
        return config;
    }

    static ModelConfig ConfigFor(SynthesisOptions o, int bosId, int eosId) => new()
    {
        Architecture = o.Architecture,
        VocabSize = o.VocabSize,
        HiddenSize = o.HiddenSize,
        IntermediateSize = o.IntermediateSize,
        NumLayers = o.NumLayers,
        NumHeads = o.NumHeads,
        NumKvHeads = o.NumKvHeads,
        HeadDim = o.HiddenSize / o.NumHeads,
        RmsNormEps = 1e-6,
        RopeTheta = 10000,
        MaxPositionEmbeddings = o.MaxPositionEmbeddings,
        TieWordEmbeddings = o.TieWordEmbeddings,
        QkvBias = o.Architecture == ModelArchitecture.Qwen2,
        BosTokenId = bosId,
        EosTokenIds = [eosId],
        TorchDtype = RunDType.HfName(o.DType),
    };

    static void WriteWeights(string outDir, ModelConfig config, SynthesisOptions options)
    {
        using var network = new LlamaForCausalLM(config, options.DType, new Device(DeviceType.CPU));
        WeightInitializer.Initialize(network, options.Seed, options.InitStd);
        var tensors = network.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter))
            .ToList();
        if (options.MaxShardBytes is { } maxShardBytes)
            SafetensorsWriter.WriteSharded(outDir, tensors, maxShardBytes);
        else
            SafetensorsWriter.Write(Path.Combine(outDir, CheckpointReader.SingleFileName), tensors,
                new Dictionary<string, string> { ["format"] = "pt" });
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
        File.WriteAllText(Path.Combine(outDir, "generation_config.json"), json.ToJsonString(new() { WriteIndented = true }));
    }
}
