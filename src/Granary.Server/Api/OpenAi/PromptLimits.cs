using Granary.Server.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>Checks every prompt must pass before it is sent to a deployment.</summary>
public static class PromptLimits
{
    /// <summary>Not empty, within the vocabulary, and shorter than the context (the reply needs at least one position).</summary>
    public static void Check(int[] ids, ModelFrontend model, string param)
    {
        if (ids.Length == 0) throw OpenAiRequestException.Invalid("The prompt is empty", param);
        int vocab = model.Config.VocabSize;
        foreach (int id in ids)
            if (id < 0 || id >= vocab)
                throw OpenAiRequestException.Invalid($"Token id {id} is outside the model's vocabulary (0..{vocab - 1})", param);
        if (ids.Length >= model.ContextLength)
            throw OpenAiRequestException.Invalid(
                $"This model's maximum context length is {model.ContextLength} tokens, but the prompt has {ids.Length} tokens; shorten it",
                param, "context_length_exceeded");
    }
}
