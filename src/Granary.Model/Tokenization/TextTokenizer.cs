using System.Text;
using Granary.Abstractions;

namespace Granary.Model.Tokenization;

/// <summary>
/// The engine's tokenizer: loads a model folder's tokenizer.json (HF byte-level BPE) or, failing that,
/// tokenizer.model (SentencePiece), plus the BOS/EOS and chat-template facts of its config files.
/// Encoding goes through Microsoft.ML.Tokenizers; decoding works on token bytes so that streaming and
/// whole decoding agree exactly. Thread-safe for Encode/Decode; each IncrementalDecoder is single-stream.
/// </summary>
public sealed class TextTokenizer
{
    public const string TokenizerJsonFile = "tokenizer.json";
    public const string SentencePieceFile = "tokenizer.model";

    private readonly TokenizerCore _core;

    private TextTokenizer(TokenizerCore core, TokenizerConfigValues config)
    {
        _core = core;
        BosTokenId = ResolveBos(core, config);
        AddBosToken = BosTokenId is not null && (config.AddBosToken ?? core.FileAddsBos ?? false);
        EosTokenIds = ResolveEos(core, config);
        ChatTemplate = ChatTemplateDetector.Detect(config.ChatTemplate);
    }

    /// <summary>Largest token id + 1, added tokens included: the embedding rows the model needs at least.</summary>
    public int VocabSize => _core.Table.Count;

    public int? BosTokenId { get; }

    /// <summary>Every id that ends generation (generation_config may list several, e.g. Llama-3's eot and eos).</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>Whether prompts of this model conventionally start with BOS.</summary>
    public bool AddBosToken { get; }

    public ChatTemplateFamily ChatTemplate { get; }

    /// <summary>Loads the tokenizer of a model folder; every problem with its files is a GranaryUserError.</summary>
    public static TextTokenizer Load(string modelDir)
    {
        ArgumentNullException.ThrowIfNull(modelDir);
        if (!Directory.Exists(modelDir))
            throw new GranaryUserError($"model folder {modelDir} does not exist (expected {TokenizerJsonFile} or {SentencePieceFile} in it)");
        string jsonPath = Path.Combine(modelDir, TokenizerJsonFile);
        string spmPath = Path.Combine(modelDir, SentencePieceFile);
        TokenizerCore? core = File.Exists(jsonPath) ? HfByteLevelBpeLoader.Load(jsonPath) : null;
        if (core is null && File.Exists(spmPath)) core = SentencePieceLoader.Load(spmPath);
        if (core is null && File.Exists(jsonPath))
            throw TokenizerFileError.Create(jsonPath, $"only byte-level BPE is supported (no ByteLevel pre_tokenizer or decoder), and there is no {SentencePieceFile}");
        if (core is null)
            throw new GranaryUserError($"{TokenizerJsonFile} / {SentencePieceFile} in {Path.GetFullPath(modelDir)}: neither file exists");
        return new TextTokenizer(core, TokenizerConfigReader.Read(modelDir));
    }

    /// <summary>Encodes text; added/special tokens written literally in it (e.g. "&lt;|im_start|&gt;") become their ids.</summary>
    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = _core.Encode(text);
        if (!addBos || BosTokenId is not int bos) return ids;
        var withBos = new List<int>(ids.Count + 1) { bos };
        withBos.AddRange(ids);
        return withBos;
    }

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var writer = new TokenByteWriter(_core.Table, skipSpecialTokens);
        var bytes = new List<byte>(ids.Count * 4);
        foreach (int id in ids) writer.Append(id, bytes);
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>A decoder for one generation stream; see <see cref="IncrementalDecoder"/>.</summary>
    public IncrementalDecoder CreateIncrementalDecoder(bool skipSpecialTokens = false) => new(_core.Table, skipSpecialTokens);

    public bool IsSpecial(int id) => _core.Table.IsSpecial(id);

    /// <summary>The id of a token written as text (e.g. "&lt;|im_end|&gt;"), or null if the vocabulary lacks it.</summary>
    public int? TokenId(string token) => _core.IdsByToken.TryGetValue(token, out int id) ? id : null;

    private static int? ResolveBos(TokenizerCore core, TokenizerConfigValues config)
    {
        if (config.BosToken is { } name && core.IdsByToken.TryGetValue(name, out int id)) return id;
        return config.GenerationBosId ?? core.FileBosId;
    }

    private static IReadOnlyList<int> ResolveEos(TokenizerCore core, TokenizerConfigValues config)
    {
        var ids = new List<int>(config.GenerationEosIds);
        if (config.EosToken is { } name && core.IdsByToken.TryGetValue(name, out int id) && !ids.Contains(id)) ids.Add(id);
        if (ids.Count == 0 && core.FileEosId is int fileEos) ids.Add(fileEos);
        return ids;
    }
}
