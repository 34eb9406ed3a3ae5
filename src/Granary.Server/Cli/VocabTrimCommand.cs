using System.CommandLine;
using Granary.Abstractions;
using Granary.Engine.Speculation;
using Granary.Model.Tokenization;
using Granary.Model.Training;
using Granary.Server.Models;

namespace Granary.Server.Cli;

/// <summary>
/// `granary model vocab-trim`: counts token frequencies of a calibration corpus with the draft's tokenizer and
/// writes them beside the draft as vocab_trim.json, which `--draft-vocab N` reads to keep the N most frequent.
/// </summary>
internal static class VocabTrimCommand
{
    public static Command Create(TextWriter stdout)
    {
        var draft = new Option<string>("--draft") { Description = "Draft model folder, or \"default\"", Required = true };
        var corpus = new Option<string>("--corpus") { Description = "Calibration text: a .py tree (its training split is used) or one text file", DefaultValueFactory = _ => TrainingOptions.DefaultCorpusRoot };
        var maxFiles = new Option<int?>("--max-files") { Description = "Count only the first N files of the tree" };
        var command = new Command("vocab-trim", "Write vocab_trim.json (token frequencies of a calibration text) beside a draft model") { draft, corpus, maxFiles };
        command.SetAction(parse =>
        {
            string draftDir = DefaultModels.ResolveDraft(parse.GetValue(draft));
            string source = parse.GetValue(corpus)!;
            var tokenizer = TextTokenizer.Load(draftDir);
            IEnumerable<string> texts;
            if (File.Exists(source)) texts = [File.ReadAllText(source)];
            else if (Directory.Exists(source))
                texts = SourceCorpus.Load(source, new TrainingOptions().HeldOutFraction, parse.GetValue(maxFiles)).Training.Select(f => f.Text);
            else throw new GranaryUserError($"--corpus: {source} is neither a file nor a folder");
            var calibration = VocabTrimCalibration.Build(tokenizer, texts, source);
            if (calibration.NumTokens == 0) throw new GranaryUserError($"--corpus: {source} has no text to count");
            calibration.Save(draftDir);
            stdout.WriteLine($"{Path.Combine(draftDir, VocabTrimCalibration.FileName)}: {calibration.NumTokens} tokens counted, {calibration.TokenIds.Length} distinct; "
                + string.Join(", ", new[] { 512, 1024, 2048, 4096 }.Select(n => $"top {n} cover {calibration.Coverage(n):P1}")));
            return GranaryCli.ExitOk;
        });
        return command;
    }
}
