using Granary.Abstractions;

namespace Granary.Model.Checkpoints;

/// <summary>Builds the one-line <see cref="GranaryUserError"/> messages for bad checkpoint files.</summary>
internal static class CheckpointErrors
{
    /// <summary>"model.safetensors in /m: problem" — the file's name first, then its folder, so the user sees both.</summary>
    public static GranaryUserError InFile(string path, string problem, Exception? inner = null)
    {
        var full = Path.GetFullPath(path);
        var message = $"{Path.GetFileName(full)} in {Path.GetDirectoryName(full)}: {OneLine(problem)}";
        return inner is null ? new GranaryUserError(message) : new GranaryUserError(message, inner);
    }

    /// <summary>"/m: problem" for faults of a whole folder (missing, or holding no checkpoint).</summary>
    public static GranaryUserError InFolder(string directory, string problem) =>
        new($"{Path.GetFullPath(directory)}: {OneLine(problem)}");

    // Messages quote text from files (JSON parser errors, tensor names); keep them on one line.
    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
