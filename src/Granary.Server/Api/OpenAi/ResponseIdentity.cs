namespace Granary.Server.Api.OpenAi;

/// <summary>Identity of one response, repeated on each of its chunks.</summary>
public sealed record ResponseIdentity(string Id, long Created, string Model, bool TokensAsIds)
{
    public static ResponseIdentity New(string idPrefix, string model, bool tokensAsIds) =>
        new($"{idPrefix}-{Guid.NewGuid():N}", DateTimeOffset.UtcNow.ToUnixTimeSeconds(), model, tokensAsIds);
}
