namespace Dsl.Data;

/// <summary>
/// Lists the files under a folder recursively for the folder loaders, without repeats: a symbolic link to a
/// folder is followed only when it leads outside the data set (not into it, nor to a folder holding it) and to a
/// folder not listed yet, so a loop (class/sub → class) or a second way to the same folder is left out; a file
/// reached twice (through file links) is listed once, at a path without links if it has one. What is left out is
/// returned with the reason.
/// </summary>
static class FileTree
{
    /// <summary>A file found: the path it was found at, its real path (every link resolved), and whether a link led to it.</summary>
    internal readonly record struct Found(string Path, string Real, bool Linked = false);

    /// <summary>
    /// The files under <paramref name="dir"/>, sorted by path (ordinal), within the data set <paramref name="tree"/>
    /// (a folder holding <paramref name="dir"/>, or itself); names starting with '.' are passed over when
    /// <paramref name="skipHidden"/>. Inaccessible folders are passed over, as by <see cref="Directory.EnumerateFiles(string)"/>
    /// with <see cref="EnumerationOptions"/>' defaults.
    /// </summary>
    internal static (List<Found> Files, List<SkippedFile> Skipped) List(string dir, string tree, bool skipHidden)
    {
        var realTree = RealPath(tree);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var files = new List<Found>();
        var skipped = new List<SkippedFile>();
        void Walk(string path, string real, bool linked)
        {
            visited.Add(real);
            var options = new EnumerationOptions { AttributesToSkip = 0 };
            foreach (var entry in new DirectoryInfo(path).EnumerateFileSystemInfos("*", options).OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                if (skipHidden && entry.Name.StartsWith('.')) continue;
                bool link = entry.Attributes.HasFlag(FileAttributes.ReparsePoint);
                var target = link ? RealPath(entry.FullName) : Path.Combine(real, entry.Name);
                if (!(link ? Directory.Exists(entry.FullName) : entry is DirectoryInfo)) files.Add(new Found(entry.FullName, target, linked || link));
                else if (!link) Walk(entry.FullName, target, linked);
                else if (Within(target, realTree) || Within(realTree, target) || visited.Contains(target))
                    skipped.Add(new SkippedFile(entry.FullName,
                        $"'{entry.FullName}' is a symbolic link to '{target}', a folder inside the data set or already scanned (a loop, or a second way to the same files); it is not followed"));
                else Walk(entry.FullName, target, linked: true);
            }
        }
        Walk(dir, RealPath(dir), linked: false);
        var first = new Dictionary<string, string>(StringComparer.Ordinal);
        var unique = new List<Found>();
        foreach (var f in files.OrderBy(f => f.Linked).ThenBy(f => f.Path, StringComparer.Ordinal))
        {
            if (first.TryAdd(f.Real, f.Path)) unique.Add(f);
            else skipped.Add(new SkippedFile(f.Path, $"'{f.Path}' is the same file as '{first[f.Real]}' (through a symbolic link); it is listed once"));
        }
        unique.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return (unique, skipped);
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="folder"/> or inside it (both real, full paths).</summary>
    static bool Within(string path, string folder) =>
        path == folder || path.StartsWith(Path.EndsInDirectorySeparator(folder) ? folder : folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The full path with every symbolic link in it resolved, as realpath(3); a link that leads nowhere stays as its target.</summary>
    internal static string RealPath(string path, int depth = 0)
    {
        if (depth > 40) throw new IOException($"'{path}': too many levels of symbolic links.");
        var full = Path.GetFullPath(path);
        var real = Path.GetPathRoot(full)!;
        foreach (var part in full[real.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(real, part);
            var target = new FileInfo(next).ResolveLinkTarget(returnFinalTarget: true);
            real = target is null ? next : RealPath(target.FullName, depth + 1);
        }
        return real;
    }
}
