namespace Granary.Grains.Sharding;

/// <summary>
/// Running totals of a sharded model's steps: stage calls, the time they took on the router's clock against
/// the shards' own forward time (the difference is the hop: messaging, serialization, queueing), and the
/// bytes of activations moved. Thread-safe; read by benchmarks and status.
/// </summary>
public sealed class ShardTraffic
{
    readonly object _lock = new();
    long _calls, _tokens, _steps, _bytesBetweenStages, _vocabularyBytes;
    double _callMs, _forwardMs;

    public void CountCall(double callMs, double forwardMs, long bytesToNextStage)
    {
        lock (_lock)
        {
            _calls++;
            _callMs += callMs;
            _forwardMs += forwardMs;
            _bytesBetweenStages += bytesToNextStage;
        }
    }

    /// <summary>Bytes to and from the vocabulary parts (partial embeddings in, hidden states out).</summary>
    public void CountVocabulary(long bytes)
    {
        lock (_lock) _vocabularyBytes += bytes;
    }

    public void CountStep(int numTokens)
    {
        lock (_lock)
        {
            _steps++;
            _tokens += numTokens;
        }
    }

    public ShardTrafficSnapshot Snapshot()
    {
        lock (_lock)
            return new ShardTrafficSnapshot(_steps, _tokens, _calls, _callMs, _forwardMs, _bytesBetweenStages, _vocabularyBytes);
    }
}

public sealed record ShardTrafficSnapshot(long Steps, long Tokens, long StageCalls, double CallMs, double ForwardMs, long BytesBetweenStages, long VocabularyBytes = 0)
{
    /// <summary>
    /// Mean router-observed time of a stage call beyond the shard's own forward: messaging, and where calls queue
    /// at a stage (serving lanes, micro-batches) the wait behind the call before.
    /// </summary>
    public double MeanHopMs => StageCalls == 0 ? 0 : (CallMs - ForwardMs) / StageCalls;

    /// <summary>Mean time of a shard's own forward per stage call.</summary>
    public double MeanForwardMs => StageCalls == 0 ? 0 : ForwardMs / StageCalls;

    /// <summary>Hidden-state bytes sent from one stage to the next, per token of the batch.</summary>
    public double BytesBetweenStagesPerToken => Tokens == 0 ? 0 : (double)BytesBetweenStages / Tokens;

    public ShardTrafficSnapshot Plus(ShardTrafficSnapshot other) => new(
        Steps + other.Steps, Tokens + other.Tokens, StageCalls + other.StageCalls, CallMs + other.CallMs,
        ForwardMs + other.ForwardMs, BytesBetweenStages + other.BytesBetweenStages, VocabularyBytes + other.VocabularyBytes);

    public ShardTrafficSnapshot Minus(ShardTrafficSnapshot earlier) => new(
        Steps - earlier.Steps, Tokens - earlier.Tokens, StageCalls - earlier.StageCalls, CallMs - earlier.CallMs,
        ForwardMs - earlier.ForwardMs, BytesBetweenStages - earlier.BytesBetweenStages, VocabularyBytes - earlier.VocabularyBytes);
}
