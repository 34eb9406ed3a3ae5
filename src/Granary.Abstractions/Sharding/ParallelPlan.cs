using System.Globalization;

namespace Granary.Abstractions.Sharding;

/// <summary>
/// How one deployment's model is cut into shards: <see cref="PipelineStages"/> contiguous layer ranges, each
/// split over <see cref="TensorParallelRanks"/> ranks (attention heads and MLP columns, Megatron-style), and
/// the embedding and LM head split into <see cref="VocabParts"/> equal vocabulary ranges spread over those
/// shards (vocabulary parallelism; parts beyond the layer shards get shards of their own), and each stage
/// replicated over <see cref="SequenceShards"/> shards that each hold a share of every sequence's positions
/// and KV (sequence parallelism).
/// Written as <c>pp=P,tp=T,vp=V,sp=S</c> on the command line and in configuration; <c>none</c> (or empty) is one shard.
/// </summary>
public sealed record ParallelPlan(int PipelineStages = 1, int TensorParallelRanks = 1, int VocabParts = 1, int SequenceShards = 1)
{
    public static readonly ParallelPlan Single = new();

    /// <summary>Shards that hold decoder layers (each may also hold one vocabulary part).</summary>
    public int NumLayerShards => PipelineStages * TensorParallelRanks * SequenceShards;

    public bool IsSequenceParallel => SequenceShards > 1;

    /// <summary>Shards that hold only a vocabulary part: the parts the layer shards cannot take.</summary>
    public int NumVocabOnlyShards => Math.Max(0, VocabParts - NumLayerShards);

    /// <summary>Device slots the plan needs.</summary>
    public int NumShards => NumLayerShards + NumVocabOnlyShards;

    public bool IsVocabParallel => VocabParts > 1;

    public bool IsSingle => NumShards == 1;

    /// <summary>Parses <c>pp=P,tp=T</c> (either part optional, any order). <paramref name="source"/> names the flag or setting in errors.</summary>
    public static ParallelPlan Parse(string? text, string source = "--plan")
    {
        if (string.IsNullOrWhiteSpace(text) || text.Trim().Equals("none", StringComparison.OrdinalIgnoreCase)) return Single;
        int pp = 1, tp = 1, vp = 1, sp = 1;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string[] pair = part.Split('=', 2, StringSplitOptions.TrimEntries);
            string key = pair[0].ToLowerInvariant();
            if (pair.Length != 2 || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < 1)
                throw new GranaryUserError($"{source}: \"{part}\" is not KEY=N with N >= 1 (expected e.g. pp=2,tp=2)");
            if (!seen.Add(key)) throw new GranaryUserError($"{source}: \"{key}\" is given twice");
            switch (key)
            {
                case "pp": pp = value; break;
                case "tp": tp = value; break;
                case "vp": vp = value; break;
                case "sp": sp = value; break;
                default: throw new GranaryUserError($"{source}: unknown dimension \"{key}\" (supported: pp, tp, vp, sp)");
            }
        }
        return new ParallelPlan(pp, tp, vp, sp);
    }

    public override string ToString()
    {
        if (IsSingle) return "none";
        var parts = new List<string>();
        if (PipelineStages > 1) parts.Add($"pp={PipelineStages}");
        if (TensorParallelRanks > 1) parts.Add($"tp={TensorParallelRanks}");
        if (VocabParts > 1) parts.Add($"vp={VocabParts}");
        if (SequenceShards > 1) parts.Add($"sp={SequenceShards}");
        return string.Join(',', parts);
    }
}
