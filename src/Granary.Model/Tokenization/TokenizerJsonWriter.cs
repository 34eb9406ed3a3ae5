using System.Text.Encodings.Web;
using System.Text.Json;

namespace Granary.Model.Tokenization;

/// <summary>
/// Writes a trained byte-level BPE model as an HF tokenizer.json (the layout the tokenizers library saves
/// for GPT-2-style tokenizers: BPE model, Split + ByteLevel pre-tokenizer, ByteLevel decoder, special
/// tokens as added tokens), readable by HF and by <see cref="TextTokenizer.Load"/>.
/// </summary>
public static class TokenizerJsonWriter
{
    public static void Write(string path, ByteLevelBpeModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions
        {
            Indented = true,
            // Token strings are mostly non-ASCII alphabet characters; keep them readable.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
        json.WriteStartObject();
        json.WriteString("version", "1.0");
        json.WriteNull("truncation");
        json.WriteNull("padding");
        WriteAddedTokens(json, model);
        json.WriteNull("normalizer");
        WritePreTokenizer(json);
        json.WritePropertyName("post_processor");
        WriteByteLevelStage(json, trimOffsets: false, useRegex: false);
        json.WritePropertyName("decoder");
        WriteByteLevelStage(json, trimOffsets: true, useRegex: true);
        WriteModel(json, model);
        json.WriteEndObject();
    }

    private static void WriteAddedTokens(Utf8JsonWriter json, ByteLevelBpeModel model)
    {
        json.WriteStartArray("added_tokens");
        for (int i = 0; i < model.SpecialTokens.Count; i++)
        {
            json.WriteStartObject();
            json.WriteNumber("id", model.Tokens.Count + i);
            json.WriteString("content", model.SpecialTokens[i]);
            json.WriteBoolean("single_word", false);
            json.WriteBoolean("lstrip", false);
            json.WriteBoolean("rstrip", false);
            json.WriteBoolean("normalized", false);
            json.WriteBoolean("special", true);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void WritePreTokenizer(Utf8JsonWriter json)
    {
        json.WriteStartObject("pre_tokenizer");
        json.WriteString("type", "Sequence");
        json.WriteStartArray("pretokenizers");
        json.WriteStartObject();
        json.WriteString("type", "Split");
        json.WriteStartObject("pattern");
        json.WriteString("Regex", PreTokenizerPatterns.Gpt2);
        json.WriteEndObject();
        json.WriteString("behavior", "Isolated");
        json.WriteBoolean("invert", false);
        json.WriteEndObject();
        WriteByteLevelStage(json, trimOffsets: true, useRegex: false);
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteByteLevelStage(Utf8JsonWriter json, bool trimOffsets, bool useRegex)
    {
        json.WriteStartObject();
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", trimOffsets);
        json.WriteBoolean("use_regex", useRegex);
        json.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter json, ByteLevelBpeModel model)
    {
        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteNull("dropout");
        json.WriteNull("unk_token");
        json.WriteNull("continuing_subword_prefix");
        json.WriteNull("end_of_word_suffix");
        json.WriteBoolean("fuse_unk", false);
        json.WriteBoolean("byte_fallback", false);
        json.WriteStartObject("vocab");
        for (int id = 0; id < model.Tokens.Count; id++) json.WriteNumber(model.Tokens[id], id);
        json.WriteEndObject();
        json.WriteStartArray("merges");
        // "left right" strings: byte-level tokens never contain a space, and every tokenizers version reads it.
        foreach (var merge in model.Merges) json.WriteStringValue(merge.Left + " " + merge.Right);
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
