namespace Granary.Model.Configuration;

/// <summary>The Llama-family architectures Granary runs. They share one decoder; they differ in defaults.</summary>
public enum ModelArchitecture
{
    Llama,
    Mistral,
    Qwen2,
}

public static class ModelArchitectureNames
{
    public static readonly IReadOnlyDictionary<string, ModelArchitecture> ByHfName = new Dictionary<string, ModelArchitecture>
    {
        ["LlamaForCausalLM"] = ModelArchitecture.Llama,
        ["MistralForCausalLM"] = ModelArchitecture.Mistral,
        ["Qwen2ForCausalLM"] = ModelArchitecture.Qwen2,
    };

    public static string HfName(this ModelArchitecture architecture) => architecture switch
    {
        ModelArchitecture.Llama => "LlamaForCausalLM",
        ModelArchitecture.Mistral => "MistralForCausalLM",
        ModelArchitecture.Qwen2 => "Qwen2ForCausalLM",
        _ => throw new ArgumentOutOfRangeException(nameof(architecture)),
    };

    public static string ModelType(this ModelArchitecture architecture) => architecture switch
    {
        ModelArchitecture.Llama => "llama",
        ModelArchitecture.Mistral => "mistral",
        ModelArchitecture.Qwen2 => "qwen2",
        _ => throw new ArgumentOutOfRangeException(nameof(architecture)),
    };
}
