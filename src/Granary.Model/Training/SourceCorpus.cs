using System.Security.Cryptography;
using System.Text;

namespace Granary.Model.Training;

/// <summary>One source file of the corpus: its path relative to the corpus root ('/'-separated) and its text.</summary>
public sealed record SourceFile(string RelativePath, string Text);

/// <summary>
/// The Python standard library sources (or any tree of .py files) split into training and held-out files.
/// Test suites, installed packages and IDLE are left out: they are not the library itself and would let
/// the held-out score lean on near-duplicate test boilerplate.
/// </summary>
public sealed class SourceCorpus
{
    static readonly string[] ExcludedFolders = ["test", "tests", "site-packages", "dist-packages", "idlelib"];

    SourceCorpus(IReadOnlyList<SourceFile> training, IReadOnlyList<SourceFile> heldOut)
    {
        Training = training;
        HeldOut = heldOut;
    }

    public IReadOnlyList<SourceFile> Training { get; }

    public IReadOnlyList<SourceFile> HeldOut { get; }

    /// <summary>
    /// Reads every included .py file under <paramref name="root"/> in ordinal path order; a file is held out
    /// when the hash of its relative path falls below <paramref name="heldOutFraction"/>, so the split never
    /// depends on the file system's listing order or on which other files exist.
    /// <paramref name="maxFiles"/> (smoke runs) keeps only the first files of each split.
    /// </summary>
    public static SourceCorpus Load(string root, double heldOutFraction, int? maxFiles = null)
    {
        var paths = Directory.EnumerateFiles(root, "*.py", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'))
            .Where(IsIncluded)
            .OrderBy(path => path, StringComparer.Ordinal)
            .ToList();
        var heldOut = paths.Where(p => IsHeldOut(p, heldOutFraction)).ToList();
        var training = paths.Where(p => !IsHeldOut(p, heldOutFraction)).ToList();
        if (maxFiles is { } max)
        {
            training = training.Take(max).ToList();
            heldOut = heldOut.Take(Math.Max(1, max / 4)).ToList();
        }
        return new SourceCorpus(Read(root, training), Read(root, heldOut));
    }

    public static bool IsIncluded(string relativePath) =>
        !relativePath.Split('/')[..^1].Any(folder => ExcludedFolders.Contains(folder, StringComparer.Ordinal));

    /// <summary>Deterministic: the first 8 bytes of SHA-256(path) as a fraction of 2^64.</summary>
    public static bool IsHeldOut(string relativePath, double heldOutFraction)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(relativePath));
        double unit = BitConverter.ToUInt64(hash, 0) / 18446744073709551616.0; // 2^64
        return unit < heldOutFraction;
    }

    static List<SourceFile> Read(string root, List<string> relativePaths) =>
        relativePaths.Select(p => new SourceFile(p, File.ReadAllText(Path.Combine(root, p)))).ToList();
}
