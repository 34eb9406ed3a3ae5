using Granary.TestKit;
using System.Text.Json;
using Granary.Model.Checkpoints;
using static Granary.Model.Tests.Checkpoints.CheckpointTestData;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Checkpoints;

public sealed class ShardedCheckpointTests
{
    [Fact]
    public void Sharded_and_single_file_checkpoints_load_the_same_tensors()
    {
        using var singleFolder = new TempDirectory();
        using var shardedFolder = new TempDirectory();
        var tensors = MixedFloats(seed: 42);
        SafetensorsWriter.Write(singleFolder.Combine("model.safetensors"), tensors);
        SafetensorsWriter.WriteSharded(shardedFolder.Path, tensors, maxShardBytes: 5000);

        using var single = CheckpointReader.Open(singleFolder.Path);
        using var sharded = CheckpointReader.Open(shardedFolder.Path);

        Assert.Equal(single.TensorNames.Order(), sharded.TensorNames.Order());
        foreach (var (name, original) in tensors)
        {
            using var fromSingle = single.Read(name, original.dtype, CPU);
            using var fromShards = sharded.Read(name, original.dtype, CPU);
            AssertBitExact(original, fromSingle);
            AssertBitExact(original, fromShards);
        }
        Assert.True(sharded.TensorNames.Select(name => sharded.Info(name).FilePath).Distinct().Count() > 2);
        DisposeAll(tensors);
    }

    [Fact]
    public void Writes_hugging_face_shard_names_and_index()
    {
        using var folder = new TempDirectory();
        var tensors = MixedFloats(seed: 1);
        SafetensorsWriter.WriteSharded(folder.Path, tensors, maxShardBytes: 6000);

        var shardFiles = Directory.GetFiles(folder.Path, "model-*.safetensors").Select(Path.GetFileName).Order().ToList();
        using var index = JsonDocument.Parse(File.ReadAllText(folder.Combine("model.safetensors.index.json")));
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        var expectedTotal = tensors.Sum(pair => pair.Value.numel() * pair.Value.element_size());

        Assert.Equal(expectedTotal, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        Assert.Equal(tensors.Select(pair => pair.Key).Order(), weightMap.Keys.Order());
        Assert.Equal(shardFiles, weightMap.Values.Distinct().Order());
        var count = shardFiles.Count;
        Assert.Equal(Enumerable.Range(1, count).Select(i => $"model-{i:D5}-of-{count:D5}.safetensors"), shardFiles);
        DisposeAll(tensors);
    }

    [Fact]
    public void A_tensor_larger_than_the_shard_limit_gets_a_shard_of_its_own()
    {
        using var folder = new TempDirectory();
        using var big = Random(9, ScalarType.Float32, 100);
        using var small = Random(10, ScalarType.Float32, 2);
        SafetensorsWriter.WriteSharded(folder.Path, [new("small", small), new("big", big)], maxShardBytes: 64);

        using var reader = CheckpointReader.Open(folder.Path);
        Assert.EndsWith("model-00002-of-00002.safetensors", reader.Info("big").FilePath);
        using var read = reader.Read("big", ScalarType.Float32, CPU);
        AssertBitExact(big, read);
    }
}
