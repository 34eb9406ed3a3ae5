namespace Granary.Model.Runtime;

/// <summary>
/// A step could not run because part of the model is gone (a shard's machine left); the model is being
/// brought back elsewhere, so the requests in the step may be retried. Not a bug in the request or the model.
/// </summary>
public sealed class ModelUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
