using Granary.Abstractions;
using Granary.Model.KvCache;
using Granary.Model.Sampling;
using Granary.Model.Tokenization;

namespace Granary.Engine.Generation;

/// <summary>
/// One request in flight: its KV cache, its sampler, the tokens it has produced and the text they decode to.
/// Decides by itself when it is finished (EOS, stop string, max tokens, full context).
/// </summary>
public sealed class Sequence : IDisposable
{
    readonly List<int> _outputTokenIds = [];
    readonly IncrementalDecoder _decoder;
    readonly StopStringMatcher _stopMatcher;
    readonly IReadOnlySet<int> _eosTokenIds;
    readonly System.Text.StringBuilder _text = new();

    public Sequence(int index, GenerationRequest request, SequenceKvCache cache, TextTokenizer tokenizer, IReadOnlySet<int> eosTokenIds)
    {
        Index = index;
        Request = request;
        Cache = cache;
        Sampler = new SequenceSampler(request.Sampling, request.PromptTokenIds);
        _decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        _stopMatcher = new StopStringMatcher(request.Sampling.Stop);
        _eosTokenIds = request.Sampling.IgnoreEos ? new HashSet<int>() : eosTokenIds;
    }

    /// <summary>Position of this request in its batch.</summary>
    public int Index { get; }

    public GenerationRequest Request { get; }

    public SequenceKvCache Cache { get; }

    public SequenceSampler Sampler { get; }

    public IReadOnlyList<int> OutputTokenIds => _outputTokenIds;

    public FinishReason? FinishReason { get; private set; }

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
            // The cache was sized min(context, prompt + max_tokens): reaching it is running out of either.
            else if (Request.PromptTokenIds.Count + _outputTokenIds.Count >= Cache.Capacity)
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
        Cache.Dispose();
        Sampler.Dispose();
    }
}
