using Granary.Model.Loading;
using Granary.Model.Runtime;
using Spectre.Console;

namespace Granary.Server.Cli;

/// <summary>
/// Loads a model to run it (with a Spectre.Console progress bar on stderr when stderr is a terminal), and fits
/// libtorch's thread count to it (<see cref="TorchRuntime.FitThreadsToModel"/>).
/// </summary>
internal static class LoadProgressBar
{
    public static LoadedModel Load(string modelDir, ModelLoadOptions options, TextWriter stderr)
    {
        var loaded = LoadQuietlyOrWithBar(modelDir, options, stderr);
        TorchRuntime.FitThreadsToModel(loaded.Model);
        return loaded;
    }

    static LoadedModel LoadQuietlyOrWithBar(string modelDir, ModelLoadOptions options, TextWriter stderr)
    {
        if (Console.IsErrorRedirected || stderr != Console.Error)
            return ModelLoader.Load(modelDir, options);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) });
        LoadedModel? loaded = null;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask($"loading {Path.GetFileName(Path.GetFullPath(modelDir))}", maxValue: 1.0);
                var progress = new SynchronousProgress(p => task.Value = p.NumBytes == 0 ? 1.0 : (double)p.NumBytesLoaded / p.NumBytes);
                loaded = ModelLoader.Load(modelDir, options, progress);
                task.Value = 1.0;
            });
        return loaded!;
    }

    // Progress<T> posts to the thread pool; the bar must update on the loading thread, in order.
    sealed class SynchronousProgress(Action<LoadProgress> report) : IProgress<LoadProgress>
    {
        public void Report(LoadProgress value) => report(value);
    }
}
