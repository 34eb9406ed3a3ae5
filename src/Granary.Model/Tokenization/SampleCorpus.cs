namespace Granary.Model.Tokenization;

/// <summary>
/// A few KB of built-in text (English prose, Python and C# code, some accented, CJK and emoji text) so a
/// tokenizer for a synthetic test model can be trained without any external file.
/// </summary>
public static class SampleCorpus
{
    public static IReadOnlyList<string> Texts { get; } =
    [
        Prose,
        PythonCode,
        CSharpCode,
        Multilingual,
        ShellAndData,
    ];

    private const string Prose = """
        The granary stood at the edge of the village, where the road bent toward the river. Every autumn the
        farmers carried their sacks of wheat and barley up the wooden ramp, and the keeper wrote each delivery
        into a thick ledger: the name of the family, the weight of the grain, and the date it arrived.

        In winter the keeper measured out what each household needed. He was careful and patient, and he
        never lost track of a single sack. When people asked how he remembered everything, he laughed and
        said that the ledger remembered for him; he only had to read it in the right order.

        A language model works in a similar way. It reads a prompt one token at a time, keeps what it has
        seen in a cache, and then predicts the next token, and the next, until it reaches the end of the
        answer. Tokens are not words: a common word may be a single token, while a rare one is split into
        several pieces. Numbers such as 3.14159, 2024 and 1,000,000 are often split into short digit groups.

        Questions? Answers! Lists: apples, pears, plums; and quotes like "this one" or 'that one' -- all of
        them appear in ordinary text. It's the tokenizer's job to handle them; we'll make sure it doesn't fail.
        """;

    private const string PythonCode = """"
        import math
        from dataclasses import dataclass
        from typing import Iterable, List


        @dataclass
        class Delivery:
            family: str
            weight_kg: float
            day: int


        def total_weight(deliveries: Iterable[Delivery]) -> float:
            """Return the total weight of all deliveries, in kilograms."""
            total = 0.0
            for delivery in deliveries:
                if delivery.weight_kg < 0:
                    raise ValueError(f"negative weight for {delivery.family!r}")
                total += delivery.weight_kg
            return total


        def softmax(logits: List[float], temperature: float = 1.0) -> List[float]:
            scaled = [x / temperature for x in logits]
            peak = max(scaled)
            exps = [math.exp(x - peak) for x in scaled]
            norm = sum(exps)
            return [e / norm for e in exps]


        if __name__ == "__main__":
        	# a tab-indented comment, as some files have
            records = [Delivery("miller", 120.5, 3), Delivery("baker", 80.0, 4)]
            print(total_weight(records))
            print(softmax([1.0, 2.0, 3.0], temperature=0.7))
        """";

    private const string CSharpCode = """
        namespace Granary.Sample;

        public sealed class Ledger
        {
            private readonly Dictionary<string, double> _weights = new();

            public void Record(string family, double weightKg)
            {
                if (weightKg < 0) throw new ArgumentOutOfRangeException(nameof(weightKg));
                _weights[family] = _weights.GetValueOrDefault(family) + weightKg;
            }

            public double Total => _weights.Values.Sum();

            public override string ToString() =>
                string.Join(", ", _weights.Select(pair => $"{pair.Key}={pair.Value:F1}"));
        }
        """;

    private const string Multilingual = """
        A naïve café owner in Zürich served crème brûlée and a smörgåsbord to façade painters.
        Ærøskøbing, São Paulo, Kraków, İstanbul, Reykjavík: naïve café, déjà vu, coöperate, résumé.
        東京は日本の首都です。京都と大阪も大きな都市です。我们在北京学习中文。서울은 한국의 수도입니다.
        Привет, мир! Γειά σου κόσμε! مرحبا بالعالم. שלום עולם. नमस्ते दुनिया।
        Rockets and stars: 🚀 ✨ 🌍 🎉 👍🏽 👨‍👩‍👧 ❤️ — emoji with skin tones and joiners.
        Math and symbols: ∑ x² ≤ ∞, π ≈ 3.14, €5 £3 ¥100 ©2024 ™ → ← ↑ ↓ ✓ ✗.
        Combining marks: é, ä, ñ, and the decomposed café is café.
        """;

    private const string ShellAndData = """
        $ dotnet build Cluster.sln -c Release && dotnet test --no-build
        $ curl -s http://localhost:8080/v1/completions -d '{"prompt": "Hello", "max_tokens": 16}'
        {"id": "cmpl-1", "object": "text_completion", "choices": [{"text": " world", "index": 0}]}
        key,value,count
        alpha,0.125,17
        beta,-3.5e-4,2
        <html><body><p class="note">Hello &amp; welcome</p></body></html>
        """;
}
