using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Engine.Generation;
using Granary.Engine.Speculation;
using Granary.Model.Loading;
using Granary.Model.Tokenization;
using Granary.Server.Models;

namespace Granary.Server.Cli;

/// <summary>`granary generate`: load a model, continue one prompt, print the text (streamed) or a JSON record.</summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = CliOptions.Model(required: false, "Model folder (Hugging Face layout), or \"default\" for the shipped model (the default)");
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text to continue", Required = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 128 };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => 1.0 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass (1 = off)", DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "Keep the K most likely tokens (0 = off)" };
        var repetitionPenalty = new Option<double>("--repetition-penalty") { Description = "> 1 discourages repeats", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<long?>("--seed") { Description = "Seed for reproducible sampling" };
        var stop = new Option<string[]>("--stop") { Description = "Stop string (repeatable)", AllowMultipleArgumentsPerToken = false };
        var chat = new Option<bool>("--chat") { Description = "Wrap the prompt as a user message in the model's chat template" };
        var plan = new Option<string?>("--plan") { Description = "Run the model as shard grains on silos started in this process: pp=P,tp=T (pipeline stages x tensor-parallel ranks)" };
        var draft = CliOptions.Draft();
        var speculate = CliOptions.Speculate();
        var draftVocab = CliOptions.DraftVocab();
        var dtype = CliOptions.DType();
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var command = new Command("generate", "Generate a continuation of a prompt")
        {
            model, prompt, maxTokens, temperature, topP, topK, repetitionPenalty, seed, stop, chat, plan, draft, speculate, draftVocab, dtype, device, json,
        };
        command.SetAction(parse =>
        {
            var sampling = new SamplingParams
            {
                MaxTokens = CliOptions.Positive(parse.GetValue(maxTokens), "--max-tokens"),
                Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP),
                TopK = parse.GetValue(topK),
                RepetitionPenalty = parse.GetValue(repetitionPenalty),
                Seed = parse.GetValue(seed),
                Stop = parse.GetValue(stop) ?? [],
            };
            if (sampling.Validate() is { } problem) throw new GranaryUserError("--" + problem.Replace('_', '-'));
            var request = new GenerateInvocation(
                DefaultModels.ResolveTarget(parse.GetValue(model)), parse.GetValue(prompt)!, parse.GetValue(chat), sampling,
                ParallelPlan.Parse(parse.GetValue(plan)), parse.GetValue(dtype), parse.GetValue(device)!, parse.GetValue(json),
                parse.GetValue(draft) is { } named ? DefaultModels.ResolveDraft(named) : null,
                CliOptions.InRange(parse.GetValue(speculate), 0, 32, "--speculate"),
                CliOptions.AtLeast(parse.GetValue(draftVocab), 0, "--draft-vocab"));
            return Run(request, stdout, stderr).GetAwaiter().GetResult();
        });
        return command;
    }

    sealed record GenerateInvocation(
        string ModelDir, string Prompt, bool Chat, SamplingParams Sampling, ParallelPlan Plan, string? DType, string Device, bool Json,
        string? DraftDir, int Speculate, int DraftVocab);

    static async Task<int> Run(GenerateInvocation invocation, TextWriter stdout, TextWriter stderr)
    {
        var loadWatch = Stopwatch.StartNew();
        var options = new ModelLoadOptions(invocation.DType is null ? null : RunDType.Parse(invocation.DType, "--dtype"), invocation.Device);
        await using var loaded = await RunnableModel.LoadAsync(invocation.ModelDir, options, invocation.Plan, stderr);
        using var draft = invocation.DraftDir is { } draftDir ? DraftLoader.Load(draftDir, options, invocation.DraftVocab) : null;
        draft?.CheckCompatibleWith(loaded.Model);
        double loadMs = loadWatch.Elapsed.TotalMilliseconds;

        var promptIds = EncodePrompt(loaded.Tokenizer, invocation.Prompt, invocation.Chat);
        var speculation = new SpeculationOptions { NumSpeculativeTokens = invocation.Speculate };
        var generator = new BatchGenerator(loaded.Model, loaded.Tokenizer, draft, speculation)
        {
            OnText = invocation.Json ? null : (_, text) => { stdout.Write(text); stdout.Flush(); },
        };
        var (results, timings) = generator.Generate([new GenerationRequest(promptIds, invocation.Sampling)]);
        var result = results[0];
        if (invocation.Json)
            stdout.WriteLine(JsonSerializer.Serialize(GenerateJson.From(result, timings, loadMs, invocation.Plan, draft is null ? null : generator.LastSpeculation), GenerateJson.Options));
        else
            stdout.WriteLine();
        return GranaryCli.ExitOk;
    }

    static IReadOnlyList<int> EncodePrompt(TextTokenizer tokenizer, string prompt, bool chat)
    {
        if (!chat) return tokenizer.Encode(prompt, addBos: tokenizer.AddBosToken);
        if (tokenizer.ChatTemplate == ChatTemplateFamily.None)
            throw new GranaryUserError("--chat: the model's tokenizer_config.json has no chat template");
        string text = ChatPromptFormatter.Format(tokenizer.ChatTemplate, [new ChatMessage("user", prompt)], addGenerationPrompt: true);
        return tokenizer.Encode(text, addBos: false);
    }
}
