namespace Dsl.Data;

/// <summary>
/// What an image file is, from its first bytes, and whether a JPEG or PNG is complete: decoders only warn
/// about a file cut short and fill the missing rows, so truncation is checked here before decoding.
/// </summary>
static class ImageSignature
{
    /// <summary>The container ("JPEG", "PNG", "BMP", "WebP", "GIF"), after checking that JPEG and PNG data is complete.</summary>
    public static string Check(ReadOnlySpan<byte> p, Func<string, Exception> error)
    {
        if (p.Length == 0) throw error("empty image data (0 bytes)");
        var kind = Sniff(p) ?? throw error($"not an image: the data starts with bytes {Hex(p)}, which is no JPEG, PNG, BMP, WebP or GIF signature");
        if (kind == "JPEG") CheckJpegComplete(p, error);
        if (kind == "PNG") CheckPngComplete(p, error);
        return kind;
    }

    static ReadOnlySpan<byte> PngMagic => new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };

    static string? Sniff(ReadOnlySpan<byte> p)
    {
        if (p.Length >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return "JPEG";
        if (p.StartsWith(PngMagic)) return "PNG";
        if (p.StartsWith("BM"u8)) return "BMP";
        if (p.Length >= 12 && p.StartsWith("RIFF"u8) && p.Slice(8, 4).SequenceEqual("WEBP"u8)) return "WebP";
        if (p.StartsWith("GIF87a"u8) || p.StartsWith("GIF89a"u8)) return "GIF";
        return null;
    }

    static string Hex(ReadOnlySpan<byte> p) => string.Join(" ", p[..Math.Min(8, p.Length)].ToArray().Select(b => b.ToString("x2")));

    // Entropy-coded data never contains FF D9 (a data byte FF is stuffed as FF 00), so a complete JPEG has
    // its end-of-image marker after the start of its last scan.
    static void CheckJpegComplete(ReadOnlySpan<byte> p, Func<string, Exception> error)
    {
        int lastScan = -1;
        for (int i = 0; i + 1 < p.Length; i++)
            if (p[i] == 0xFF && p[i + 1] == 0xDA) lastScan = i;
        if (lastScan < 0) throw error("corrupt or truncated JPEG: it has no image data (no start-of-scan marker)");
        for (int i = lastScan + 2; i + 1 < p.Length; i++)
            if (p[i] == 0xFF && p[i + 1] == 0xD9) return;
        throw error("truncated JPEG: the data ends inside the image (no end-of-image marker after the last scan); the file was cut short, re-download or re-export it");
    }

    // A complete PNG ends with its IEND chunk.
    static void CheckPngComplete(ReadOnlySpan<byte> p, Func<string, Exception> error)
    {
        int from = p.Length > 4096 ? p.Length - 4096 : 8;
        for (int i = p.Length - 4; i >= from; i--)
            if (p.Slice(i, 4).SequenceEqual("IEND"u8)) return;
        throw error("truncated PNG: no IEND chunk at the end of the data; the file was cut short, re-download or re-export it");
    }
}
