using System.Collections.Concurrent;
using Granary.Model.Sharding;
using static TorchSharp.torch;

namespace Granary.Grains.Sharding;

/// <summary>
/// Ranks of a stage on shard grains (tensor-parallel ranks on different silos, or a stage's sequence-parallel
/// shards): each exchange sends this rank's tensor to every peer shard grain as a <see cref="TensorPayload"/>
/// and waits for theirs, then combines all of them in rank order (so every rank computes bitwise the same sum
/// or concatenation). Tensors are matched by (step, call index): the layers of a stage call the collectives
/// in the same order on every rank. Exchanges block; they run on the shard's forward thread, never on a grain turn.
/// </summary>
public sealed class GrainTensorParallelGroup(int rank, IReadOnlyList<IShardGrain> peers, Device device, TimeSpan timeout) : ITensorParallelGroup, ISequenceParallelGroup
{
    readonly ConcurrentDictionary<(long Step, int Call), Mailbox> _mailboxes = new();
    long _stepId;
    int _callIndex;

    public int Rank => rank;

    public int Size => peers.Count;

    /// <summary>Bytes this rank has sent to peers (for `granary bench pp`).</summary>
    public long NumBytesSent { get; private set; }

    /// <summary>Called by the shard before each forward.</summary>
    public void BeginStep(long stepId)
    {
        _stepId = stepId;
        _callIndex = 0;
    }

    public Tensor AllReduceSum(Tensor partial) => Exchange(partial, parts => RankOrder.Sum(parts));

    public Tensor AllGather(Tensor part) => Exchange(part, parts => RankOrder.Gather(parts));

    /// <summary>Sends this rank's tensor to every peer, waits for theirs, and combines all of them in rank order.</summary>
    public TResult Exchange<TResult>(Tensor mine, Func<IReadOnlyList<Tensor>, TResult> combine)
    {
        var key = (_stepId, _callIndex++);
        var payload = TensorPayload.From(mine);
        var sends = peers.Select((peer, r) => r == rank ? Task.CompletedTask : peer.AcceptPartial(key.Item1, key.Item2, rank, payload)).ToArray();
        NumBytesSent += payload.NumBytes * (peers.Count - 1);
        var mailbox = _mailboxes.GetOrAdd(key, _ => new Mailbox(peers.Count));
        try
        {
            if (!mailbox.AllArrived.Wait(timeout))
                throw new TimeoutException($"rank {rank}: peers did not send their tensors within {timeout.TotalSeconds:F0} s (a shard's silo may have left)");
            Task.WaitAll(sends);
            return combine(Enumerable.Range(0, peers.Count).Select(r => r == rank ? mine : mailbox.Partials[r]!).ToArray());
        }
        finally
        {
            _mailboxes.TryRemove(key, out _);
            foreach (var received in mailbox.Partials) received?.Dispose();
        }
    }

    /// <summary>A peer's partial; may arrive before this rank reaches the same all-reduce.</summary>
    public void Accept(long stepId, int callIndex, int fromRank, TensorPayload partial)
    {
        var mailbox = _mailboxes.GetOrAdd((stepId, callIndex), _ => new Mailbox(peers.Count));
        mailbox.Partials[fromRank] = partial.ToTensor(device);
        mailbox.AllArrived.Signal();
    }

    sealed class Mailbox(int size)
    {
        public readonly Tensor?[] Partials = new Tensor?[size];
        public readonly CountdownEvent AllArrived = new(size - 1);
    }
}
