using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Granary.Model.Runtime;

/// <summary>
/// Lets the MKL inside libtorch use its tuned kernels on AMD CPUs.
/// <para>
/// MKL picks its optimized GEMM/GEMV code paths only after asking <c>mkl_serv_intel_cpu_true()</c> whether
/// the CPU is an Intel one; everywhere else it falls back to generic kernels that repack the weight matrix on
/// every call. Those are what small-model decode spends its time in: on an AMD EPYC (Zen 5, AVX-512) the
/// default model's batch-1 step ran 69% inside MKL's generic GEMV. The kernels themselves choose their
/// instruction set from CPUID feature bits, which AMD CPUs report truthfully, so answering "yes" is the
/// widely used remedy (it is what preloading a one-line library that defines the function does).
/// </para>
/// <para>
/// libtorch calls the function through its procedure linkage table, so this rewrites that one GOT slot of
/// <c>libtorch_cpu.so</c> in this process to a two-instruction native stub that returns 1, before the first BLAS call. It finds
/// the slot through the library's own dynamic section (<c>dl_iterate_phdr</c>); if anything is not as
/// expected (another libc, a libtorch without the symbol, a static MKL) it changes nothing and says why in
/// <see cref="Status"/>. Results stay within rounding of the generic kernels' (different summation order).
/// </para>
/// </summary>
internal static unsafe partial class MklVendorCheck
{
    const string Symbol = "mkl_serv_intel_cpu_true";
    const string Library = "libtorch_cpu.so";

    /// <summary>What <see cref="Override"/> did, for logs and benchmark reports.</summary>
    public static string Status { get; private set; } = "not attempted";

    /// <summary>Rewrites libtorch's GOT slot(s) for <c>mkl_serv_intel_cpu_true</c>; true when at least one was rewritten.</summary>
    public static bool Override()
    {
        if (FindLibrary(out string? whyNot) is not { } library)
        {
            Status = $"not overridden: {whyNot}";
            return false;
        }
        var slots = FindSlots(library);
        if (slots.Count == 0)
        {
            Status = $"not overridden: {Library} does not import {Symbol}";
            return false;
        }
        if (ReturnOneStub() is not { } replacement)
        {
            Status = "not overridden: no executable page for the stub (the system forbids it)";
            return false;
        }
        int patched = 0;
        foreach (nint slot in slots)
            if (WriteSlot(library, (nint*)slot, replacement)) patched++;
        Status = patched > 0 ? $"MKL tuned kernels enabled on this AMD CPU ({patched} call site(s) of {Symbol})" : $"not overridden: {Library}'s GOT page could not be opened for writing";
        return patched > 0;
    }

    /// <summary>
    /// What MKL inside libtorch hears when it asks whether the CPU is Intel's (calls through libtorch's own
    /// GOT slot), and what the function itself answers; null when the library or the slot is not found.
    /// </summary>
    public static (int SeenByLibtorch, int Native)? Answers()
    {
        if (FindLibrary(out _) is not { } library) return null;
        var slots = FindSlots(library);
        if (slots.Count == 0 || !NativeLibrary.TryLoad(library.Path, out nint handle)) return null;
        try
        {
            if (!NativeLibrary.TryGetExport(handle, Symbol, out nint native)) return null;
            int seen = ((delegate* unmanaged[Cdecl]<int>)*(nint*)slots[0])();
            return (seen, ((delegate* unmanaged[Cdecl]<int>)native)());
        }
        finally
        {
            NativeLibrary.Free(handle);
        }
    }

    static LibrarySearch? FindLibrary(out string? whyNot)
    {
        var search = new LibrarySearch();
        try
        {
            _ = dl_iterate_phdr(&VisitLibrary, &search);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            whyNot = "no dl_iterate_phdr (not glibc)";
            return null;
        }
        whyNot = search.Dynamic == null ? $"{Library} is not loaded" : null;
        return search.Dynamic == null ? null : search;
    }

    // The replacement: native code, not a managed callback, since MKL asks on every BLAS call and from its own
    // OpenMP threads (a managed callback would attach them to the runtime and stall them in every GC pause).
    // One page, mapped for the lifetime of the process: `mov eax, 1; ret`.
    static nint? ReturnOneStub()
    {
        ReadOnlySpan<byte> code = [0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3];
        nuint pageSize = (nuint)Environment.SystemPageSize;
        void* page = mmap(null, pageSize, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (page == MapFailed) return null;
        code.CopyTo(new Span<byte>(page, code.Length));
        if (mprotect(page, pageSize, ProtRead | ProtExec) != 0)
        {
            _ = munmap(page, pageSize);
            return null;
        }
        return (nint)page;
    }

    struct LibrarySearch
    {
        public nint PathUtf8;
        public nuint Base;
        public Elf64Dyn* Dynamic;
        public nuint RelroStart, RelroEnd;

        public readonly string Path => Marshal.PtrToStringUTF8(PathUtf8)!;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    static int VisitLibrary(DlPhdrInfo* info, nuint size, void* state)
    {
        var search = (LibrarySearch*)state;
        // Runs under the loader's lock: compare bytes in place, allocate nothing.
        if (info->Name == null || !EndsWithLibraryName(info->Name)) return 0;
        search->PathUtf8 = (nint)info->Name;
        search->Base = info->Address;
        for (int i = 0; i < info->NumHeaders; i++)
        {
            var header = &info->Headers[i];
            if (header->Type == PtDynamic) search->Dynamic = (Elf64Dyn*)(info->Address + (nuint)header->VirtualAddress);
            if (header->Type == PtGnuRelro)
            {
                search->RelroStart = info->Address + (nuint)header->VirtualAddress;
                search->RelroEnd = search->RelroStart + (nuint)header->MemorySize;
            }
        }
        return 1; // found: stop iterating
    }

    // The GOT slots through which libtorch calls the symbol (jump slots; data slots if it takes its address).
    static List<nint> FindSlots(in LibrarySearch library)
    {
        var slots = new List<nint>();
        byte* strings = null;
        Elf64Sym* symbols = null;
        Elf64Rela* pltRelocations = null, relocations = null;
        ulong pltBytes = 0, relocationBytes = 0;
        for (var entry = library.Dynamic; entry->Tag != DtNull; entry++)
        {
            switch (entry->Tag)
            {
                case DtStrtab: strings = (byte*)Address(library.Base, entry->Value); break;
                case DtSymtab: symbols = (Elf64Sym*)Address(library.Base, entry->Value); break;
                case DtJmprel: pltRelocations = (Elf64Rela*)Address(library.Base, entry->Value); break;
                case DtPltrelsz: pltBytes = entry->Value; break;
                case DtRela: relocations = (Elf64Rela*)Address(library.Base, entry->Value); break;
                case DtRelasz: relocationBytes = entry->Value; break;
            }
        }
        if (strings == null || symbols == null) return slots;
        AddSlots(slots, library.Base, pltRelocations, pltBytes, symbols, strings);
        AddSlots(slots, library.Base, relocations, relocationBytes, symbols, strings);
        return slots;
    }

    // glibc relocates the dynamic section's addresses in place; other loaders may leave them as offsets.
    static nuint Address(nuint libraryBase, ulong value) => value < libraryBase ? libraryBase + (nuint)value : (nuint)value;

    static void AddSlots(List<nint> slots, nuint libraryBase, Elf64Rela* table, ulong numBytes, Elf64Sym* symbols, byte* strings)
    {
        if (table == null) return;
        ulong count = numBytes / (ulong)sizeof(Elf64Rela);
        for (ulong i = 0; i < count; i++)
        {
            var relocation = &table[i];
            uint type = (uint)(relocation->Info & 0xffffffff);
            if (type != RX8664JumpSlot && type != RX8664GlobDat) continue;
            var symbol = &symbols[relocation->Info >> 32];
            if (NameIs(strings + symbol->Name, Symbol)) slots.Add((nint)(libraryBase + (nuint)relocation->Offset));
        }
    }

    static bool EndsWithLibraryName(byte* path)
    {
        const string suffix = "/" + Library;
        int length = 0;
        while (path[length] != 0) length++;
        if (length < suffix.Length) return false;
        for (int i = 0; i < suffix.Length; i++)
            if (path[length - suffix.Length + i] != (byte)suffix[i]) return false;
        return true;
    }

    static bool NameIs(byte* name, string expected)
    {
        for (int i = 0; i < expected.Length; i++)
            if (name[i] != (byte)expected[i]) return false;
        return name[expected.Length] == 0;
    }

    // The loader makes the whole pages of the RELRO range read-only once it is done (glibc: from the page of its
    // start to the page its end falls in, exclusive; that last, partial page stays writable). A slot on such a
    // page has it opened for the write and closed again; any other slot is written as is.
    static bool WriteSlot(LibrarySearch library, nint* slot, nint replacement)
    {
        nuint pageSize = (nuint)Environment.SystemPageSize;
        nuint page = (nuint)slot & ~(pageSize - 1);
        bool readOnly = page >= (library.RelroStart & ~(pageSize - 1)) && page < (library.RelroEnd & ~(pageSize - 1));
        if (readOnly && mprotect((void*)page, pageSize, ProtRead | ProtWrite) != 0) return false;
        *slot = replacement;
        if (readOnly) _ = mprotect((void*)page, pageSize, ProtRead);
        return true;
    }

    const uint PtDynamic = 2, PtGnuRelro = 0x6474e552;
    const long DtNull = 0, DtPltrelsz = 2, DtStrtab = 5, DtSymtab = 6, DtRela = 7, DtRelasz = 8, DtJmprel = 23;
    const uint RX8664GlobDat = 6, RX8664JumpSlot = 7;
    const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, MapPrivate = 0x02, MapAnonymous = 0x20;
    static readonly void* MapFailed = (void*)-1;

    [StructLayout(LayoutKind.Sequential)]
    struct DlPhdrInfo
    {
        public nuint Address;
        public byte* Name;
        public Elf64Phdr* Headers;
        public ushort NumHeaders;
    }

    [StructLayout(LayoutKind.Sequential)]
    struct Elf64Phdr
    {
        public uint Type, Flags;
        public ulong Offset, VirtualAddress, PhysicalAddress, FileSize, MemorySize, Align;
    }

    [StructLayout(LayoutKind.Sequential)]
    struct Elf64Dyn
    {
        public long Tag;
        public ulong Value;
    }

    [StructLayout(LayoutKind.Sequential)]
    struct Elf64Sym
    {
        public uint Name;
        public byte Info, Other;
        public ushort SectionIndex;
        public ulong Value, Size;
    }

    [StructLayout(LayoutKind.Sequential)]
    struct Elf64Rela
    {
        public ulong Offset, Info;
        public long Addend;
    }

    [LibraryImport("libc.so.6")]
    private static partial int dl_iterate_phdr(delegate* unmanaged[Cdecl]<DlPhdrInfo*, nuint, void*, int> callback, void* state);

    [LibraryImport("libc.so.6")]
    private static partial int mprotect(void* address, nuint length, int protection);

    [LibraryImport("libc.so.6")]
    private static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc.so.6")]
    private static partial int munmap(void* address, nuint length);
}
