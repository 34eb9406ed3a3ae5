using Granary.Abstractions;

namespace Granary.Server.Models;

/// <summary>
/// Resolves "default" (and no model at all) to the model pair shipped in the repository under
/// <c>models/default/{target,draft}</c>. The build copies that folder next to the executable; running from
/// a source checkout also finds it by walking up from the working directory.
/// </summary>
public static class DefaultModels
{
    public const string Name = "default";

    public static string ResolveTarget(string? model) => Resolve(model, "target", "--model");

    public static string ResolveDraft(string? draft) => Resolve(draft, "draft", "--draft");

    static string Resolve(string? model, string role, string flag)
    {
        if (!string.IsNullOrEmpty(model) && model != Name) return model;
        foreach (var root in SearchRoots())
        {
            string candidate = Path.Combine(root, "models", Name, role);
            if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        }
        throw new GranaryUserError(
            $"{flag} {Name}: the shipped default model (models/{Name}/{role}) was not found next to the executable or in a parent of {Environment.CurrentDirectory}; name a model folder");
    }

    static IEnumerable<string> SearchRoots()
    {
        yield return AppContext.BaseDirectory;
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            yield return dir.FullName;
    }
}
