using Granary.TestKit;

namespace Granary.Server.Tests.Support;

/// <summary>Shape arguments of the tiny model every CLI test uses: fast to write, load and run.</summary>
public static class TinyModel
{
    public static readonly string[] Shape = ["--layers", "1", "--hidden", "32", "--heads", "2", "--vocab", "400"];

    /// <summary>`granary model synth --out DIR` with the tiny shape, a seed and extra flags (not shape flags).</summary>
    public static string Synth(string dir, long seed = 1, params string[] extra)
    {
        Cmd.Ok(["model", "synth", "--out", dir, .. Shape, "--seed", seed.ToString(), .. extra]);
        return dir;
    }

    /// <summary>`granary model synth --out DIR --layers 1 --hidden 32 --heads 2` plus the given flags.</summary>
    public static string SynthWith(string dir, params string[] flags)
    {
        Cmd.Ok(["model", "synth", "--out", dir, "--layers", "1", "--hidden", "32", "--heads", "2", .. flags]);
        return dir;
    }
}

/// <summary>One tiny model (seed 1) written by `granary model synth`, shared by a test class.</summary>
public sealed class TinyModelFixture : IDisposable
{
    readonly TempDirectory _root = new("granary-cli-tests");

    public TinyModelFixture()
    {
        ModelDir = TinyModel.Synth(_root.Combine("tiny"), seed: 1);
    }

    public string ModelDir { get; }

    /// <summary>A fresh sub-folder of this fixture's temp folder.</summary>
    public string NewDir(string name) => _root.Combine($"{name}-{Guid.NewGuid():N}");

    public void Dispose() => _root.Dispose();
}
