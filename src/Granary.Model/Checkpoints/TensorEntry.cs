namespace Granary.Model.Checkpoints;

/// <summary>
/// One tensor as a safetensors header describes it. <see cref="DataBegin"/> and <see cref="DataEnd"/> are
/// offsets into the data section (the bytes after the header), as in the file; <see cref="FilePath"/> is
/// the shard that holds it.
/// </summary>
public sealed record TensorEntry(
    string Name,
    SafetensorsDType DType,
    long[] Shape,
    long DataBegin,
    long DataEnd,
    string FilePath)
{
    public long ElementCount => Shape.Aggregate(1L, (product, size) => product * size);

    public long ByteLength => DataEnd - DataBegin;

    public int Rank => Shape.Length;
}
