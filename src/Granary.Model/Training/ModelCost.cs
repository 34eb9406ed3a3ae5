using Granary.Model.Configuration;

namespace Granary.Model.Training;

/// <summary>Forward FLOPs per token of a decoder, for sizing the draft against the target.</summary>
public static class ModelCost
{
    /// <summary>
    /// 2 FLOPs per weight of every matmul (the LM head included, the embedding lookup not) plus attention's
    /// scores and weighted sum against, on average, half of <paramref name="context"/> keys.
    /// </summary>
    public static double ForwardFlopsPerToken(ModelConfig c, int context)
    {
        double attentionProjections = (double)c.HiddenSize * c.HeadDim * (2 * c.NumHeads + 2 * c.NumKvHeads);
        double mlp = 3.0 * c.HiddenSize * c.IntermediateSize;
        double attentionScores = 2.0 * context * c.NumHeads * c.HeadDim; // 4 * (context / 2) * H * Dh
        double perLayer = 2 * (attentionProjections + mlp) + attentionScores;
        double lmHead = 2.0 * c.HiddenSize * c.VocabSize;
        return c.NumLayers * perLayer + lmHead;
    }
}
