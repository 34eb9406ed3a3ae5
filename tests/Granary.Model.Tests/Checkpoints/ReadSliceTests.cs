using Granary.TestKit;
using Granary.Model.Checkpoints;
using static Granary.Model.Tests.Checkpoints.CheckpointTestData;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Checkpoints;

public sealed class ReadSliceTests : IDisposable
{
    private readonly TempDirectory folder = new();
    private readonly Tensor matrix = Random(21, ScalarType.BFloat16, 12, 10);
    private readonly Tensor cube = Random(22, ScalarType.Float32, 4, 6, 5);
    private readonly CheckpointReader reader;

    public ReadSliceTests()
    {
        SafetensorsWriter.WriteSharded(folder.Path, [new("matrix", matrix), new("cube", cube)], maxShardBytes: 300);
        reader = CheckpointReader.Open(folder.Path);
    }

    [Theory]
    [InlineData("matrix", 0, 3, 4)]
    [InlineData("matrix", 0, 0, 12)]
    [InlineData("matrix", 1, 2, 5)]
    [InlineData("matrix", -1, 9, 1)]
    [InlineData("matrix", 1, 10, 0)]
    [InlineData("cube", 0, 1, 2)]
    [InlineData("cube", 1, 2, 3)]
    [InlineData("cube", 2, 0, 4)]
    public void Slice_equals_narrow_of_the_full_tensor(string name, int dim, long start, long length)
    {
        var original = name == "matrix" ? matrix : cube;
        using var expected = original.narrow(dim, start, length);

        using var slice = reader.ReadSlice(name, dim, start, length, original.dtype, CPU);

        AssertBitExact(expected, slice);
    }

    [Fact]
    public void Slice_converts_to_the_requested_dtype()
    {
        using var expected = matrix.narrow(0, 4, 6).to(ScalarType.Float32);

        using var slice = reader.ReadSlice("matrix", 0, 4, 6, ScalarType.Float32, CPU);

        AssertBitExact(expected, slice);
    }

    [Theory]
    [InlineData(2, 0, 1)]
    [InlineData(0, 10, 3)]
    [InlineData(0, -1, 2)]
    public void Slices_outside_the_tensor_are_refused(int dim, long start, long length)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.ReadSlice("matrix", dim, start, length, ScalarType.BFloat16, CPU));
    }

    public void Dispose()
    {
        reader.Dispose();
        matrix.Dispose();
        cube.Dispose();
        folder.Dispose();
    }
}
