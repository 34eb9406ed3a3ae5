using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Runtime;

/// <summary>
/// Process-wide libtorch settings that must be in place before the first tensor op.
/// <para>
/// libtorch's x86 build does BLAS through Intel MKL, which on AMD CPUs runs generic kernels that repack the
/// weights on every call: small-model decode spent most of its step there. Two remedies, both skipped on
/// Intel hosts and both turned off by GRANARY_MKL_TUNING=0: MKL's code branch is pinned with MKL_CBWR (set
/// through libc's setenv before libtorch loads, a value the user set is kept), and MKL's Intel check is
/// answered "yes" (<see cref="MklVendorCheck"/>), which enables its tuned kernels: the default model decoded
/// 2.0× faster at batch 1 and 2.3× at batch 16 on an AMD EPYC (Zen 5) host with both and the transposed
/// projection weights (<see cref="Modeling.WeightLayout"/>).
/// </para>
/// </summary>
public static partial class TorchRuntime
{
    static readonly object Gate = new();
    static bool _initialized;

    /// <summary>
    /// Applies the settings once per process. Call it before the first tensor op: the CLI does so first thing,
    /// and <see cref="Modeling.LlamaForCausalLM"/>'s static constructor as a fallback. MKL settles most of its
    /// dispatch on its first BLAS call, so an override that comes after one is only partly effective (measured:
    /// a batch-16 LM-head GEMM ran 1.3 ms after a late override against 0.3-0.5 ms after an early one).
    /// </summary>
    public static void EnsureInitialized()
    {
        lock (Gate)
        {
            if (_initialized) return;
            _initialized = true;
            ConfigureMklForAmd();
        }
    }

    /// <summary>What was done about MKL on this host (for logs and benchmark reports).</summary>
    public static string MklStatus { get; private set; } = "default";

    static void ConfigureMklForAmd()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return;
        if (Environment.GetEnvironmentVariable("GRANARY_MKL_TUNING") == "0")
        {
            MklStatus = "default (GRANARY_MKL_TUNING=0)";
            return;
        }
        string cpuInfo;
        try
        {
            cpuInfo = File.ReadAllText("/proc/cpuinfo");
        }
        catch (IOException)
        {
            return;
        }
        if (!cpuInfo.Contains("AuthenticAMD", StringComparison.Ordinal) || !cpuInfo.Contains(" avx2", StringComparison.Ordinal)) return;
        if (Environment.GetEnvironmentVariable("MKL_CBWR") is null)
            SetNativeEnvironmentVariable("MKL_CBWR", cpuInfo.Contains(" avx512f", StringComparison.Ordinal) ? "AVX512" : "AVX2");
        // The override needs libtorch loaded, and must land before MKL's first call.
        torch.InitializeDeviceType(DeviceType.CPU);
        MklVendorCheck.Override();
        MklStatus = MklVendorCheck.Status;
    }

    static void SetNativeEnvironmentVariable(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        try
        {
            _ = setenv(name, value, overwrite: 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: MKL keeps its default branch, which is only slower, never wrong.
        }
    }

    /// <summary>Models with fewer weight bytes than this decode on one intra-op thread (see <see cref="FitThreadsToModel"/>).</summary>
    public const long SmallModelBytes = 64L << 20;

    /// <summary>
    /// Picks libtorch's intra-op thread count for serving <paramref name="model"/>. A small model's ops are a
    /// few microseconds each, too short to split: on 2 cores one thread decoded the 6.3M-parameter default
    /// model at 217 tokens/s against 5 tokens/s with two threads while another process kept one core busy
    /// (every op waits for the descheduled second thread). Large models keep every core. GRANARY_THREADS=N,
    /// or OMP_NUM_THREADS, overrides. Process-wide; training does not call it.
    /// </summary>
    public static void FitThreadsToModel(ICausalLm model)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("GRANARY_THREADS"), out int threads) && threads > 0)
        {
            torch.set_num_threads(threads);
            return;
        }
        if (Environment.GetEnvironmentVariable("OMP_NUM_THREADS") is not null) return;
        if (model.NumWeightBytes < SmallModelBytes) torch.set_num_threads(1);
    }

    [LibraryImport("libc.so.6", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
