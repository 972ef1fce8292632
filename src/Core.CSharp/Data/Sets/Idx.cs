using System.Buffers.Binary;
using System.IO.Compression;

namespace Dsl.Data;

/// <summary>
/// Reads the IDX format of MNIST, Fashion-MNIST and KMNIST (gzip-compressed or raw): a 4-byte magic
/// (two zero bytes, a type code, the number of dimensions), big-endian int32 sizes, then the data.
/// The header is read and checked first (magic, type, sizes, at most <see cref="MaxBytes"/> of data), so a
/// small file that announces or inflates to gigabytes costs nothing: no more data is read than the header
/// announces, and memory grows with the data actually present. The data length must be exact. Errors name
/// the file and the problem.
/// </summary>
public static class Idx
{
    const byte UByte = 0x08;

    /// <summary>The most data bytes one file may announce (the largest .NET array).</summary>
    public static readonly long MaxBytes = Array.MaxLength;

    /// <summary>Reads an unsigned-byte IDX file into a uint8 tensor of its stored shape.</summary>
    public static Tensor Read(string path, Device? device = null)
    {
        var (shape, data) = ReadData(path, null);
        return Tensor.FromBytes(data.Span, shape, DType.UInt8, device);
    }

    /// <summary>
    /// The shape and data of an unsigned-byte IDX file. <paramref name="expect"/> sees the shape from the header
    /// before the data is read and returns what is wrong with it for the caller (e.g. "Fashion-MNIST images are
    /// [N, 28, 28]"), or null.
    /// </summary>
    internal static (long[] Shape, Memory<byte> Data) ReadData(string path, Func<long[], string?>? expect)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"idx: no file at '{path}'.", path);
        using var file = File.OpenRead(path);
        var gz = file.Length >= 2 && file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
        file.Position = 0;
        try
        {
            using Stream s = gz ? new GZipStream(file, CompressionMode.Decompress) : file;
            var shape = ReadHeader(s, path);
            long count = shape.Aggregate(1L, (n, d) => Math.Min(n, MaxBytes + 1) * d);
            string Shape() => $"[{string.Join(", ", shape)}]";
            if (count > MaxBytes)
                throw new InvalidDataException($"idx: '{path}' has shape {Shape()}, which needs {count} data bytes, over the limit of {MaxBytes} bytes a file may hold; the header is corrupt.");
            if (expect?.Invoke(shape) is string problem)
                throw new InvalidDataException($"idx: '{path}' has shape {Shape()}, but {problem}.");
            long header = 4 + 4 * shape.Length;
            if (!gz && file.Length - header != count)
                throw Length(path, Shape(), count, file.Length - header);
            // Memory grows with the data present, not with the count the header claims.
            var body = new MemoryStream((int)Math.Min(count, 1 << 20));
            var chunk = new byte[1 << 16];
            int k;
            while (body.Length < count && (k = s.Read(chunk, 0, (int)Math.Min(chunk.Length, count - body.Length))) > 0) body.Write(chunk, 0, k);
            if (body.Length < count) throw Length(path, Shape(), count, body.Length);
            if (s.Read(chunk, 0, 1) > 0) throw Length(path, Shape(), count, null);
            return (shape, body.GetBuffer().AsMemory(0, (int)count));
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith("idx:")) { throw new InvalidDataException($"idx: '{path}' is not a valid gzip file ({e.Message}); re-download it.", e); }
        catch (EndOfStreamException e) { throw new InvalidDataException($"idx: '{path}' is a truncated gzip file; re-download it.", e); }
    }

    static InvalidDataException Length(string path, string shape, long count, long? got) => new(got is long n
        ? $"idx: '{path}' has shape {shape}, which needs {count} data bytes, but {n} follow the header (truncated); re-download it."
        : $"idx: '{path}' has shape {shape}, which needs {count} data bytes, but more follow the header (trailing data); the header or the file is corrupt.");

    static long[] ReadHeader(Stream s, string path)
    {
        Span<byte> magic = stackalloc byte[4];
        int got = s.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        if (got < 4) throw new InvalidDataException($"idx: '{path}' has {got} bytes, too few for the 4-byte magic number.");
        if (magic[0] != 0 || magic[1] != 0)
            throw new InvalidDataException($"idx: '{path}' has wrong magic bytes 0x{magic[0]:x2}{magic[1]:x2} (expected 0x0000); it is not an IDX file.");
        if (magic[2] != UByte)
            throw new InvalidDataException($"idx: '{path}' stores type code 0x{magic[2]:x2}; only unsigned bytes (0x08) are supported, as in MNIST-style data sets.");
        int rank = magic[3];
        var sizes = new byte[4 * rank];
        if (rank == 0 || s.ReadAtLeast(sizes, sizes.Length, throwOnEndOfStream: false) < sizes.Length)
            throw new InvalidDataException($"idx: '{path}' declares {rank} dimensions but its header is truncated.");
        var shape = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            shape[i] = BinaryPrimitives.ReadInt32BigEndian(sizes.AsSpan(4 * i));
            if (shape[i] < 0) throw new InvalidDataException($"idx: '{path}' has a negative size in dimension {i}.");
        }
        return shape;
    }
}
