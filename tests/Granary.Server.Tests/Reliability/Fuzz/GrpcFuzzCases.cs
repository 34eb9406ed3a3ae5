using Google.Protobuf;
using Granary.Grpc.V1;

namespace Granary.Server.Tests.Reliability.Fuzz;

/// <summary>
/// gRPC calls with random field values, random bytes for the message, wrong length prefixes, the compressed
/// flag without an encoding, cut-off frames, wrong content types and unknown methods.
/// </summary>
public static class GrpcFuzzCases
{
    static readonly string[] Paths = [GrpcWire.GeneratePath, GrpcWire.ChatPath, GrpcWire.ListModelsPath];

    public static async Task<FuzzOutcome> RunAsync(FuzzTarget target, Random random, int index)
    {
        string path = Paths[random.Next(2)];
        byte[] message = path == GrpcWire.ChatPath ? Chat(random, target).ToByteArray() : Generate(random, target).ToByteArray();
        (string kind, string description, byte[] body, string contentType) = random.Next(8) switch
        {
            0 => ("grpc-bytes", "random message bytes", GrpcWire.Frame(RandomBytes(random)), "application/grpc"),
            1 => ("grpc-flip", "flipped bytes", GrpcWire.Frame(Flip(random, message)), "application/grpc"),
            2 => ("grpc-length", "length prefix too long", GrpcWire.Frame(message, declaredLength: message.Length + random.Next(1, 1000)), "application/grpc"),
            3 => ("grpc-compressed", "compressed flag, no encoding", GrpcWire.Frame(message, compressed: true), "application/grpc"),
            4 => ("grpc-cut", "frame cut off", GrpcWire.Frame(message)[..random.Next(0, message.Length + 5)], "application/grpc"),
            5 => ("grpc-content-type", "application/json", GrpcWire.Frame(message), "application/json"),
            _ => ("grpc-fields", path, GrpcWire.Frame(message), "application/grpc"),
        };
        if (random.Next(20) == 0) (path, description) = ("/granary.v1.Granary/NoSuchMethod", description + ", unknown method");
        var request = new FuzzRequest(index, kind, description);
        try
        {
            var reply = await GrpcWire.CallAsync(target.GrpcHttp, path, body, target.ApiKey, contentType);
            // A wrong content type is refused by ASP.NET before gRPC (415): not a gRPC call at all.
            if (contentType != "application/grpc" || reply.GrpcStatus is null && (int)reply.HttpStatus is >= 400 and < 500)
                return FuzzOutcome.Http(request, (int)reply.HttpStatus, reply.GrpcMessage);
            return FuzzOutcome.Grpc(request, (int)reply.HttpStatus, reply.GrpcStatus, reply.GrpcMessage);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return FuzzOutcome.NoResponse(request, e, isExpected: false);
        }
    }

    static GenerateRequest Generate(Random random, FuzzTarget target)
    {
        var request = new GenerateRequest { Model = random.Next(10) == 0 ? FuzzJson.RandomText(random, 6) : target.Model, Sampling = Sampling(random, target) };
        switch (random.Next(4))
        {
            case 0:
                request.Prompt = FuzzJson.RandomText(random, random.Next(0, 200));
                break;
            case 1:
                request.PromptTokenIds.Add(Enumerable.Range(0, random.Next(0, 100)).Select(_ => random.Next(-5, 1000)));
                break;
            case 2:
                request.Prompt = "Hello";
                request.PromptTokenIds.Add(1);
                break;
            default:
                request.Prompt = "Hello";
                break;
        }
        return request;
    }

    static ChatRequest Chat(Random random, FuzzTarget target)
    {
        var request = new ChatRequest { Model = target.Model, Sampling = Sampling(random, target) };
        string[] roles = ["system", "user", "assistant", "tool", "", "USER"];
        for (int i = random.Next(0, 4); i > 0; i--)
            request.Messages.Add(new ChatMessage { Role = roles[random.Next(roles.Length)], Content = FuzzJson.RandomText(random, random.Next(0, 50)) });
        return request;
    }

    static SamplingParams Sampling(Random random, FuzzTarget target)
    {
        var sampling = new SamplingParams();
        if (random.Next(2) == 0) sampling.MaxTokens = random.Next(3) == 0 ? random.Next(int.MinValue, int.MaxValue) : random.Next(1, target.MaxGeneratedTokens + 1);
        else sampling.MaxTokens = target.MaxGeneratedTokens; // the chat default is the rest of the context
        if (random.Next(3) == 0) sampling.Temperature = Edge(random);
        if (random.Next(3) == 0) sampling.TopP = Edge(random);
        if (random.Next(4) == 0) sampling.TopK = random.Next(int.MinValue, int.MaxValue);
        if (random.Next(4) == 0) sampling.RepetitionPenalty = Edge(random);
        if (random.Next(4) == 0) sampling.Seed = random.NextInt64(long.MinValue, long.MaxValue);
        if (random.Next(4) == 0) sampling.Logprobs = random.Next(-3, 30);
        if (random.Next(4) == 0) sampling.Stop.Add(Enumerable.Range(0, random.Next(0, 20)).Select(_ => FuzzJson.RandomText(random, random.Next(0, 4))));
        sampling.IgnoreEos = random.Next(2) == 0;
        return sampling;
    }

    static double Edge(Random random) => random.Next(8) switch
    {
        0 => double.NaN,
        1 => double.PositiveInfinity,
        2 => double.NegativeInfinity,
        3 => -1,
        4 => 0,
        5 => double.MaxValue,
        6 => double.Epsilon,
        _ => random.NextDouble() * 2,
    };

    static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 200)];
        random.NextBytes(bytes);
        return bytes;
    }

    static byte[] Flip(Random random, byte[] message)
    {
        var bytes = (byte[])message.Clone();
        for (int i = random.Next(1, 4); i > 0 && bytes.Length > 0; i--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
        return bytes;
    }
}
