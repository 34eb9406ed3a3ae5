using TorchSharp;

namespace Granary.Model.Modeling;

/// <summary>A module that only groups named children (HF's "model." prefix); it has no forward of its own.</summary>
internal sealed class ModuleContainer(string name) : torch.nn.Module(name);
