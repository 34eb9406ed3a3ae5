using Granary.TestKit;
using System.Text;
using Granary.Model.Checkpoints;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Checkpoints;

/// <summary>Files laid out byte by byte the way Python's safetensors writes them, not by our writer.</summary>
public sealed class HandWrittenHeaderTests
{
    // As Python writes it: compact JSON, "__metadata__" first, header padded with spaces to a multiple of 8,
    // and entries not in data order (the bias's bytes come after the weight's though it is listed first).
    private const string PythonStyleHeader =
        "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"hand made\"},"
        + "\"bias\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[16,22]},"
        + "\"weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";

    [Fact]
    public void Parses_a_python_style_header_with_metadata_and_padding()
    {
        using var folder = new TempDirectory();
        var path = folder.Combine("model.safetensors");
        File.WriteAllBytes(path, PythonStyleFile());

        using var file = SafetensorsFile.Open(path);

        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("hand made", file.Metadata["note"]);
        Assert.Equal(new[] { "bias", "weight" }, file.Tensors.Keys.Order());
        var bias = file.Tensors["bias"];
        Assert.Equal((SafetensorsDType.BF16, 16L, 22L, path), (bias.DType, bias.DataBegin, bias.DataEnd, bias.FilePath));
        using var weight = file.Read("weight", ScalarType.Float32, CPU);
        Assert.Equal(new[] { 1.5f, -2f, 0.25f, 8f }, weight.data<float>().ToArray());
        using var biasValues = file.Read("bias", ScalarType.Float32, CPU);
        Assert.Equal(new[] { 1f, -2f, 0.5f }, biasValues.data<float>().ToArray());
    }

    [Fact]
    public void Checkpoint_reader_opens_a_lone_model_safetensors()
    {
        using var folder = new TempDirectory();
        File.WriteAllBytes(folder.Combine("model.safetensors"), PythonStyleFile());

        using var reader = CheckpointReader.Open(folder.Path);

        Assert.Equal(2, reader.TensorNames.Count);
        Assert.True(reader.Contains("weight"));
        Assert.False(reader.Contains("missing"));
        Assert.Equal(new long[] { 2, 2 }, reader.Info("weight").Shape);
        using var bias = reader.Read("bias", ScalarType.BFloat16, CPU);
        Assert.Equal(ScalarType.BFloat16, bias.dtype);
    }

    private static byte[] PythonStyleFile()
    {
        var json = Encoding.UTF8.GetBytes(PythonStyleHeader);
        var paddedLength = (json.Length + 7) / 8 * 8;
        var bytes = new List<byte>();
        bytes.AddRange(BitConverter.GetBytes((ulong)paddedLength));
        bytes.AddRange(json);
        bytes.AddRange(Enumerable.Repeat((byte)' ', paddedLength - json.Length));
        foreach (var value in new[] { 1.5f, -2f, 0.25f, 8f })
        {
            bytes.AddRange(BitConverter.GetBytes(value));
        }
        // bfloat16 is the high half of a float32: 1.0, -2.0, 0.5.
        foreach (ushort bits in new ushort[] { 0x3F80, 0xC000, 0x3F00 })
        {
            bytes.AddRange(BitConverter.GetBytes(bits));
        }
        return bytes.ToArray();
    }
}
