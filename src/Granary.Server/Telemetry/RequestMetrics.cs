using System.Diagnostics;
using Granary.Abstractions;
using Granary.Abstractions.Serving;

namespace Granary.Server.Telemetry;

/// <summary>
/// Times one request from the moment the API hands it to the cluster: the first chunk with tokens gives the
/// time to first token (and the router's queue time, which rides on it), each later chunk an inter-token
/// interval, the last chunk the end-to-end latency and the finish reason. Tokens are counted as they stream,
/// so a scrape during a long generation already sees them.
/// </summary>
public sealed class RequestMetrics
{
    readonly ServingMetrics _metrics;
    readonly KeyValuePair<string, object?> _model;
    readonly long _startedAt = Stopwatch.GetTimestamp();
    long _lastChunkAt;
    bool _hasTokens;

    internal RequestMetrics(ServingMetrics metrics, string model)
    {
        _metrics = metrics;
        _model = ServingMetrics.ModelTag(model);
    }

    public void Observe(CompletionChunk chunk)
    {
        long now = Stopwatch.GetTimestamp();
        if (chunk.Error is { } error)
        {
            _metrics.RequestFailures.Add(1, _model, new("kind", error.Kind.ToString()));
            return;
        }
        if (!_hasTokens)
        {
            _hasTokens = true;
            _metrics.TimeToFirstToken.Record(Stopwatch.GetElapsedTime(_startedAt, now).TotalSeconds, _model);
            _metrics.PromptTokens.Add(chunk.PromptTokens, _model);
            if (chunk.QueueTimeSeconds is { } queued) _metrics.QueueTime.Record(queued, _model);
        }
        else
        {
            _metrics.InterTokenLatency.Record(Stopwatch.GetElapsedTime(_lastChunkAt, now).TotalSeconds, _model);
        }
        _lastChunkAt = now;
        _metrics.GenerationTokens.Add(chunk.TokenIds.Length, _model);
        if (chunk.FinishReason is { } reason)
        {
            _metrics.EndToEndLatency.Record(Stopwatch.GetElapsedTime(_startedAt, now).TotalSeconds, _model);
            _metrics.RequestSuccess.Add(1, _model, new("finished_reason", reason.ToWireName()));
        }
    }
}
