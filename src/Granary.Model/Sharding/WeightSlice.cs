namespace Granary.Model.Sharding;

/// <summary>
/// The part of a checkpoint tensor a shard's parameter holds: <see cref="Length"/> entries from
/// <see cref="Start"/> along dimension <see cref="Dim"/> (the rest of the tensor whole).
/// </summary>
public sealed record WeightSlice(int Dim, long Start, long Length)
{
    /// <summary>The checkpoint tensor's full shape, given the shard parameter's shape.</summary>
    public long[] FullShape(long[] shardShape, long fullLength)
    {
        var shape = (long[])shardShape.Clone();
        shape[Dim] = fullLength;
        return shape;
    }
}

/// <summary>
/// A module whose parameters are slices of the checkpoint's tensors (tensor-parallel layers). The loader
/// reads exactly those slices from the memory-mapped file, so no process ever loads a whole tensor to cut it.
/// </summary>
public interface ISlicedParameters
{
    /// <summary>The slice behind the parameter named <paramref name="parameterName"/> (local to this module), or null when it is whole.</summary>
    (WeightSlice Slice, long FullLength)? SliceOf(string parameterName);
}
