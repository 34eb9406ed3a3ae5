namespace Granary.Model.Tokenization;

/// <summary>The parts of a SentencePiece ModelProto that decoding and BOS/EOS handling need.</summary>
internal sealed record SentencePieceModelInfo(
    IReadOnlyList<SentencePieceEntry> Pieces,
    int BosId,
    int EosId,
    bool AddDummyPrefix);
