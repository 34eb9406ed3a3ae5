using Granary.Abstractions.Serving;
using Microsoft.AspNetCore.Http;

namespace Granary.Server.Api.OpenAi;

/// <summary>
/// Which agent program an HTTP request is a turn of, and the tool it will call: header
/// <c>X-Granary-Program</c> (else the OpenAI <c>user</c> field) and header <c>X-Granary-Awaiting-Tool</c>.
/// </summary>
public sealed record AgentTurn(string? Program, string? AwaitingTool)
{
    public const string ProgramHeader = "X-Granary-Program";
    public const string AwaitingToolHeader = "X-Granary-Awaiting-Tool";

    public static AgentTurn Read(HttpRequest request, string? user) =>
        Read(HeaderValue(request, ProgramHeader), HeaderValue(request, AwaitingToolHeader), user);

    public static AgentTurn Read(string? programHeader, string? awaitingToolHeader, string? user)
    {
        var (program, field) = programHeader is not null ? (programHeader, ProgramHeader) : (user, "user");
        if (AgentTurnNames.Problem(program, field) is { } problem) throw OpenAiRequestException.Invalid(problem, field);
        if (AgentTurnNames.Problem(awaitingToolHeader, AwaitingToolHeader) is { } toolProblem)
            throw OpenAiRequestException.Invalid(toolProblem, AwaitingToolHeader);
        return new AgentTurn(program, awaitingToolHeader);
    }

    static string? HeaderValue(HttpRequest request, string name) =>
        request.Headers.TryGetValue(name, out var values) && values.Count > 0 ? values.ToString() : null;
}
