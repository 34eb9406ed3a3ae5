using Granary.TestKit;
using Granary.Model.Checkpoints;
using TorchSharp;
using static Granary.Model.Tests.Checkpoints.CheckpointTestData;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Checkpoints;

public sealed class SafetensorsRoundTripTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void Reads_back_bit_exact_in_the_file_dtype(ScalarType dtype)
    {
        using var folder = new TempDirectory();
        using var written = Random(7, dtype, 17, 33);
        SafetensorsWriter.Write(folder.Combine("t.safetensors"), [new("w", written)]);

        using var file = SafetensorsFile.Open(folder.Combine("t.safetensors"));
        using var read = file.Read("w", dtype, CPU);

        AssertBitExact(written, read);
        Assert.Equal(SafetensorsDTypes.FromScalarType(dtype), file.Tensors["w"].DType);
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void Converts_to_float32_exactly_as_torch_does(ScalarType dtype)
    {
        using var folder = new TempDirectory();
        using var written = Random(11, dtype, 8, 40);
        SafetensorsWriter.Write(folder.Combine("t.safetensors"), [new("w", written)]);

        using var file = SafetensorsFile.Open(folder.Combine("t.safetensors"));
        using var read = file.Read("w", ScalarType.Float32, CPU);
        using var expected = written.to(ScalarType.Float32);

        AssertBitExact(expected, read);
    }

    [Fact]
    public void Round_trips_integer_bool_and_double_tensors_and_odd_shapes()
    {
        using var folder = new TempDirectory();
        var tensors = new List<KeyValuePair<string, Tensor>>
        {
            new("ids", arange(0, 24, ScalarType.Int64).reshape(2, 3, 4)),
            new("positions", tensor(new[] { -3, 0, 5 }, ScalarType.Int32)),
            new("bytes", tensor(new byte[] { 0, 7, 255 })),
            new("mask", tensor(new[] { true, false, true, true })),
            new("scale", tensor(3.25, ScalarType.Float64)),
            new("empty", zeros(new long[] { 0, 4 }, ScalarType.Float32)),
        };
        SafetensorsWriter.Write(folder.Combine("t.safetensors"), tensors);

        using var file = SafetensorsFile.Open(folder.Combine("t.safetensors"));
        foreach (var (name, expected) in tensors)
        {
            using var read = file.Read(name, expected.dtype, CPU);
            AssertBitExact(expected, read);
        }
        DisposeAll(tensors);
    }

    [Fact]
    public void Writes_metadata_and_an_eight_byte_aligned_header()
    {
        using var folder = new TempDirectory();
        using var written = Random(3, ScalarType.Float32, 5);
        var path = folder.Combine("t.safetensors");
        SafetensorsWriter.Write(path, [new("a", written)], new Dictionary<string, string> { ["format"] = "pt" });

        var headerLength = BitConverter.ToUInt64(File.ReadAllBytes(path), 0);
        Assert.Equal(0UL, headerLength % 8);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(new long[] { 5 }, file.Tensors["a"].Shape);
    }

    [Fact]
    public void Writes_non_contiguous_tensors_in_row_major_order()
    {
        using var folder = new TempDirectory();
        using var source = Random(5, ScalarType.Float32, 6, 4);
        using var transposed = source.t();
        SafetensorsWriter.Write(folder.Combine("t.safetensors"), [new("t", transposed)]);

        using var file = SafetensorsFile.Open(folder.Combine("t.safetensors"));
        using var read = file.Read("t", ScalarType.Float32, CPU);
        AssertBitExact(transposed.contiguous(), read);
    }
}
