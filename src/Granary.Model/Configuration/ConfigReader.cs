using System.Text.Json.Nodes;
using Granary.Abstractions;

namespace Granary.Model.Configuration;

/// <summary>Typed access to a JSON config object with errors that name the file and the key.</summary>
internal sealed class ConfigReader(JsonObject json, string path)
{
    public int RequiredInt(string key) => OptionalInt(key) ?? throw Missing(key);

    public double RequiredDouble(string key) => OptionalDouble(key) ?? throw Missing(key);

    public int? OptionalInt(string key) => Read(key, n => n.GetValue<int>());

    public double? OptionalDouble(string key) => Read(key, n => n.GetValue<double>());

    public bool? OptionalBool(string key) => Read(key, n => n.GetValue<bool>());

    /// <summary>HF allows <c>eos_token_id</c> to be a single id or a list of ids.</summary>
    public IReadOnlyList<int> IntOrIntList(string key)
    {
        JsonNode? node = json[key];
        if (node is null) return [];
        if (node is JsonArray array) return array.Select(n => Convert(key, n!, v => v.GetValue<int>())).ToList();
        return [Convert(key, node, v => v.GetValue<int>())];
    }

    T? Read<T>(string key, Func<JsonNode, T> get) where T : struct
    {
        JsonNode? node = json[key];
        return node is null ? null : Convert(key, node, get);
    }

    T Convert<T>(string key, JsonNode node, Func<JsonNode, T> get)
    {
        try
        {
            return get(node);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new GranaryUserError($"{path}: \"{key}\" has the wrong type ({node.ToJsonString()}), expected {typeof(T).Name}");
        }
    }

    GranaryUserError Missing(string key) => new($"{path}: missing \"{key}\"");
}
