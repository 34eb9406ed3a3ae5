using TorchSharp;

namespace Granary.Model.Runtime;

/// <summary>
/// Scalars that live as long as the process, for ops on the serving path. TorchSharp 0.107 turns every .NET
/// number given to an op, and the implicit <c>alpha = 1</c> of <c>a + b</c>, <c>a - b</c> and <c>add_</c>, into a
/// temporary <see cref="Scalar"/> that nothing references once its native handle has been read. A collection
/// during the native call may run the Scalar's finalizer, and libtorch then reads freed memory: under load this
/// failed a step now and then with "Expected false to be true" from Scalar::toFloat (a loop of <c>a + b</c> beside
/// a thread forcing collections fails within seconds). Runtime code therefore writes <c>a.add(b, Scalars.One)</c>,
/// passes these constants, and keeps any other Scalar in a field or a <c>using</c> for the length of the call;
/// ScalarLifetimeRuleTests (Grains.Tests) reads the sources with Roslyn and fails on any temporary Scalar.
/// </summary>
public static class Scalars
{
    public static readonly Scalar Zero = 0;

    public static readonly Scalar One = 1;

    public static readonly Scalar NegativeInfinity = double.NegativeInfinity;
}
