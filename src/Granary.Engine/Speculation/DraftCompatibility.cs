using Granary.Abstractions;
using Granary.Model.Runtime;

namespace Granary.Engine.Speculation;

/// <summary>Whether a draft can serve a target: the same vocabulary (its ids go to the target as they are), and at least its context.</summary>
public static class DraftCompatibility
{
    /// <summary>Throws a user error naming <paramref name="flag"/> when a draft of this shape cannot serve <paramref name="target"/>.</summary>
    public static void Check(int draftVocabSize, int draftMaxPositions, ICausalLm target, string flag = "--draft")
    {
        if (draftVocabSize != target.Config.VocabSize)
            throw new GranaryUserError(
                $"{flag}: the draft's vocab_size is {draftVocabSize} but the target's is {target.Config.VocabSize}; a draft must share the target's tokenizer");
        if (draftMaxPositions < target.Config.MaxPositionEmbeddings)
            throw new GranaryUserError(
                $"{flag}: the draft's context ({draftMaxPositions}) is shorter than the target's ({target.Config.MaxPositionEmbeddings})");
    }
}
