using Google.Protobuf;

namespace Granary.Model.Tokenization;

/// <summary>
/// Writes a Llama-2 style SentencePiece BPE model (tokenizer.model): the given pieces, a trainer spec with
/// BPE type and byte fallback, and an identity normalizer that escapes whitespace as "▁". Used for
/// synthetic models and tests; field numbers are those of sentencepiece_model.proto.
/// </summary>
public static class SentencePieceModelWriter
{
    private const int BpeModelType = 2;

    public static void Write(string path, IReadOnlyList<SentencePieceEntry> pieces, bool addDummyPrefix = true)
    {
        File.WriteAllBytes(path, Serialize(pieces, addDummyPrefix));
    }

    public static byte[] Serialize(IReadOnlyList<SentencePieceEntry> pieces, bool addDummyPrefix = true)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        return Message(output =>
        {
            foreach (var piece in pieces) WriteMessageField(output, 1, Message(p => WritePiece(p, piece)));
            WriteMessageField(output, 2, Message(t => WriteTrainerSpec(t, pieces)));
            WriteMessageField(output, 3, Message(n => WriteNormalizerSpec(n, addDummyPrefix)));
        });
    }

    private static void WritePiece(CodedOutputStream output, SentencePieceEntry piece)
    {
        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteString(piece.Piece);
        output.WriteTag(2, WireFormat.WireType.Fixed32);
        output.WriteFloat(piece.Score);
        output.WriteTag(3, WireFormat.WireType.Varint);
        output.WriteEnum((int)piece.Type);
    }

    private static void WriteTrainerSpec(CodedOutputStream output, IReadOnlyList<SentencePieceEntry> pieces)
    {
        bool hasBytePieces = pieces.Any(p => p.Type == SentencePieceType.Byte);
        WriteInt32Field(output, 3, BpeModelType);
        WriteInt32Field(output, 4, pieces.Count);
        output.WriteTag(35, WireFormat.WireType.Varint);
        output.WriteBool(hasBytePieces);
        WriteInt32Field(output, 40, IndexOf(pieces, p => p.Type == SentencePieceType.Unknown));
        WriteInt32Field(output, 41, IndexOf(pieces, p => p.Type == SentencePieceType.Control && p.Piece == "<s>"));
        WriteInt32Field(output, 42, IndexOf(pieces, p => p.Type == SentencePieceType.Control && p.Piece == "</s>"));
        WriteInt32Field(output, 43, IndexOf(pieces, p => p.Type == SentencePieceType.Control && p.Piece == "<pad>"));
    }

    private static void WriteNormalizerSpec(CodedOutputStream output, bool addDummyPrefix)
    {
        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteString("identity");
        output.WriteTag(3, WireFormat.WireType.Varint);
        output.WriteBool(addDummyPrefix);
        output.WriteTag(4, WireFormat.WireType.Varint);
        output.WriteBool(false); // keep whitespace exactly, as Llama-2 does
        output.WriteTag(5, WireFormat.WireType.Varint);
        output.WriteBool(true);
    }

    private static int IndexOf(IReadOnlyList<SentencePieceEntry> pieces, Func<SentencePieceEntry, bool> match)
    {
        for (int i = 0; i < pieces.Count; i++)
            if (match(pieces[i])) return i;
        return -1;
    }

    private static void WriteInt32Field(CodedOutputStream output, int field, int value)
    {
        output.WriteTag(field, WireFormat.WireType.Varint);
        output.WriteInt32(value);
    }

    private static void WriteMessageField(CodedOutputStream output, int field, byte[] message)
    {
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(message));
    }

    private static byte[] Message(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true))
        {
            write(output);
        }
        return buffer.ToArray();
    }
}
