using System.Collections;
using System.IO.Compression;
using Razorvine.Pickle;

namespace Dsl.Engine.IO;

/// <summary>
/// Reads PyTorch state dicts as <c>torch.save(model.state_dict(), "x.pth")</c> writes them (the zip format of
/// PyTorch ≥ 1.6: <c>&lt;name&gt;/data.pkl</c> plus one <c>&lt;name&gt;/data/&lt;key&gt;</c> entry per storage), with
/// Razorvine.Pickle. Loading weights never runs code: before unpickling, every global the pickle names is checked
/// against <see cref="AllowedGlobals"/> (what a state dict uses) and a pickle naming any other is refused with that
/// name. Tensors may be views of shared storages at any offset and stride (they are copied out contiguous);
/// float64/32/16, bfloat16, int64/32/16/8, uint8 and bool storages are read. Nested dicts (a checkpoint
/// <c>{"model": state_dict, "epoch": 3}</c>) are flattened with dots; values that are not tensors are skipped. Keys come
/// in the file's order.
/// Refused with a message: the legacy pre-1.6 format, TorchScript archives, big-endian files.
/// </summary>
public static class PyTorchWeights
{
    static readonly Dictionary<string, DType> Storages = new()
    {
        ["torch.DoubleStorage"] = DType.Float64,
        ["torch.FloatStorage"] = DType.Float32,
        ["torch.HalfStorage"] = DType.Float16,
        ["torch.BFloat16Storage"] = DType.BFloat16,
        ["torch.LongStorage"] = DType.Int64,
        ["torch.IntStorage"] = DType.Int32,
        ["torch.ShortStorage"] = DType.Int16,
        ["torch.CharStorage"] = DType.Int8,
        ["torch.ByteStorage"] = DType.UInt8,
        ["torch.BoolStorage"] = DType.Bool,
    };

    /// <summary>The globals a state dict's pickle may name: OrderedDict, the two tensor rebuild functions and the typed storages.</summary>
    public static IReadOnlyList<string> AllowedGlobals { get; } =
        new[] { "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter" }.Concat(Storages.Keys).ToArray();

    static readonly HashSet<string> Allowed = new(AllowedGlobals);

    static PyTorchWeights()
    {
        Unpickler.registerConstructor("collections", "OrderedDict", new OrderedDictConstructor());
        Unpickler.registerConstructor("torch._utils", "_rebuild_tensor_v2", new RebuildTensor());
        Unpickler.registerConstructor("torch._utils", "_rebuild_parameter", new RebuildParameter());
        foreach (var (name, dtype) in Storages) Unpickler.registerConstructor("torch", name["torch.".Length..], new StorageType(name, dtype));
    }

    /// <summary>Loads the tensors of a .pth/.pt state dict, in the file's order, on <paramref name="device"/> (CPU by default).</summary>
    public static IReadOnlyList<KeyValuePair<string, Tensor>> Load(string path, Device? device = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"pytorch.load: no file at '{path}'.", path);
        var head = new byte[4];
        using (var f = File.OpenRead(path)) f.ReadExactly(head, 0, Math.Min(4, (int)f.Length));
        if (head[0] == 0x80 && head[1] <= 5)
            throw Fail(path, "is in PyTorch's legacy (pre-1.6) format, a bare pickle with storages after it, which Dsl does not read",
                       "Load it with torch and save it again with PyTorch ≥ 1.6 (torch.save(torch.load(f), f2) writes the zip format), or convert it to safetensors");
        if (head[0] != (byte)'P' || head[1] != (byte)'K') throw Fail(path, "is not a PyTorch zip archive (no zip header)", "Give a file that torch.save wrote");
        using var zip = OpenZip(path);
        var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
                  ?? throw (zip.Entries.Any(e => e.FullName.EndsWith("/constants.pkl", StringComparison.Ordinal))
                      ? Fail(path, "is a TorchScript archive (torch.jit.save), not a state dict", "Save model.state_dict() with torch.save instead")
                      : Fail(path, "has no <name>/data.pkl entry", "Give a file that torch.save wrote"));
        var prefix = pkl.FullName[..^"data.pkl".Length];
        if (zip.GetEntry(prefix + "byteorder") is { } order && ReadAll(order, path) is var bo && System.Text.Encoding.ASCII.GetString(bo).Trim() != "little")
            throw Fail(path, "stores big-endian data", "Load and save it with torch on a little-endian machine");
        var pickle = ReadAll(pkl, path);
        foreach (var g in PickleGuard.Globals(pickle, $"pytorch.load: '{path}'"))
            if (!Allowed.Contains(g))
                throw Fail(path, $"names the global '{g}', which is not part of a state dict (allowed: {string.Join(", ", AllowedGlobals)})",
                           "Loading weights never runs code: save model.state_dict() (tensors only) rather than a whole model or other objects");
        object root;
        using (var u = new StateDictUnpickler(zip, prefix, path))
        {
            try { root = u.loads(pickle); }
            catch (Exception e) when (e is PickleException or InvalidCastException or IndexOutOfRangeException or ArgumentException or NullReferenceException)
            { throw Fail(path, $"has a pickle that is not a state dict ({e.Message})", "Give a file that torch.save(model.state_dict(), path) wrote"); }
        }
        var flat = new List<KeyValuePair<string, Rebuilt>>();
        Flatten(root, "", flat, path);
        if (flat.Count == 0) throw Fail(path, "holds no tensors", "Give a file that torch.save(model.state_dict(), path) wrote");
        var result = new List<KeyValuePair<string, Tensor>>();
        try
        {
            foreach (var (name, t) in flat) result.Add(new(name, Tensor.FromBytes(t.Bytes, t.Shape, t.DType, device)));
        }
        catch
        {
            foreach (var kv in result) kv.Value.Dispose();
            throw;
        }
        return result;
    }

    static ZipArchive OpenZip(string path)
    {
        try { return ZipFile.OpenRead(path); }
        catch (InvalidDataException e) { throw Fail(path, $"is a damaged zip archive ({e.Message})", "Download or save it again"); }
    }

    static byte[] ReadAll(ZipArchiveEntry e, string path)
    {
        try
        {
            using var s = e.Open();
            var buffer = new byte[e.Length];
            s.ReadExactly(buffer);
            return buffer;
        }
        catch (Exception x) when (x is InvalidDataException or EndOfStreamException)
        { throw Fail(path, $"has a damaged entry '{e.FullName}' ({x.Message})", "Download or save it again"); }
    }

    static InvalidDataException Fail(string path, string what, string fix) => new($"pytorch.load: '{path}' {what}. {fix}.");

    // Razorvine fills every dict as a Hashtable, which loses the order of its keys; tensors are rebuilt in the order
    // the pickle holds them, so each dict's entries are sorted by the first tensor they hold.
    static void Flatten(object? value, string prefix, List<KeyValuePair<string, Rebuilt>> into, string path)
    {
        switch (value)
        {
            case Rebuilt t: into.Add(new(prefix, t)); break;
            case Hashtable d:
                foreach (var k in d.Keys.OfType<string>().Where(k => First(d[k]) < long.MaxValue).OrderBy(k => First(d[k])))
                    Flatten(d[k], prefix == "" ? k : prefix + "." + k, into, path);
                break;
        }
    }

    static long First(object? value) => value switch
    {
        Rebuilt t => t.Sequence,
        Hashtable d => d.Values.Cast<object?>().Select(First).DefaultIfEmpty(long.MaxValue).Min(),
        _ => long.MaxValue,
    };

    static long sequence;

    /// <summary>A storage read from the archive: its element type and bytes.</summary>
    sealed record Storage(DType DType, byte[] Bytes)
    {
        public long Numel => Bytes.Length / DType.SizeOf();
    }

    /// <summary>A tensor rebuilt from a storage view, copied out contiguous (native tensors are made only once unpickling succeeded).</summary>
    sealed record Rebuilt(DType DType, long[] Shape, byte[] Bytes)
    {
        public long Sequence { get; } = Interlocked.Increment(ref sequence);
    }

    sealed class StorageType(string name, DType dtype) : IObjectConstructor
    {
        public DType DType { get; } = dtype;
        public object construct(object[] args) => throw new PickleException($"{name} is called in the pickle; a state dict only names it");
    }

    /// <summary>An OrderedDict (Razorvine fills dicts as Hashtables).</summary>
    sealed class OrderedState : Hashtable
    {
        // OrderedDict's __reduce__ restores the instance __dict__ (torch's "_metadata": module versions), which holds no tensors.
        public void __setstate__(Hashtable state) { }
    }

    sealed class OrderedDictConstructor : IObjectConstructor
    {
        public object construct(object[] args) => args.Length == 0 ? new OrderedState() : throw new PickleException("OrderedDict is called with arguments");
    }

    static long Int(object o, string what) => o switch
    {
        int i => i,
        long l => l,
        _ => throw new PickleException($"{what} is {o?.GetType().Name ?? "None"}, not an integer"),
    };

    static long[] Ints(object o, string what) => o is object[] a ? a.Select(x => Int(x, what)).ToArray() : throw new PickleException($"{what} is not a tuple");

    sealed class RebuildTensor : IObjectConstructor
    {
        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        public object construct(object[] args)
        {
            if (args.Length < 4 || args[0] is not Storage s) throw new PickleException("_rebuild_tensor_v2 is called without a storage");
            var offset = Int(args[1], "the storage offset");
            var size = Ints(args[2], "the size");
            var stride = Ints(args[3], "the stride");
            if (size.Length != stride.Length) throw new PickleException($"the size ({size.Length} dims) and stride ({stride.Length}) differ in rank");
            if (size.Any(d => d < 0) || stride.Any(d => d < 0) || offset < 0) throw new PickleException("a negative size, stride or offset");
            long numel = size.Aggregate(1L, (a, b) => checked(a * b));
            int es = s.DType.SizeOf();
            var bytes = new byte[checked(numel * es)];
            if (numel == 0) return new Rebuilt(s.DType, size, bytes);
            long last = offset + size.Select((d, i) => (d - 1) * stride[i]).Sum();
            if (last >= s.Numel)
                throw new PickleException($"a view of {numel} elements at offset {offset} with stride [{string.Join(", ", stride)}] reaches element {last} of a {s.Numel}-element storage");
            // copy in row-major order, a contiguous last dimension as one block
            var run = size.Length > 0 && stride[^1] == 1;
            var inner = run ? size[^1] : 1;
            var outerDims = run ? size.Length - 1 : size.Length;
            var index = new long[outerDims];
            for (long dst = 0; dst < numel; dst += inner)
            {
                long src = offset;
                for (int d = 0; d < outerDims; d++) src += index[d] * stride[d];
                Buffer.BlockCopy(s.Bytes, checked((int)(src * es)), bytes, checked((int)(dst * es)), checked((int)(inner * es)));
                for (int d = outerDims - 1; d >= 0; d--)
                {
                    if (++index[d] < size[d]) break;
                    index[d] = 0;
                }
            }
            return new Rebuilt(s.DType, size, bytes);
        }
    }

    sealed class RebuildParameter : IObjectConstructor
    {
        // _rebuild_parameter(data, requires_grad, backward_hooks)
        public object construct(object[] args) => args.Length >= 1 && args[0] is Rebuilt t ? t : throw new PickleException("_rebuild_parameter is called without a tensor");
    }

    sealed class StateDictUnpickler(ZipArchive zip, string prefix, string path) : Unpickler
    {
        readonly Dictionary<string, Storage> loaded = new();

        protected override object persistentLoad(object pid)
        {
            // ("storage", storage type, key, location, numel)
            if (pid is not object[] { Length: 5 } t || t[0] is not "storage" || t[1] is not StorageType type || t[2] is not string key)
                throw new PickleException("a persistent id that is not a storage");
            if (loaded.TryGetValue(key, out var s)) return s;
            var entry = zip.GetEntry(prefix + "data/" + key) ?? throw new PickleException($"storage '{key}' has no entry {prefix}data/{key}");
            var bytes = ReadAll(entry, path);
            var numel = Int(t[4], "the storage size");
            if (bytes.LongLength < numel * type.DType.SizeOf())
                throw new PickleException($"storage '{key}' has {bytes.Length} bytes, fewer than its {numel} {type.DType.Name()} elements need (truncated?)");
            s = new Storage(type.DType, bytes);
            loaded[key] = s;
            return s;
        }
    }
}
