namespace Dsl.Engine.IO;

/// <summary>
/// Writes files atomically: into a temporary file in the same folder, flushed to disk, then renamed over the target, so
/// the target is always the old file or the new one, whole. Temporary files that an interrupted writer of the same
/// target left behind are removed by the next write: a temporary file's name carries its writer's process id, and
/// those of processes no longer running (killed mid-write) are stale. Concurrent writers of one target (threads or
/// processes) each rename a whole file; the last rename wins.
/// </summary>
public static class AtomicFile
{
    /// <summary>Runs <paramref name="write"/> on a temporary stream and renames it to <paramref name="path"/> only when it completes.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var name = Path.GetFileName(full);
        foreach (var other in Directory.EnumerateFiles(dir, $".{name}.*.tmp"))
        {
            if (!IsStale(other, name)) continue;
            try { File.Delete(other); }
            catch (IOException) { }
        }
        var tmp = Path.Combine(dir, $".{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    // ".{name}.{pid}.{guid}.tmp" is stale when process pid is not running (a reused pid only delays the removal);
    // a temporary file without a pid is one of an older version's, stale too.
    static bool IsStale(string tmp, string name)
    {
        var middle = Path.GetFileName(tmp)[(name.Length + 2)..^4];
        var dot = middle.IndexOf('.');
        if (dot < 0 || !int.TryParse(middle[..dot], out var pid)) return true;
        if (pid == Environment.ProcessId) return false;
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return p.HasExited;
        }
        catch (ArgumentException) { return true; }
        catch (InvalidOperationException) { return true; }
    }

    /// <summary>Writes text atomically (UTF-8).</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true); w.Write(text); });
}
