using System.Collections.Concurrent;
using Granary.Model.Configuration;
using Granary.Model.KvCache;
using Granary.Model.Runtime;
using static TorchSharp.torch;

namespace Granary.Grains.Sharding;

/// <summary>
/// A model whose shards are grains, as the router's engine sees it: one step sends the step's layout to every
/// rank of stage 0, then stage 0's output to stage 1, and so on; the last stage's rank 0 returns the logits.
/// Blocking by design: the engine calls it from its serving thread, never from a grain turn.
/// </summary>
public sealed class GrainShardedCausalLm(ModelConfig config, IReadOnlyList<IReadOnlyList<IShardGrain>> stages, long numWeightBytes) : ICausalLm
{
    readonly ConcurrentQueue<long> _released = new();
    long _nextSequenceId;
    long _nextStepId;

    public ModelConfig Config { get; } = config;

    public long NumWeightBytes { get; } = numWeightBytes;

    /// <summary>Bytes of activations sent between stages so far (the hidden states of every hop).</summary>
    public long NumBytesBetweenStages { get; private set; }

    public IKvCache NewCache(int capacity) =>
        new RemoteKvCache(Interlocked.Increment(ref _nextSequenceId), capacity, _released.Enqueue);

    public Tensor Step(IReadOnlyList<StepInput> inputs)
    {
        StepInput.CheckAll(inputs);
        var caches = inputs.Select(i => i.Cache as RemoteKvCache
            ?? throw new ArgumentException("every input of a sharded step needs a cache this model made")).ToList();
        var layout = StepLayout.Of(inputs);
        var segments = inputs.Select((input, i) => new ShardSegment(caches[i].SequenceId, input.TokenIds.Count, caches[i].Length, caches[i].Capacity)).ToArray();
        var released = new List<long>();
        while (_released.TryDequeue(out long id)) released.Add(id);
        long stepId = Interlocked.Increment(ref _nextStepId);

        using var ids = tensor(layout.TokenIds, int64);
        var payload = TensorPayload.From(ids);
        for (int stage = 0; stage < stages.Count; stage++)
        {
            var request = new ShardStepRequest(stepId, payload, layout.Positions, layout.LogitRows, segments, released.ToArray());
            TensorPayload?[] outputs;
            try
            {
                outputs = Task.WhenAll(stages[stage].Select(rank => rank.Forward(request))).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException)
            {
                throw new ModelUnavailableException($"a shard of stage {stage} is unreachable ({e.Message})", e);
            }
            payload = outputs[0] ?? throw new InvalidOperationException("rank 0 of a stage returned no output");
            if (stage < stages.Count - 1) NumBytesBetweenStages += payload.NumBytes;
        }
        for (int i = 0; i < caches.Count; i++) caches[i].Advance(inputs[i].TokenIds.Count);
        using var logits = payload.ToTensor(CPU);
        return logits.to(float32);
    }

    public void Dispose()
    {
    }
}
