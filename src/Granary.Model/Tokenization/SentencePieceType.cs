namespace Granary.Model.Tokenization;

/// <summary>ModelProto.SentencePiece.Type values of sentencepiece_model.proto.</summary>
public enum SentencePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>One vocabulary entry of a SentencePiece model; its id is its position.</summary>
public sealed record SentencePieceEntry(string Piece, float Score, SentencePieceType Type);
