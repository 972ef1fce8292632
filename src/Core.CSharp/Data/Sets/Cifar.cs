using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Dsl.Data;

/// <summary>CIFAR-100 images with both labellings: fine labels (100 classes) and coarse labels (20 superclasses).</summary>
public sealed record Cifar100Images(Tensor Images, Tensor Labels, Tensor CoarseLabels, IReadOnlyList<string> ClassNames, IReadOnlyList<string> CoarseClassNames)
    : LabeledImages(Images, Labels, ClassNames)
{
    /// <summary>Frees the image and both label tensors.</summary>
    public override void Dispose()
    {
        base.Dispose();
        CoarseLabels.Dispose();
    }
}

/// <summary>
/// CIFAR-10 (Krizhevsky, 2009), binary version: 50,000 training and 10,000 test 32×32 RGB images in 10
/// classes. Reads cifar-10-binary.tar.gz directly or its extracted cifar-10-batches-bin folder:
/// data_batch_1.bin … data_batch_5.bin, test_batch.bin, each of 10,000 records of one label byte and
/// 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue, row-major), and batches.meta.txt (class names).
/// </summary>
public static class Cifar10
{
    /// <summary>The official archive's file name.</summary>
    public const string ArchiveName = "cifar-10-binary.tar.gz";
    /// <summary>The folder the archive extracts to.</summary>
    public const string FolderName = "cifar-10-batches-bin";
    /// <summary>Bytes per record: one label byte and 3 × 32 × 32 pixels.</summary>
    public const int RecordSize = 1 + Cifar.PixelBytes;

    /// <summary>The ten class names, indexed by label (used when batches.meta.txt is absent).</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        new[] { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };

    /// <summary>
    /// Loads the training split (the five data batches, in order) or the test split: images uint8
    /// [N, 3, 32, 32] (RGB), labels int64 [N], class names from batches.meta.txt. <paramref name="path"/> is
    /// the .tar.gz, the cifar-10-batches-bin folder, or a folder holding either. With <paramref name="strict"/>
    /// each batch file must hold exactly 10,000 records; turn it off for cut-down files.
    /// </summary>
    public static LabeledImages Load(string path, bool train = true, bool strict = true, Device? device = null)
    {
        var batches = train ? Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin").ToArray() : new[] { "test_batch.bin" };
        const string meta = "batches.meta.txt";
        var files = Cifar.ReadFiles("cifar-10", path, ArchiveName, FolderName, batches, new[] { meta });
        var names = files.TryGetValue(meta, out var m) ? Cifar.Names("cifar-10", m.Source, m.Bytes, 10) : ClassNames;
        var parts = batches.Select(b => Cifar.Check("cifar-10", files[b].Source, files[b].Bytes, RecordSize, strict ? 10_000 : null, otherRecord: Cifar100.RecordSize)).ToList();
        var (images, labels) = Cifar.Decode("cifar-10", parts, files, batches, labelBytes: 1, labelIndex: 0, classes: 10, device);
        return new LabeledImages(images, labels, names);
    }
}

/// <summary>
/// CIFAR-100, binary version: 50,000 training and 10,000 test 32×32 RGB images with a fine label (100
/// classes) and a coarse label (20 superclasses). Reads cifar-100-binary.tar.gz or its extracted
/// cifar-100-binary folder: train.bin and test.bin, records of a coarse-label byte, a fine-label byte and
/// 3,072 pixel bytes; fine_label_names.txt and coarse_label_names.txt.
/// </summary>
public static class Cifar100
{
    /// <summary>The official archive's file name.</summary>
    public const string ArchiveName = "cifar-100-binary.tar.gz";
    /// <summary>The folder the archive extracts to.</summary>
    public const string FolderName = "cifar-100-binary";
    /// <summary>Bytes per record: coarse label, fine label, 3 × 32 × 32 pixels.</summary>
    public const int RecordSize = 2 + Cifar.PixelBytes;

    /// <summary>The 100 fine class names (used when fine_label_names.txt is absent).</summary>
    public static readonly IReadOnlyList<string> ClassNames = new[]
    {
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy", "bridge", "bus",
        "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab",
        "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
        "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
        "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
        "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
        "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor", "train",
        "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
    };

    /// <summary>The 20 coarse (superclass) names (used when coarse_label_names.txt is absent).</summary>
    public static readonly IReadOnlyList<string> CoarseClassNames = new[]
    {
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables", "household_electrical_devices", "household_furniture",
        "insects", "large_carnivores", "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
        "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
    };

    /// <summary>
    /// Loads train.bin or test.bin: images uint8 [N, 3, 32, 32], fine labels int64 [N] (<c>Labels</c>), coarse
    /// labels int64 [N] and both name lists. <paramref name="path"/> is the .tar.gz, the cifar-100-binary folder,
    /// or a folder holding either. With <paramref name="strict"/> the file must hold exactly 50,000 (train)
    /// or 10,000 (test) records.
    /// </summary>
    public static Cifar100Images Load(string path, bool train = true, bool strict = true, Device? device = null)
    {
        var file = train ? "train.bin" : "test.bin";
        const string fineMeta = "fine_label_names.txt", coarseMeta = "coarse_label_names.txt";
        var files = Cifar.ReadFiles("cifar-100", path, ArchiveName, FolderName, new[] { file }, new[] { fineMeta, coarseMeta });
        var fine = files.TryGetValue(fineMeta, out var f) ? Cifar.Names("cifar-100", f.Source, f.Bytes, 100) : ClassNames;
        var coarse = files.TryGetValue(coarseMeta, out var c) ? Cifar.Names("cifar-100", c.Source, c.Bytes, 20) : CoarseClassNames;
        var part = Cifar.Check("cifar-100", files[file].Source, files[file].Bytes, RecordSize, strict ? (train ? 50_000 : 10_000) : null, otherRecord: Cifar10.RecordSize);
        var (images, fineLabels) = Cifar.Decode("cifar-100", new[] { part }, files, new[] { file }, labelBytes: 2, labelIndex: 1, classes: 100, device);
        Tensor coarseLabels;
        try { coarseLabels = Cifar.Labels("cifar-100", new[] { part }, files, new[] { file }, labelBytes: 2, labelIndex: 0, classes: 20, device, "coarse "); }
        catch { images.Dispose(); fineLabels.Dispose(); throw; }
        return new Cifar100Images(images, fineLabels, coarseLabels, fine, coarse);
    }
}

/// <summary>Shared reading and checking of the CIFAR binary files.</summary>
internal static class Cifar
{
    internal const int PixelBytes = 3 * 32 * 32;

    internal readonly record struct FileData(string Source, byte[] Bytes);

    /// <summary>Reads the wanted files (all required) and optional ones, from an archive or a folder.</summary>
    internal static Dictionary<string, FileData> ReadFiles(string who, string path, string archiveName, string folderName, string[] required, string[] optional)
    {
        if (File.Exists(path)) return Archive.ReadMembers(who, path, required, optional, folderName);
        if (!Directory.Exists(path))
            throw new FileNotFoundException($"{who}: nothing at '{path}'; pass {archiveName} or the extracted {folderName} folder.", path);
        string? dir = null;
        if (File.Exists(Path.Combine(path, required[0]))) dir = path;
        else if (Directory.Exists(Path.Combine(path, folderName))) dir = Path.Combine(path, folderName);
        else if (File.Exists(Path.Combine(path, archiveName))) return Archive.ReadMembers(who, Path.Combine(path, archiveName), required, optional, folderName);
        if (dir is null)
            throw new FileNotFoundException(
                $"{who}: '{path}' holds neither {required[0]}, a {folderName} folder nor {archiveName}. Download {archiveName} (Download.{(who == "cifar-10" ? "Cifar10" : "Cifar100")}) and pass it or its extracted folder.",
                Path.Combine(path, required[0]));
        var files = new Dictionary<string, FileData>();
        foreach (var name in required)
        {
            var file = Path.Combine(dir, name);
            if (!File.Exists(file)) throw new FileNotFoundException($"{who}: '{file}' is missing; the {folderName} folder is incomplete (re-extract {archiveName}).", file);
            files[name] = new FileData(file, File.ReadAllBytes(file));
        }
        foreach (var name in optional)
        {
            var file = Path.Combine(dir, name);
            if (File.Exists(file)) files[name] = new FileData(file, File.ReadAllBytes(file));
        }
        return files;
    }

    /// <summary>Checks that the file is a whole number of records (and the expected number of them); returns the record count.</summary>
    internal static int Check(string who, string source, byte[] bytes, int recordSize, int? expected, int otherRecord)
    {
        if (bytes.Length == 0) throw new InvalidDataException($"{who}: '{source}' is empty (0 bytes); expected {expected?.ToString() ?? "some"} records of {recordSize} bytes.");
        if (bytes.Length % recordSize != 0)
        {
            var hint = bytes.Length % otherRecord == 0
                ? $" Its size is a whole number of {otherRecord}-byte records: is it a {(otherRecord == Cifar10.RecordSize ? "CIFAR-10" : "CIFAR-100")} file?"
                : " The file is truncated or is not a CIFAR binary file; re-download it.";
            throw new InvalidDataException(
                $"{who}: '{source}' has {bytes.Length} bytes, which is not a whole number of {recordSize}-byte records ({bytes.Length / recordSize} records and {bytes.Length % recordSize} bytes left over).{hint}");
        }
        var count = bytes.Length / recordSize;
        if (expected is int e && count != e)
            throw new InvalidDataException(
                $"{who}: '{source}' holds {count} records but the official file holds {e} ({(count < e ? "truncated" : "too long")}); re-download it, or pass strict: false for a cut-down file.");
        return count;
    }

    internal static (Tensor Images, Tensor Labels) Decode(string who, IReadOnlyList<int> counts, Dictionary<string, FileData> files, string[] names,
                                                          int labelBytes, int labelIndex, int classes, Device? device)
    {
        int n = counts.Sum(), record = labelBytes + PixelBytes;
        var pixels = new byte[(long)n * PixelBytes];
        int at = 0;
        for (int f = 0; f < names.Length; f++)
        {
            var bytes = files[names[f]].Bytes;
            for (int r = 0; r < counts[f]; r++, at++)
                Buffer.BlockCopy(bytes, r * record + labelBytes, pixels, at * PixelBytes, PixelBytes);
        }
        var labels = Labels(who, counts, files, names, labelBytes, labelIndex, classes, device, "");
        try { return (Tensor.FromBytes(pixels, new long[] { n, 3, 32, 32 }, DType.UInt8, device), labels); }
        catch { labels.Dispose(); throw; }
    }

    internal static Tensor Labels(string who, IReadOnlyList<int> counts, Dictionary<string, FileData> files, string[] names,
                                  int labelBytes, int labelIndex, int classes, Device? device, string kind)
    {
        var labels = new long[counts.Sum()];
        int at = 0, record = labelBytes + PixelBytes;
        for (int f = 0; f < names.Length; f++)
        {
            var (source, bytes) = files[names[f]];
            for (int r = 0; r < counts[f]; r++, at++)
            {
                int label = bytes[r * record + labelIndex];
                if (label >= classes)
                    throw new InvalidDataException(
                        $"{who}: '{source}' record {r} (byte offset {(long)r * record}) has {kind}label {label}, outside 0..{classes - 1}; the file is corrupt or not a {who} file.");
                labels[at] = label;
            }
        }
        return Torch.From<long>(labels, new long[] { labels.Length }, device);
    }

    /// <summary>Class names from a names file: one per line, blank lines ignored; exactly <paramref name="count"/> of them.</summary>
    internal static IReadOnlyList<string> Names(string who, string source, byte[] bytes, int count)
    {
        var names = Encoding.UTF8.GetString(bytes).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        if (names.Length != count)
            throw new InvalidDataException($"{who}: '{source}' lists {names.Length} class names; expected {count}, one per line.");
        return names;
    }
}

/// <summary>Reading .tar.gz (and plain .tar) archives with clear errors.</summary>
internal static class Archive
{
    /// <summary>True when the file starts with the gzip magic bytes 1f 8b.</summary>
    internal static bool IsGzip(string path)
    {
        using var f = File.OpenRead(path);
        return f.ReadByte() == 0x1f && f.ReadByte() == 0x8b;
    }

    static bool IsTar(string path)
    {
        using var f = File.OpenRead(path);
        if (f.Length < 512) return false;
        var block = new byte[512];
        f.ReadExactly(block);
        return Encoding.ASCII.GetString(block, 257, 5) == "ustar";
    }

    /// <summary>Opens the archive for reading as a tar stream, or explains what the file is not.</summary>
    internal static Stream OpenTar(string who, string path)
    {
        if (IsGzip(path)) return new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        if (IsTar(path)) return File.OpenRead(path);
        byte[] head = new byte[Math.Min(8, new FileInfo(path).Length)];
        using (var f = File.OpenRead(path)) f.ReadExactly(head);
        throw new InvalidDataException(
            $"{who}: '{path}' is not a .tar.gz archive: it starts with bytes {(head.Length == 0 ? "(none: the file is empty)" : Convert.ToHexString(head).ToLowerInvariant())}, not the gzip magic 1f 8b. Re-download it.");
    }

    /// <summary>Reads the members with the given file names (anywhere in the archive) into memory; every required one must be present.</summary>
    internal static Dictionary<string, Cifar.FileData> ReadMembers(string who, string archive, string[] required, string[] optional, string folderName)
    {
        var wanted = required.Concat(optional).ToHashSet();
        var found = new Dictionary<string, Cifar.FileData>();
        var seen = new List<string>();
        string? current = null;
        try
        {
            using var stream = OpenTar(who, archive);
            using var reader = new TarReader(stream);
            TarEntry? entry;
            while ((entry = reader.GetNextEntry()) is not null)
            {
                current = entry.Name;
                if (seen.Count < 1000) seen.Add(entry.Name);
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                var name = entry.Name.Replace('\\', '/').Split('/').Last();
                if (!wanted.Contains(name)) continue;
                if (found.ContainsKey(name)) throw new InvalidDataException($"{who}: '{archive}' holds {name} twice.");
                if (entry.Length > int.MaxValue) throw new InvalidDataException($"{who}: '{archive}' member {entry.Name} is {entry.Length} bytes, too large.");
                var bytes = new byte[entry.Length];
                var data = entry.DataStream ?? Stream.Null;
                int got = 0, k;
                while (got < bytes.Length && (k = data.Read(bytes, got, bytes.Length - got)) > 0) got += k;
                if (got < bytes.Length)
                    throw new InvalidDataException($"{who}: '{archive}' is truncated: member {entry.Name} ends after {got} of its {entry.Length} bytes. Re-download it.");
                found[name] = new Cifar.FileData($"{archive}!{entry.Name}", bytes);
                if (required.All(found.ContainsKey) && optional.All(found.ContainsKey)) break;
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or IOException && e is not FileNotFoundException)
        {
            if (e is InvalidDataException && e.Message.StartsWith(who + ":")) throw;
            var where = current is null ? "" : $" (while reading member {current})";
            throw new InvalidDataException($"{who}: '{archive}' is truncated or corrupt{where}: {e.Message} Re-download it.", e);
        }
        var missing = required.Where(r => !found.ContainsKey(r)).ToList();
        if (missing.Count > 0)
        {
            var python = seen.Any(s => s.Contains("-py/") || s.EndsWith("-py") || s.EndsWith("/data_batch_1") || s.EndsWith("/train"));
            var hint = python
                ? " It looks like the Python (pickle) version of the data set; this loader reads the binary version (" + (who == "cifar-10" ? Cifar10.ArchiveName : Cifar100.ArchiveName) + ")."
                : seen.Count == 0 ? " The archive holds no files (truncated?)." : $" It holds {string.Join(", ", seen.Take(8))}{(seen.Count > 8 ? ", ..." : "")}.";
            throw new InvalidDataException($"{who}: '{archive}' has no member {string.Join(", ", missing)} (expected under {folderName}/): the archive is truncated or is not {(who == "cifar-10" ? Cifar10.ArchiveName : Cifar100.ArchiveName)}.{hint}");
        }
        return found;
    }
}
