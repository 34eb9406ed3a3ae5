using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Granary.Engine.KvReuse;

/// <summary>
/// The cxl tier as memory bound to a NUMA node: CXL Type-3 expanders show up in Linux as a CPU-less node.
/// One anonymous mapping for all slots, bound with mbind(MPOL_BIND) so its pages can only come from that
/// node (libnuma's numa_alloc_onnode does the same; the syscall avoids a dependency on libnuma). Linux only.
/// </summary>
public sealed class NumaBlockStore : SlottedBlockStore
{
    const int ProtRead = 1, ProtWrite = 2, MapPrivate = 0x02, MapAnonymous = 0x20, MpolBind = 2, MpolMfStrict = 1;

    readonly IntPtr _base;

    public NumaBlockStore(int node, int capacityBlocks, long[] blockShape, ScalarType dtype) : base(capacityBlocks, blockShape, dtype)
    {
        if (!NodeExists(node)) throw new ArgumentException($"NUMA node {node} does not exist on this machine", nameof(node));
        _base = Mmap(IntPtr.Zero, (UIntPtr)NumBytesReserved, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, IntPtr.Zero);
        if (_base == new IntPtr(-1)) throw new InvalidOperationException($"mmap of {NumBytesReserved} bytes for the cxl tier failed (errno {Marshal.GetLastPInvokeError()})");
        var mask = new ulong[node / 64 + 1];
        mask[node / 64] = 1UL << (node % 64);
        long result = Syscall(MbindSyscallNumber(), _base, (IntPtr)NumBytesReserved, MpolBind, mask, (IntPtr)(mask.Length * 64 + 1), MpolMfStrict);
        if (result != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Munmap(_base, (UIntPtr)NumBytesReserved);
            throw new InvalidOperationException($"mbind to NUMA node {node} failed (errno {errno})");
        }
    }

    /// <summary>Whether Linux lists the node (its memory may still be offline).</summary>
    public static bool NodeExists(int node) => node >= 0 && Directory.Exists($"/sys/devices/system/node/node{node}");

    protected override void Write(long offset, byte[] bytes) => Marshal.Copy(bytes, 0, _base + (nint)offset, bytes.Length);

    protected override void Read(long offset, byte[] bytes) => Marshal.Copy(_base + (nint)offset, bytes, 0, bytes.Length);

    public override void Dispose() => Munmap(_base, (UIntPtr)NumBytesReserved);

    static long MbindSyscallNumber() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 237,
        Architecture.Arm64 => 235,
        var other => throw new PlatformNotSupportedException($"mbind is not wired for {other}"),
    };

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    static extern IntPtr Mmap(IntPtr address, UIntPtr length, int protection, int flags, int fd, IntPtr offset);

    [DllImport("libc", EntryPoint = "munmap", SetLastError = true)]
    static extern int Munmap(IntPtr address, UIntPtr length);

    [DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
    static extern long Syscall(long number, IntPtr address, IntPtr length, int mode, ulong[] nodeMask, IntPtr maxNode, int flags);
}
