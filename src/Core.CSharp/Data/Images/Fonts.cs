using SkiaSharp;

namespace Dsl.Data;

/// <summary>
/// The typeface text in pictures is drawn with: DejaVu Sans (Debian's fonts-dejavu-core, which
/// <c>dotnet fsi build.fsx setup</c> installs), else the platform's default typeface. Real fonts: any case,
/// any Unicode the font covers.
/// </summary>
public static class Fonts
{
    /// <summary>Where DejaVu Sans is looked for, in order.</summary>
    public static readonly IReadOnlyList<string> SansCandidates = new[]
    {
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
    };

    static readonly Lazy<SKTypeface> sans = new(() =>
        SansCandidates.Where(File.Exists).Select(SKTypeface.FromFile).FirstOrDefault(t => t is not null) ?? SKTypeface.Default);

    /// <summary>The sans-serif typeface (shared; do not dispose it).</summary>
    public static SKTypeface Sans => sans.Value;

    /// <summary>The path of the font file in use, or null when the platform's default typeface is used.</summary>
    public static string? SansFile => SansCandidates.FirstOrDefault(File.Exists);
}
