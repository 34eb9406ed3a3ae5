using Granary.Model.Modeling;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Modeling;

public class WeightLayoutTests
{
    [Fact]
    public void Projection_weights_keep_the_checkpoint_shape_but_are_stored_transposed()
    {
        using var layer = new LinearLayer(inFeatures: 48, outFeatures: 80, hasBias: true, float32, CPU);
        Assert.Equal(new long[] { 80, 48 }, layer.Weight.shape);
        Assert.Equal(new long[] { 1, 80 }, layer.Weight.stride()); // [in, out] row-major underneath
        Assert.True(layer.Weight.t().is_contiguous());
    }

    [Fact]
    public void A_transposed_projection_computes_x_times_W_transposed_plus_b()
    {
        using var layer = new LinearLayer(inFeatures: 48, outFeatures: 80, hasBias: true, float32, CPU);
        var generator = new Generator(7);
        using var weight = randn([80, 48], generator: generator);
        using var bias = randn([80], generator: generator);
        using (no_grad())
        {
            layer.Weight.copy_(weight);
            layer.Bias!.copy_(bias);
        }
        foreach (int rows in new[] { 1, 3, 16 })
        {
            using var x = randn([rows, 48], generator: generator);
            using var expected = x.matmul(weight.t().contiguous()).add(bias); // the product from an ordinary [out, in] copy
            using var actual = layer.forward(x);
            Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-5), $"rows {rows}: max |diff| {(actual - expected).abs().max().item<float>()}");
        }
    }

    [Theory]
    [InlineData(5, 7)]     // fewer rows than a block
    [InlineData(37, 19)]   // blocks and a remainder
    public void Copying_a_checkpoint_matrix_into_a_transposed_weight_keeps_every_value(int outFeatures, int inFeatures)
    {
        using var layer = new LinearLayer(inFeatures, outFeatures, hasBias: false, float32, CPU);
        using var values = arange(outFeatures * inFeatures, float32).view(outFeatures, inFeatures);
        using (no_grad()) WeightLayout.CopyInto(layer.Weight, values);
        using var contiguous = layer.Weight.contiguous();
        Assert.Equal(values.data<float>().ToArray(), contiguous.data<float>().ToArray());
    }

    [Fact]
    public void A_tied_embedding_is_stored_for_the_head_and_still_looks_up_rows()
    {
        using var table = new EmbeddingLayer(vocabSize: 50, hiddenSize: 12, float32, CPU, tiedHead: true);
        using var values = arange(50 * 12, float32).view(50, 12);
        using (no_grad()) table.Weight.copy_(values);
        Assert.Equal(new long[] { 1, 50 }, table.Weight.stride());
        using var ids = tensor(new long[] { 3, 0, 49, 3 });
        using var rows = table.forward(ids);
        using var expected = values.index_select(0, ids);
        Assert.Equal(expected.data<float>().ToArray(), rows.data<float>().ToArray());
    }
}
