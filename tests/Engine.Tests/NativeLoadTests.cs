using System.Diagnostics;
using System.Runtime.InteropServices;
using Dsl.Engine;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>Loading the shim: defaults applied at load, versions, and the message when loading fails.</summary>
public class NativeLoadTests
{
    [Test]
    public void DefaultsAreAppliedAtLoad()
    {
        var expected = int.TryParse(Environment.GetEnvironmentVariable("DSL_NUM_THREADS") ?? Environment.GetEnvironmentVariable("OMP_NUM_THREADS"), out var n)
            ? n : Environment.ProcessorCount;
        Assert.That(Torch.NumThreads, Is.EqualTo(expected), "intra-op threads default to the core count");
        if (Environment.GetEnvironmentVariable("OPENBLAS_NUM_THREADS") is null && Torch.BlasThreads != -1)
            Assert.That(Torch.BlasThreads, Is.EqualTo(1), "OpenBLAS is kept to one thread so it does not fight libtorch's OpenMP pool");
    }

    [Test]
    public void ThreadLocalThreadsHoldOnlyForTheCallingThread()
    {
        int global = Torch.NumThreads, seen = -1;
        var t = new Thread(() =>
        {
            Torch.SetThreadLocalThreads(1);
            using (DisposeScope.Enter()) Torch.Randn(new long[] { 1_000_000 }).Sum().ToDouble();   // libtorch's lazy per-thread set-up runs here
            seen = Torch.NumThreads;
        });
        t.Start();
        t.Join();
        Assert.That(seen, Is.EqualTo(1), "the thread keeps its own setting after its first parallel op");
        Assert.That(Torch.NumThreads, Is.EqualTo(global), "other threads are unaffected");
    }

    [DllImport("libc.so.6", EntryPoint = "getenv")]
    static extern nint NativeGetenv(string name);

    /// <summary>libgomp reads its wait settings from the native environment when libtorch loads.</summary>
    [Test]
    public void OpenMpWaitsWithABoundedSpinByDefault()
    {
        Assert.That(Torch.NumThreads, Is.GreaterThan(0));   // loads the library
        string? Native(string name) => Marshal.PtrToStringUTF8(NativeGetenv(name));
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null)
            Assert.Ignore("the user's OpenMP settings are kept as they are");
        Assert.That(Native("GOMP_SPINCOUNT"), Is.EqualTo("30000"), "idle threads spin ~0.3 ms, then sleep");
        Assert.That(Native("OMP_WAIT_POLICY"), Is.EqualTo("PASSIVE"), "threads beyond the cores barely spin");
    }

    [Test]
    public void BuiltAndLoadedVersionsAgree()
    {
        Assert.That(Torch.BuiltVersion, Does.Match(@"^\d+\.\d+"));
        Assert.That(Torch.LoadedVersion.Split('.').Take(2), Is.EqualTo(Torch.BuiltVersion.Split('.').Take(2)));
    }

    /// <summary>A child process whose native library is not a shared object gets the OS loader's error and the fix.</summary>
    [Test]
    public void UnloadableLibraryGivesTheLoaderErrorAndTheFix()
    {
        var dir = Directory.CreateTempSubdirectory("dsl-load-").FullName;
        try
        {
            var bogus = Path.Combine(dir, "libdsl_native.so");
            File.WriteAllText(bogus, "this is not an ELF file");
            var engine = typeof(Tensor).Assembly.Location;
            var script = Path.Combine(dir, "probe.fsx");
            File.WriteAllText(script,
                $"#r @\"{engine}\"\n" +
                "try\n" +
                "    Dsl.Engine.Torch.Zeros(2L) |> ignore\n" +
                "    printfn \"LOADED\"\n" +
                "with e ->\n" +
                "    let rec show (e: exn) = if isNull e then \"\" else e.GetType().Name + \": \" + e.Message + \" | \" + show e.InnerException\n" +
                "    printfn \"FAILED %s\" (show e)\n");
            var psi = new ProcessStartInfo("dotnet", $"fsi --quiet \"{script}\"") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.Environment["DSL_NATIVE_PATH"] = bogus;
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            Assert.That(p.WaitForExit(120_000), Is.True, "the probe finished");
            Assert.That(output, Does.Contain("FAILED"), output);
            Assert.That(output, Does.Contain(bogus), "names the file");
            Assert.That(output, Does.Contain("invalid ELF header").Or.Contain("file too short"), "carries the OS loader's own error");
            Assert.That(output, Does.Contain("dotnet fsi build.fsx setup").And.Contain("LIBTORCH_DIR"), "gives the fix");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
