// MSBuild task (compiled by RoslynCodeTaskFactory from Directory.Build.targets).
//
// TorchSharp 0.107's libLibTorchSharp.so lists GLIBCXX_3.4.32 (GCC 13) among its libstdc++ version
// requirements for a single marker symbol it never calls. On hosts whose libstdc++ stops earlier
// (Debian 12: 3.4.30) the dynamic loader refuses the library and TorchSharp reports a misleading
// "doesn't contain a reference to libtorch". Marking that one requirement VER_FLG_WEAK in the copy in
// the build output makes glibc accept a missing version. Hosts that have the version are left alone.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class WeakenGlibcxxRequirement : Task
{
    const string RequiredVersion = "GLIBCXX_3.4.32";
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        if (Files.Length == 0) return true;
        bool? hostHasVersion = HostLibStdCxxHasVersion();
        if (hostHasVersion == true) return true;
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                if (Patch(path))
                    Log.LogMessage(MessageImportance.Normal, $"Marked {RequiredVersion} weak in {path}");
            }
            catch (Exception e)
            {
                Log.LogWarning($"Could not patch {path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    static bool? HostLibStdCxxHasVersion()
    {
        foreach (var candidate in LibStdCxxCandidates)
        {
            if (!File.Exists(candidate)) continue;
            byte[] bytes = File.ReadAllBytes(candidate);
            return IndexOf(bytes, Encoding.ASCII.GetBytes(RequiredVersion + "\0")) >= 0;
        }
        return null; // unknown host layout: patching is harmless, so go ahead
    }

    /// <summary>Returns true when the file was changed. Idempotent; keeps size and timestamp so that
    /// MSBuild's incremental copy does not overwrite the patched file with the package's original.</summary>
    static bool Patch(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            return false;
        if (elf[4] != 2 || elf[5] != 1) return false; // only ELF64 little-endian

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        bool changed = false;
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
            int verneedOffset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            int linkedStrTab = (int)BitConverter.ToUInt32(elf, sh + 0x28);
            int numVerneed = (int)BitConverter.ToUInt32(elf, sh + 0x2C);
            int strtab = checked((int)BitConverter.ToUInt64(elf, (int)shoff + linkedStrTab * shentsize + 0x18));

            int vn = verneedOffset;
            for (int n = 0; n < numVerneed; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, vn + 2);
                int aux = vn + (int)BitConverter.ToUInt32(elf, vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    int nameOffset = strtab + (int)BitConverter.ToUInt32(elf, aux + 8);
                    if (ReadCString(elf, nameOffset) == RequiredVersion)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VerFlgWeak) == 0)
                        {
                            BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, aux + 4);
                            changed = true;
                        }
                    }
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                vn += (int)BitConverter.ToUInt32(elf, vn + 12);
            }
        }
        if (!changed) return false;

        // Write a new file and move it over the old one, so a hard link into the package cache is never modified.
        DateTime lastWrite = File.GetLastWriteTimeUtc(path);
        string temp = path + ".weakening";
        File.WriteAllBytes(temp, elf);
        File.SetLastWriteTimeUtc(temp, lastWrite);
        File.Delete(path);
        File.Move(temp, path);
        return true;
    }

    static string ReadCString(byte[] bytes, int offset)
    {
        int end = offset;
        while (end < bytes.Length && bytes[end] != 0) end++;
        return Encoding.ASCII.GetString(bytes, offset, end - offset);
    }

    static int IndexOf(byte[] haystack, byte[] needle)
    {
        // The task compiles against netstandard2.0: no span helpers.
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }
}
