using Granary.Abstractions;
using Granary.Engine.Speculation;
using Granary.Model.KvCache;
using Granary.Model.Sampling;
using Granary.Model.Tokenization;

namespace Granary.Engine.Generation;

/// <summary>
/// One request in flight: its KV cache (once admitted), its sampler, the tokens it has produced and the
/// text they decode to. Knows which tokens its next step feeds, and decides by itself when it is finished
/// (EOS, stop string, max tokens, full context).
/// </summary>
public sealed class Sequence : IDisposable
{
    readonly List<int> _outputTokenIds = [];
    readonly IncrementalDecoder _decoder;
    readonly StopStringMatcher _stopMatcher;
    readonly IReadOnlySet<int> _eosTokenIds;
    readonly System.Text.StringBuilder _text = new();

    public Sequence(long id, GenerationRequest request, int maxTotalTokens, TextTokenizer tokenizer, IReadOnlySet<int> eosTokenIds)
    {
        Id = id;
        QueueOrder = id;
        Request = request;
        MaxTotalTokens = maxTotalTokens;
        Sampler = new SequenceSampler(request.Sampling, request.PromptTokenIds);
        _decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        _stopMatcher = new StopStringMatcher(request.Sampling.Stop);
        _eosTokenIds = request.Sampling.IgnoreEos ? new HashSet<int>() : eosTokenIds;
    }

    /// <summary>Engine-wide id, in submission order.</summary>
    public long Id { get; }

    /// <summary>Where it queues: its program's first arrival (program-level FCFS), or its own <see cref="Id"/>.</summary>
    public long QueueOrder { get; internal set; }

    /// <summary>Prompt positions restored from the KV tier instead of computed (0 without reuse).</summary>
    public int NumCachedPromptTokens { get; internal set; }

    public GenerationRequest Request { get; }

    /// <summary>Prompt plus output may not exceed this: min(context, prompt + max_tokens). Also the KV capacity it needs.</summary>
    public int MaxTotalTokens { get; }

    /// <summary>Null until the scheduler admits the sequence and gives it KV space.</summary>
    public IKvCache? Cache { get; private set; }

    /// <summary>Prompt tokens not yet in the KV cache (chunked prefill works through them).</summary>
    public int NumPromptTokensToPrefill => Request.PromptTokenIds.Count - Math.Min(Cache?.Length ?? 0, Request.PromptTokenIds.Count);

    public bool IsPrefilling => _outputTokenIds.Count == 0 && NumPromptTokensToPrefill > 0;

    public bool IsCancelled { get; private set; }

    public SequenceSampler Sampler { get; }

    public IReadOnlyList<int> OutputTokenIds => _outputTokenIds;

    public FinishReason? FinishReason { get; private set; }

    /// <summary>How long the sequence waited between submission and admission (null while it still waits); for metrics.</summary>
    public TimeSpan? QueueTime { get; private set; }

    readonly long _submittedAt = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>Its draft cache and acceptance history while it speculates; null when it decodes plainly.</summary>
    public SequenceSpeculation? Speculation { get; private set; }

    /// <summary>Prompt plus output tokens so far.</summary>
    public int NumTokens => Request.PromptTokenIds.Count + _outputTokenIds.Count;

    /// <summary>Tokens it may still produce before reaching <see cref="MaxTotalTokens"/>.</summary>
    public int NumRemainingTokens => MaxTotalTokens - NumTokens;

    /// <summary>Token <paramref name="index"/> of prompt + output.</summary>
    public int TokenAt(int index) =>
        index < Request.PromptTokenIds.Count ? Request.PromptTokenIds[index] : _outputTokenIds[index - Request.PromptTokenIds.Count];

    internal void AttachSpeculation(SequenceSpeculation speculation)
    {
        if (Speculation is not null) throw new InvalidOperationException("the sequence already speculates");
        Speculation = speculation;
    }

    /// <summary>Frees the draft cache (memory got tight); the sequence decodes plainly until it gets a new one.</summary>
    internal SequenceSpeculation? DetachSpeculation()
    {
        var speculation = Speculation;
        Speculation = null;
        speculation?.Dispose();
        return speculation;
    }

    internal void AttachCache(IKvCache cache)
    {
        if (Cache is not null) throw new InvalidOperationException("the sequence already has a KV cache");
        Cache = cache;
        QueueTime = System.Diagnostics.Stopwatch.GetElapsedTime(_submittedAt);
    }

    /// <summary>The next prompt chunk of at most <paramref name="maxTokens"/> tokens, while prefilling.</summary>
    internal int[] NextPromptChunk(int maxTokens)
    {
        int start = Cache?.Length ?? 0;
        return Request.PromptTokenIds.Skip(start).Take(Math.Min(maxTokens, NumPromptTokensToPrefill)).ToArray();
    }

    internal void Cancel() => IsCancelled = true;

    public bool IsFinished => FinishReason is not null;

    /// <summary>The token the next decode step feeds in.</summary>
    public int LastTokenId => _outputTokenIds.Count > 0 ? _outputTokenIds[^1] : Request.PromptTokenIds[^1];

    /// <summary>Records a sampled token and returns the text it makes safe to emit (possibly empty).</summary>
    public string Append(int tokenId)
    {
        if (IsFinished) throw new InvalidOperationException("the sequence is already finished");
        _outputTokenIds.Add(tokenId);
        Sampler.Accept(tokenId);
        string emitted;
        if (_eosTokenIds.Contains(tokenId))
        {
            FinishReason = Abstractions.FinishReason.Stop;
            emitted = _stopMatcher.Append(_decoder.Flush()) + _stopMatcher.Flush();
        }
        else
        {
            emitted = _stopMatcher.Append(_decoder.Push(tokenId));
            if (_stopMatcher.IsStopped) FinishReason = Abstractions.FinishReason.Stop;
            else if (Request.PromptTokenIds.Count + _outputTokenIds.Count >= MaxTotalTokens)
                FinishReason = Abstractions.FinishReason.Length;
            if (FinishReason == Abstractions.FinishReason.Length)
                emitted += _stopMatcher.Append(_decoder.Flush()) + _stopMatcher.Flush();
        }
        _text.Append(emitted);
        return emitted;
    }

    public GenerationResult ToResult() => new(
        _text.ToString(), _outputTokenIds.ToList(), Request.PromptTokenIds.Count,
        FinishReason ?? throw new InvalidOperationException("the sequence is not finished"), Sampler.Seed);

    public void Dispose()
    {
        if (_isDisposed) return;
        _isDisposed = true;
        Cache?.Dispose();
        Speculation?.Dispose();
        Sampler.Dispose();
    }

    bool _isDisposed;
}
