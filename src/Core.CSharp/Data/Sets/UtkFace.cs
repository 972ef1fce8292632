using System.Globalization;

namespace Dsl.Data;

/// <summary>The labels that a UTKFace file name carries.</summary>
/// <param name="Age">Age in years, 0–116.</param>
/// <param name="Gender">0 male, 1 female (<see cref="UtkFace.GenderNames"/>).</param>
/// <param name="Race">0 White, 1 Black, 2 Asian, 3 Indian, 4 Others (<see cref="UtkFace.RaceNames"/>).</param>
/// <param name="Timestamp">The date and time the image was collected, as written in the name (yyyyMMddHHmmssfff).</param>
public sealed record UtkFaceLabel(int Age, int Gender, int Race, string Timestamp);

/// <summary>UTKFace images decoded into tensors: uint8 [N, C, H, W]; int64 ages, genders and races [N].</summary>
public sealed record UtkFaceImages(Tensor Images, Tensor Ages, Tensor Genders, Tensor Races) : IDisposable
{
    /// <summary>Number of images.</summary>
    public long Count => Ages.Size(0);

    /// <summary>Frees the four tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Ages.Dispose();
        Genders.Dispose();
        Races.Dispose();
    }
}

/// <summary>
/// UTKFace (Zhang, Song and Qi, 2017): face images labelled by their file names,
/// <c>[age]_[gender]_[race]_[date&amp;time].jpg</c> (the aligned and cropped set adds <c>.chip.jpg</c>).
/// Names that do not parse, or whose values are out of range, are reported in
/// <see cref="UtkFaceDataset.Skipped"/> with the reason and skipped, never guessed.
/// </summary>
/// <remarks>
/// There is no stable download URL: the authors share the archives (UTKFace.tar.gz, the in-the-wild
/// parts) through Google Drive links on https://susanqq.github.io/UTKFace/ and publish no checksums.
/// Download and extract them by hand, then pass the folder.
/// </remarks>
public static class UtkFace
{
    /// <summary>The project's home page, where the archives are linked.</summary>
    public const string HomePage = "https://susanqq.github.io/UTKFace/";
    /// <summary>The oldest age in the data set.</summary>
    public const int MaxAge = 116;

    /// <summary>Gender names, indexed by the gender label.</summary>
    public static readonly IReadOnlyList<string> GenderNames = new[] { "male", "female" };
    /// <summary>Race names, indexed by the race label.</summary>
    public static readonly IReadOnlyList<string> RaceNames = new[] { "White", "Black", "Asian", "Indian", "Others" };

    /// <summary>
    /// Parses a UTKFace file name (a path is fine). Returns the labels, or null with <paramref name="reason"/>
    /// saying what is wrong (wrong number of fields, a field that is not a number, a value out of range).
    /// </summary>
    public static UtkFaceLabel? ParseName(string fileName, out string? reason)
    {
        var name = Path.GetFileName(fileName);
        var stem = name;
        if (stem.EndsWith(".chip.jpg", StringComparison.OrdinalIgnoreCase)) stem = stem[..^".chip.jpg".Length];
        var ext = Path.GetExtension(stem);
        if (!Image.Extensions.Contains(ext))
        {
            reason = $"'{name}' is not an image name (expected [age]_[gender]_[race]_[date&time].jpg)";
            return null;
        }
        stem = stem[..^ext.Length];
        var parts = stem.Split('_');
        if (parts.Length != 4)
        {
            reason = $"'{name}' has {parts.Length} underscore-separated fields, expected 4: [age]_[gender]_[race]_[date&time]";
            return null;
        }
        string[] what = { "age", "gender", "race" };
        int[] max = { MaxAge, 1, 4 };
        var values = new int[3];
        for (int i = 0; i < 3; i++)
        {
            if (parts[i].Length == 0 || !int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]))
            {
                reason = $"'{name}': the {what[i]} field '{parts[i]}' is not a whole number";
                return null;
            }
            if (values[i] > max[i])
            {
                reason = $"'{name}': {what[i]} {values[i]} is outside 0..{max[i]}";
                return null;
            }
        }
        if (parts[3].Length == 0 || !parts[3].All(char.IsAsciiDigit))
        {
            reason = $"'{name}': the date&time field '{parts[3]}' is not a string of digits";
            return null;
        }
        reason = null;
        return new UtkFaceLabel(values[0], values[1], values[2], parts[3]);
    }

    /// <summary>
    /// Scans <paramref name="folder"/> (recursively, e.g. UTKFace/ or the in-the-wild part1..part3 folders) for
    /// image files, sorted by path. Files whose names do not parse are listed in <see cref="UtkFaceDataset.Skipped"/>,
    /// as are symbolic links that would list files twice (a loop, a second way to a folder or file).
    /// </summary>
    public static UtkFaceDataset Open(string folder, ImageOptions? options = null)
    {
        var o = options ?? ImageOptions.Default;
        o.Validate();
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException(
                $"utkface: no folder at '{folder}'. Download UTKFace.tar.gz from {HomePage} (no stable URL is published), extract it and pass the UTKFace folder.");
        var files = new List<string>();
        var labels = new List<UtkFaceLabel>();
        var skipped = new List<SkippedFile>();
        var (found, links) = FileTree.List(folder, folder, skipHidden: true);
        skipped.AddRange(links);
        foreach (var (file, _, _) in found)
        {
            if (!Image.IsImageFile(file)) continue;
            var label = ParseName(file, out var reason);
            if (label is null) skipped.Add(new SkippedFile(file, reason!));
            else
            {
                files.Add(file);
                labels.Add(label);
            }
        }
        if (files.Count == 0)
            throw new InvalidDataException(
                $"utkface: '{folder}' holds no image named [age]_[gender]_[race]_[date&time].jpg" +
                (skipped.Count > 0 ? $" ({skipped.Count} image(s) skipped, e.g. {skipped[0].Reason})." : "."));
        return new UtkFaceDataset(folder, files, labels, skipped, o);
    }
}

/// <summary>A scanned UTKFace folder: lazy (<see cref="Get"/>) or decoded all at once (<see cref="Load"/>).</summary>
public sealed class UtkFaceDataset
{
    internal UtkFaceDataset(string root, IReadOnlyList<string> files, IReadOnlyList<UtkFaceLabel> labels, IReadOnlyList<SkippedFile> skipped, ImageOptions options)
    {
        Root = root;
        Files = files;
        Labels = labels;
        Skipped = skipped;
        Options = options;
    }

    /// <summary>The folder scanned.</summary>
    public string Root { get; }
    /// <summary>The image files kept, sorted by path.</summary>
    public IReadOnlyList<string> Files { get; }
    /// <summary>The labels of <see cref="Files"/>, index for index.</summary>
    public IReadOnlyList<UtkFaceLabel> Labels { get; }
    /// <summary>Image files whose names did not parse, and links not followed (they would repeat files), with the reason.</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; }
    /// <summary>How images are decoded.</summary>
    public ImageOptions Options { get; }
    /// <summary>Number of images kept.</summary>
    public int Count => Files.Count;

    /// <summary>Decodes image <paramref name="index"/> to uint8 [C, H, W] with its labels.</summary>
    public (Tensor Image, UtkFaceLabel Label) Get(int index)
    {
        if ((uint)index >= (uint)Files.Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"utkface: index {index} is outside 0..{Files.Count - 1}.");
        return (Image.Read(Files[index], Options), Labels[index]);
    }

    /// <summary>
    /// The images at <paramref name="indices"/> (in that order) as a data set of their own, with the same
    /// options and skipped list: what <see cref="Load"/> and <see cref="Chunks"/> then read.
    /// </summary>
    public UtkFaceDataset Subset(IReadOnlyList<int> indices)
    {
        foreach (var i in indices)
            if ((uint)i >= (uint)Files.Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"utkface: subset index {i} is outside 0..{Files.Count - 1} ({Files.Count} images in '{Root}').");
        return new UtkFaceDataset(Root, indices.Select(i => Files[i]).ToArray(), indices.Select(i => Labels[i]).ToArray(), Skipped, Options);
    }

    /// <summary>
    /// A seeded random subset of <paramref name="count"/> distinct images (seed 002 fits its scaler and PCA on
    /// 5,000 of the 23,708 faces), in the random order drawn; the same seed gives the same subset.
    /// </summary>
    public UtkFaceDataset Sample(int count, long seed)
    {
        if (count < 1 || count > Files.Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"utkface: a sample of {count} images from {Files.Count}; ask for 1..{Files.Count}.");
        using var g = new Generator(seed);
        using var perm = Torch.Randperm(Files.Count, g);
        return Subset(perm.ToArray<long>().Take(count).Select(i => (int)i).ToArray());
    }

    /// <summary>
    /// Decodes the images <paramref name="size"/> at a time, in order (the last chunk may be smaller), so that
    /// a data set larger than memory can be standardised and projected chunk by chunk (seed 002 reads 1,000 at
    /// a time). Each chunk is the caller's to dispose; nothing is decoded until the sequence is enumerated.
    /// </summary>
    public IEnumerable<UtkFaceImages> Chunks(int size, bool parallel = true)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), $"utkface: chunk size {size} must be at least 1.");
        return Iterate();
        IEnumerable<UtkFaceImages> Iterate()
        {
            for (int start = 0; start < Files.Count; start += size)
                yield return Subset(Enumerable.Range(start, Math.Min(size, Files.Count - start)).ToArray()).Load(parallel);
        }
    }

    /// <summary>As <see cref="Get"/>.</summary>
    public (Tensor Image, UtkFaceLabel Label) this[int index] => Get(index);

    /// <summary>Decodes every image into uint8 [N, C, H, W] (all images must come out the same size: give a size in the
    /// options unless they already are, as the aligned 200×200 set) with int64 ages, genders and races [N].</summary>
    public UtkFaceImages Load(bool parallel = true)
    {
        var images = Image.ReadBatch(Files, Options, parallel, "utkface");
        long n = Files.Count;
        return new UtkFaceImages(images,
            Torch.From(Labels.Select(l => (long)l.Age).ToArray(), n),
            Torch.From(Labels.Select(l => (long)l.Gender).ToArray(), n),
            Torch.From(Labels.Select(l => (long)l.Race).ToArray(), n));
    }
}
