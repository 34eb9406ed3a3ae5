using System.Net;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests.Api;

/// <summary>
/// Client mistakes and refusals: each gets its HTTP status and an OpenAI error body naming the field at
/// fault; none is a 500 or carries a stack trace.
/// </summary>
[Collection(GranaryClusterCollection.Name)]
public sealed class BadRequestApiTests(GranaryClusterFixture cluster)
{
    const string Model = GranaryClusterFixture.ModelName;
    const string Completions = "/v1/completions";
    const string Chat = "/v1/chat/completions";

    /// <summary>A valid request to <paramref name="path"/> with <paramref name="fields"/> added (later keys win in System.Text.Json).</summary>
    static string Body(string path, string fields)
    {
        string prompt = path == Completions ? "\"prompt\": \"Hello\"" : "\"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]";
        return $$"""{"model": "{{Model}}", {{prompt}}, "max_tokens": 4{{(fields.Length > 0 ? ", " + fields : "")}}}""";
    }

    /// <summary>Sampling fields both endpoints share: the bad value, and the param the error must name.</summary>
    public static TheoryData<string, string, string> BadSamplingFields()
    {
        var data = new TheoryData<string, string, string>();
        (string Fields, string Param)[] cases =
        [
            ("\"temperature\": -0.5", "temperature"),
            ("\"temperature\": \"hot\"", "temperature"),
            ("\"top_p\": 0", "top_p"),
            ("\"top_p\": 1.5", "top_p"),
            ("\"max_tokens\": 0", "max_tokens"),
            ("\"max_tokens\": -3", "max_tokens"),
            ("\"max_tokens\": 2.5", "max_tokens"),
            ("\"n\": 2", "n"),
            ("\"n\": 0", "n"),
            ("\"top_k\": -2", "top_k"),
            ("\"repetition_penalty\": 0", "repetition_penalty"),
            ("\"seed\": \"abc\"", "seed"),
            ("\"stop\": 5", "stop"),
            ("\"stop\": [\"ok\", 7]", "stop"),
            ("\"stop\": \"\"", "stop"),
            ("\"stream\": \"yes\"", "stream"),
            ("\"ignore_eos\": 1", "ignore_eos"),
        ];
        foreach (string path in new[] { Completions, Chat })
            foreach (var (fields, param) in cases)
                data.Add(path, fields, param);
        return data;
    }

    [Theory]
    [MemberData(nameof(BadSamplingFields))]
    public async Task BadSamplingField_400NamingIt(string path, string fields, string param)
    {
        var reply = await cluster.Http.PostRawAsync(path, Body(path, fields));
        OpenAiHttp.AssertError(reply, HttpStatusCode.BadRequest, param, type: "invalid_request_error");
    }

    [Theory]
    [InlineData("\"logprobs\": 21", "logprobs")]
    [InlineData("\"logprobs\": -1", "logprobs")]
    [InlineData("\"logprobs\": true", "logprobs")]
    [InlineData("\"prompt\": null", "prompt")]
    [InlineData("\"prompt\": {\"text\": \"Hello\"}", "prompt")]
    [InlineData("\"prompt\": []", "prompt")]
    [InlineData("\"prompt\": [\"one\", \"two\"]", "prompt")]
    [InlineData("\"prompt\": [1, \"two\"]", "prompt")]
    [InlineData("\"prompt\": [99999]", "prompt")]
    [InlineData("\"prompt\": [-1]", "prompt")]
    public async Task Completions_BadField_400NamingIt(string fields, string param)
    {
        var reply = await cluster.Http.PostRawAsync(Completions, Body(Completions, fields));
        OpenAiHttp.AssertError(reply, HttpStatusCode.BadRequest, param, type: "invalid_request_error");
    }

    [Theory]
    [InlineData("\"messages\": null", "messages")]
    [InlineData("\"messages\": []", "messages")]
    [InlineData("\"messages\": \"Hello\"", "messages")]
    [InlineData("\"messages\": [{\"content\": \"Hello\"}]", "messages[0].role")]
    [InlineData("\"messages\": [{\"role\": 7, \"content\": \"Hello\"}]", "messages[0].role")]
    [InlineData("\"messages\": [{\"role\": \"user\", \"content\": 7}]", "messages[0].content")]
    [InlineData("\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}]", "messages[0].content")]
    [InlineData("\"messages\": [{\"role\": \"user\", \"content\": [{\"text\": \"no type\"}]}]", "messages[0].content")]
    [InlineData("\"logprobs\": \"yes\"", "logprobs")]
    [InlineData("\"logprobs\": true, \"top_logprobs\": 21", "top_logprobs")]
    [InlineData("\"logprobs\": true, \"top_logprobs\": -1", "top_logprobs")]
    [InlineData("\"top_logprobs\": 2", "top_logprobs")]
    [InlineData("\"max_completion_tokens\": 0", "max_completion_tokens")]
    public async Task Chat_BadField_400NamingIt(string fields, string param)
    {
        var reply = await cluster.Http.PostRawAsync(Chat, Body(Chat, fields));
        OpenAiHttp.AssertError(reply, HttpStatusCode.BadRequest, param, type: "invalid_request_error");
    }

    [Theory]
    [InlineData(Completions)]
    [InlineData(Chat)]
    public async Task MalformedJson_400WithoutParam(string path)
    {
        foreach (string body in new[] { "{\"model\": ", "not json", "[1, 2]", "null", "" })
            OpenAiHttp.AssertError(await cluster.Http.PostRawAsync(path, body), HttpStatusCode.BadRequest, param: null, type: "invalid_request_error");
    }

    [Theory]
    [InlineData(Completions)]
    [InlineData(Chat)]
    public async Task UnknownModel_404ModelNotFound(string path)
    {
        var reply = await cluster.Http.PostRawAsync(path, Body(path, "\"model\": \"no-such-model\""));
        var error = OpenAiHttp.AssertError(reply, HttpStatusCode.NotFound, "model", "model_not_found");
        Assert.Contains("no-such-model", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(Completions)]
    [InlineData(Chat)]
    public async Task MissingModel_400NamingIt(string path)
    {
        string body = Body(path, "").Replace($"\"model\": \"{Model}\", ", "");
        OpenAiHttp.AssertError(await cluster.Http.PostRawAsync(path, body), HttpStatusCode.BadRequest, "model");
    }

    [Fact]
    public async Task PromptAsLongAsTheContext_400ContextLengthExceeded()
    {
        string ids = "[" + string.Join(",", Enumerable.Repeat(5, GranaryClusterFixture.ContextLength)) + "]";
        var reply = await cluster.Http.PostRawAsync(Completions, Body(Completions, $"\"prompt\": {ids}"));
        OpenAiHttp.AssertError(reply, HttpStatusCode.BadRequest, "prompt", "context_length_exceeded");

        // One token shorter fits, and max_tokens beyond the context is clamped rather than refused.
        string shorter = "[" + string.Join(",", Enumerable.Repeat(5, GranaryClusterFixture.ContextLength - 1)) + "]";
        var fits = (await cluster.Http.PostRawAsync(Completions, Body(Completions, $"\"prompt\": {shorter}, \"max_tokens\": 100, \"ignore_eos\": true"))).Ok();
        Assert.Equal("length", OpenAiHttp.FinishReason(fits));
        Assert.Equal(1, fits.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task ChatLongerThanTheContext_400ContextLengthExceeded()
    {
        string longText = string.Concat(Enumerable.Repeat("hello world ", GranaryClusterFixture.ContextLength));
        var reply = await cluster.Http.PostRawAsync(Chat, Body(Chat, $"\"messages\": [{{\"role\": \"user\", \"content\": \"{longText}\"}}]"));
        OpenAiHttp.AssertError(reply, HttpStatusCode.BadRequest, "messages", "context_length_exceeded");
    }

    [Theory]
    [InlineData(Completions, false)]
    [InlineData(Chat, true)]
    public async Task QueueFull_429(string path, bool stream)
    {
        string body = Body(path, $"\"model\": \"{GranaryClusterFixture.FullModelName}\", \"stream\": {(stream ? "true" : "false")}");
        OpenAiHttp.AssertError(await cluster.Http.PostRawAsync(path, body), HttpStatusCode.TooManyRequests, param: null, type: "rate_limit_error");
    }

    [Fact]
    public async Task DeploymentUnavailable_503()
    {
        string body = Body(Completions, $"\"model\": \"{GranaryClusterFixture.GhostModelName}\"");
        var error = OpenAiHttp.AssertError(await cluster.Http.PostRawAsync(Completions, body), HttpStatusCode.ServiceUnavailable, param: null);
        Assert.Contains(GranaryClusterFixture.GhostModelName, error.GetProperty("message").GetString());
    }
}
