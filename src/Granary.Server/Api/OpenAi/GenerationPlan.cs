using Granary.Abstractions.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>How a validated request is answered: streamed or whole, in the endpoint's <see cref="IResponseShape"/>.</summary>
public sealed record GenerationPlan(CompletionRequest Request, IResponseShape Shape, bool Stream, bool IncludeUsage);
