using Granary.Grains.Sharding;
using TorchSharp;

namespace Granary.Grains.Tests.Sharding;

/// <summary>Hidden states pushed from stage to stage meet the micro-batch waiting for them, whichever comes first.</summary>
public sealed class StageInputsTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    static TensorPayload Payload(byte value) => new([1], torch.ScalarType.Byte, [value]);

    [Fact]
    public async Task A_push_before_its_micro_batch_is_kept_until_asked_for()
    {
        var inputs = new StageInputs();
        inputs.Accept(7, Payload(7));
        Assert.Equal(1, inputs.NumPending);

        Assert.Equal(7, (await inputs.Receive(7, Long)).Data[0]);
        Assert.Equal(0, inputs.NumPending);
    }

    [Fact]
    public async Task A_micro_batch_waits_for_its_own_step_only()
    {
        var inputs = new StageInputs();
        var waiting = inputs.Receive(5, Long);
        inputs.Accept(6, Payload(6));
        Assert.False(waiting.IsCompleted);

        inputs.Accept(5, Payload(5));
        Assert.Equal(5, (await waiting).Data[0]);
        Assert.Equal(6, (await inputs.Receive(6, Long)).Data[0]);
    }

    [Fact]
    public async Task An_input_that_never_comes_is_a_timeout_naming_the_step()
    {
        var inputs = new StageInputs();
        var error = await Assert.ThrowsAsync<TimeoutException>(() => inputs.Receive(9, TimeSpan.FromMilliseconds(50)));
        Assert.Contains("step 9", error.Message);
        Assert.Equal(0, inputs.NumPending);
    }

    [Fact]
    public async Task Pushes_of_failed_steps_are_dropped_once_a_later_step_is_received()
    {
        var inputs = new StageInputs();
        inputs.Accept(3, Payload(3)); // its micro-batch failed before reaching this stage
        inputs.Accept(4, Payload(4));

        await inputs.Receive(4, Long);
        Assert.Equal(0, inputs.NumPending);
    }
}
