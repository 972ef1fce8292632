namespace Dsl.Data;

/// <summary>
/// Where a script or a test finds a data set that is not installed with the system: the path given after
/// <c>--data</c> on its command line, else the folder named by the <c>DSL_DATA</c> environment variable. Nothing
/// is downloaded here (see <see cref="Download"/> and <see cref="DataSources"/> for that).
/// </summary>
public static class LocalData
{
    /// <summary>The environment variable naming a folder of data sets: $DSL_DATA/&lt;data set&gt;/&lt;file&gt;, e.g. $DSL_DATA/magic/magic04.data.</summary>
    public const string Variable = "DSL_DATA";

    /// <summary>The command-line flag that names a data set's path.</summary>
    public const string Flag = "--data";

    /// <summary>
    /// Finds <paramref name="file"/> (a file or folder name, e.g. "magic04.data") of <paramref name="dataset"/>
    /// (e.g. "magic"). With <c>--data PATH</c> in <paramref name="args"/>: PATH itself when its name is
    /// <paramref name="file"/> or it is a file, else PATH/&lt;file&gt; or PATH/&lt;dataset&gt;/&lt;file&gt;; a PATH that
    /// does not exist is an error, never a silent fallback. Without the flag: $DSL_DATA/&lt;dataset&gt;/&lt;file&gt;
    /// or $DSL_DATA/&lt;file&gt;. Returns the full path, or null when neither says where the data is.
    /// </summary>
    public static string? Find(string dataset, string file, IReadOnlyList<string>? args = null)
    {
        var given = args is null ? null : FlagValue(args);
        if (given is not null)
        {
            if (!File.Exists(given) && !Directory.Exists(given))
                throw new FileNotFoundException($"{dataset}: {Flag} {given}: there is no such file or folder.", given);
            if (File.Exists(given) || Path.GetFileName(Path.TrimEndingDirectorySeparator(given)) == file) return Path.GetFullPath(given);
            return Inside(given, dataset, file)
                   ?? throw new FileNotFoundException($"{dataset}: {Flag} {given}: the folder holds neither {file} nor {Path.Combine(dataset, file)}.", given);
        }
        var root = Environment.GetEnvironmentVariable(Variable);
        return string.IsNullOrEmpty(root) || !Directory.Exists(root) ? null : Inside(root, dataset, file);
    }

    static string? Inside(string folder, string dataset, string file) =>
        new[] { Path.Combine(folder, dataset, file), Path.Combine(folder, file) }.Where(p => File.Exists(p) || Directory.Exists(p)).Select(Path.GetFullPath).FirstOrDefault();

    static string? FlagValue(IReadOnlyList<string> args)
    {
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == Flag)
                return i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{Flag} needs a path after it.");
            if (args[i].StartsWith(Flag + "=", StringComparison.Ordinal)) return args[i][(Flag.Length + 1)..];
        }
        return null;
    }

    /// <summary>
    /// What to tell a user whose data set was not found: what is needed, the two ways to point at it, and where to
    /// get it (the official URL of <paramref name="source"/>, when the data set has one).
    /// </summary>
    public static string Missing(string dataset, string file, RemoteFile? source = null) =>
        $"{dataset}: {file} was not found. Give its path with {Flag} PATH, or set {Variable} to a folder holding {Path.Combine(dataset, file)}." +
        (source is null ? "" : $" Get it from {source.Urls[0]} ({source.Kind} {source.Checksum}; Download.Fetch verifies it).");
}
