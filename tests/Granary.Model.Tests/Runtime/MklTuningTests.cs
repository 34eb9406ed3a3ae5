using System.Runtime.InteropServices;
using Granary.Model.Runtime;
using Xunit;

namespace Granary.Model.Tests.Runtime;

public class MklTuningTests
{
    [Fact]
    public void MKL_inside_libtorch_is_told_it_may_use_its_tuned_kernels()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return; // MKL is x86-64 only
        TorchRuntime.EnsureInitialized();
        TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU); // loaded even when tuning is off
        var answers = MklVendorCheck.Answers();
        Assert.NotNull(answers); // libtorch_cpu.so is loaded and calls the check through its GOT
        var (seenByLibtorch, native) = answers.Value;
        bool amd = File.ReadAllText("/proc/cpuinfo").Contains("AuthenticAMD", StringComparison.Ordinal);
        if (amd && Environment.GetEnvironmentVariable("GRANARY_MKL_TUNING") != "0")
        {
            // The function itself says "not Intel" (MKL's generic kernels); libtorch hears "Intel" (its tuned ones).
            Assert.Equal(0, native);
            Assert.Equal(1, seenByLibtorch);
            Assert.StartsWith("MKL tuned kernels enabled", TorchRuntime.MklStatus);
        }
        else
        {
            Assert.Equal(native, seenByLibtorch); // Intel hosts, or tuning turned off: left alone
        }
    }
}
