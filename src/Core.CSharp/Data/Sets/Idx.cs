using System.Buffers.Binary;
using System.IO.Compression;

namespace Dsl.Data;

/// <summary>
/// Reads the IDX format of MNIST, Fashion-MNIST and KMNIST (gzip-compressed or raw): a 4-byte magic
/// (two zero bytes, a type code, the number of dimensions), big-endian int32 sizes, then the data.
/// Checks the magic, the type and the exact data length, and names the file and the problem.
/// </summary>
public static class Idx
{
    const byte UByte = 0x08;

    /// <summary>Reads an unsigned-byte IDX file into a uint8 tensor of its stored shape.</summary>
    public static Tensor Read(string path, Device? device = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"idx: no file at '{path}'.", path);
        byte[] bytes;
        using (var file = File.OpenRead(path))
        {
            var gz = file.Length >= 2 && file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
            file.Position = 0;
            try
            {
                using Stream s = gz ? new GZipStream(file, CompressionMode.Decompress) : file;
                using var ms = new MemoryStream(gz ? (int)Math.Min(int.MaxValue, file.Length * 8) : (int)file.Length);
                s.CopyTo(ms);
                bytes = ms.ToArray();
            }
            catch (InvalidDataException e) { throw new InvalidDataException($"idx: '{path}' is not a valid gzip file ({e.Message}); re-download it.", e); }
            catch (EndOfStreamException e) { throw new InvalidDataException($"idx: '{path}' is a truncated gzip file; re-download it.", e); }
        }
        return Parse(bytes, path, device);
    }

    internal static Tensor Parse(ReadOnlySpan<byte> bytes, string path, Device? device)
    {
        if (bytes.Length < 4) throw new InvalidDataException($"idx: '{path}' has {bytes.Length} bytes, too few for the 4-byte magic number.");
        if (bytes[0] != 0 || bytes[1] != 0)
            throw new InvalidDataException($"idx: '{path}' has wrong magic bytes 0x{bytes[0]:x2}{bytes[1]:x2} (expected 0x0000); it is not an IDX file.");
        if (bytes[2] != UByte)
            throw new InvalidDataException($"idx: '{path}' stores type code 0x{bytes[2]:x2}; only unsigned bytes (0x08) are supported, as in MNIST-style data sets.");
        int rank = bytes[3];
        if (rank == 0 || bytes.Length < 4 + 4 * rank)
            throw new InvalidDataException($"idx: '{path}' declares {rank} dimensions but its header is truncated.");
        var shape = new long[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            shape[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.Slice(4 + 4 * i, 4));
            if (shape[i] < 0) throw new InvalidDataException($"idx: '{path}' has a negative size in dimension {i}.");
            count *= shape[i];
        }
        var data = bytes[(4 + 4 * rank)..];
        if (data.Length != count)
            throw new InvalidDataException(
                $"idx: '{path}' has shape [{string.Join(", ", shape)}], which needs {count} data bytes, but {data.Length} follow the header ({(data.Length < count ? "truncated" : "trailing data")}).");
        return Tensor.FromBytes(data, shape, DType.UInt8, device);
    }
}
