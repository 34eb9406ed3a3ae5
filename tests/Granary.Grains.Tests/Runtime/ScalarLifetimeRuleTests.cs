using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Granary.Grains.Tests.Runtime;

/// <summary>
/// Reads the runtime sources (Model, Engine, Grains) with Roslyn and finds every place that hands libtorch a
/// Scalar nothing keeps alive: a .NET number converted to a Scalar at a call, and the hidden <c>alpha = 1</c> of
/// <c>Tensor + ...</c>, <c>add(x)</c> and <c>add_(x)</c>. A collection during the native call may finalize such a
/// Scalar and libtorch then reads freed memory (see Granary.Model.Runtime.Scalars; NativeLifetimeTests shows the
/// failure). Held Scalars (constants in Scalars, fields, usings) are what the code passes instead.
/// </summary>
public sealed class ScalarLifetimeRuleTests
{
    static readonly string[] RuntimeProjects = ["Granary.Model", "Granary.Engine", "Granary.Grains"];

    // Offline tools that never run beside a server: model synthesis and training.
    static readonly string[] OfflineFolders = ["Synthesis", "Training"];

    [Fact]
    public void No_temporary_scalar_reaches_libtorch_on_the_runtime_path()
    {
        var violations = RuntimeProjects.SelectMany(project => Scan(Sources(project), ImplicitUsings(project), project)).ToList();
        Assert.True(violations.Count == 0,
            $"{violations.Count} call(s) hand libtorch a temporary Scalar; pass a held one (Scalars.One, a field, a using):\n" + string.Join("\n", violations));
    }

    [Fact]
    public void The_rule_finds_each_kind_of_temporary_scalar()
    {
        const string code = """
            using TorchSharp;
            using static TorchSharp.torch;
            static class Sample
            {
                static readonly Scalar Held = 1;
                static void Run(Tensor a, Tensor b)
                {
                    var c = a + b;                               // 1: hidden alpha
                    var d = a.masked_fill(b, double.NegativeInfinity); // 2: number converted at the call
                    a.add_(b);                                   // 3: hidden alpha
                    var e = a * 0.5;                             // 4: number converted for an operator
                    var f = a.add(b, Held);                      // fine: held alpha
                    var g = a - b;                               // fine: sub has no alpha
                    var h = a.mul(Held);                         // fine
                }
            }
            """;
        var violations = Scan([CSharpSyntaxTree.ParseText(code, path: "Sample.cs")], ImplicitUsings("Sample"));
        Assert.True(violations.Count == 4, string.Join("\n", violations));
        Assert.Equal([8, 9, 10, 11], violations.Select(v => int.Parse(v.Split(':')[1])));
    }

    static List<SyntaxTree> Sources(string project)
    {
        var src = Path.Combine(RepositoryRoot(), "src");
        return Directory.EnumerateFiles(Path.Combine(src, project), "*.cs", SearchOption.AllDirectories)
            .Where(file => !file.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" || OfflineFolders.Contains(part)))
            .Select(file => CSharpSyntaxTree.ParseText(File.ReadAllText(file), path: Path.GetRelativePath(src, file)))
            .ToList();
    }

    // What the SDK's ImplicitUsings (and Orleans' for the grains) add to every file of the project.
    static SyntaxTree ImplicitUsings(string project)
    {
        string[] namespaces = ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks",
            .. project == "Granary.Grains" ? new[] { "Orleans", "Orleans.Hosting", "Orleans.Runtime" } : []];
        return CSharpSyntaxTree.ParseText(string.Concat(namespaces.Select(n => $"global using {n};\n")), path: "GlobalUsings.g.cs");
    }

    // Each project on its own, against the built assemblies of the others (the ones beside the tests).
    static List<string> Scan(IReadOnlyList<SyntaxTree> trees, SyntaxTree? usings = null, string? project = null)
    {
        var compilation = CSharpCompilation.Create(project ?? "scan", usings is null ? trees : [.. trees, usings], References(project),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        // A type the scan cannot resolve would hide its calls: every name must bind.
        var unresolved = compilation.GetDiagnostics().Where(d => d.Id is "CS0246" or "CS0234" or "CS0103").Take(5).ToList();
        Assert.True(unresolved.Count == 0, "the scan cannot resolve some names: " + string.Join("; ", unresolved));
        var violations = new List<string>();
        foreach (var tree in trees)
        {
            var model = compilation.GetSemanticModel(tree);
            foreach (var node in tree.GetRoot().DescendantNodes())
            {
                string? problem = node switch
                {
                    ExpressionSyntax expression when ConvertsToScalar(model, expression) => $"{expression} becomes a temporary Scalar",
                    BinaryExpressionSyntax { RawKind: (int)SyntaxKind.AddExpression } add when IsTensorMethod(model.GetSymbolInfo(add).Symbol)
                        => $"{add} adds with a temporary alpha",
                    // Tensor-and-number operators make their Scalar inside TorchSharp, out of sight: treated as temporary.
                    BinaryExpressionSyntax binary when model.GetSymbolInfo(binary).Symbol is IMethodSymbol { Parameters: var parameters } op
                        && IsTensorMethod(op) && parameters.Any(p => p.Type.SpecialType is >= SpecialType.System_SByte and <= SpecialType.System_Double)
                        => $"{binary} makes a temporary Scalar of its number",
                    InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.Text: "add" or "add_" } } call
                        when call.ArgumentList.Arguments.Count == 1 && IsTensorMethod(model.GetSymbolInfo(call).Symbol)
                        => $"{call} adds with a temporary alpha",
                    _ => null,
                };
                if (problem is not null && !violations.Any(v => v.StartsWith($"{tree.FilePath}:{node.GetLocation().GetLineSpan().StartLinePosition.Line + 1}:", StringComparison.Ordinal)))
                    violations.Add($"{tree.FilePath}:{node.GetLocation().GetLineSpan().StartLinePosition.Line + 1}: {problem}");
            }
        }
        return violations;
    }

    static bool ConvertsToScalar(SemanticModel model, ExpressionSyntax expression)
    {
        if (expression.Parent is MemberAccessExpressionSyntax access && access.Name == expression) return false; // the access itself is checked
        var conversion = model.GetConversion(expression);
        return conversion.IsUserDefined && conversion.MethodSymbol?.ContainingType?.ToDisplayString() == "TorchSharp.Scalar" && !IsHeld(expression);
    }

    // A Scalar made to be kept: a field's initializer, or a using declaration (disposed at the end of its scope).
    static bool IsHeld(ExpressionSyntax expression) =>
        expression.Parent is EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax { Parent: VariableDeclarationSyntax { Parent: var holder } } }
        && holder is FieldDeclarationSyntax or LocalDeclarationStatementSyntax { UsingKeyword.RawKind: (int)SyntaxKind.UsingKeyword } or UsingStatementSyntax;

    static bool IsTensorMethod(ISymbol? symbol) => symbol is IMethodSymbol { ContainingType: { } type } && type.ToDisplayString() == "TorchSharp.torch.Tensor";

    // The framework and every managed assembly beside the tests (Orleans, TorchSharp, ...), so every type resolves.
    static IEnumerable<MetadataReference> References(string? project) =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"))
            .DistinctBy(Path.GetFileName)
            .Where(path => Path.GetFileNameWithoutExtension(path) != project && IsManaged(path))
            .Select(path => MetadataReference.CreateFromFile(path));

    static bool IsManaged(string path)
    {
        try
        {
            System.Reflection.AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        throw new InvalidOperationException("the tests run outside the repository (no Cluster.sln above " + AppContext.BaseDirectory + ")");
    }
}
