using Granary.Model.Runtime;
using static TorchSharp.torch;

namespace Granary.TestKit;

/// <summary>
/// A fixed script of steps for comparing two ways of running one model (a plan against one device): two
/// sequences prefilled together and decoded greedily, a third whose prompt joins mid-way (a mixed prefill +
/// decode step) and then decodes with them. Returns every step's logits and every sampled token.
/// </summary>
public static class MixedStepScript
{
    public sealed record Result(IReadOnlyList<int> Tokens, IReadOnlyList<Tensor> Logits);

    /// <param name="beforeEachStep">Runs before every step (e.g. a barrier, so that threads running the script step at once).</param>
    public static Result Run(ICausalLm model, int decodeSteps = 6, Action? beforeEachStep = null)
    {
        var tokens = new List<int>();
        var logits = new List<Tensor>();
        int vocab = model.Config.VocabSize;
        var prompts = new[] { TinyModels.RandomTokens(7, vocab, 1), TinyModels.RandomTokens(3, vocab, 2), TinyModels.RandomTokens(5, vocab, 3) };
        var caches = prompts.Select(_ => model.NewCache(32)).ToArray();
        var last = new int[prompts.Length];
        try
        {
            beforeEachStep?.Invoke();
            Record(model.Step([new StepInput(caches[0], prompts[0]), new StepInput(caches[1], prompts[1])]), [0, 1]);
            for (int step = 0; step < decodeSteps; step++)
            {
                var inputs = new List<StepInput> { new(caches[0], [last[0]]), new(caches[1], [last[1]]) };
                if (step >= 2) inputs.Add(new StepInput(caches[2], step == 2 ? prompts[2] : [last[2]]));
                beforeEachStep?.Invoke();
                Record(model.Step(inputs), step >= 2 ? [0, 1, 2] : [0, 1]);
            }
            return new Result(tokens, logits);
        }
        finally
        {
            foreach (var cache in caches) cache.Dispose();
        }

        void Record(Tensor stepLogits, int[] sequences)
        {
            logits.Add(stepLogits);
            var next = stepLogits.argmax(-1).data<long>().ToArray();
            for (int i = 0; i < sequences.Length; i++) tokens.Add(last[sequences[i]] = (int)next[i]);
        }
    }

    /// <summary>Largest absolute logit difference at any step.</summary>
    public static double MaxLogitDifference(Result a, Result b) =>
        a.Logits.Zip(b.Logits).Max(pair => (double)(pair.First - pair.Second).abs().max().item<float>());
}
