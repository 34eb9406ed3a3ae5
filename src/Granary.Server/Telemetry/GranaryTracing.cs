using System.Diagnostics;
using Granary.Abstractions.Serving;

namespace Granary.Server.Telemetry;

/// <summary>
/// The server's spans. A request's trace is ASP.NET Core's (or gRPC's) server span, then <c>generate</c> here
/// around its whole stream, then the Orleans grain-call spans to the router (Orleans activity propagation
/// carries the trace into the silo that hosts it). Tags use the OpenTelemetry GenAI conventions.
/// </summary>
public static class GranaryTracing
{
    public const string SourceName = "Granary.Server";

    /// <summary>Orleans' sources for grain calls (see <c>AddActivityPropagation</c>).</summary>
    public static readonly string[] OrleansSourceNames = ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application"];

    static readonly ActivitySource Source = new(SourceName);

    /// <summary>Null when nobody listens (no OTLP exporter), so an untraced request costs nothing.</summary>
    public static Activity? StartGenerate(CompletionRequest request)
    {
        var activity = Source.StartActivity($"generate {request.Model}", ActivityKind.Internal);
        activity?.SetTag("gen_ai.operation.name", "text_completion");
        activity?.SetTag("gen_ai.request.model", request.Model);
        activity?.SetTag("gen_ai.usage.input_tokens", request.PromptTokenIds.Length);
        return activity;
    }

    public static void RecordChunk(Activity? activity, CompletionChunk chunk)
    {
        if (activity is null) return;
        if (chunk.CompletionTokens == chunk.TokenIds.Length && chunk.TokenIds.Length > 0) activity.AddEvent(new ActivityEvent("first_token"));
        if (chunk.QueueTimeSeconds is { } queued) activity.SetTag("granary.queue_time_s", queued);
        if (chunk.Error is { } error)
        {
            activity.SetStatus(ActivityStatusCode.Error, error.Message);
            activity.SetTag("granary.error.kind", error.Kind.ToString());
        }
        else if (chunk.FinishReason is { } reason)
        {
            activity.SetTag("gen_ai.usage.output_tokens", chunk.CompletionTokens);
            activity.SetTag("gen_ai.response.finish_reasons", new[] { Granary.Abstractions.FinishReasonNames.ToWireName(reason) });
        }
    }
}
