namespace Granary.Model.Tokenization;

/// <summary>What tokenizer_config.json and generation_config.json say about BOS/EOS and the chat template.</summary>
internal sealed record TokenizerConfigValues(
    string? BosToken,
    string? EosToken,
    bool? AddBosToken,
    string? ChatTemplate,
    int? GenerationBosId,
    IReadOnlyList<int> GenerationEosIds);
