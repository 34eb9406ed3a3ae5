using System.Text.Json.Nodes;
using Granary.Model.Configuration;

namespace Granary.Model.Training;

/// <summary>One trained model of the pair: where it went, its shape and cost, its training and held-out score.</summary>
public sealed record TrainedModelReport(string Directory, ModelConfig Config, double ForwardFlopsPerToken,
    TrainingResult Training, HeldOutScore HeldOut)
{
    public JsonObject ToJson() => new()
    {
        ["dir"] = Directory,
        ["layers"] = Config.NumLayers,
        ["hidden"] = Config.HiddenSize,
        ["heads"] = Config.NumHeads,
        ["kv_heads"] = Config.NumKvHeads,
        ["intermediate"] = Config.IntermediateSize,
        ["parameters"] = Config.NumParameters(),
        ["forward_flops_per_token"] = ForwardFlopsPerToken,
        ["steps"] = Training.Steps,
        ["train_tokens"] = Training.Tokens,
        ["initial_loss"] = Training.InitialLoss,
        ["final_loss"] = Training.FinalLoss,
        ["train_seconds"] = Training.Seconds,
        ["train_tokens_per_second"] = Training.TokensPerSecond,
        ["heldout_nats_per_token"] = HeldOut.NatsPerToken,
        ["heldout_bits_per_byte"] = HeldOut.BitsPerByte,
    };
}

/// <summary>What `granary model train` measured; written as OUT/metrics.json.</summary>
public sealed record TrainingReport(int TrainingFiles, int HeldOutFiles, int TrainingTokens, int HeldOutTokens,
    int EvalTokens, long EvalBytes, HeldOutScore Unigram, TrainedModelReport Target, TrainedModelReport Draft,
    double GreedyAgreement)
{
    public const string MetricsFile = "metrics.json";

    public double DraftFlopsRatio => Draft.ForwardFlopsPerToken / Target.ForwardFlopsPerToken;

    /// <summary>How far the target's bits per byte is below the unigram baseline's, as a fraction of it.</summary>
    public double TargetGainOverUnigram => 1 - Target.HeldOut.BitsPerByte / Unigram.BitsPerByte;

    public JsonObject ToJson() => new()
    {
        ["training_files"] = TrainingFiles,
        ["heldout_files"] = HeldOutFiles,
        ["training_tokens"] = TrainingTokens,
        ["heldout_tokens"] = HeldOutTokens,
        ["eval_tokens"] = EvalTokens,
        ["eval_bytes"] = EvalBytes,
        ["unigram"] = new JsonObject
        {
            ["heldout_nats_per_token"] = Unigram.NatsPerToken,
            ["heldout_bits_per_byte"] = Unigram.BitsPerByte,
        },
        ["target"] = Target.ToJson(),
        ["draft"] = Draft.ToJson(),
        ["draft_flops_ratio"] = DraftFlopsRatio,
        ["target_gain_over_unigram"] = TargetGainOverUnigram,
        ["greedy_agreement"] = GreedyAgreement,
    };

    /// <summary>The target's training figures from an earlier metrics.json, or null when there is none.</summary>
    public static TrainingResult? ReadTargetTraining(string metricsFile)
    {
        if (!File.Exists(metricsFile)) return null;
        if (JsonNode.Parse(File.ReadAllText(metricsFile))?["target"] is not JsonObject target) return null;
        return new TrainingResult((int)target["steps"]!, (long)target["train_tokens"]!, (double)target["initial_loss"]!,
            (double)target["final_loss"]!, (double)target["train_seconds"]!);
    }

    public void Write(string outDir) =>
        File.WriteAllText(Path.Combine(outDir, MetricsFile), ToJson().ToJsonString(new() { WriteIndented = true }));

    public IEnumerable<string> SummaryLines()
    {
        yield return $"held-out: {EvalTokens} tokens, {EvalBytes} bytes";
        yield return $"unigram  {Unigram.NatsPerToken:F3} nats/token  {Unigram.BitsPerByte:F3} bits/byte";
        yield return $"target   {Target.HeldOut.NatsPerToken:F3} nats/token  {Target.HeldOut.BitsPerByte:F3} bits/byte  ({TargetGainOverUnigram:P1} below unigram)";
        yield return $"draft    {Draft.HeldOut.NatsPerToken:F3} nats/token  {Draft.HeldOut.BitsPerByte:F3} bits/byte  ({DraftFlopsRatio:P1} of target FLOPs)";
        yield return $"draft-target greedy agreement {GreedyAgreement:F3}";
    }
}
