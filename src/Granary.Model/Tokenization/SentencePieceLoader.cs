using System.Globalization;
using System.Text;
using Google.Protobuf;
using Microsoft.ML.Tokenizers;

namespace Granary.Model.Tokenization;

/// <summary>Loads a SentencePiece tokenizer.model (Llama-2 style) through Microsoft.ML.Tokenizers.</summary>
internal static class SentencePieceLoader
{
    public static TokenizerCore Load(string path)
    {
        byte[] proto = ReadBytes(path);
        SentencePieceModelInfo info;
        SentencePieceTokenizer tokenizer;
        TokenByteTable table;
        var literalTokens = new Dictionary<string, int>();
        try
        {
            info = SentencePieceModelReader.Read(proto);
            for (int id = 0; id < info.Pieces.Count; id++)
            {
                var piece = info.Pieces[id];
                // Control and user-defined pieces are matched literally in text, as HF's Llama tokenizer does.
                if (piece.Type is SentencePieceType.Control or SentencePieceType.UserDefined && piece.Piece.Length > 0)
                    literalTokens[piece.Piece] = id;
            }
            using var stream = new MemoryStream(proto);
            // BOS/EOS are added by TextTokenizer, which knows the config files' say on them.
            tokenizer = SentencePieceTokenizer.Create(stream, false, false, literalTokens.Count > 0 ? literalTokens : null);
            table = BuildTable(info);
        }
        catch (Exception error) when (error is InvalidProtocolBufferException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw TokenizerFileError.Create(path, "not a readable SentencePiece model: " + error.Message, error);
        }
        return new TokenizerCore
        {
            Encode = text => tokenizer.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false),
            Table = table,
            IdsByToken = BuildIds(info),
            FileBosId = info.BosId >= 0 ? info.BosId : null,
            FileEosId = info.EosId >= 0 ? info.EosId : null,
            FileAddsBos = true, // sentencepiece Llama tokenizers prepend BOS unless the config says otherwise
        };
    }

    private static byte[] ReadBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw TokenizerFileError.Create(path, "cannot be read: " + error.Message, error);
        }
    }

    private static TokenByteTable BuildTable(SentencePieceModelInfo info)
    {
        int count = info.Pieces.Count;
        var bytes = new byte[count][];
        var special = new bool[count];
        for (int id = 0; id < count; id++)
        {
            var piece = info.Pieces[id];
            special[id] = piece.Type is SentencePieceType.Control or SentencePieceType.Unknown;
            bytes[id] = piece.Type switch
            {
                SentencePieceType.Byte => [ParseBytePiece(piece.Piece)],
                SentencePieceType.Unused => [],
                SentencePieceType.Control or SentencePieceType.Unknown => Encoding.UTF8.GetBytes(piece.Piece),
                _ => Encoding.UTF8.GetBytes(piece.Piece.Replace('▁', ' ')),
            };
        }
        return new TokenByteTable(bytes, special, info.AddDummyPrefix);
    }

    private static byte ParseBytePiece(string piece)
    {
        // Byte pieces are spelled "<0xAB>".
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte value))
            return value;
        throw new InvalidOperationException($"byte piece \"{piece}\" is not of the form <0xHH>");
    }

    private static Dictionary<string, int> BuildIds(SentencePieceModelInfo info)
    {
        var ids = new Dictionary<string, int>(info.Pieces.Count, StringComparer.Ordinal);
        for (int id = 0; id < info.Pieces.Count; id++) ids.TryAdd(info.Pieces[id].Piece, id);
        return ids;
    }
}
