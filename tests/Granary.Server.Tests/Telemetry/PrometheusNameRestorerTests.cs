using System.Text;
using Granary.Server.Telemetry;

namespace Granary.Server.Tests.Telemetry;

/// <summary>The byte rewrite behind vLLM's names: only metric names with the <c>vllm_</c> prefix change.</summary>
public sealed class PrometheusNameRestorerTests
{
    static string Restore(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        PrometheusNameRestorer.Restore(bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    [Fact]
    public void Sample_and_comment_lines_get_the_colon()
    {
        const string text = """
            # TYPE vllm_generation_tokens counter
            # HELP vllm_generation_tokens Tokens generated
            # UNIT vllm_time_to_first_token_seconds seconds
            vllm_generation_tokens_total{model_name="m"} 3
            vllm_time_to_first_token_seconds_bucket{model_name="m",le="0.1"} 1
            """;
        Assert.Equal("""
            # TYPE vllm:generation_tokens counter
            # HELP vllm:generation_tokens Tokens generated
            # UNIT vllm:time_to_first_token_seconds seconds
            vllm:generation_tokens_total{model_name="m"} 3
            vllm:time_to_first_token_seconds_bucket{model_name="m",le="0.1"} 1
            """, Restore(text));
    }

    [Fact]
    public void Other_metrics_labels_and_help_text_are_left_alone()
    {
        const string text = """
            # HELP granary_kv_tier_tokens mentions vllm_ in its help
            granary_kv_tier_tokens{tier="device",note="vllm_x"} 0
            target_info{service_name="vllm_like"} 1
            # EOF
            """;
        Assert.Equal(text, Restore(text));
    }

    [Fact]
    public void The_last_line_without_a_newline_is_rewritten_too()
    {
        Assert.Equal("vllm:num_requests_running 0", Restore("vllm_num_requests_running 0"));
    }
}
