using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Dsl.Data;

/// <summary>
/// Finds the native libraries of the packages Dsl.Data draws with (SkiaSharp's <c>libSkiaSharp.so</c>, HarfBuzzSharp's
/// <c>libHarfBuzzSharp.so</c>) in any host. NuGet ships them under <c>runtimes/&lt;rid&gt;/native/</c> beside the
/// assemblies; an application finds them through its <c>deps.json</c>, but F# interactive finds them only when the
/// current directory is the one a script's <c>#r</c> paths start from: a script that loads <c>Dsl.fsx</c> from elsewhere
/// then failed on its first picture with "Unable to load shared library 'libSkiaSharp'". When the runtime's own probing
/// fails, this looks in <c>runtimes/&lt;rid&gt;/native/</c> next to the assembly that asks and next to Dsl.Data.
/// </summary>
internal static class NativeAssets
{
#pragma warning disable CA2255 // the fallback must be in place before the first picture, from any host
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;

    /// <summary>The runtime identifier NuGet's native folders use on this machine (linux-x64, linux-arm64, …).</summary>
    internal static string Rid
    {
        get
        {
            var os = OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsMacOS() ? "osx" : OperatingSystem.IsWindows() ? "win" : "unknown";
            var arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            return os == "osx" ? os : $"{os}-{arch}";
        }
    }

    /// <summary>The files tried for a native library <paramref name="name"/> asked for by <paramref name="assembly"/>, in order.</summary>
    internal static IEnumerable<string> Candidates(string name, Assembly assembly)
    {
        var file = Path.HasExtension(name) ? name : OperatingSystem.IsWindows() ? name + ".dll" : OperatingSystem.IsMacOS() ? name + ".dylib" : name + ".so";
        var dirs = new[] { assembly.Location, typeof(NativeAssets).Assembly.Location }
            .Where(l => !string.IsNullOrEmpty(l)).Select(Path.GetDirectoryName).OfType<string>().Distinct();
        foreach (var dir in dirs)
            yield return Path.Combine(dir, "runtimes", Rid, "native", file);
    }

    static nint Resolve(Assembly assembly, string name)
    {
        foreach (var file in Candidates(name, assembly))
            if (File.Exists(file) && NativeLibrary.TryLoad(file, out var handle))
                return handle;
        return 0;
    }
}
