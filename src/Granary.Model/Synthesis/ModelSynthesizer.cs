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
        var specials = SpecialTokenSet.For(family);
        var bpe = ByteLevelBpeTrainer.Train(SampleCorpus.Texts, options.VocabSize, specials.All);
        ModelFolderWriter.WriteTokenizer(outDir, bpe, specials);

        var config = ConfigFor(options, bpe.SpecialTokenId(specials.Bos), bpe.SpecialTokenId(specials.Eos));
        using var network = new LlamaForCausalLM(config, options.DType, new Device(DeviceType.CPU));
        WeightInitializer.Initialize(network, options.Seed, options.InitStd);
        ModelFolderWriter.WriteModel(outDir, network, options.MaxShardBytes);
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
}
