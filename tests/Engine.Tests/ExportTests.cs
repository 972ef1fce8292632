using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Dsl.Engine.Interop;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// native/dsl_api.h is the single declaration of every C export. These tests parse it and check it
/// against the [LibraryImport] declarations in Dsl.Engine.Interop.Native (names, parameter counts,
/// parameter and return types) and against the built libdsl_native.so (every export present).
/// </summary>
[TestFixture]
public class ExportTests
{
    /// <summary>One prototype from the header: <c>DSL_API ret name(params);</c>.</summary>
    public sealed record CFunction(string Name, string Return, IReadOnlyList<CParam> Params)
    {
        public override string ToString() => $"{Return} {Name}({string.Join(", ", Params)})";
    }

    public sealed record CParam(string Type, string Name)
    {
        public override string ToString() => $"{Type} {Name}";
    }

    static string HeaderPath => Path.Combine(AppContext.BaseDirectory, "native", "dsl_api.h");
    static string LibraryPath => Path.Combine(AppContext.BaseDirectory, NativeLoader.FileName);

    // ---- the small header parser ----

    static readonly Regex Comments = new(@"/\*.*?\*/|//[^\n]*", RegexOptions.Singleline);
    static readonly Regex Prototype = new(@"\bDSL_API\s+(?<ret>[^;{}()]*?)\s*\b(?<name>[A-Za-z_]\w*)\s*\((?<params>[^()]*)\)\s*;", RegexOptions.Singleline);
    static readonly Regex Spaces = new(@"\s+");

    /// <summary>Normalises a C type: single spaces, '*' attached to the type ("const int64_t *" → "const int64_t*").</summary>
    static string NormType(string t)
    {
        t = Spaces.Replace(t.Trim(), " ");
        t = Regex.Replace(t, @"\s*\*\s*", "*");
        return t;
    }

    static CParam ParseParam(string p)
    {
        p = Spaces.Replace(p.Trim(), " ");
        var m = Regex.Match(p, @"^(?<type>.*?[\s\*])(?<name>[A-Za-z_]\w*)$");
        if (!m.Success) throw new FormatException($"cannot parse C parameter '{p}'");
        return new CParam(NormType(m.Groups["type"].Value), m.Groups["name"].Value);
    }

    internal static List<CFunction> ParseHeader(string text)
    {
        var code = Comments.Replace(text, " ");
        // Drop preprocessor lines (the DSL_API #define itself would otherwise look like a prototype prefix).
        code = string.Join("\n", code.Split('\n').Where(l => !l.TrimStart().StartsWith('#')));
        var list = new List<CFunction>();
        foreach (Match m in Prototype.Matches(code))
        {
            var ps = m.Groups["params"].Value.Trim();
            var parms = ps is "" or "void" ? new List<CParam>() : ps.Split(',').Select(ParseParam).ToList();
            list.Add(new CFunction(m.Groups["name"].Value, NormType(m.Groups["ret"].Value), parms));
        }
        return list;
    }

    static List<CFunction> Header()
    {
        Assert.That(File.Exists(HeaderPath), Is.True, $"{HeaderPath} is missing; Engine.Tests.csproj copies src/Core.CSharp/Engine/native/dsl_api.h there.");
        var fns = ParseHeader(File.ReadAllText(HeaderPath));
        Assert.That(fns, Is.Not.Empty, "no DSL_API prototypes were found in dsl_api.h");
        return fns;
    }

    static Dictionary<string, MethodInfo> Imports()
    {
        var methods = typeof(Native).GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
            .Where(m => m.GetCustomAttribute<LibraryImportAttribute>() is not null)
            .ToList();
        var byName = new Dictionary<string, MethodInfo>();
        foreach (var m in methods)
        {
            var name = m.GetCustomAttribute<LibraryImportAttribute>()!.EntryPoint ?? m.Name;
            Assert.That(byName.TryAdd(name, m), Is.True, $"two [LibraryImport] declarations bind {name}");
        }
        return byName;
    }

    // ---- C type → C# type ----

    static readonly Dictionary<string, Type> Scalars = new()
    {
        ["int32_t"] = typeof(int), ["int64_t"] = typeof(long), ["double"] = typeof(double),
        ["dsl_options"] = typeof(NativeOptions), ["void"] = typeof(void),
        ["dsl_tensor"] = typeof(nint), ["dsl_generator"] = typeof(nint), ["dsl_dist_group"] = typeof(nint), ["uint8_t"] = typeof(byte),
    };

    /// <summary>Null when <paramref name="cs"/> is a valid C# type for the C type <paramref name="c"/>, else the reason.</summary>
    internal static string? Mismatch(string c, Type cs)
    {
        c = NormType(c);
        if (c == "const char*")
            return cs == typeof(byte*) ? null : $"const char* must be byte* (not {cs})";
        if (c.EndsWith('*'))
        {
            if (cs == typeof(nint)) return null;   // an opaque pointer passed as nint is fine
            if (!cs.IsPointer) return $"{c} must be a pointer type or nint (not {cs})";
            var pointee = c[..^1];
            if (pointee.StartsWith("const ")) pointee = pointee["const ".Length..];
            var inner = cs.GetElementType()!;
            if (pointee == "void") return inner == typeof(void) ? null : $"{c} must be void* or nint (not {cs})";
            return Mismatch(pointee, inner) is null ? null : $"{c} must point to the C# equivalent of {pointee} (not {cs})";
        }
        if (c.StartsWith("const ")) c = c["const ".Length..];
        // A tensor argument may be passed as the Tensor itself: its marshaller holds a use of the handle for the call.
        if (c == "dsl_tensor" && cs == typeof(Tensor)) return null;
        if (!Scalars.TryGetValue(c, out var expected)) return $"the test does not know the C type '{c}'; add it to ExportTests.Scalars";
        return cs == expected ? null : $"{c} must be {expected.Name} (not {cs.Name})";
    }

    // ---- tests ----

    [Test]
    public void ParserReadsTheShapesOfPrototypes()
    {
        var fns = ParseHeader("""
            /* DSL_API int32_t not_this(void); */
            #define DSL_API __attribute__((visibility("default")))
            DSL_API const char* f0(void);
            DSL_API void f1(dsl_tensor t);
            DSL_API int32_t f2(const dsl_tensor* outputs, const int64_t *shape,
                               int32_t n);   // trailing comment
            DSL_API dsl_tensor f3(double a, dsl_options o);
            """);
        Assert.That(fns.Select(f => f.ToString()), Is.EqualTo(new[]
        {
            "const char* f0()",
            "void f1(dsl_tensor t)",
            "int32_t f2(const dsl_tensor* outputs, const int64_t* shape, int32_t n)",
            "dsl_tensor f3(double a, dsl_options o)",
        }));
    }

    [Test]
    public void HeaderPrototypesAreAllFound()
    {
        // Every line that starts a DSL_API declaration must have been parsed as a prototype.
        var text = Comments.Replace(File.ReadAllText(HeaderPath), " ");
        var starts = Regex.Matches(text, @"^\s*DSL_API\s", RegexOptions.Multiline).Count;
        var fns = Header();
        Assert.That(fns, Has.Count.EqualTo(starts), "a DSL_API declaration in dsl_api.h was not recognised by the parser");
        Assert.That(fns.Select(f => f.Name), Is.Unique, "a function is declared twice in dsl_api.h");
        Assert.That(fns.Select(f => f.Name), Has.All.StartsWith("dsl_"), "exports are named dsl_<area>_<op>");
        TestContext.Out.WriteLine($"{fns.Count} exports in dsl_api.h");
    }

    [Test]
    public void EveryExportIsDeclaredInCSharpAndViceVersa()
    {
        var header = Header().Select(f => f.Name).ToHashSet();
        var imports = Imports();
        var missingInCs = header.Except(imports.Keys).Order().ToList();
        var missingInHeader = imports.Keys.Except(header).Order().ToList();
        Assert.Multiple(() =>
        {
            Assert.That(missingInCs, Is.Empty, "exports in dsl_api.h with no [LibraryImport] in Interop/Native.*.cs");
            Assert.That(missingInHeader, Is.Empty, "[LibraryImport] declarations with no prototype in dsl_api.h");
        });
    }

    [Test]
    public void EveryImportBindsTheShim()
    {
        foreach (var (name, m) in Imports())
        {
            var attr = m.GetCustomAttribute<LibraryImportAttribute>()!;
            Assert.That(attr.LibraryName, Is.EqualTo(Native.Lib), $"{name} binds another library");
            Assert.That(m.IsStatic, $"{name} must be static");
        }
    }

    [Test]
    public void ParameterCountsMatch()
    {
        var imports = Imports();
        Assert.Multiple(() =>
        {
            foreach (var f in Header())
            {
                if (!imports.TryGetValue(f.Name, out var m)) continue;
                Assert.That(m.GetParameters(), Has.Length.EqualTo(f.Params.Count),
                    $"{f.Name}: C has {f.Params.Count} parameters ({f}), C# has {m.GetParameters().Length} ({Describe(m)})");
            }
        });
    }

    [Test]
    public void ParameterAndReturnTypesMatch()
    {
        var imports = Imports();
        int checkedParams = 0;
        Assert.Multiple(() =>
        {
            foreach (var f in Header())
            {
                if (!imports.TryGetValue(f.Name, out var m)) continue;
                var ret = Mismatch(f.Return, m.ReturnType);
                Assert.That(ret, Is.Null, $"{f.Name} return: {ret}\n  C:  {f}\n  C#: {Describe(m)}");
                var ps = m.GetParameters();
                for (int i = 0; i < Math.Min(ps.Length, f.Params.Count); i++)
                {
                    var why = Mismatch(f.Params[i].Type, ps[i].ParameterType);
                    Assert.That(why, Is.Null, $"{f.Name} parameter {i + 1} ({f.Params[i].Name}): {why}\n  C:  {f}\n  C#: {Describe(m)}");
                    checkedParams++;
                }
            }
        });
        Assert.That(checkedParams, Is.GreaterThan(100));
    }

    [Test]
    public void TypeMappingRejectsWrongTypes()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Mismatch("int32_t", typeof(int)), Is.Null);
            Assert.That(Mismatch("int32_t", typeof(long)), Is.Not.Null);
            Assert.That(Mismatch("int64_t", typeof(int)), Is.Not.Null);
            Assert.That(Mismatch("double", typeof(float)), Is.Not.Null);
            Assert.That(Mismatch("dsl_tensor", typeof(nint)), Is.Null);
            Assert.That(Mismatch("dsl_tensor", typeof(Tensor)), Is.Null);
            Assert.That(Mismatch("dsl_generator", typeof(Tensor)), Is.Not.Null);
            Assert.That(Mismatch("dsl_tensor", typeof(long)), Is.Not.Null);
            Assert.That(Mismatch("const int64_t*", typeof(long*)), Is.Null);
            Assert.That(Mismatch("const int64_t*", typeof(int*)), Is.Not.Null);
            Assert.That(Mismatch("int64_t*", typeof(nint)), Is.Null);
            Assert.That(Mismatch("dsl_tensor*", typeof(nint*)), Is.Null);
            Assert.That(Mismatch("const void*", typeof(void*)), Is.Null);
            Assert.That(Mismatch("const void*", typeof(byte*)), Is.Not.Null);
            Assert.That(Mismatch("const char*", typeof(byte*)), Is.Null);
            Assert.That(Mismatch("const char*", typeof(nint)), Is.Not.Null);
            Assert.That(Mismatch("dsl_options", typeof(NativeOptions)), Is.Null);
            Assert.That(Mismatch("void", typeof(void)), Is.Null);
            Assert.That(Mismatch("void", typeof(int)), Is.Not.Null);
        });
    }

    [Test]
    public void NativeOptionsMatchesTheCStruct()
    {
        // typedef struct dsl_options { int32_t dtype, device_type, device_index, requires_grad; }
        Assert.That(Marshal.SizeOf<NativeOptions>(), Is.EqualTo(16));
        Assert.That(Marshal.OffsetOf<NativeOptions>(nameof(NativeOptions.DType)), Is.EqualTo((nint)0));
        Assert.That(Marshal.OffsetOf<NativeOptions>(nameof(NativeOptions.DeviceType)), Is.EqualTo((nint)4));
        Assert.That(Marshal.OffsetOf<NativeOptions>(nameof(NativeOptions.DeviceIndex)), Is.EqualTo((nint)8));
        Assert.That(Marshal.OffsetOf<NativeOptions>(nameof(NativeOptions.RequiresGrad)), Is.EqualTo((nint)12));
        var text = File.ReadAllText(HeaderPath);
        var m = Regex.Match(text, @"typedef\s+struct\s+dsl_options\s*\{(?<body>[^}]*)\}", RegexOptions.Singleline);
        Assert.That(m.Success, "dsl_options not found in dsl_api.h");
        var fields = Regex.Matches(m.Groups["body"].Value, @"(?<type>\w+)\s+(?<name>\w+)\s*;").Select(x => (x.Groups["type"].Value, x.Groups["name"].Value)).ToList();
        Assert.That(fields, Is.EqualTo(new[] { ("int32_t", "dtype"), ("int32_t", "device_type"), ("int32_t", "device_index"), ("int32_t", "requires_grad") }));
    }

    [Test]
    public void EveryExportExistsInTheBuiltLibrary()
    {
        Assert.That(File.Exists(LibraryPath), Is.True, $"{LibraryPath} is missing; the engine build copies libdsl_native.so to the test output.");
        var lib = NativeLibrary.Load(LibraryPath);
        try
        {
            var missing = Header().Where(f => !NativeLibrary.TryGetExport(lib, f.Name, out _)).Select(f => f.Name).ToList();
            Assert.That(missing, Is.Empty, $"declared in dsl_api.h but not exported by {LibraryPath}");
            Assert.That(NativeLibrary.TryGetExport(lib, "dsl_no_such_export", out _), Is.False);
        }
        finally
        {
            NativeLibrary.Free(lib);
        }
    }

    static string Describe(MethodInfo m) =>
        $"{Name(m.ReturnType)} {m.Name}({string.Join(", ", m.GetParameters().Select(p => $"{Name(p.ParameterType)} {p.Name}"))})";

    static string Name(Type t) => t.IsPointer ? Name(t.GetElementType()!) + "*" : t == typeof(nint) ? "nint" : t.Name;
}
