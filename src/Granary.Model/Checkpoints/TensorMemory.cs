using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Checkpoints;

/// <summary>Raw access to the bytes of contiguous CPU tensors, for copying to and from mapped files.</summary>
internal static unsafe class TensorMemory
{
    /// <summary>Span lengths are ints; stream writes go in pieces no larger than this.</summary>
    public const int MaxSpanBytes = 1 << 30;

    /// <summary>Address of the first byte of a contiguous CPU tensor with at least one element.</summary>
    public static byte* DataPointer(Tensor contiguousCpu)
    {
        if (!contiguousCpu.is_contiguous() || contiguousCpu.device_type != DeviceType.CPU)
        {
            throw new ArgumentException("needs a contiguous CPU tensor", nameof(contiguousCpu));
        }
        // TorchSharp only exposes the data address through `bytes`, a Span capped at 2 GiB. A one-element view
        // starts at the same address, so its span yields the pointer for tensors of any size.
        using var flat = contiguousCpu.reshape(-1);
        using var first = flat.narrow(0, 0, 1);
        fixed (byte* address = first.bytes)
        {
            // Native memory owned by the tensor: it does not move, so the pointer outlives the fixed block.
            return address;
        }
    }

    /// <summary>Writes <paramref name="count"/> bytes from native memory to a stream, in span-sized pieces.</summary>
    public static void WriteTo(Stream stream, byte* source, long count)
    {
        for (long done = 0; done < count;)
        {
            var piece = (int)Math.Min(MaxSpanBytes, count - done);
            stream.Write(new ReadOnlySpan<byte>(source + done, piece));
            done += piece;
        }
    }
}
