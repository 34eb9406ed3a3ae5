using Granary.Abstractions;

namespace Granary.Model.Tokenization;

/// <summary>Builds the one-line user errors that name the tokenizer file at fault and its folder.</summary>
internal static class TokenizerFileError
{
    public static GranaryUserError Create(string path, string detail, Exception? inner = null)
    {
        string fileName = Path.GetFileName(path);
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? path;
        // Library messages can span lines; the CLI shows this message as a single line.
        string oneLine = detail.ReplaceLineEndings(" ");
        string message = $"{fileName} in {folder}: {oneLine}";
        return inner is null ? new GranaryUserError(message) : new GranaryUserError(message, inner);
    }
}
