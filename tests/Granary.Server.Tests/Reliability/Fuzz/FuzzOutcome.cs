namespace Granary.Server.Tests.Reliability.Fuzz;

/// <summary>
/// What one fuzz request got back. <see cref="IsServerFault"/> is what the fuzz test counts: an HTTP 5xx, a
/// gRPC status that means the server broke (Unknown, Internal, DataLoss), or no answer at all where the
/// request was well-formed HTTP (a crashed handler resets the connection).
/// </summary>
public sealed record FuzzOutcome(int Index, string Kind, string Description, int? HttpStatus, int? GrpcStatus, string? Detail, bool IsServerFault)
{
    static readonly int[] ServerFaultGrpcStatuses = [2, 13, 15]; // Unknown, Internal, DataLoss

    public static FuzzOutcome Http(FuzzRequest request, int status, string? body) =>
        new(request.Index, request.Kind, request.Description, status, null, Clip(body), status >= 500);

    public static FuzzOutcome Grpc(FuzzRequest request, int httpStatus, int? grpcStatus, string? message) =>
        new(request.Index, request.Kind, request.Description, httpStatus, grpcStatus, Clip(message),
            httpStatus >= 500 || grpcStatus is null || ServerFaultGrpcStatuses.Contains(grpcStatus.Value));

    /// <summary>The connection ended without a response: a fault unless the request itself was cut off on purpose.</summary>
    public static FuzzOutcome NoResponse(FuzzRequest request, Exception e, bool isExpected) =>
        new(request.Index, request.Kind, request.Description, null, null, $"{e.GetType().Name}: {e.Message} {e.InnerException?.Message}", !isExpected);

    public override string ToString() =>
        $"#{Index} {Kind} ({Description}): HTTP {HttpStatus?.ToString() ?? "-"} grpc {GrpcStatus?.ToString() ?? "-"} {Detail}";

    static string? Clip(string? text) => text is null ? null : text.Length <= 300 ? text : text[..300] + "...";
}

/// <summary>One generated request: its index (with the seed, enough to generate it again), its kind and a short description.</summary>
public sealed record FuzzRequest(int Index, string Kind, string Description);
