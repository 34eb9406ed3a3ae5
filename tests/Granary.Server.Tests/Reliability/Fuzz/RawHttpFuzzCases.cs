using System.Net.Sockets;
using System.Text;

namespace Granary.Server.Tests.Reliability.Fuzz;

/// <summary>
/// Requests written byte by byte on a socket, for what HttpClient will not send: a body shorter than its
/// Content-Length, a connection closed mid-request, a garbage request line, a client that sends very slowly.
/// </summary>
public static class RawHttpFuzzCases
{
    public static async Task<FuzzOutcome> RunAsync(FuzzTarget target, Random random, int index)
    {
        string body = FuzzJson.Write(FuzzJson.ValidBody(random, chat: false, target.Model));
        byte[] bodyBytes = Encoding.UTF8.GetBytes(body);
        switch (random.Next(5))
        {
            case 0:
            {
                // Content-Length promises more than arrives, then the client half-closes: Kestrel sees the body end early.
                int sent = random.Next(bodyBytes.Length);
                var request = new FuzzRequest(index, "short-body", $"{sent} of {bodyBytes.Length} bytes");
                return await ExchangeAsync(target, request, Head(target, bodyBytes.Length), bodyBytes[..sent], halfClose: true, answerExpected: false);
            }
            case 1:
            {
                // Gone mid-request: no answer is owed.
                var request = new FuzzRequest(index, "dropped", "closed mid-body");
                return await ExchangeAsync(target, request, Head(target, bodyBytes.Length), bodyBytes[..(bodyBytes.Length / 2)], halfClose: false, answerExpected: false, readAnswer: false);
            }
            case 2:
            {
                string line = random.Next(3) switch
                {
                    0 => "POST /v1/completions HTTP/9.9\r\n\r\n",
                    1 => $"{FuzzJson.RandomText(random, 12).Replace("\n", "")}\r\n\r\n",
                    _ => "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                };
                var request = new FuzzRequest(index, line.Contains("HTTP/9.9") ? "http-version" : "garbage", line.Trim());
                return await ExchangeAsync(target, request, Encoding.UTF8.GetBytes(line), [], halfClose: true, answerExpected: false);
            }
            case 3:
            {
                var request = new FuzzRequest(index, "huge-content-length", "Content-Length: 99999999999999999999");
                string head = $"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {target.ApiKey}\r\nContent-Length: 99999999999999999999\r\n\r\n";
                return await ExchangeAsync(target, request, Encoding.UTF8.GetBytes(head), bodyBytes, halfClose: true, answerExpected: false);
            }
            default:
            {
                // A slow client: the body dribbles in, a few bytes at a time; it is still a valid request.
                var request = new FuzzRequest(index, "slow", $"{bodyBytes.Length} bytes in pieces");
                return await ExchangeAsync(target, request, Head(target, bodyBytes.Length), bodyBytes, halfClose: false, answerExpected: true, slow: random);
            }
        }
    }

    static byte[] Head(FuzzTarget target, int contentLength) => Encoding.ASCII.GetBytes(
        $"POST /v1/completions HTTP/1.1\r\nHost: {target.HttpAddress.Authority}\r\nContent-Type: application/json\r\n" +
        $"Authorization: Bearer {target.ApiKey}\r\nContent-Length: {contentLength}\r\nConnection: close\r\n\r\n");

    static async Task<FuzzOutcome> ExchangeAsync(FuzzTarget target, FuzzRequest request, byte[] head, byte[] body, bool halfClose,
        bool answerExpected, bool readAnswer = true, Random? slow = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await socket.ConnectAsync(target.HttpAddress.Host, target.HttpAddress.Port, timeout.Token);
            await socket.SendAsync(head, timeout.Token);
            if (slow is null) await socket.SendAsync(body, timeout.Token);
            else
                for (int offset = 0; offset < body.Length;)
                {
                    int count = Math.Min(body.Length - offset, slow.Next(1, 40));
                    await socket.SendAsync(body.AsMemory(offset, count), timeout.Token);
                    offset += count;
                    await Task.Delay(slow.Next(1, 30), timeout.Token);
                }
            if (!readAnswer) return new FuzzOutcome(request.Index, request.Kind, request.Description, null, null, "not read", false);
            if (halfClose) socket.Shutdown(SocketShutdown.Send);
            string answer = await ReadAllAsync(socket, timeout.Token);
            if (answer.Length == 0) return new FuzzOutcome(request.Index, request.Kind, request.Description, null, null, "closed", answerExpected);
            if (!answer.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) || !int.TryParse(answer.AsSpan(9, 3), out int status))
                return new FuzzOutcome(request.Index, request.Kind, request.Description, null, null, $"not HTTP: {answer[..Math.Min(80, answer.Length)]}", true);
            // NOTE: Kestrel itself answers a request line with an unknown HTTP version with 505 before any
            // Granary code runs; that status is the protocol's own answer to this client mistake, so it is not
            // counted as a server fault.
            if (request.Kind is "http-version" or "garbage" && status == 505) return FuzzOutcome.Http(request, status, answer) with { IsServerFault = false };
            return FuzzOutcome.Http(request, status, answer);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return FuzzOutcome.NoResponse(request, e, isExpected: !answerExpected && e is not OperationCanceledException);
        }
    }

    static async Task<string> ReadAllAsync(Socket socket, CancellationToken cancellationToken)
    {
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            int read = await socket.ReceiveAsync(buffer, cancellationToken);
            if (read == 0) break;
            answer.Write(buffer, 0, read);
        }
        return Encoding.UTF8.GetString(answer.ToArray());
    }
}
