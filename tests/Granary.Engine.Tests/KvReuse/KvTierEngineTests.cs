using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.KvReuse;
using Granary.Engine.Scheduling;
using Granary.Engine.Tests.Generation;
using Granary.Model.Runtime;
using Granary.TestKit;
using static TorchSharp.torch;

namespace Granary.Engine.Tests.KvReuse;

/// <summary>The KV tier inside the engine, on a small synthesized fp32 model: restores are exact, returning programs go first.</summary>
public sealed class KvTierEngineTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>, IDisposable
{
    const int BlockSize = 8;
    static readonly SamplingParams Greedy = new() { Temperature = 0, MaxTokens = 8, IgnoreEos = true };
    readonly SimulatedClock _clock = new();
    readonly TempDirectory _cxlFolder = new();

    int[] Tokens(int count, int seed) => TinyModels.RandomTokens(count, fixture.Loaded.Config.VocabSize - 1, seed);

    KvTierManager NewTiers(KvTier lowest) => KvTierSetup.For(fixture.Loaded.Model, new KvReuseOptions
    {
        BlockSize = BlockSize,
        HostCapacityBlocks = lowest == KvTier.Host ? 64 : 0,
        CxlCapacityBlocks = lowest == KvTier.Cxl ? 64 : 0,
    }, _clock, new CxlMemory(Path: _cxlFolder.Path));

    InferenceEngine NewEngine(KvTierManager? tiers, SchedulerOptions? options = null) =>
        new(fixture.Loaded.Model, fixture.Loaded.Tokenizer, options ?? new SchedulerOptions(), kvTiers: tiers);

    static void RunToEnd(InferenceEngine engine)
    {
        for (int guard = 0; engine.HasWork; guard++)
        {
            Assert.True(guard < 10_000, "the engine did not finish");
            engine.Step();
        }
        engine.Scheduler.RemoveLeavers();
    }

    static Sequence Run(InferenceEngine engine, GenerationRequest request)
    {
        var sequence = engine.Submit(request);
        RunToEnd(engine);
        return sequence;
    }

    [Fact]
    public async Task An_idle_serving_loop_expires_pins_on_time_without_a_new_request()
    {
        using var tiers = NewTiers(KvTier.Host);
        using var loop = new Granary.Engine.Serving.ServingLoop(NewEngine(tiers));
        var turn = new GenerationRequest(Tokens(40, seed: 5), Greedy) { Tenant = "acme", Program = "idle", AwaitingTool = "search" };
        await foreach (var _ in (await loop.SubmitAsync(turn)).ReadAllAsync(CancellationToken.None))
        {
        }
        _clock.Advance(tiers.TtlFor("search", numTurns: 1) + TimeSpan.FromSeconds(1));
        // Nothing else is submitted: only the idle loop's timer can expire the pin.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (tiers.Cache.NumExpiredPins == 0 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(1, tiers.Cache.NumExpiredPins);
    }

    [Theory]
    [InlineData(KvTier.Host)]
    [InlineData(KvTier.Cxl)]
    public void A_turn_restored_from_a_lower_tier_gives_the_tokens_of_a_full_prefill(KvTier tier)
    {
        using var tiers = NewTiers(tier);
        var engine = NewEngine(tiers);
        int[] prompt = Tokens(40, seed: 1);
        var first = Run(engine, new GenerationRequest(prompt, Greedy) { Tenant = "acme", Program = "p", AwaitingTool = "search" });
        Assert.True(tiers.Cache.NumBlocks(KvTier.Device) > 0);
        tiers.Cache.FreeDeviceTokens(long.MaxValue, includePinned: true);
        Assert.Equal(0, tiers.Cache.NumBlocks(KvTier.Device));
        Assert.Equal(47 / BlockSize, tiers.Cache.NumBlocks(tier)); // KV of 40 prompt + 7 fed output tokens

        int[] nextPrompt = [.. prompt, .. first.OutputTokenIds, .. Tokens(10, seed: 2)];
        var reference = Run(NewEngine(null), new GenerationRequest(nextPrompt, Greedy));
        var second = Run(engine, new GenerationRequest(nextPrompt, Greedy) { Tenant = "acme", Program = "p" });

        Assert.Equal(reference.OutputTokenIds, second.OutputTokenIds);
        Assert.Equal(40, second.NumCachedPromptTokens);
        Assert.Equal(5, tiers.Cache.NumHits(tier));
        Assert.Equal(0, reference.NumCachedPromptTokens);
    }

    [Theory]
    [InlineData(KvTier.Host)]
    [InlineData(KvTier.Cxl)]
    public void Logits_after_a_restore_match_a_cache_that_never_left_the_device(KvTier tier)
    {
        var model = fixture.Loaded.Model;
        using var tiers = NewTiers(tier);
        int[] prompt = Tokens(37, seed: 3);
        using var never = model.NewCache(64);
        using var expected = model.Step([new StepInput(never, prompt)]);

        using (var first = model.NewCache(64))
        {
            model.Step([new StepInput(first, prompt[..32])]).Dispose();
            tiers.Cache.Insert("acme", null, prompt, first);
        }
        tiers.Cache.FreeDeviceTokens(long.MaxValue, includePinned: true);
        using var restored = model.NewCache(64);
        var matched = tiers.Cache.Match("acme", prompt, prompt.Length - 1);
        Assert.All(matched, b => Assert.Equal(tier, b.Tier));
        Assert.Equal(32, tiers.Cache.Restore(matched, restored));
        using var actual = model.Step([new StepInput(restored, prompt[32..])]);

        Assert.True(expected.allclose(actual, rtol: 0, atol: 1e-5), $"max |Δ| = {(expected - actual).abs().max().item<float>()}");
    }

    [Fact]
    public void A_program_returning_from_its_tool_is_admitted_before_a_newer_program()
    {
        var options = new SchedulerOptions { MaxNumRunningSequences = 1, MaxNumBatchedTokens = 64 };
        using var tiers = NewTiers(KvTier.Host);
        var (returning, newer) = AdmissionOrder(NewEngine(tiers, options));
        Assert.True(returning < newer, $"the returning program was admitted at step {returning}, the newer one at {newer}");

        var (plainReturning, plainNewer) = AdmissionOrder(NewEngine(null, options)); // request-level FCFS without the tier
        Assert.True(plainNewer < plainReturning);
    }

    // Steps at which the returning program's second turn and a newer program's first turn were admitted.
    (int Returning, int Newer) AdmissionOrder(InferenceEngine engine)
    {
        int[] system = Tokens(16, seed: 4);
        var old = Run(engine, new GenerationRequest([.. system, .. Tokens(4, 5)], Greedy) { Program = "old", AwaitingTool = "search" });
        _clock.Advance(TimeSpan.FromSeconds(1));
        engine.Submit(new GenerationRequest(Tokens(10, 6), Greedy)); // keeps the only running slot busy
        engine.Step();
        var newer = engine.Submit(new GenerationRequest([.. system, .. Tokens(4, 7)], Greedy) { Program = "new" });
        var returning = engine.Submit(new GenerationRequest([.. system, .. Tokens(4, 5), .. old.OutputTokenIds], Greedy) { Program = "old" });
        int? returningAt = null, newerAt = null;
        for (int step = 0; engine.HasWork; step++)
        {
            Assert.True(step < 1000, "the engine did not finish");
            engine.Step();
            if (returning.Cache is not null) returningAt ??= step;
            if (newer.Cache is not null) newerAt ??= step;
        }
        return (returningAt!.Value, newerAt!.Value);
    }

    [Fact]
    public void The_gap_until_a_program_returns_teaches_its_tool_duration_and_longer_programs_pin_longer()
    {
        using var tiers = NewTiers(KvTier.Host);
        var engine = NewEngine(tiers);
        Assert.Equal(TimeSpan.FromSeconds(5), tiers.TtlFor("compile", numTurns: 1)); // the default before any observation
        int[] prompt = Tokens(12, seed: 8);
        var turn = Run(engine, new GenerationRequest(prompt, Greedy) { Program = "p", AwaitingTool = "compile" });
        _clock.Advance(TimeSpan.FromSeconds(30));
        Run(engine, new GenerationRequest([.. prompt, .. turn.OutputTokenIds, 3], Greedy) { Program = "p", AwaitingTool = "compile" });

        Assert.Equal(1, tiers.Predictor.NumObservations("compile"));
        Assert.Equal(TimeSpan.FromSeconds(30), tiers.TtlFor("compile", numTurns: 1));
        Assert.Equal(TimeSpan.FromSeconds(37.5), tiers.TtlFor("compile", numTurns: 2));
        Assert.Equal(2, tiers.ProgramOf(null, "p")!.NumTurns);
        Assert.All(tiers.Cache.BlocksOn(KvTier.Device), b => Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromSeconds(37.5), b.PinnedUntil));
    }

    [Fact]
    public void Past_its_limit_the_manager_forgets_programs_idle_longer_than_any_pin_could_last()
    {
        using var tiers = new KvTierManager(BlockCaches.New(_clock, deviceBlocks: 8), _clock, maxRememberedPrograms: 2);
        var engine = NewEngine(tiers);
        Run(engine, new GenerationRequest(Tokens(6, 9), Greedy) { Program = "old" });
        _clock.Advance(2 * tiers.Cache.Options.MaxToolTtl + TimeSpan.FromSeconds(1));
        Run(engine, new GenerationRequest(Tokens(6, 10), Greedy) { Program = "recent" });
        Run(engine, new GenerationRequest(Tokens(6, 11), Greedy) { Program = "new" }); // the third: "old" goes

        Assert.Null(tiers.ProgramOf(null, "old"));
        Assert.NotNull(tiers.ProgramOf(null, "recent"));
        Assert.NotNull(tiers.ProgramOf(null, "new"));
    }

    public void Dispose() => _cxlFolder.Dispose();
}
