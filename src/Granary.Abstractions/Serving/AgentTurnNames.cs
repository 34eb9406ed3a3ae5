namespace Granary.Abstractions.Serving;

/// <summary>
/// The rule program and tool names follow wherever they come in (HTTP header, OpenAI <c>user</c>, gRPC field):
/// they key the KV tier's bookkeeping, so they are short and printable.
/// </summary>
public static class AgentTurnNames
{
    public const int MaxLength = 256;

    /// <summary>Null when <paramref name="value"/> is fine (or absent), else why not, naming <paramref name="field"/>.</summary>
    public static string? Problem(string? value, string field)
    {
        if (value is null) return null;
        if (value.Length == 0) return $"{field} is empty";
        if (value.Length > MaxLength) return $"{field} is {value.Length} characters; at most {MaxLength}";
        if (value.Any(char.IsControl)) return $"{field} holds a control character";
        return null;
    }
}
