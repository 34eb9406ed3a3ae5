using System.Diagnostics;
using Granary.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Training;

/// <summary>How to train one model: steps of <c>BatchSize</c> windows of <c>Context</c> tokens, AdamW on a cosine schedule.</summary>
public sealed record TrainingPlan(int Steps, int BatchSize, int Context, double PeakLr, int WarmupSteps, long Seed)
{
    public double WeightDecay { get; init; } = 0.1;
    public double MaxGradNorm { get; init; } = 1.0;
    public int LogEvery { get; init; } = 25;
    public long TokensPerStep => (long)BatchSize * Context;

    /// <summary>
    /// When set, the loss mixes next-token cross-entropy with the KL divergence from this teacher's
    /// next-token distribution (knowledge distillation, as in DistillSpec), weighted by <see cref="DistillWeight"/>.
    /// A draft distilled from its target agrees with the target's argmax more often than one trained on data alone.
    /// </summary>
    public LlamaForCausalLM? Teacher { get; init; }
    public double DistillWeight { get; init; }
}

/// <summary>
/// Next-token training of a <see cref="LlamaForCausalLM"/> on random windows of a token stream.
/// Deterministic for a seed on CPU: weights from <see cref="WeightInitializer"/>, window order from a seeded
/// <see cref="Random"/>.
/// </summary>
public static class CausalLmTrainer
{
    public static TrainingResult Train(LlamaForCausalLM network, TokenStream data, TrainingPlan plan, string name, TextWriter log)
    {
        if (data.Count < plan.Context + 2)
            throw new ArgumentException($"{data.Count} training tokens are fewer than one window of {plan.Context + 1}");
        var parameters = network.parameters().ToList();
        foreach (var parameter in parameters) parameter.requires_grad_(true);
        using var optimizer = optim.AdamW(parameters, lr: plan.PeakLr, beta1: 0.9, beta2: 0.95, weight_decay: plan.WeightDecay);
        var schedule = new CosineSchedule(plan.PeakLr, plan.WarmupSteps, plan.Steps);
        var random = new Random(unchecked((int)plan.Seed));
        var losses = new List<double>(plan.Steps);
        var clock = Stopwatch.StartNew();
        for (int step = 0; step < plan.Steps; step++)
        {
            double lr = schedule.At(step);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            losses.Add(Step(network, optimizer, parameters, data, plan, random));
            if ((step + 1) % plan.LogEvery == 0 || step + 1 == plan.Steps)
                LogProgress(log, name, step + 1, plan, losses, lr, clock.Elapsed.TotalSeconds);
        }
        foreach (var parameter in parameters) parameter.requires_grad_(false);
        int tail = Math.Max(1, plan.Steps / 10);
        return new TrainingResult(plan.Steps, plan.Steps * plan.TokensPerStep, losses[0], losses.TakeLast(tail).Average(),
            clock.Elapsed.TotalSeconds);
    }

    static double Step(LlamaForCausalLM network, optim.Optimizer optimizer, List<TorchSharp.Modules.Parameter> parameters,
        TokenStream data, TrainingPlan plan, Random random)
    {
        using var scope = NewDisposeScope();
        var starts = Enumerable.Range(0, plan.BatchSize).Select(_ => random.Next(0, data.Count - plan.Context - 1)).ToList();
        using var batch = SequenceBatch.FromWindows(data.Tokens, starts, plan.Context);
        optimizer.zero_grad();
        var logits = batch.Logits(network);
        var loss = nn.functional.cross_entropy(logits, batch.Targets);
        if (plan.Teacher is { } teacher && plan.DistillWeight > 0)
            loss = (1 - plan.DistillWeight) * loss + plan.DistillWeight * DistillationLoss(teacher, batch, logits);
        loss.backward();
        nn.utils.clip_grad_norm_(parameters, plan.MaxGradNorm);
        optimizer.step();
        return loss.item<float>();
    }

    /// <summary>Mean over positions of KL(teacher || student) of the next-token distributions.</summary>
    static Tensor DistillationLoss(LlamaForCausalLM teacher, SequenceBatch batch, Tensor studentLogits)
    {
        Tensor teacherLogProbs;
        using (no_grad()) teacherLogProbs = batch.Logits(teacher).log_softmax(-1);
        var studentLogProbs = studentLogits.log_softmax(-1);
        return (teacherLogProbs.exp() * (teacherLogProbs - studentLogProbs)).sum(-1).mean();
    }

    static void LogProgress(TextWriter log, string name, int step, TrainingPlan plan, List<double> losses, double lr, double seconds)
    {
        double recentLoss = losses.TakeLast(plan.LogEvery).Average();
        double tokensPerSecond = step * plan.TokensPerStep / seconds;
        var eta = TimeSpan.FromSeconds((plan.Steps - step) * seconds / step);
        log.WriteLine($"{name} step {step}/{plan.Steps} loss {recentLoss:F3} lr {lr:0.0e+0} {tokensPerSecond:F0} tok/s ETA {eta:hh\\:mm\\:ss}");
    }
}
