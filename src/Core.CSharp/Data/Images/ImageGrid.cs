using Dsl.Engine.IO;
using SkiaSharp;

namespace Dsl.Data;

/// <summary>
/// Tiles a batch of images into one picture, with an optional caption under each tile drawn in a real font
/// (<see cref="Fonts.Sans"/>), and writes it as PNG, JPEG or WebP (by the file's extension), atomically.
/// </summary>
public static class ImageGrid
{
    /// <summary>
    /// Draws images [N, H, W] (gray), [N, 1, H, W] or [N, 3, H, W] (RGB) — uint8, or floating in [0, 1] — in
    /// rows of <paramref name="columns"/>, <paramref name="padding"/> white pixels apart, each tile scaled by
    /// <paramref name="scale"/> (nearest neighbour, so pixels stay sharp), captions under the tiles (a caption
    /// may have several lines, split at '\n'), and each tile framed in its colour in <paramref name="frames"/>
    /// (a colour as "#rrggbb" or a name SkiaSharp parses; null or "" draws no frame).
    /// </summary>
    public static void Write(string path, Tensor images, int columns = 8, IReadOnlyList<string>? captions = null,
                             int padding = 4, int scale = 1, float fontSize = 12f, IReadOnlyList<string?>? frames = null)
    {
        var format = Image.FormatOf(path);
        using var bitmap = Render(images, columns, captions, padding, scale, fontSize, frames);
        using var data = format switch
        {
            ImageFormat.Png => bitmap.Encode(SKEncodedImageFormat.Png, 100),
            ImageFormat.Jpeg => bitmap.Encode(SKEncodedImageFormat.Jpeg, 95),
            _ => bitmap.Encode(SKEncodedImageFormat.Webp, 100),
        };
        var bytes = data.ToArray();
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>The grid as a bitmap (see <see cref="Write"/>); the caller disposes it.</summary>
    public static SKBitmap Render(Tensor images, int columns = 8, IReadOnlyList<string>? captions = null,
                                  int padding = 4, int scale = 1, float fontSize = 12f, IReadOnlyList<string?>? frames = null)
    {
        const string who = "image grid";
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), $"{who}: columns must be at least 1, not {columns}.");
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), $"{who}: padding must be ≥ 0, not {padding}.");
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale), $"{who}: scale must be at least 1, not {scale}.");
        if (!(fontSize > 0)) throw new ArgumentOutOfRangeException(nameof(fontSize), $"{who}: font size must be positive, not {fontSize}.");
        images.ThrowIfDisposed(who);
        int n;
        using (var scope = DisposeScope.Enter())
        {
            if (images.Dim is not (3 or 4) || (images.Dim == 4 && images.Size(1) is not (1 or 3)))
                throw new ArgumentException($"{who}: expected images [N, H, W], [N, 1, H, W] or [N, 3, H, W], got [{string.Join(", ", images.Shape)}].");
            n = (int)images.Size(0);
        }
        if (n == 0) throw new ArgumentException($"{who}: there are no images to draw.");
        if (captions is not null && captions.Count != n)
            throw new ArgumentException($"{who}: {captions.Count} captions for {n} images; give one caption per image.");
        if (frames is not null && frames.Count != n)
            throw new ArgumentException($"{who}: {frames.Count} frame colours for {n} images; give one per image (null for none).");
        var frameColors = frames?.Select((f, i) => string.IsNullOrEmpty(f) ? SKColors.Empty
            : SKColor.TryParse(f, out var c) ? c
            : throw new ArgumentException($"{who}: frame colour {i} is '{f}'; give a colour as \"#rrggbb\" (or null for no frame).")).ToArray();
        using var font = new SKFont(Fonts.Sans, fontSize);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        int lines = captions is null ? 0 : captions.Max(c => c.Split('\n').Length);
        int capH = captions is null ? 0 : (int)Math.Ceiling(font.Spacing * lines) + 2;
        int tw = 0, th = 0, cols = Math.Min(columns, n), rows = (n + cols - 1) / cols;
        var tiles = new SKBitmap[n];
        try
        {
            for (int i = 0; i < n; i++)
            {
                using var scope = DisposeScope.Enter();
                var (pixels, c, h, w) = Image.Planes(images.Select(0, i), who);
                tiles[i] = Image.ToBitmap(pixels, c, h, w);
                (tw, th) = (w * scale, h * scale);
            }
            int cellW = tw + padding, cellH = th + capH + padding;
            var grid = new SKBitmap(new SKImageInfo(cols * cellW + padding, rows * cellH + padding, SKColorType.Rgba8888, SKAlphaType.Opaque));
            using var canvas = new SKCanvas(grid);
            canvas.Clear(SKColors.White);
            var sharp = new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None);
            for (int i = 0; i < n; i++)
            {
                int ox = padding + i % cols * cellW, oy = padding + i / cols * cellH;
                using var tile = SKImage.FromBitmap(tiles[i]);
                canvas.DrawImage(tile, new SKRect(ox, oy, ox + tw, oy + th), sharp);
                if (captions is not null)
                {
                    canvas.Save();
                    canvas.ClipRect(new SKRect(ox, oy + th, ox + tw, oy + th + capH));
                    var parts = captions[i].Split('\n');
                    for (int l = 0; l < parts.Length; l++)
                    {
                        float width = font.MeasureText(parts[l]);
                        float x = ox + Math.Max(0, (tw - width) / 2);
                        canvas.DrawText(parts[l], x, oy + th + 1 - font.Metrics.Ascent + l * font.Spacing, SKTextAlign.Left, font, ink);
                    }
                    canvas.Restore();
                }
                if (frameColors is not null && frameColors[i].Alpha > 0)
                {
                    float half = Math.Max(1, padding / 2f);
                    using var pen = new SKPaint { Color = frameColors[i], IsStroke = true, StrokeWidth = half, IsAntialias = false };
                    canvas.DrawRect(new SKRect(ox - half / 2, oy - half / 2, ox + tw + half / 2, oy + th + capH + half / 2), pen);
                }
            }
            canvas.Flush();
            return grid;
        }
        finally
        {
            foreach (var t in tiles) t?.Dispose();
        }
    }
}
