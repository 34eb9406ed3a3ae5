using System.CommandLine;
using Granary.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Granary.Server.Cli;

/// <summary>
/// `granary serve`: an Orleans silo with the OpenAI-compatible HTTP API and gRPC in one process. Each flag
/// overrides the matching Granary:* setting from appsettings.json and GRANARY__* environment variables.
/// </summary>
internal static class ServeCommand
{
    static string Limit(string name) => $"{nameof(GranaryServerOptions.Limits)}:{name}";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var flags = new (Option Option, string Setting)[]
        {
            (CliOptions.Model(required: false, "Model folder (Hugging Face layout), or \"default\" for the shipped model (the default)"), nameof(GranaryServerOptions.Model)),
            (new Option<string>("--served-model-name") { Description = "Name clients use as \"model\" (default: the folder's name; granary-default for the shipped model)" }, nameof(GranaryServerOptions.ServedModelName)),
            (new Option<string>("--urls") { Description = "HTTP endpoint(s), ';'-separated (default http://127.0.0.1:8000)" }, nameof(GranaryServerOptions.Urls)),
            (new Option<string>("--grpc-urls") { Description = "gRPC (HTTP/2) endpoint(s) (default http://127.0.0.1:8001)" }, nameof(GranaryServerOptions.GrpcUrls)),
            (new Option<string>("--redis") { Description = "HOST:PORT of Redis for cluster membership (default: localhost clustering)" }, nameof(GranaryServerOptions.Redis)),
            (new Option<string>("--cluster-id") { Description = "Orleans cluster id (default granary)" }, nameof(GranaryServerOptions.ClusterId)),
            (new Option<int>("--silo-port") { Description = "Silo-to-silo port (default 11111)" }, nameof(GranaryServerOptions.SiloPort)),
            (new Option<int>("--gateway-port") { Description = "Orleans client gateway port (default 30000)" }, nameof(GranaryServerOptions.GatewayPort)),
            (new Option<int>("--primary-silo-port") { Description = "Localhost clustering: silo port of the first silo to join" }, nameof(GranaryServerOptions.PrimarySiloPort)),
            (new Option<string>("--advertised-ip") { Description = "Address other silos reach this one at (default 127.0.0.1)" }, nameof(GranaryServerOptions.AdvertisedIp)),
            (CliOptions.Device(), nameof(GranaryServerOptions.Device)),
            (CliOptions.DType(), nameof(GranaryServerOptions.DType)),
            (new Option<int>("--max-num-seqs") { Description = "Most sequences decoding at once (default 64)" }, nameof(GranaryServerOptions.MaxNumSeqs)),
            (new Option<int>("--max-num-batched-tokens") { Description = "Most tokens per forward step; longer prompts prefill in chunks (default 2048)" }, nameof(GranaryServerOptions.MaxNumBatchedTokens)),
            (new Option<int>("--max-num-waiting") { Description = "Most queued requests; more get 429 (default 1024)" }, nameof(GranaryServerOptions.MaxNumWaiting)),
            (new Option<string>("--plan") { Description = "Cut the model into shard grains over the cluster: pp=P,tp=T,vp=V,sp=S (default none)" }, nameof(GranaryServerOptions.Plan)),
            (new Option<int>("--pipeline-lanes") { Description = "Serving lanes of a pipelined plan, whose steps overlap in the stages (default: one per stage where allowed; 1 = off)" }, nameof(GranaryServerOptions.PipelineLanes)),
            (new Option<int>("--devices") { Description = "Device slots this silo offers to shards (default 1)" }, nameof(GranaryServerOptions.Devices)),
            (new Option<string>("--draft") { Description = "Draft model folder (the target's tokenizer), or \"default\" for the shipped draft: decode speculatively" }, nameof(GranaryServerOptions.Draft)),
            (new Option<int>("--speculate") { Description = "Most tokens the draft proposes per step, k (default 4; adapted down at run time)" }, nameof(GranaryServerOptions.Speculate)),
            (new Option<int>("--draft-vocab") { Description = "VocabTrim: keep the draft's LM head to the N most frequent tokens (vocab_trim.json beside the draft; default 0 = all)" }, nameof(GranaryServerOptions.DraftVocab)),
            (new Option<string>("--draft-placement") { Description = "Where the draft runs: local (beside the router), grain (a draft grain: its own device slot, else beside a target shard) or auto (grain when --plan is set; default)" }, nameof(GranaryServerOptions.DraftPlacement)),
            (new Option<long>("--kv-cache-tokens") { Description = "KV positions all running sequences may reserve together (default unlimited)" }, nameof(GranaryServerOptions.KvCacheTokens)),
            (new Option<int>("--kv-tokens-per-shard") { Description = "KV positions of one sequence one shard may hold; longer prompts need sp (default unlimited)" }, nameof(GranaryServerOptions.KvTokensPerShard)),
            (new Option<double>("--shutdown-grace-seconds") { Description = "On SIGTERM: how long in-flight requests may finish while new ones get 503 (default 30)" }, nameof(GranaryServerOptions.ShutdownGraceSeconds)),
            (new Option<double>("--failover-wait-seconds") { Description = "How long a request whose deployment lost a silo waits to be resumed (default 120; 0 = no resuming)" }, nameof(GranaryServerOptions.FailoverWaitSeconds)),
            (new Option<int>("--max-prompt-tokens") { Description = "Most prompt tokens a request may send (default: the model's context)" }, Limit(nameof(RequestLimitsOptions.MaxPromptTokens))),
            (new Option<int>("--max-generated-tokens") { Description = "Most tokens a request may ask to generate (default: the rest of the context)" }, Limit(nameof(RequestLimitsOptions.MaxGeneratedTokens))),
            (new Option<long>("--max-request-body-bytes") { Description = "Largest HTTP body / gRPC message (default 4194304)" }, Limit(nameof(RequestLimitsOptions.MaxRequestBodyBytes))),
            (new Option<int>("--max-concurrent-requests-per-key") { Description = "Most requests one API key may have running; more get 429 (default 0 = no limit)" }, Limit(nameof(RequestLimitsOptions.MaxConcurrentRequestsPerKey))),
            (new Option<int>("--requests-per-minute-per-key") { Description = "Most requests one API key may start per minute; more get 429 (default 0 = no limit)" }, Limit(nameof(RequestLimitsOptions.RequestsPerMinutePerKey))),
            (new Option<double>("--request-timeout-seconds") { Description = "Longest a request may run before it is stopped (default 600; 0 = none)" }, Limit(nameof(RequestLimitsOptions.RequestTimeoutSeconds))),
        };
        var command = new Command("serve", "Start a silo serving the OpenAI-compatible HTTP API and gRPC");
        foreach (var (option, _) in flags) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var overrides = new Dictionary<string, string?>();
            foreach (var (option, setting) in flags)
                if (parse.GetResult(option) is { Implicit: false } result)
                    overrides[setting] = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
            var app = GranaryHost.Build(overrides);
            var options = app.Services.GetRequiredService<GranaryServerOptions>();
            app.Lifetime.ApplicationStarted.Register(() => app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("granary")
                .LogInformation("Granary serving at {Urls} (gRPC {GrpcUrls}); clustering: {Clustering}; BLAS: {Blas}", options.Urls, options.GrpcUrls,
                    options.Redis is null ? "localhost" : $"redis {options.Redis}", Granary.Model.Runtime.TorchRuntime.MklStatus));
            app.Run();
            return GranaryCli.ExitOk;
        });
        return command;
    }
}
