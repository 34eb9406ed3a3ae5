namespace Granary.Model.Configuration;

/// <summary>The <c>rope_scaling</c> block of a Hugging Face config.</summary>
/// <param name="Type">"llama3" or "linear" ("default" means no scaling and is represented by null).</param>
public sealed record RopeScaling(
    string Type,
    double Factor,
    double LowFreqFactor = 1.0,
    double HighFreqFactor = 4.0,
    int OriginalMaxPositionEmbeddings = 8192);
