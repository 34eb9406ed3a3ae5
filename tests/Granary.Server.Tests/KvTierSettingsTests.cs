using Granary.Engine.KvReuse;
using Granary.Server.Hosting;
using Granary.Server.Tests.Support;
using Granary.TestKit;

namespace Granary.Server.Tests;

/// <summary>Granary:KvTier:* is checked before anything starts; each problem is one line naming the setting.</summary>
public sealed class KvTierSettingsTests(BadInputFixture models) : IClassFixture<BadInputFixture>
{
    static string? Problem(Action<KvTierServerOptions> set, long? kvCacheTokens = 4096)
    {
        var options = new KvTierServerOptions { Enabled = true };
        set(options);
        return options.Validate(kvCacheTokens);
    }

    [Fact]
    public void Each_bad_setting_is_named()
    {
        Assert.Contains("Granary:KvTier:BlockSize", Problem(o => o.BlockSize = 0));
        Assert.Contains("Granary:KvTier:CxlPath: /nowhere/cxl does not exist", Problem(o => { o.CxlBlocks = 4; o.CxlPath = "/nowhere/cxl"; }));
        Assert.Contains("Granary:KvTier:CxlNumaNode: NUMA node 4095", Problem(o => { o.CxlBlocks = 4; o.CxlNumaNode = 4095; }));
        Assert.Contains("Granary:KvTier:CxlBlocks", Problem(o => o.CxlBlocks = 4));
        Assert.Contains("Granary:KvTier:DeviceBlocks", Problem(o => o.DeviceBlocks = 100, kvCacheTokens: 64 * 16));
        Assert.Contains("Granary:KvTier:MaxTtlSeconds", Problem(o => o.MaxTtlSeconds = 1));
        Assert.Null(Problem(o => o.DeviceBlocks = 64, kvCacheTokens: 64 * 16));
        Assert.Contains("Granary:KvTier:DeviceBlocks or Granary:KvCacheTokens", Problem(_ => { }, kvCacheTokens: null)); // unbounded device memory
        Assert.Null(Problem(o => o.DeviceBlocks = 64, kvCacheTokens: null));
        Assert.Null(new KvTierServerOptions { CxlPath = "/nowhere" }.Validate(null)); // off: not looked at
    }

    [Fact]
    public void Settings_become_the_engines_options()
    {
        using var folder = new TempDirectory();
        var options = new KvTierServerOptions { Enabled = true, BlockSize = 32, HostBlocks = 10, CxlBlocks = 20, CxlPath = folder.Path, DefaultTtlSeconds = 3 };
        var engine = options.ToKvReuseOptions()!;
        Assert.Equal((32, int.MaxValue, 10, 20, TimeSpan.FromSeconds(3)),
            (engine.BlockSize, engine.DeviceCapacityBlocks, engine.HostCapacityBlocks, engine.CxlCapacityBlocks, engine.DefaultToolTtl));
        Assert.Equal(new CxlMemory(folder.Path), options.ToCxlMemory());
        Assert.Null(new KvTierServerOptions().ToKvReuseOptions());
    }

    [Fact]
    public void Serve_refuses_a_missing_cxl_path_with_one_line()
    {
        var result = GranaryProcess.Run(TimeSpan.FromSeconds(60), new Dictionary<string, string>
        {
            ["GRANARY__KVTIER__ENABLED"] = "true",
            ["GRANARY__KVTIER__DEVICEBLOCKS"] = "64",
            ["GRANARY__KVTIER__CXLBLOCKS"] = "8",
            ["GRANARY__KVTIER__CXLPATH"] = "/nowhere/cxl",
        }, "serve", "--model", models.ModelDir);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Granary:KvTier:CxlPath", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr + result.Stdout);
    }
}
