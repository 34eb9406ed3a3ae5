using Google.Protobuf;

namespace Granary.Model.Tokenization;

/// <summary>
/// Reads pieces and a few settings from a sentencepiece ModelProto. Microsoft.ML.Tokenizers does the
/// encoding; we read the proto ourselves only to know each piece's type (byte, control, ...) for decoding.
/// Field numbers are those of sentencepiece_model.proto.
/// </summary>
internal static class SentencePieceModelReader
{
    public static SentencePieceModelInfo Read(byte[] proto)
    {
        var pieces = new List<SentencePieceEntry>();
        int bosId = 1, eosId = 2; // proto2 defaults of TrainerSpec
        bool addDummyPrefix = true; // proto2 default of NormalizerSpec
        var input = new CodedInputStream(proto);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: pieces.Add(ReadPiece(input.ReadBytes())); break;
                case 2: (bosId, eosId) = ReadSpecialIds(input.ReadBytes(), bosId, eosId); break;
                case 3: addDummyPrefix = ReadAddDummyPrefix(input.ReadBytes(), addDummyPrefix); break;
                default: input.SkipLastField(); break;
            }
        }
        return new SentencePieceModelInfo(pieces, bosId, eosId, addDummyPrefix);
    }

    private static SentencePieceEntry ReadPiece(ByteString message)
    {
        string piece = "";
        float score = 0;
        var type = SentencePieceType.Normal;
        var input = message.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: piece = input.ReadString(); break;
                case 2: score = input.ReadFloat(); break;
                case 3: type = (SentencePieceType)input.ReadEnum(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new SentencePieceEntry(piece, score, type);
    }

    private static (int BosId, int EosId) ReadSpecialIds(ByteString trainerSpec, int bosId, int eosId)
    {
        var input = trainerSpec.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 41: bosId = input.ReadInt32(); break;
                case 42: eosId = input.ReadInt32(); break;
                default: input.SkipLastField(); break;
            }
        }
        return (bosId, eosId);
    }

    private static bool ReadAddDummyPrefix(ByteString normalizerSpec, bool addDummyPrefix)
    {
        var input = normalizerSpec.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == 3) addDummyPrefix = input.ReadBool();
            else input.SkipLastField();
        }
        return addDummyPrefix;
    }
}
