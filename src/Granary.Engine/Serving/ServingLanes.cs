using Granary.Engine.Generation;
using Granary.Engine.Scheduling;

namespace Granary.Engine.Serving;

/// <summary>
/// A deployment's serving loops: one, or for a pipelined model several lanes over the same model (vLLM's
/// "virtual engines"). Each lane is a <see cref="ServingLoop"/> with its own engine, scheduler and thread, holding
/// its share of the limits (<see cref="SchedulerOptions.ShareOf"/>). With P stages and P lanes, stage s+1 runs one
/// lane's step while stage s runs the next lane's, where a single loop leaves every stage but one idle. A request
/// goes to the lane with the fewest open requests (another when that one's queue is full) and stays there.
/// </summary>
public sealed class ServingLanes : IDisposable
{
    readonly IReadOnlyList<ServingLoop> _lanes;

    /// <param name="engines">One engine per lane, all over the same model (which must allow concurrent steps when there are several).</param>
    public ServingLanes(IReadOnlyList<InferenceEngine> engines, string name, StepMetricLabels? metricLabels = null)
    {
        if (engines.Count == 0) throw new ArgumentException("a deployment needs at least one serving lane", nameof(engines));
        Engines = engines;
        _lanes = engines.Select((engine, i) => new ServingLoop(engine, engines.Count == 1 ? name : $"{name}-lane{i}", metricLabels)).ToList();
    }

    public IReadOnlyList<InferenceEngine> Engines { get; }

    public int Count => _lanes.Count;

    /// <summary>The lanes' loads added up (each as of its last step).</summary>
    public ServingLoad Load
    {
        get
        {
            var loads = _lanes.Select(l => l.Load).ToList();
            return new ServingLoad(loads.Sum(l => l.NumRunning), loads.Sum(l => l.NumWaiting), loads.Sum(l => l.KvTokensReserved));
        }
    }

    /// <summary>KV positions the lanes may reserve together.</summary>
    public long KvTokenBudget => _lanes.Select(l => l.KvTokenBudget).Aggregate(0L, (sum, b) => sum > long.MaxValue - b ? long.MaxValue : sum + b);

    /// <summary>
    /// Queues a request on the least busy lane: fails with <see cref="Abstractions.GranaryUserError"/> for bad
    /// input, and with <see cref="QueueFullException"/> only when every lane's queue is full.
    /// </summary>
    public async Task<ServingStream> SubmitAsync(GenerationRequest request)
    {
        if (_lanes.Count == 1) return await _lanes[0].SubmitAsync(request).ConfigureAwait(false);
        // NOTE: a lane counts a request from the moment it is submitted, so a burst of arrivals spreads over the lanes.
        foreach (var lane in _lanes.OrderBy(l => l.NumOpenRequests))
        {
            try
            {
                return await lane.SubmitAsync(request).ConfigureAwait(false);
            }
            catch (QueueFullException)
            {
                // try the next lane
            }
        }
        throw new QueueFullException(Engines.Sum(e => e.Scheduler.Options.MaxNumWaiting));
    }

    /// <summary>Ends every open stream of every lane with an "unavailable" error saying <paramref name="reason"/>.</summary>
    public void Stop(string reason)
    {
        foreach (var lane in _lanes) lane.BeginStop(reason); // all at once: none takes another step while another stops
        Dispose();
    }

    public void Dispose()
    {
        foreach (var lane in _lanes) lane.BeginStop();
        foreach (var lane in _lanes) lane.Dispose();
    }
}
