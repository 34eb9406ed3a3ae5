namespace Granary.Server.Tests.Reliability.Fuzz;

/// <summary>The server under fuzz: its clients, address, API key and the limits the generator aims around.</summary>
public sealed record FuzzTarget(HttpClient Http, HttpClient GrpcHttp, Uri HttpAddress, string Model, string ApiKey, int MaxRequestBodyBytes, int MaxGeneratedTokens);
