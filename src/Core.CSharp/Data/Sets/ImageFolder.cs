namespace Dsl.Data;

/// <summary>
/// A folder of images with one sub-folder per class (root/cats/*.jpg, root/cows/*.png, ...), as torchvision's
/// ImageFolder: class names are the sub-folder names sorted ordinally, labels index them, and images are
/// found recursively in each class folder (sorted), keeping files with an image extension
/// (<see cref="Image.Extensions"/>). Symbolic links are followed, but never into a loop or to files listed
/// already: a file is listed once, and one file in two classes is an error. Lazy: <see cref="Get"/> decodes one image on demand; <see cref="Load"/>
/// decodes them all (in parallel) into one batch. As an <see cref="IDataset"/> (target "label") a
/// <see cref="DataLoader"/> decodes it batch by batch, for folders too large for memory; give the options a size
/// (<see cref="ImageOptions.Resize"/>) unless every image has the same size.
/// </summary>
public sealed class ImageFolder : IDataset
{
    readonly (string Path, long Label)[] samples;

    ImageFolder(string root, IReadOnlyList<string> classes, (string, long)[] samples, IReadOnlyList<string> ignored, ImageOptions options)
    {
        Root = root;
        ClassNames = classes;
        this.samples = samples;
        Ignored = ignored;
        Options = options;
    }

    /// <summary>The folder that holds the class folders.</summary>
    public string Root { get; }
    /// <summary>Class names, indexed by label.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Each image file and its label, in order (by class, then by path).</summary>
    public IReadOnlyList<(string Path, long Label)> Samples => samples;
    /// <summary>
    /// Paths in the class folders that were skipped: files without an image extension, hidden files, and what
    /// symbolic links would list twice (a link to a folder inside the root or already scanned, a second link to a file).
    /// </summary>
    public IReadOnlyList<string> Ignored { get; }
    /// <summary>How images are decoded.</summary>
    public ImageOptions Options { get; }
    /// <summary>Number of images.</summary>
    public int Count => samples.Length;

    /// <summary>
    /// Scans <paramref name="root"/>. With <paramref name="classNames"/> the labels follow that list (e.g. the
    /// training split's, so a validation folder gets the same labels); a class folder not in it is an error,
    /// and a listed class without a folder simply has no images. Without it, every sub-folder is a class and
    /// a class folder without images is an error.
    /// </summary>
    public static ImageFolder Open(string root, ImageOptions? options = null, IReadOnlyList<string>? classNames = null)
    {
        var o = options ?? ImageOptions.Default;
        o.Validate();
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException(File.Exists(root)
                ? $"image-folder: '{root}' is a file; expected a folder holding one sub-folder per class."
                : $"image-folder: no folder at '{root}'.");
        var folders = Directory.GetDirectories(root).Select(Path.GetFileName).Where(n => !n!.StartsWith('.')).Select(n => n!)
                               .Order(StringComparer.Ordinal).ToList();
        List<string> classes;
        if (classNames is null)
        {
            if (folders.Count == 0)
                throw new InvalidDataException($"image-folder: '{root}' has no class sub-folders (expected root/<class>/<image files>, e.g. root/cats/1.jpg).");
            classes = folders;
        }
        else
        {
            classes = classNames.ToList();
            if (classes.Count == 0 || classes.Distinct().Count() != classes.Count)
                throw new ArgumentException("image-folder: the class names must be a non-empty list without repeats.", nameof(classNames));
            var unknown = folders.Except(classes).ToList();
            if (unknown.Count > 0)
                throw new InvalidDataException($"image-folder: '{root}' has class folder(s) {string.Join(", ", unknown.Select(u => $"'{u}'"))} that are not among the given classes ({string.Join(", ", classes)}).");
        }
        var list = new List<(string, long)>();
        var ignored = new List<string>();
        var empty = new List<string>();
        var labelOf = new Dictionary<string, (string Path, int Label)>(StringComparer.Ordinal);
        for (int label = 0; label < classes.Count; label++)
        {
            var dir = Path.Combine(root, classes[label]);
            if (!Directory.Exists(dir)) continue;
            int before = list.Count;
            var (files, skipped) = FileTree.List(dir, root, skipHidden: false);
            ignored.AddRange(skipped.Select(s => s.Path));
            foreach (var (file, real, _) in files)
            {
                if (Path.GetFileName(file).StartsWith('.') || !Image.IsImageFile(file)) ignored.Add(file);
                else if (labelOf.TryGetValue(real, out var other))
                    throw new InvalidDataException(
                        $"image-folder: '{file}' (class '{classes[label]}') and '{other.Path}' (class '{classes[other.Label]}') are the same file (through a symbolic link); an image has one label, remove one of them.");
                else
                {
                    labelOf[real] = (file, label);
                    list.Add((file, label));
                }
            }
            if (list.Count == before) empty.Add(classes[label]);
        }
        if (classNames is null && empty.Count > 0)
            throw new InvalidDataException(
                $"image-folder: class folder(s) {string.Join(", ", empty.Select(e => $"'{Path.Combine(root, e)}'"))} hold no image files " +
                $"(extensions {string.Join(" ", Image.Extensions.Order())}); remove them or add images.");
        if (list.Count == 0) throw new InvalidDataException($"image-folder: '{root}' holds no image files.");
        return new ImageFolder(root, classes, list.ToArray(), ignored, o);
    }

    /// <summary>Decodes image <paramref name="index"/> to uint8 [C, H, W] with its label.</summary>
    public (Tensor Image, long Label) Get(int index)
    {
        if ((uint)index >= (uint)samples.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"image-folder: index {index} is outside 0..{samples.Length - 1}.");
        var (path, label) = samples[index];
        return (Image.Read(path, Options), label);
    }

    /// <summary>As <see cref="Get"/>.</summary>
    public (Tensor Image, long Label) this[int index] => Get(index);

    /// <summary>Decodes the images at <paramref name="indices"/> into uint8 [B, C, H, W] with int64 labels [B].
    /// The images must come out the same size: give a size in the options, or use a folder of equal-sized images.</summary>
    public (Tensor Images, Tensor Labels) GetBatch(IReadOnlyList<int> indices, bool parallel = true)
    {
        foreach (var i in indices)
            if ((uint)i >= (uint)samples.Length)
                throw new ArgumentOutOfRangeException(nameof(indices), $"image-folder: index {i} is outside 0..{samples.Length - 1}.");
        var images = Image.ReadBatch(indices.Select(i => samples[i].Path).ToList(), Options, parallel, "image-folder");
        return (images, Torch.From(indices.Select(i => samples[i].Label).ToArray(), indices.Count));
    }

    long IDataset.Count => samples.Length;

    static readonly string[] LabelName = { "label" };

    /// <inheritdoc/>
    public IReadOnlyList<string> TargetNames => LabelName;

    /// <summary>Decodes the images at <paramref name="indices"/> (in parallel) into uint8 [B, C, H, W], with int64 labels [B].</summary>
    public (Tensor Inputs, Tensor[] Targets) Gather(long[] indices)
    {
        var (images, labels) = GetBatch(indices.Select(i => i is >= 0 and <= int.MaxValue ? (int)i : -1).ToList());
        return (images, new[] { labels });
    }

    /// <summary>Decodes every image into uint8 [N, C, H, W] with int64 labels [N] and the class names.</summary>
    public LabeledImages Load(bool parallel = true)
    {
        var images = Image.ReadBatch(samples.Select(s => s.Path).ToList(), Options, parallel, "image-folder");
        return new LabeledImages(images, Torch.From(samples.Select(s => s.Label).ToArray(), samples.Length), ClassNames);
    }
}

/// <summary>
/// Imagenette (fast.ai): ten easy ImageNet classes in root/train/&lt;wnid&gt;/*.JPEG and root/val/&lt;wnid&gt;/*.JPEG
/// (imagenette2, imagenette2-320, imagenette2-160). Class folders are WordNet ids; <see cref="Names"/> gives readable names.
/// </summary>
public static class Imagenette
{
    /// <summary>The ten WordNet ids in label order (sorted, as the folders).</summary>
    public static readonly IReadOnlyList<string> WordNetIds = new[]
    {
        "n01440764", "n02102040", "n02979186", "n03000684", "n03028079", "n03394916", "n03417042", "n03425413", "n03445777", "n03888257",
    };

    /// <summary>Readable class names, in label order.</summary>
    public static readonly IReadOnlyList<string> Names = new[]
    {
        "tench", "English springer", "cassette player", "chain saw", "church", "French horn", "garbage truck", "gas pump", "golf ball", "parachute",
    };

    /// <summary>
    /// Opens the train or val split of an extracted Imagenette folder. <paramref name="root"/> is the folder
    /// holding train/ and val/ (e.g. imagenette2-160) or its parent with a single imagenette2* folder in it.
    /// Labels follow <see cref="WordNetIds"/>.
    /// </summary>
    public static ImageFolder Open(string root, bool train = true, ImageOptions? options = null)
    {
        var dir = FindRoot(root);
        return ImageFolder.Open(Path.Combine(dir, train ? "train" : "val"), options, WordNetIds);
    }

    static string FindRoot(string root)
    {
        if (Directory.Exists(Path.Combine(root, "train")) || Directory.Exists(Path.Combine(root, "val"))) return root;
        if (Directory.Exists(root))
        {
            var inner = Directory.GetDirectories(root, "imagenette2*").Where(d => Directory.Exists(Path.Combine(d, "train"))).Order(StringComparer.Ordinal).ToList();
            if (inner.Count == 1) return inner[0];
            if (inner.Count > 1)
                throw new InvalidDataException($"imagenette: '{root}' holds several Imagenette folders ({string.Join(", ", inner.Select(Path.GetFileName))}); pass the one to use.");
        }
        throw new DirectoryNotFoundException(
            $"imagenette: '{root}' has no train/ or val/ folder. Extract imagenette2-160.tgz (Download.Imagenette160 does both) and pass the imagenette2-160 folder.");
    }
}
