namespace Granary.Model.Tokenization;

/// <summary>One turn of a chat: Role is "system", "user" or "assistant".</summary>
public sealed record ChatMessage(string Role, string Content);
