using System.Text.Encodings.Web;
using System.Text.Json;

namespace Granary.Model.Tokenization;

/// <summary>Writes tokenizer_config.json with BOS/EOS and a Jinja chat template of the chosen family.</summary>
public static class TokenizerConfigWriter
{
    public static void Write(string dir, string bosToken, string eosToken, ChatTemplateFamily family, bool? addBosToken = null)
    {
        ArgumentNullException.ThrowIfNull(bosToken);
        ArgumentNullException.ThrowIfNull(eosToken);
        using var stream = File.Create(Path.Combine(dir, TokenizerConfigReader.TokenizerConfigFile));
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        // Llama families prepend BOS to plain prompts; ChatML-style models do not.
        json.WriteBoolean("add_bos_token", addBosToken ?? family is ChatTemplateFamily.Llama2 or ChatTemplateFamily.Llama3);
        json.WriteBoolean("add_eos_token", false);
        json.WriteString("bos_token", bosToken);
        json.WriteString("eos_token", eosToken);
        json.WriteBoolean("clean_up_tokenization_spaces", false);
        json.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
        if (ChatTemplateSources.For(family) is { } template) json.WriteString("chat_template", template);
        json.WriteEndObject();
    }
}
