using Granary.Abstractions;
using Granary.Model.Checkpoints;
using Granary.Model.Configuration;
using Granary.Model.Modeling;
using Granary.Model.Runtime;
using Granary.Model.Sharding;
using Granary.Model.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Loading;

/// <summary>
/// Loads a Hugging Face model folder: config.json, safetensors weights (single file or sharded index),
/// and the tokenizer. Each weight is copied from the memory-mapped file straight into its parameter, so
/// peak memory is the model plus one tensor.
/// </summary>
public static class ModelLoader
{
    public static LoadedModel Load(string modelDir, ModelLoadOptions options, IProgress<LoadProgress>? progress = null)
    {
        var config = ModelConfigJson.Load(modelDir);
        var tokenizer = LoadTokenizerFor(modelDir, config);
        var model = LoadNetwork(modelDir, config, options, ShardSpec.Whole(config), SingleRankGroup.Instance, progress);
        return new LoadedModel(modelDir, model, tokenizer);
    }

    /// <summary>
    /// Loads one shard of a plan: only its layers, and of tensor-parallel layers only its rank's slices, each
    /// read from the memory-mapped checkpoint (the whole model is never in memory). No tokenizer.
    /// </summary>
    public static CausalLm LoadShard(string modelDir, ModelLoadOptions options, ShardSpec shard, ITensorParallelGroup group,
        IProgress<LoadProgress>? progress = null) =>
        LoadNetwork(modelDir, ModelConfigJson.Load(modelDir), options, shard, group, progress);

    // The whole model is the shard of the single-shard plan: one path builds and fills either.
    static CausalLm LoadNetwork(string modelDir, ModelConfig config, ModelLoadOptions options, ShardSpec shard, ITensorParallelGroup group,
        IProgress<LoadProgress>? progress)
    {
        var dtype = options.DType ?? RunDType.TryParse(config.TorchDtype) ?? ScalarType.Float32;
        var device = ParseDevice(options.Device);
        using var checkpoint = CheckpointReader.Open(modelDir);
        var network = new LlamaForCausalLM(config, dtype, device, shard, group);
        try
        {
            LoadWeights(network, checkpoint, progress);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        return new CausalLm(network);
    }

    static void LoadWeights(LlamaForCausalLM network, CheckpointReader checkpoint, IProgress<LoadProgress>? progress)
    {
        var parameters = network.named_parameters().ToList();
        var slices = SlicesByParameter(network);
        foreach (var (name, parameter) in parameters)
        {
            CheckPresentWithShape(checkpoint, name, slices.TryGetValue(name, out var s) ? s.Slice.FullShape(parameter.shape, s.FullLength) : parameter.shape);
        }
        long totalBytes = parameters.Sum(p => p.parameter.NumberOfElements * p.parameter.ElementSize);
        long loadedBytes = 0;
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            var (name, parameter) = parameters[i];
            using (var weights = slices.TryGetValue(name, out var s)
                       ? checkpoint.ReadSlice(name, s.Slice.Dim, s.Slice.Start, s.Slice.Length, parameter.dtype, parameter.device)
                       : checkpoint.Read(name, parameter.dtype, parameter.device))
                WeightLayout.CopyInto(parameter, weights);
            loadedBytes += parameter.NumberOfElements * parameter.ElementSize;
            progress?.Report(new LoadProgress(i + 1, parameters.Count, loadedBytes, totalBytes));
        }
    }

    // Full parameter name -> the checkpoint slice it holds, for the tensor-parallel layers of a shard.
    static Dictionary<string, (WeightSlice Slice, long FullLength)> SlicesByParameter(nn.Module network)
    {
        var slices = new Dictionary<string, (WeightSlice, long)>(StringComparer.Ordinal);
        foreach (var (moduleName, module) in network.named_modules())
        {
            if (module is not ISlicedParameters sliced) continue;
            foreach (var (parameterName, _) in module.named_parameters(recurse: false))
                if (sliced.SliceOf(parameterName) is { } slice)
                    slices[$"{moduleName}.{parameterName}"] = slice;
        }
        return slices;
    }

    static void CheckPresentWithShape(CheckpointReader checkpoint, string name, long[] expectedShape)
    {
        if (!checkpoint.Contains(name))
            throw new GranaryUserError($"checkpoint in {checkpoint.Directory} has no tensor \"{name}\" (does config.json match the weights?)");
        long[] shape = checkpoint.Info(name).Shape;
        if (!shape.SequenceEqual(expectedShape))
            throw new GranaryUserError(
                $"checkpoint in {checkpoint.Directory}: tensor \"{name}\" has shape [{string.Join(", ", shape)}] but config.json implies [{string.Join(", ", expectedShape)}]");
    }

    /// <summary>The folder's tokenizer, refused when it cannot be the model's.</summary>
    public static TextTokenizer LoadTokenizerFor(string modelDir, ModelConfig config)
    {
        var tokenizer = TextTokenizer.Load(modelDir);
        CheckTokenizerFitsModel(tokenizer, config, modelDir);
        return tokenizer;
    }

    // Checkpoints may pad the embedding past the tokenizer (Qwen2: 151936 rows for 151665 tokens), so a
    // smaller tokenizer is fine; one with ids past the embedding, or less than half its size, is another
    // model's tokenizer.
    static void CheckTokenizerFitsModel(TextTokenizer tokenizer, ModelConfig config, string modelDir)
    {
        if (tokenizer.VocabSize > config.VocabSize || tokenizer.VocabSize < config.VocabSize / 2)
            throw new GranaryUserError(
                $"tokenizer in {modelDir} has {tokenizer.VocabSize} tokens but config.json has vocab_size {config.VocabSize}: the tokenizer does not belong to this model");
    }

    /// <summary>"cpu", "cuda" or "cuda:N", checked against what this build and machine have.</summary>
    public static Device ParseDevice(string device)
    {
        string name = device.Trim().ToLowerInvariant();
        if (name == "cpu") return new Device(DeviceType.CPU);
        bool isCuda = name == "cuda" || (name.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(name[5..], out int index) && index >= 0);
        if (!isCuda) throw new GranaryUserError($"--device: unknown device \"{device}\"; use cpu, cuda or cuda:N");
        bool available;
        try
        {
            available = cuda.is_available();
        }
        catch (InvalidOperationException)
        {
            available = false; // a CPU-only libtorch cannot even initialise the CUDA backend
        }
        if (!available)
            throw new GranaryUserError($"--device {device}: CUDA is not available (this is a CPU build or the machine has no GPU; build with -p:TorchDevice=cuda)");
        return torch.device(name);
    }
}
