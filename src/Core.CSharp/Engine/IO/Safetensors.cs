using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dsl.Engine.IO;

/// <summary>
/// Reads and writes named tensors in the safetensors format (an 8-byte little-endian header length,
/// a JSON header of name → {dtype, shape, data_offsets} plus optional "__metadata__", then the raw
/// row-major little-endian data), so files interchange with Python's <c>safetensors</c> package.
/// Writes are atomic. Reads check every offset and size and name the file and the problem.
/// </summary>
public static class Safetensors
{
    static readonly Dictionary<DType, string> Codes = new()
    {
        [DType.Float64] = "F64", [DType.Float32] = "F32", [DType.Float16] = "F16", [DType.BFloat16] = "BF16",
        [DType.Int64] = "I64", [DType.Int32] = "I32", [DType.Int16] = "I16", [DType.Int8] = "I8",
        [DType.UInt8] = "U8", [DType.Bool] = "BOOL",
    };
    static readonly Dictionary<string, DType> FromCode = Codes.ToDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>
    /// The metadata key of the SHA-256 (lower-case hex) of the data section, written when <c>Save</c> is asked to hash
    /// the data; <see cref="Load"/> then refuses a file whose data does not match (a flipped bit, a torn copy).
    /// </summary>
    public const string DataHashKey = "dsl.data_sha256";

    /// <summary>
    /// Saves tensors under their names (in the given order), with optional string metadata; with
    /// <paramref name="hashData"/> the metadata also holds the data's SHA-256 (<see cref="DataHashKey"/>), which
    /// loading verifies.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null, bool hashData = false)
    {
        var items = tensors.ToList();
        var dupes = items.GroupBy(kv => kv.Key).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (dupes.Count > 0) throw new ArgumentException($"safetensors.save: duplicate tensor names: {string.Join(", ", dupes)}.");
        var header = new JsonObject();
        var allMeta = metadata?.ToDictionary(kv => kv.Key, kv => kv.Value) ?? new Dictionary<string, string>();
        if (hashData)
        {
            using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            foreach (var (_, t) in items)
            {
                var buf = new byte[t.Numel * t.DType.SizeOf()];
                t.CopyBytesTo(buf);
                sha.AppendData(buf);
            }
            allMeta[DataHashKey] = Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
        }
        if (allMeta.Count > 0)
        {
            var meta = new JsonObject();
            foreach (var (k, v) in allMeta) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        var sizes = new List<long>();
        foreach (var (name, t) in items)
        {
            var dt = t.DType;
            if (!Codes.TryGetValue(dt, out var code)) throw new ArgumentException($"safetensors.save: tensor '{name}' has dtype {dt.Name()}, which safetensors cannot store.");
            long size = t.Numel * dt.SizeOf();
            header[name] = new JsonObject
            {
                ["dtype"] = code,
                ["shape"] = new JsonArray(t.Shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            sizes.Add(size);
            offset += size;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;   // the reference writer pads the header with spaces to 8 bytes
        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            s.Write(len);
            s.Write(json);
            for (int i = json.Length; i < padded; i++) s.WriteByte((byte)' ');
            for (int i = 0; i < items.Count; i++)
            {
                var buf = new byte[sizes[i]];
                items[i].Value.CopyBytesTo(buf);
                s.Write(buf);
            }
        });
    }

    /// <summary>Saves a dictionary of tensors.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null, bool hashData = false) =>
        Save(path, (IEnumerable<KeyValuePair<string, Tensor>>)tensors, metadata, hashData);

    /// <summary>Loads every tensor in the file, in file order, onto <paramref name="device"/> (the CPU by default).</summary>
    public static IReadOnlyList<KeyValuePair<string, Tensor>> Load(string path, Device? device = null) => Read(path, device).Tensors;

    /// <summary>Loads the file's "__metadata__" strings (empty when it has none).</summary>
    public static IReadOnlyDictionary<string, string> LoadMetadata(string path) => Read(path, null, headerOnly: true).Metadata;

    static Exception Corrupt(string path, string what) =>
        new InvalidDataException($"safetensors.load: '{path}' is not a valid safetensors file: {what}. Re-save it, or check that the path points to a .safetensors file.");

    static (List<KeyValuePair<string, Tensor>> Tensors, Dictionary<string, string> Metadata) Read(string path, Device? device, bool headerOnly = false)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors.load: no file at '{path}'.", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw Corrupt(path, $"it has {bytes.Length} bytes, fewer than the 8-byte header length");
        var n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (n > (ulong)(bytes.Length - 8)) throw Corrupt(path, $"the header claims {n} bytes but only {bytes.Length - 8} follow (truncated?)");
        JsonObject header;
        try { header = JsonNode.Parse(bytes.AsSpan(8, (int)n))!.AsObject(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        { throw Corrupt(path, "the header is not a JSON object (" + e.Message + ")"); }

        var data = bytes.AsSpan(8 + (int)n);
        Dictionary<string, string> meta;
        List<(string Name, DType DType, long[] Shape, long Begin, long End)> entries;
        try { (meta, entries) = ParseHeader(header, path, data.Length); }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException or JsonException
                                      or ArgumentException or OverflowException or KeyNotFoundException)
        { throw Corrupt(path, $"malformed header ({e.Message})"); }
        var result = new List<KeyValuePair<string, Tensor>>();
        if (headerOnly) return (result, meta);
        if (meta.TryGetValue(DataHashKey, out var expected))
        {
            var actual = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data)).ToLowerInvariant();
            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw Corrupt(path, $"its data does not match the SHA-256 its header records (expected {expected}, got {actual}): a changed or damaged file");
        }
        try
        {
            foreach (var e in entries)
                result.Add(new(e.Name, Tensor.FromBytes(data.Slice((int)e.Begin, (int)(e.End - e.Begin)), e.Shape, e.DType, device)));
        }
        catch
        {
            foreach (var kv in result) kv.Value.Dispose();
            throw;
        }
        return (result, meta);
    }

    // Validates every entry: known dtype, non-negative shape, a byte size that matches (checked, no overflow),
    // and offsets that tile the data section exactly (no holes, overlaps or trailing bytes), as the reference loader requires.
    static (Dictionary<string, string>, List<(string Name, DType DType, long[] Shape, long Begin, long End)>) ParseHeader(JsonObject header, string path, long dataLength)
    {
        var meta = new Dictionary<string, string>();
        var entries = new List<(string Name, DType DType, long[] Shape, long Begin, long End)>();
        var seen = new HashSet<string>();
        foreach (var (name, node) in header)
        {
            if (!seen.Add(name)) throw Corrupt(path, $"tensor name '{name}' appears twice");
            if (name == "__metadata__")
            {
                if (node is not JsonObject m) throw Corrupt(path, "__metadata__ is not an object of strings");
                foreach (var (k, v) in m)
                {
                    if (v is not JsonValue jv || !jv.TryGetValue<string>(out var str)) throw Corrupt(path, $"__metadata__ value of '{k}' is not a string");
                    meta[k] = str;
                }
                continue;
            }
            try { entries.Add(Entry(name, node, path, dataLength)); }
            catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException or OverflowException or NullReferenceException)
            { throw Corrupt(path, $"tensor '{name}' has a malformed entry ({e.Message})"); }
        }
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long at = 0;
        foreach (var e in entries)
        {
            if (e.Begin != at)
                throw Corrupt(path, e.Begin > at ? $"the data section has a hole before tensor '{e.Name}' (bytes {at}..{e.Begin})" : $"tensor '{e.Name}' overlaps the tensor before it");
            at = e.End;
        }
        if (at != dataLength) throw Corrupt(path, $"the data section has {dataLength - at} bytes after the last tensor");
        return (meta, entries);
    }

    static (string Name, DType DType, long[] Shape, long Begin, long End) Entry(string name, JsonNode? node, string path, long dataLength)
    {
        var o = node as JsonObject ?? throw Corrupt(path, $"tensor '{name}' is not an object");
        var code = o["dtype"]?.GetValue<string>() ?? throw Corrupt(path, $"tensor '{name}' has no dtype");
        if (!FromCode.TryGetValue(code, out var dt)) throw Corrupt(path, $"tensor '{name}' has unsupported dtype '{code}'");
        var shape = (o["shape"] as JsonArray ?? throw Corrupt(path, $"tensor '{name}' has no shape")).Select(x => x!.GetValue<long>()).ToArray();
        var offs = (o["data_offsets"] as JsonArray ?? throw Corrupt(path, $"tensor '{name}' has no data_offsets")).Select(x => x!.GetValue<long>()).ToArray();
        if (offs.Length != 2 || offs[0] < 0 || offs[1] < offs[0] || offs[1] > dataLength)
            throw Corrupt(path, $"tensor '{name}' has data_offsets [{string.Join(", ", offs)}] outside the {dataLength}-byte data section (truncated?)");
        if (shape.Any(x => x < 0)) throw Corrupt(path, $"tensor '{name}' has a negative size in shape [{string.Join(", ", shape)}]");
        long expected;
        try { expected = checked(shape.Aggregate(1L, (a, b) => a * b) * dt.SizeOf()); }
        catch (OverflowException) { throw Corrupt(path, $"tensor '{name}' has shape [{string.Join(", ", shape)}], too large to address"); }
        if (offs[1] - offs[0] != expected)
            throw Corrupt(path, $"tensor '{name}' of shape [{string.Join(", ", shape)}] {dt.Name()} needs {expected} bytes but its offsets span {offs[1] - offs[0]}");
        return (name, dt, shape, offs[0], offs[1]);
    }
}
