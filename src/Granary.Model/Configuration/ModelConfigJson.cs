using System.Text.Json;
using System.Text.Json.Nodes;
using Granary.Abstractions;

namespace Granary.Model.Configuration;

/// <summary>Reads and writes Hugging Face <c>config.json</c> for the Llama family.</summary>
public static class ModelConfigJson
{
    public const string FileName = "config.json";

    public static ModelConfig Load(string modelDir)
    {
        string path = Path.Combine(modelDir, FileName);
        if (!Directory.Exists(modelDir))
            throw new GranaryUserError($"model folder not found: {modelDir}");
        if (!File.Exists(path))
            throw new GranaryUserError($"{FileName} not found in {modelDir}");
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new GranaryUserError($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new GranaryUserError($"{path}: invalid JSON ({e.Message.Split('\n')[0]})");
        }
        return Parse(json, path);
    }

    public static ModelConfig Parse(JsonObject json, string path)
    {
        var reader = new ConfigReader(json, path);
        ModelArchitecture architecture = ReadArchitecture(json, path);
        int hidden = reader.RequiredInt("hidden_size");
        int heads = reader.RequiredInt("num_attention_heads");
        int kvHeads = reader.OptionalInt("num_key_value_heads") ?? heads;
        int headDim = reader.OptionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0);
        bool attentionBias = reader.OptionalBool("attention_bias") ?? false;
        var config = new ModelConfig
        {
            Architecture = architecture,
            VocabSize = reader.RequiredInt("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = reader.RequiredInt("intermediate_size"),
            NumLayers = reader.RequiredInt("num_hidden_layers"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            RmsNormEps = reader.OptionalDouble("rms_norm_eps") ?? 1e-6,
            RopeTheta = reader.OptionalDouble("rope_theta") ?? 10000.0,
            RopeScaling = ReadRopeScaling(json, path),
            MaxPositionEmbeddings = reader.OptionalInt("max_position_embeddings") ?? 2048,
            TieWordEmbeddings = reader.OptionalBool("tie_word_embeddings") ?? false,
            QkvBias = architecture == ModelArchitecture.Qwen2 || attentionBias,
            OutputBias = architecture != ModelArchitecture.Qwen2 && attentionBias,
            MlpBias = reader.OptionalBool("mlp_bias") ?? false,
            SlidingWindow = ReadSlidingWindow(architecture, reader, path),
            BosTokenId = reader.OptionalInt("bos_token_id"),
            EosTokenIds = reader.IntOrIntList("eos_token_id"),
            TorchDtype = json["torch_dtype"]?.GetValue<string>() ?? json["dtype"]?.GetValue<string>(),
        };
        Validate(config, path);
        return config;
    }

    static ModelArchitecture ReadArchitecture(JsonObject json, string path)
    {
        var names = (json["architectures"] as JsonArray)?.Select(n => n?.GetValue<string>()).ToList();
        if (names is null || names.Count == 0)
            throw new GranaryUserError($"{path}: missing \"architectures\"");
        foreach (var name in names)
            if (name is not null && ModelArchitectureNames.ByHfName.TryGetValue(name, out var architecture))
                return architecture;
        throw new GranaryUserError(
            $"{path}: unsupported architecture {string.Join(", ", names)}; supported: {string.Join(", ", ModelArchitectureNames.ByHfName.Keys)}");
    }

    static RopeScaling? ReadRopeScaling(JsonObject json, string path)
    {
        if (json["rope_scaling"] is not JsonObject scaling) return null;
        var reader = new ConfigReader(scaling, path);
        string type = (scaling["rope_type"] ?? scaling["type"])?.GetValue<string>() ?? "default";
        return type switch
        {
            "default" => null,
            "linear" => new RopeScaling("linear", reader.RequiredDouble("factor")),
            "llama3" => new RopeScaling(
                "llama3",
                reader.RequiredDouble("factor"),
                reader.OptionalDouble("low_freq_factor") ?? 1.0,
                reader.OptionalDouble("high_freq_factor") ?? 4.0,
                reader.OptionalInt("original_max_position_embeddings") ?? 8192),
            _ => throw new GranaryUserError($"{path}: unsupported rope_scaling type \"{type}\"; supported: default, linear, llama3"),
        };
    }

    static int? ReadSlidingWindow(ModelArchitecture architecture, ConfigReader reader, string path)
    {
        if (architecture == ModelArchitecture.Mistral) return reader.OptionalInt("sliding_window");
        if (architecture == ModelArchitecture.Qwen2 && (reader.OptionalBool("use_sliding_window") ?? false))
            throw new GranaryUserError($"{path}: Qwen2 use_sliding_window=true is not supported");
        return null;
    }

    static void Validate(ModelConfig c, string path)
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new GranaryUserError($"{path}: {what}");
        }
        Require(c.VocabSize > 0, "vocab_size must be positive");
        Require(c.HiddenSize > 0, "hidden_size must be positive");
        Require(c.IntermediateSize > 0, "intermediate_size must be positive");
        Require(c.NumLayers > 0, "num_hidden_layers must be positive");
        Require(c.NumHeads > 0, "num_attention_heads must be positive");
        Require(c.NumKvHeads > 0 && c.NumHeads % c.NumKvHeads == 0,
            $"num_key_value_heads ({c.NumKvHeads}) must divide num_attention_heads ({c.NumHeads})");
        Require(c.HeadDim > 0 && c.HeadDim % 2 == 0, $"head_dim ({c.HeadDim}) must be a positive even number");
        Require(c.MaxPositionEmbeddings > 0, "max_position_embeddings must be positive");
    }

    public static void Save(ModelConfig c, string modelDir)
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(c.Architecture.HfName()),
            ["model_type"] = c.Architecture.ModelType(),
            ["vocab_size"] = c.VocabSize,
            ["hidden_size"] = c.HiddenSize,
            ["intermediate_size"] = c.IntermediateSize,
            ["num_hidden_layers"] = c.NumLayers,
            ["num_attention_heads"] = c.NumHeads,
            ["num_key_value_heads"] = c.NumKvHeads,
            ["head_dim"] = c.HeadDim,
            ["hidden_act"] = "silu",
            ["rms_norm_eps"] = c.RmsNormEps,
            ["rope_theta"] = c.RopeTheta,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["tie_word_embeddings"] = c.TieWordEmbeddings,
            ["attention_bias"] = c.Architecture != ModelArchitecture.Qwen2 && c.QkvBias,
            ["mlp_bias"] = c.MlpBias,
            ["torch_dtype"] = c.TorchDtype ?? "float32",
        };
        if (c.RopeScaling is { } s)
            json["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = s.Type,
                ["factor"] = s.Factor,
                ["low_freq_factor"] = s.LowFreqFactor,
                ["high_freq_factor"] = s.HighFreqFactor,
                ["original_max_position_embeddings"] = s.OriginalMaxPositionEmbeddings,
            };
        if (c.BosTokenId is { } bos) json["bos_token_id"] = bos;
        if (c.EosTokenIds.Count == 1) json["eos_token_id"] = c.EosTokenIds[0];
        else if (c.EosTokenIds.Count > 1) json["eos_token_id"] = new JsonArray(c.EosTokenIds.Select(i => (JsonNode)i).ToArray());
        if (c.SlidingWindow is { } window) json["sliding_window"] = window;
        Directory.CreateDirectory(modelDir);
        File.WriteAllText(Path.Combine(modelDir, FileName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
