using System.Text.Json;
using System.Text.Json.Serialization;
using Granary.Abstractions;
using Granary.Model.Tokenization;

namespace Granary.Engine.Speculation;

/// <summary>
/// Token frequencies of a calibration text, stored beside a draft as <c>vocab_trim.json</c>: VocabTrim keeps
/// the N most frequent. Counting the tokenizer's output over text like what will be served is the cheap,
/// training-free choice; tokens never seen in calibration are the ones the target rarely produces.
/// </summary>
public sealed record VocabTrimCalibration
{
    public const string FileName = "vocab_trim.json";

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>What was counted (a corpus path, a file name).</summary>
    public required string Source { get; init; }

    /// <summary>Tokens counted.</summary>
    public required long NumTokens { get; init; }

    /// <summary>Every token seen, most frequent first (ties: lower id first).</summary>
    public required int[] TokenIds { get; init; }

    /// <summary>Counts, parallel to <see cref="TokenIds"/>.</summary>
    public required long[] Counts { get; init; }

    /// <summary>Counts the tokens of <paramref name="texts"/>.</summary>
    public static VocabTrimCalibration Build(TextTokenizer tokenizer, IEnumerable<string> texts, string source)
    {
        var counts = new Dictionary<int, long>();
        long total = 0;
        foreach (var text in texts)
            foreach (int id in tokenizer.Encode(text, addBos: false))
            {
                counts[id] = counts.GetValueOrDefault(id) + 1;
                total++;
            }
        var ranked = counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key).ToList();
        return new VocabTrimCalibration
        {
            Source = source, NumTokens = total, TokenIds = ranked.Select(c => c.Key).ToArray(), Counts = ranked.Select(c => c.Value).ToArray(),
        };
    }

    /// <summary>
    /// The <paramref name="numTokens"/> token ids to keep: the most frequent, plus <paramref name="alwaysKept"/>
    /// (end-of-sequence ids, so the draft can propose stopping). Fewer when calibration saw fewer tokens.
    /// </summary>
    public int[] TopTokens(int numTokens, IEnumerable<int> alwaysKept)
    {
        var kept = new List<int>(alwaysKept.Distinct());
        foreach (int id in TokenIds)
        {
            if (kept.Count >= numTokens) break;
            if (!kept.Contains(id)) kept.Add(id);
        }
        return kept.ToArray();
    }

    /// <summary>Fraction of the calibration tokens the top <paramref name="numTokens"/> cover.</summary>
    public double Coverage(int numTokens) => NumTokens == 0 ? 0 : (double)Counts.Take(numTokens).Sum() / NumTokens;

    public void Save(string directory) => File.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Json));

    /// <summary>The calibration beside a draft; a clear error naming <paramref name="flag"/> when it is missing or unreadable.</summary>
    public static VocabTrimCalibration Load(string draftDirectory, string flag)
    {
        string path = Path.Combine(draftDirectory, FileName);
        if (!File.Exists(path))
            throw new GranaryUserError($"{flag}: {path} is missing; VocabTrim needs token frequencies beside the draft (granary model vocab-trim --draft DIR --corpus DIR writes them)");
        try
        {
            var calibration = JsonSerializer.Deserialize<VocabTrimCalibration>(File.ReadAllText(path), Json)
                ?? throw new JsonException("empty document");
            if (calibration.TokenIds.Length != calibration.Counts.Length) throw new JsonException("token_ids and counts differ in length");
            return calibration;
        }
        catch (JsonException e)
        {
            throw new GranaryUserError($"{flag}: {path} is not a valid VocabTrim calibration: {e.Message}");
        }
    }
}
