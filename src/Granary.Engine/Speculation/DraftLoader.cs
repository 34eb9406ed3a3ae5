using Granary.Abstractions;
using Granary.Model.Loading;

namespace Granary.Engine.Speculation;

/// <summary>Brings up a draft model folder for a target: its weights, and with VocabTrim the trimmed head.</summary>
public static class DraftLoader
{
    /// <summary>
    /// Loads <paramref name="directory"/> (any checkpoint with the target's tokenizer). <paramref name="vocabTrimTokens"/>
    /// &gt; 0 trims its LM head to that many tokens by the frequencies in its <c>vocab_trim.json</c>.
    /// Problems are user errors naming <paramref name="flag"/> or <paramref name="vocabFlag"/>.
    /// </summary>
    public static DraftModel Load(string directory, ModelLoadOptions options, int vocabTrimTokens = 0, string flag = "--draft", string vocabFlag = "--draft-vocab")
    {
        if (!File.Exists(Path.Combine(directory, "config.json")))
            throw new GranaryUserError($"{flag}: {directory} is not a model folder (no config.json)");
        if (vocabTrimTokens < 0) throw new GranaryUserError($"{vocabFlag} must be >= 0 (got {vocabTrimTokens})");
        var calibration = vocabTrimTokens > 0 ? VocabTrimCalibration.Load(directory, vocabFlag) : null;
        var loaded = ModelLoader.Load(directory, options);
        try
        {
            if (vocabTrimTokens > loaded.Config.VocabSize)
                throw new GranaryUserError($"{vocabFlag} {vocabTrimTokens}: the draft's vocabulary has only {loaded.Config.VocabSize} tokens");
            VocabTrimHead? trim = null;
            if (calibration is not null)
            {
                var eos = loaded.Config.EosTokenIds.Concat(loaded.Tokenizer.EosTokenIds).Where(id => id < loaded.Config.VocabSize);
                trim = new VocabTrimHead(loaded.Model, calibration.TopTokens(vocabTrimTokens, eos));
            }
            return new DraftModel(loaded.Model, trim, ownsModel: true);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }
}
