using System.Runtime.InteropServices;

namespace Granary.Model.Training;

/// <summary>
/// Keeps glibc from handing training's large temporaries back to the kernel after every step.
/// <para>
/// By default glibc serves blocks above a (dynamic, 128 KB to 32 MB) threshold with fresh mmaps and trims the
/// heap top as soon as it frees, so every step's activations and gradients are page-faulted and zeroed anew:
/// on a 2-core EPYC a third of training time went to the kernel and the draft trained 3.5x slower
/// (3.4k vs 11.9k tokens/s with the environment variables below). Raising the mmap threshold to its maximum
/// and never trimming keeps those pages in the heap for reuse. Blocks above the 32 MB ceiling (a batch's
/// [tokens, vocab] logits are 134 MB) still went to mmap: forbidding mmap for malloc altogether (M_MMAP_MAX=0)
/// made a 4096-token forward of the default target 3x faster (0.42 s vs 1.2-1.3 s). Set here at run time
/// it recovers only part of that: threads and arenas made before it keep their settings, so for long runs
/// also set MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=1073741824 in the
/// environment of the process (tools/train-default/train.sh does).
/// Linux/glibc only; elsewhere this does nothing.
/// </para>
/// </summary>
public static partial class NativeHeapTuning
{
    const int TrimThreshold = -1, TopPad = -2, MmapThreshold = -3, MmapMax = -4; // glibc's M_* parameter numbers

    public static void KeepFreedMemoryForReuse()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            _ = mallopt(MmapThreshold, 32 * 1024 * 1024); // glibc's ceiling on 64-bit
            _ = mallopt(MmapMax, 0); // and nothing above it is mmapped either
            _ = mallopt(TrimThreshold, int.MaxValue);
            _ = mallopt(TopPad, 1 << 30); // grow the heap 1 GB at a time: fewer brk calls
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl): training is only slower.
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    private static partial int mallopt(int parameter, int value);
}
