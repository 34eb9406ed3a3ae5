using System.Text;

namespace Granary.Server.Tests.Reliability.Fuzz;

/// <summary>
/// Request bodies for the OpenAI endpoints, written as raw JSON text so they can hold what a serializer never
/// writes: numbers beyond every type (1e400, 20-digit integers), lone surrogate escapes, duplicate keys,
/// nesting far past any depth limit. Each body starts from a valid request and breaks one to three things.
/// </summary>
public static class FuzzJson
{
    static readonly string[] CompletionFields = ["model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "seed", "n", "stream",
        "stream_options", "stop", "logprobs", "repetition_penalty", "ignore_eos", "return_tokens_as_token_ids"];

    static readonly string[] ChatFields = ["model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "seed", "n",
        "stream", "stream_options", "stop", "logprobs", "top_logprobs", "repetition_penalty", "ignore_eos"];

    /// <summary>A valid request body, as a field → raw JSON value map (order kept).</summary>
    public static List<KeyValuePair<string, string>> ValidBody(Random random, bool chat, string model)
    {
        var body = new List<KeyValuePair<string, string>> { new("model", Quote(model)) };
        if (chat) body.Add(new("messages", """[{"role": "user", "content": "Hello there"}]"""));
        else body.Add(new("prompt", random.Next(3) switch { 0 => "\"Hello\"", 1 => "[1, 2, 3, 4]", _ => "[\"def f(x):\"]" }));
        body.Add(new("max_tokens", random.Next(1, 5).ToString()));
        if (random.Next(2) == 0) body.Add(new("temperature", "0"));
        if (random.Next(3) == 0) body.Add(new("stream", "true"));
        return body;
    }

    /// <summary>A body with one to three fields broken (or added, or removed).</summary>
    public static string Mutated(Random random, bool chat, string model)
    {
        var body = ValidBody(random, chat, model);
        string[] fields = chat ? ChatFields : CompletionFields;
        int mutations = random.Next(1, 4);
        for (int i = 0; i < mutations; i++)
        {
            switch (random.Next(6))
            {
                case 0 when body.Count > 0:
                    body.RemoveAt(random.Next(body.Count));
                    break;
                case 1:
                    body.Add(new($"unknown_{random.Next(1000)}", Value(random, depth: 0)));
                    break;
                case 2:
                    body.Add(new(fields[random.Next(fields.Length)], Value(random, depth: 0))); // a duplicate key, often
                    break;
                case 3 when chat:
                    Set(body, "messages", Messages(random));
                    break;
                case 3:
                    Set(body, "prompt", Prompt(random));
                    break;
                default:
                    Set(body, fields[random.Next(fields.Length)], Value(random, depth: 0));
                    break;
            }
        }
        return Write(body);
    }

    public static string Write(IEnumerable<KeyValuePair<string, string>> body) =>
        "{" + string.Join(", ", body.Select(f => $"{Quote(f.Key)}: {f.Value}")) + "}";

    static void Set(List<KeyValuePair<string, string>> body, string field, string value)
    {
        int at = body.FindIndex(f => f.Key == field);
        if (at >= 0) body[at] = new(field, value);
        else body.Add(new(field, value));
    }

    /// <summary>Any JSON value, biased to the edges: limits of every number type, odd strings, wrong shapes.</summary>
    public static string Value(Random random, int depth) => random.Next(24) switch
    {
        0 => "null",
        1 => "true",
        2 => "false",
        3 => "0",
        4 => "-1",
        5 => random.Next(-1000, 100000).ToString(),
        6 => int.MaxValue.ToString(),
        7 => int.MinValue.ToString(),
        8 => "99999999999999999999999",
        9 => "-9223372036854775809",
        10 => "1e400",
        11 => "-1e308",
        12 => "1e-400",
        13 => "0.5",
        14 => "-0.0",
        15 => Quote(""),
        16 => Quote(RandomText(random, random.Next(1, 40))),
        17 => "\"\\ud800\"", // a lone surrogate
        18 => "\"\\u0000\\u001f\"",
        19 => depth < 3 ? "[" + string.Join(", ", Enumerable.Range(0, random.Next(0, 4)).Select(_ => Value(random, depth + 1))) + "]" : "[]",
        20 => depth < 3 ? "{" + string.Join(", ", Enumerable.Range(0, random.Next(0, 3)).Select(i => $"\"k{i}\": {Value(random, depth + 1)}")) + "}" : "{}",
        21 => Deep(random.Next(60, 3000)),
        22 => "\"NaN\"",
        _ => Quote(new string('x', random.Next(100, 5000))),
    };

    static string Prompt(Random random) => random.Next(8) switch
    {
        0 => "[]",
        1 => "[-1, 0, 1]",
        2 => $"[{string.Join(",", Enumerable.Range(0, random.Next(1, 300)).Select(_ => random.Next(-10, 100000)))}]",
        3 => "[\"a\", \"b\"]",
        4 => "[1, \"a\", null]",
        5 => "[2147483648]",
        6 => Quote(RandomText(random, random.Next(0, 2000))),
        _ => Value(random, 0),
    };

    static string Messages(Random random) => random.Next(8) switch
    {
        0 => "[]",
        1 => "[null]",
        2 => """[{"role": "user"}]""",
        3 => """[{"content": "hi"}]""",
        4 => $$"""[{"role": {{Quote(RandomText(random, 5))}}, "content": "hi"}]""",
        5 => """[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]""",
        6 => $$"""[{"role": "user", "content": [{"type": "text", "text": {{Value(random, 1)}}}]}]""",
        _ => $$"""[{"role": "user", "content": {{Value(random, 0)}}}]""",
    };

    static string Deep(int depth) => new string('[', depth) + new string(']', depth);

    /// <summary>Text with a bit of everything: ASCII, accents, CJK, emoji, control characters, quotes and backslashes.</summary>
    public static string RandomText(Random random, int length)
    {
        const string pool = "abc xyz ABC 0123 éüñ 漢字 🙂🚀 \t\n\"\\/<>&";
        var text = new StringBuilder(length);
        for (int i = 0; i < length; i++) text.Append(pool[random.Next(pool.Length)]);
        // Splitting a surrogate pair leaves lone halves; JSON escaping keeps them as \uXXXX.
        return text.ToString();
    }

    public static string Quote(string text) => System.Text.Json.JsonSerializer.Serialize(text);
}
