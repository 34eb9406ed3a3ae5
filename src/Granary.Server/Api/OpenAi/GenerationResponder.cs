using Granary.Abstractions.Serving;
using Granary.Server.Api.Limits;
using Granary.Server.Serving;
using Microsoft.AspNetCore.Http;

namespace Granary.Server.Api.OpenAi;

/// <summary>Runs a <see cref="GenerationPlan"/> against its deployment and turns the outcome into a response.</summary>
public static class GenerationResponder
{
    /// <summary>
    /// The request's deadline token (cancelled when the client leaves or the server's request timeout passes)
    /// travels to the router, so either stops its sequence (and frees its KV) at the next step.
    /// </summary>
    public static async Task<IResult> RespondAsync(HttpContext http, ModelGateway gateway, GenerationPlan plan)
    {
        var deadline = AdmissionEndpointFilter.DeadlineOf(http);
        var cancellationToken = deadline.Token;
        var output = gateway.Generate(plan.Request, cancellationToken);
        var (run, refusal) = await GenerationRun.StartAsync(output, plan.Request.Model, cancellationToken);
        if (refusal is not null) return refusal.ToResult();
        if (plan.Stream) return new ServerSentEventsResult(run!, plan.Shape, plan.IncludeUsage, deadline);
        await using (run)
        {
            var outcome = await GenerationOutcome.CollectAsync(run!, cancellationToken);
            return outcome.Error is { } error
                ? OpenAiError.FromServing(error).ToResult()
                : Results.Json(plan.Shape.Response(outcome), OpenAiJson.Options);
        }
    }
}
