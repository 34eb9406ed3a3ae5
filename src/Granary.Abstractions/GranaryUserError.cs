namespace Granary.Abstractions;

/// <summary>
/// An error caused by what the user gave us (a file, a flag, a request field), with a message fit to show
/// as-is: one line that names the file or flag at fault. The CLI prints it without a stack trace and exits
/// non-zero; the HTTP API turns it into a 4xx with an OpenAI-style error body.
/// </summary>
public class GranaryUserError : Exception
{
    public GranaryUserError(string message) : base(message) { }

    public GranaryUserError(string message, Exception inner) : base(message, inner) { }
}
