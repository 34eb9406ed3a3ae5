namespace Granary.Abstractions;

/// <summary>Why a sequence stopped, with the OpenAI API's wire names.</summary>
public enum FinishReason
{
    /// <summary>An end-of-sequence token or a stop string.</summary>
    Stop,

    /// <summary>max_tokens reached, or the context is full.</summary>
    Length,
}

public static class FinishReasonNames
{
    public static string ToWireName(this FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };
}
