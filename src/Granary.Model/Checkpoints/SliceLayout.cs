namespace Granary.Model.Checkpoints;

/// <summary>
/// Where the bytes of a slice along one dimension lie in a row-major tensor: <see cref="BlockCount"/> runs of
/// <see cref="BlockBytes"/> bytes, the first at <see cref="FirstByte"/>, each <see cref="BlockStride"/> after the last.
/// A slice along dim 0 is one run; along the last dim it is one run per row.
/// </summary>
internal sealed record SliceLayout(long[] Shape, long FirstByte, long BlockCount, long BlockBytes, long BlockStride)
{
    public long TotalBytes => BlockCount * BlockBytes;

    public static SliceLayout Whole(TensorEntry entry) =>
        new(entry.Shape, 0, 1, entry.ByteLength, entry.ByteLength);

    /// <param name="length">Elements to take along <paramref name="dim"/>; -1 means through the end.</param>
    public static SliceLayout Of(TensorEntry entry, int dim, long start, long length)
    {
        var rank = entry.Rank;
        if (dim < -rank || dim >= rank)
        {
            throw new ArgumentOutOfRangeException(nameof(dim), dim, $"tensor \"{entry.Name}\" has {rank} dimensions");
        }
        if (dim < 0)
        {
            dim += rank;
        }
        var size = entry.Shape[dim];
        if (length == -1)
        {
            length = size - start;
        }
        if (start < 0 || length < 0 || start > size - length)
        {
            throw new ArgumentOutOfRangeException(nameof(start),
                $"slice [{start}, {start}+{length}) is outside dim {dim} of tensor \"{entry.Name}\" (size {size})");
        }
        var innerBytes = entry.Shape.Skip(dim + 1).Aggregate((long)entry.DType.ElementSize(), (product, s) => product * s);
        var outerCount = entry.Shape.Take(dim).Aggregate(1L, (product, s) => product * s);
        var shape = (long[])entry.Shape.Clone();
        shape[dim] = length;
        return new SliceLayout(shape, start * innerBytes, outerCount, length * innerBytes, size * innerBytes);
    }
}
