using Granary.TestKit;
using System.Text;
using Granary.Abstractions;
using Granary.Model.Checkpoints;
using static Granary.Model.Tests.Checkpoints.CheckpointTestData;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Checkpoints;

/// <summary>Every bad input is a <see cref="GranaryUserError"/> with one line naming the file (or folder) at fault.</summary>
public sealed class BadCheckpointTests : IDisposable
{
    private readonly TempDirectory folder = new();

    [Fact]
    public void Missing_folder()
    {
        var missing = Path.Combine(folder.Path, "nope");
        AssertUserError(() => CheckpointReader.Open(missing), missing, "not found");
    }

    [Fact]
    public void Folder_without_safetensors()
    {
        File.WriteAllText(folder.Combine("config.json"), "{}");
        AssertUserError(() => CheckpointReader.Open(folder.Path), folder.Path, "no model.safetensors");
    }

    [Fact]
    public void Truncated_file()
    {
        var path = WriteSingleFile();
        var fullLength = new FileInfo(path).Length;
        using (var stream = File.OpenWrite(path))
        {
            stream.SetLength(fullLength - 10);
        }
        var error = AssertUserError(() => CheckpointReader.Open(folder.Path), "model.safetensors in " + folder.Path, "truncated");
        Assert.Contains($"but the file has {fullLength - 10} bytes", error.Message);
    }

    [Fact]
    public void File_cut_inside_its_header()
    {
        var path = WriteSingleFile();
        using (var stream = File.OpenWrite(path))
        {
            stream.SetLength(20);
        }
        AssertUserError(() => SafetensorsFile.Open(path), "model.safetensors in " + folder.Path, "header length");
    }

    [Fact]
    public void Garbage_header_length()
    {
        var path = WriteSingleFile();
        using (var stream = File.OpenWrite(path))
        {
            stream.Write(Enumerable.Repeat((byte)0xEE, 8).ToArray());
        }
        AssertUserError(() => CheckpointReader.Open(folder.Path), "model.safetensors in " + folder.Path, "header length");
    }

    [Theory]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", "not valid JSON")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", "needs 12")]
    [InlineData("{\"a\": {\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 8]}}", "unknown dtype \"Q4\"")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", "non-negative integer")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", "begin <= end")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", "overlap")]
    [InlineData("{\"__metadata__\": {\"n\": 3}}", "not a string")]
    public void Malformed_headers(string json, string problem)
    {
        var path = folder.Combine("bad.safetensors");
        var header = Encoding.UTF8.GetBytes(json);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. new byte[8]]);
        AssertUserError(() => SafetensorsFile.Open(path), "bad.safetensors in " + folder.Path, problem);
    }

    [Fact]
    public void Dtype_without_a_torch_type_parses_but_cannot_be_read()
    {
        var path = folder.Combine("u16.safetensors");
        var header = Encoding.UTF8.GetBytes("{\"a\": {\"dtype\": \"U16\", \"shape\": [4], \"data_offsets\": [0, 8]}}");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. new byte[8]]);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(SafetensorsDType.U16, file.Tensors["a"].DType);
        AssertUserError(() => file.Read("a", ScalarType.Float32, CPU), "u16.safetensors in " + folder.Path, "U16");
    }

    [Fact]
    public void Index_naming_a_missing_shard()
    {
        WriteShards();
        var lastShard = Directory.GetFiles(folder.Path, "model-*.safetensors").Order().Last();
        File.Delete(lastShard);
        AssertUserError(() => CheckpointReader.Open(folder.Path),
            "model.safetensors.index.json in " + folder.Path, Path.GetFileName(lastShard));
    }

    [Fact]
    public void Index_listing_a_tensor_its_shard_lacks()
    {
        WriteShards();
        var indexPath = folder.Combine("model.safetensors.index.json");
        var firstShard = Path.GetFileName(Directory.GetFiles(folder.Path, "model-*.safetensors").Order().First());
        File.WriteAllText(indexPath, File.ReadAllText(indexPath).Replace("\"weight_map\": {", $"\"weight_map\": {{\"ghost.weight\": \"{firstShard}\","));
        AssertUserError(() => CheckpointReader.Open(folder.Path), firstShard + " in " + folder.Path, "\"ghost.weight\"");
    }

    [Fact]
    public void Truncated_shard()
    {
        WriteShards();
        var shard = Directory.GetFiles(folder.Path, "model-*.safetensors").Order().First();
        using (var stream = File.OpenWrite(shard))
        {
            stream.SetLength(stream.Length - 1);
        }
        AssertUserError(() => CheckpointReader.Open(folder.Path), Path.GetFileName(shard) + " in " + folder.Path, "truncated");
    }

    [Fact]
    public void Unknown_tensor_name()
    {
        var path = WriteSingleFile();
        using var file = SafetensorsFile.Open(path);
        AssertUserError(() => file.Read("nope.weight", ScalarType.Float32, CPU), "model.safetensors in " + folder.Path, "\"nope.weight\"");
        using var reader = CheckpointReader.Open(folder.Path);
        AssertUserError(() => reader.Info("nope.weight"), folder.Path, "\"nope.weight\"");
    }

    public void Dispose() => folder.Dispose();

    private string WriteSingleFile()
    {
        var tensors = MixedFloats(seed: 5);
        var path = folder.Combine("model.safetensors");
        SafetensorsWriter.Write(path, tensors);
        DisposeAll(tensors);
        return path;
    }

    private void WriteShards()
    {
        var tensors = MixedFloats(seed: 6);
        SafetensorsWriter.WriteSharded(folder.Path, tensors, maxShardBytes: 5000);
        DisposeAll(tensors);
    }

    private static GranaryUserError AssertUserError(Func<object> action, params string[] fragments)
    {
        var error = Assert.Throws<GranaryUserError>(action);
        Assert.DoesNotContain('\n', error.Message);
        foreach (var fragment in fragments)
        {
            Assert.Contains(fragment, error.Message);
        }
        return error;
    }
}
