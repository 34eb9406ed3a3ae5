using Granary.Grains.Deployments;
using Granary.Model.Configuration;
using Granary.Model.Tokenization;

namespace Granary.Server.Serving;

/// <summary>
/// What the API layer of every silo knows about a deployment without loading its weights: the name, the
/// tokenizer and chat template (prompts are tokenized where they arrive), the context length.
/// </summary>
public sealed class ModelFrontend
{
    ModelFrontend(DeploymentOptions deployment, ModelConfig config, TextTokenizer tokenizer)
    {
        Deployment = deployment;
        Config = config;
        Tokenizer = tokenizer;
    }

    public DeploymentOptions Deployment { get; }

    public string Name => Deployment.Name;

    public ModelConfig Config { get; }

    public TextTokenizer Tokenizer { get; }

    public int ContextLength => Config.MaxPositionEmbeddings;

    /// <summary>Unix seconds when this silo loaded the frontend (the OpenAI model object's <c>created</c>).</summary>
    public long Created { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static ModelFrontend Load(DeploymentOptions deployment) =>
        new(deployment, ModelConfigJson.Load(deployment.ModelDirectory), TextTokenizer.Load(deployment.ModelDirectory));

    /// <summary>A raw completion prompt, with BOS when the tokenizer asks for it.</summary>
    public int[] EncodePrompt(string text) => Tokenizer.Encode(text, addBos: Tokenizer.AddBosToken).ToArray();

    /// <summary>A chat rendered with the model's template, ending with the assistant's turn opening.</summary>
    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages) =>
        Tokenizer.Encode(ChatPromptFormatter.Format(Tokenizer.ChatTemplate, messages, addGenerationPrompt: true), addBos: false).ToArray();
}
