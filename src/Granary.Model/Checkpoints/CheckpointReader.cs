using static TorchSharp.torch;

namespace Granary.Model.Checkpoints;

/// <summary>
/// A model folder's weights: either one <c>model.safetensors</c> or the shards a
/// <c>model.safetensors.index.json</c> names, each opened (and mapped) once. Tensors are looked up by name.
/// </summary>
public sealed class CheckpointReader : IDisposable
{
    public const string SingleFileName = "model.safetensors";

    private readonly IReadOnlyList<SafetensorsFile> shards;
    private readonly Dictionary<string, SafetensorsFile> fileOfTensor;

    private CheckpointReader(string directory, IReadOnlyList<SafetensorsFile> shards, Dictionary<string, SafetensorsFile> fileOfTensor)
    {
        Directory = directory;
        this.shards = shards;
        this.fileOfTensor = fileOfTensor;
    }

    public string Directory { get; }

    public IReadOnlyCollection<string> TensorNames => fileOfTensor.Keys;

    /// <summary>Opens the checkpoint in <paramref name="modelDir"/>; a user error naming the folder or file at fault.</summary>
    public static CheckpointReader Open(string modelDir)
    {
        if (!System.IO.Directory.Exists(modelDir))
        {
            throw CheckpointErrors.InFolder(modelDir, "model folder not found");
        }
        var indexPath = Path.Combine(modelDir, ShardIndex.FileName);
        if (File.Exists(indexPath))
        {
            return OpenSharded(modelDir, indexPath);
        }
        var singlePath = Path.Combine(modelDir, SingleFileName);
        if (File.Exists(singlePath))
        {
            var file = SafetensorsFile.Open(singlePath);
            return new CheckpointReader(modelDir, [file], file.Tensors.Keys.ToDictionary(name => name, _ => file, StringComparer.Ordinal));
        }
        throw CheckpointErrors.InFolder(modelDir, $"no {SingleFileName} or {ShardIndex.FileName} in the model folder");
    }

    public bool Contains(string name) => fileOfTensor.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>, whose <see cref="TensorEntry.FilePath"/> is its shard.</summary>
    public TensorEntry Info(string name) => FileOf(name).Info(name);

    /// <inheritdoc cref="SafetensorsFile.Read"/>
    public Tensor Read(string name, ScalarType dtype, Device device) => FileOf(name).Read(name, dtype, device);

    /// <inheritdoc cref="SafetensorsFile.ReadSlice"/>
    public Tensor ReadSlice(string name, int dim, long start, long length, ScalarType dtype, Device device) =>
        FileOf(name).ReadSlice(name, dim, start, length, dtype, device);

    public void Dispose()
    {
        foreach (var shard in shards)
        {
            shard.Dispose();
        }
    }

    private SafetensorsFile FileOf(string name) =>
        fileOfTensor.TryGetValue(name, out var file)
            ? file
            : throw CheckpointErrors.InFolder(Directory, $"checkpoint has no tensor \"{name}\"");

    private static CheckpointReader OpenSharded(string modelDir, string indexPath)
    {
        var index = ShardIndex.Load(indexPath);
        var opened = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            var fileOfTensor = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var (tensor, shardName) in index.ShardOfTensor)
            {
                var shard = OpenShardOnce(modelDir, indexPath, shardName, opened);
                if (!shard.Contains(tensor))
                {
                    throw CheckpointErrors.InFile(shard.Path, $"has no tensor \"{tensor}\", which {ShardIndex.FileName} places there");
                }
                fileOfTensor[tensor] = shard;
            }
            return new CheckpointReader(modelDir, opened.Values.ToList(), fileOfTensor);
        }
        catch
        {
            foreach (var shard in opened.Values)
            {
                shard.Dispose();
            }
            throw;
        }
    }

    private static SafetensorsFile OpenShardOnce(string modelDir, string indexPath, string shardName, Dictionary<string, SafetensorsFile> opened)
    {
        if (opened.TryGetValue(shardName, out var shard))
        {
            return shard;
        }
        var shardPath = Path.Combine(modelDir, shardName);
        if (!File.Exists(shardPath))
        {
            throw CheckpointErrors.InFile(indexPath, $"names shard \"{shardName}\", which is not in the folder");
        }
        shard = SafetensorsFile.Open(shardPath);
        opened.Add(shardName, shard);
        return shard;
    }
}
