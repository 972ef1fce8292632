using System.Runtime.InteropServices;

namespace Dsl.Data;

/// <summary>How the dial marks the hours.</summary>
public enum TickStyle
{
    /// <summary>Hour lines and short minute lines.</summary>
    Lines,
    /// <summary>Round dots at the hours.</summary>
    Dots,
    /// <summary>Thick bars at 12, 3, 6 and 9, small dots at the other hours.</summary>
    Quarters,
    /// <summary>Wide bars at the hours, no minute marks.</summary>
    Bars,
}

/// <summary>How the hands are shaped.</summary>
public enum HandStyle
{
    /// <summary>Rounded ends.</summary>
    Round,
    /// <summary>Square ends.</summary>
    Square,
    /// <summary>Narrowing towards the tip, rounded.</summary>
    Tapered,
}

/// <summary>
/// Ranges from which <see cref="ClockSpec.Random"/> draws a clock. Lengths are fractions of the dial radius,
/// widths and offsets are pixels, brightness is on [0, 1] (0 black).
/// <para>
/// The default (<c>new ClockOptions()</c>) is seed 004's data: clocks turned to any orientation (only the double tick
/// at 12 tells which way is up), off-centre, in four tick styles and three hand styles, with random brightness,
/// lighting, vignette, shadows and noise. A plain CNN stays at chance on it in a 5-minute CPU run. Start with
/// <see cref="Easy"/>, which a small CNN learns in minutes, and move to the default once that works.
/// </para>
/// </summary>
public sealed record ClockOptions
{
    /// <summary>
    /// The preset to start with: 64×64 images of upright (unrotated), centred, plain clocks (light face, dark ink, hour
    /// lines, round hands, no tail), without lighting, vignette, shadows or noise. Radius and hand lengths and widths
    /// still vary. A seed gives the same times as the default options (the draws are the same; only the look differs).
    /// </summary>
    public static ClockOptions Easy { get; } = new()
    {
        ImageSize = 64,
        MaxRotationDegrees = 0,
        Noise = (0, 0),
        Lighting = (0, 0),
        Shadows = false,
        Plain = true,
    };


    /// <summary>Side of the square image in pixels (150 as in seed 004's data).</summary>
    public int ImageSize { get; init; } = 150;
    /// <summary>Largest rotation of the whole clock either way, in degrees (180: any orientation; the 12 is marked by a double tick).</summary>
    public double MaxRotationDegrees { get; init; } = 180;
    /// <summary>Dial radius range as a fraction of half the image size.</summary>
    public (double Min, double Max) RadiusFraction { get; init; } = (0.68, 0.92);
    /// <summary>Hour hand length range (fraction of the radius; kept short of the hour marks, which start at 0.74 of the inner radius or further out).</summary>
    public (double Min, double Max) HourLength { get; init; } = (0.42, 0.55);
    /// <summary>Minute hand length range (fraction of the radius).</summary>
    public (double Min, double Max) MinuteLength { get; init; } = (0.72, 0.9);
    /// <summary>Hour hand width range (pixels, at the image size 150; scaled with the image).</summary>
    public (double Min, double Max) HourWidth { get; init; } = (4.0, 7.0);
    /// <summary>Minute hand width range (pixels at 150; scaled with the image).</summary>
    public (double Min, double Max) MinuteWidth { get; init; } = (2.0, 3.8);
    /// <summary>Standard deviation range of the additive Gaussian pixel noise.</summary>
    public (double Min, double Max) Noise { get; init; } = (0.0, 0.04);
    /// <summary>Strength range of the linear lighting gradient across the image.</summary>
    public (double Min, double Max) Lighting { get; init; } = (0.0, 0.35);
    /// <summary>Include the rendering of hand shadows (a soft, offset dark copy of the hands).</summary>
    public bool Shadows { get; init; } = true;
    /// <summary>
    /// Plain clocks: the dial centred, face 0.95 on background 0.6 with ink 0.05, a rim, hour lines (<see cref="TickStyle.Lines"/>),
    /// round hands without a tail, no vignette (false: all of these drawn at random, as in seed 004).
    /// </summary>
    public bool Plain { get; init; }
}

/// <summary>
/// Everything needed to render one clock: the time, the geometry and the style. Angles are clockwise on
/// screen, 0 at the top. <see cref="Random"/> draws one from a seed; <see cref="Clocks.Render"/> draws it.
/// </summary>
public sealed record ClockSpec
{
    /// <summary>Hour 0–11 (0 is 12 o'clock).</summary>
    public int Hour { get; init; }
    /// <summary>Minute 0–59.</summary>
    public int Minute { get; init; }
    /// <summary>Image side in pixels.</summary>
    public int Size { get; init; } = 150;
    /// <summary>Rotation of the whole clock, clockwise, in degrees.</summary>
    public double RotationDegrees { get; init; }
    /// <summary>Dial centre x (pixels from the left edge; pixel centres are at integer coordinates).</summary>
    public double CenterX { get; init; } = 74.5;
    /// <summary>Dial centre y (pixels from the top).</summary>
    public double CenterY { get; init; } = 74.5;
    /// <summary>Dial radius in pixels.</summary>
    public double Radius { get; init; } = 65;
    /// <summary>Brightness of the dial.</summary>
    public double Face { get; init; } = 0.92;
    /// <summary>Brightness around the dial.</summary>
    public double Background { get; init; } = 0.55;
    /// <summary>Brightness of the rim, ticks and hands.</summary>
    public double Ink { get; init; } = 0.08;
    /// <summary>Rim width in pixels (0: no rim).</summary>
    public double RimWidth { get; init; } = 3;
    /// <summary>The hour marks.</summary>
    public TickStyle Ticks { get; init; } = TickStyle.Lines;
    /// <summary>The hand shape.</summary>
    public HandStyle Hands { get; init; } = HandStyle.Round;
    /// <summary>Hour hand length (fraction of the radius).</summary>
    public double HourLength { get; init; } = 0.5;
    /// <summary>Minute hand length (fraction of the radius).</summary>
    public double MinuteLength { get; init; } = 0.82;
    /// <summary>Hour hand width in pixels.</summary>
    public double HourWidth { get; init; } = 5.5;
    /// <summary>Minute hand width in pixels.</summary>
    public double MinuteWidth { get; init; } = 3;
    /// <summary>Length of the hands behind the centre (fraction of the radius).</summary>
    public double Tail { get; init; } = 0.1;
    /// <summary>Direction of the light gradient (radians; brighter towards it).</summary>
    public double LightAngle { get; init; }
    /// <summary>Strength of the light gradient (0: even lighting).</summary>
    public double LightStrength { get; init; }
    /// <summary>Darkening towards the corners (0: none).</summary>
    public double Vignette { get; init; }
    /// <summary>Shadow offset of the hands in pixels (0: no shadow).</summary>
    public double ShadowOffset { get; init; }
    /// <summary>Opacity of the hand shadow.</summary>
    public double ShadowStrength { get; init; }
    /// <summary>Standard deviation of the Gaussian pixel noise.</summary>
    public double NoiseStd { get; init; }
    /// <summary>Seed of the pixel noise.</summary>
    public long NoiseSeed { get; init; }

    /// <summary>Angle of the hour hand on the dial (degrees clockwise from 12, before the clock's rotation): (h + m/60)·30.</summary>
    public double HourAngleDegrees => (Hour % 12 + Minute / 60.0) * 30.0;
    /// <summary>Angle of the minute hand on the dial: m·6 degrees.</summary>
    public double MinuteAngleDegrees => Minute * 6.0;

    /// <summary>A clock drawn from <paramref name="options"/>' ranges with a seeded generator; the same seed gives the same clock.</summary>
    public static ClockSpec Random(long seed, ClockOptions? options = null)
    {
        var o = options ?? new ClockOptions();
        var r = new SplitMix(seed);
        double size = o.ImageSize, scale = size / 150.0, half = size / 2.0;
        double U((double Min, double Max) range) => r.Uniform(range.Min, range.Max);
        int hour = r.Int(12), minute = r.Int(60);
        double radius = U(o.RadiusFraction) * half;
        double slack = Math.Max(0, half - radius - 2);
        double face = r.Uniform(0.72, 1.0);
        double background = r.Next() < 0.5 ? r.Uniform(0.15, face - 0.2) : r.Uniform(Math.Min(1, face - 0.1), 1.0);
        var spec = new ClockSpec
        {
            Hour = hour,
            Minute = minute,
            Size = o.ImageSize,
            RotationDegrees = r.Uniform(-o.MaxRotationDegrees, o.MaxRotationDegrees),
            CenterX = (size - 1) / 2.0 + r.Uniform(-slack, slack),
            CenterY = (size - 1) / 2.0 + r.Uniform(-slack, slack),
            Radius = radius,
            Face = face,
            Background = Math.Clamp(background, 0, 1),
            Ink = r.Uniform(0.0, 0.22),
            RimWidth = r.Next() < 0.15 ? 0 : r.Uniform(1.5, 5) * scale,
            Ticks = (TickStyle)r.Int(4),
            Hands = (HandStyle)r.Int(3),
            HourLength = U(o.HourLength),
            MinuteLength = U(o.MinuteLength),
            HourWidth = U(o.HourWidth) * scale,
            MinuteWidth = U(o.MinuteWidth) * scale,
            Tail = r.Uniform(0, 0.18),
            LightAngle = r.Uniform(0, 2 * Math.PI),
            LightStrength = U(o.Lighting),
            Vignette = r.Uniform(0, 0.25),
            ShadowOffset = o.Shadows ? r.Uniform(0, 3.5) * scale : 0,
            ShadowStrength = o.Shadows ? r.Uniform(0, 0.35) : 0,
            NoiseStd = U(o.Noise),
            NoiseSeed = r.NextLong(),
        };
        // Plain clocks override the look after every draw, so that a seed gives the same times with either setting.
        return !o.Plain ? spec : spec with
        {
            CenterX = (size - 1) / 2.0,
            CenterY = (size - 1) / 2.0,
            Face = 0.95,
            Background = 0.6,
            Ink = 0.05,
            RimWidth = 3 * scale,
            Ticks = TickStyle.Lines,
            Hands = HandStyle.Round,
            Tail = 0,
            Vignette = 0,
        };
    }
}

/// <summary>
/// A set of synthetic clocks from <see cref="Clocks.Generate"/>: uint8 images [N, 1, S, S] (S = <see cref="ClockOptions.ImageSize"/>),
/// int64 hours [N] (0–11) and minutes [N] (0–59), and the spec each was drawn from (for the hand angles, the rotation,
/// the style). Convert the images for a network with <c>Images.To(DType.Float32).Div_(255)</c>; shrink them with
/// <c>new Resize(h, w, InterpolationMode.Area)</c> (Dsl.Data's transform over <see cref="Functional.Interpolate"/>).
/// Dispose it (or the tensors) to free the native memory.
/// </summary>
public sealed class ClockSet : IDisposable
{
    internal ClockSet(Tensor images, Tensor hours, Tensor minutes, IReadOnlyList<ClockSpec> specs)
    {
        Images = images; Hours = hours; Minutes = minutes; Specs = specs;
    }

    /// <summary>Grayscale images, uint8 [N, 1, S, S] (255 white).</summary>
    public Tensor Images { get; }
    /// <summary>Hour labels 0–11, int64 [N].</summary>
    public Tensor Hours { get; }
    /// <summary>Minute labels 0–59, int64 [N].</summary>
    public Tensor Minutes { get; }
    /// <summary>The spec each image was rendered from.</summary>
    public IReadOnlyList<ClockSpec> Specs { get; }
    /// <summary>Number of clocks.</summary>
    public int Count => Specs.Count;

    /// <summary>Frees the tensors.</summary>
    public void Dispose() { Images.Dispose(); Hours.Dispose(); Minutes.Dispose(); }
}

/// <summary>
/// Seed 004's "tell the time" task, synthesised: analog clock faces rendered with plain C# (anti-aliased
/// signed-distance drawing into a float buffer), varying rotation, size, position, hand lengths, widths and
/// shapes, tick styles, brightness, lighting, shadows and noise; plus the common-sense time error.
/// </summary>
public static class Clocks
{
    /// <summary>
    /// Renders <paramref name="count"/> clocks in parallel. Clock i is <see cref="ClockSpec.Random"/> of a seed
    /// mixed from (<paramref name="seed"/>, i), so the set is the same for the same seed whatever the thread count.
    /// </summary>
    public static ClockSet Generate(int count, long seed, ClockOptions? options = null, Device? device = null)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count));
        var o = options ?? new ClockOptions();
        int size = o.ImageSize;
        if (size < 16) throw new ArgumentOutOfRangeException(nameof(options), $"Clocks: image size {size} is too small (need ≥ 16).");
        var specs = new ClockSpec[count];
        Parallel.For(0, count, i => specs[i] = ClockSpec.Random(SplitMix.Mix(seed, i, 0x636C6F636BL), o));
        int pixels = size * size;
        var images = Torch.Empty(new[] { (long)count, 1, size, size }, DType.UInt8, device).DetachFromScope();
        try
        {
            const int chunk = 1024;
            var buffer = new byte[Math.Min(count, chunk) * pixels];
            for (int start = 0; start < count; start += chunk)
            {
                int len = Math.Min(chunk, count - start);
                Parallel.For(0, len, () => new float[pixels], (i, _, scratch) =>
                {
                    RenderInto(specs[start + i], scratch);
                    var dst = buffer.AsSpan(i * pixels, pixels);
                    for (int p = 0; p < pixels; p++) dst[p] = (byte)(Math.Clamp(scratch[p], 0f, 1f) * 255f + 0.5f);
                    return scratch;
                }, _ => { });
                using var part = Torch.From<byte>(buffer.AsSpan(0, len * pixels), new long[] { len, 1, size, size });
                using var slot = images.Narrow(0, start, len);
                slot.Copy_(part);
            }
            Tensor Labels(Func<ClockSpec, int> f)
            {
                using var cpu = Torch.From(specs.Select(s => (long)f(s)).ToArray(), count);
                return cpu.To(device ?? Device.Cpu).DetachFromScope();
            }
            return new ClockSet(images, Labels(s => s.Hour), Labels(s => s.Minute), specs);
        }
        catch { images.Dispose(); throw; }
    }

    /// <summary>Renders one clock into a new float buffer of Size×Size values in [0, 1] (row-major, 1 white).</summary>
    public static float[] Render(ClockSpec spec)
    {
        var buf = new float[spec.Size * spec.Size];
        RenderInto(spec, buf);
        return buf;
    }

    /// <summary>Renders one clock into <paramref name="buffer"/> (Size×Size floats, row-major).</summary>
    public static void RenderInto(ClockSpec s, float[] buffer)
    {
        int n = s.Size;
        if (buffer.Length != n * n) throw new ArgumentException($"Clocks.Render: the buffer holds {buffer.Length} values, not {n}×{n}.");
        var c = new Canvas(buffer, n);
        double cx = s.CenterX, cy = s.CenterY, R = s.Radius, rot = s.RotationDegrees;

        // Background, the clock's soft drop shadow, the dial and its rim, in one pass.
        double rimR = R - s.RimWidth / 2, rimHalf = s.RimWidth / 2;
        double scx = cx + 1.5, scy = cy + 2.0;
        // Squared radii beyond which a pixel is fully outside the shadow, and within which it is plain dial.
        double shadowOut = Math.Pow(R + 1 + 1.5, 2);
        double plainIn = Math.Max(0, Math.Min(R - 0.5, s.RimWidth > 0 ? rimR - rimHalf - 0.5 : R - 0.5));
        plainIn *= plainIn;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                if (d2 <= plainIn) { buffer[y * n + x] = (float)s.Face; continue; }
                double val = s.Background;
                double ds2 = (x - scx) * (x - scx) + (y - scy) * (y - scy);
                if (ds2 < shadowOut) val -= val * 0.25 * Math.Clamp(0.5 - (Math.Sqrt(ds2) - (R + 1)) / 3, 0, 1);
                double d = Math.Sqrt(d2);
                double face = Math.Clamp(0.5 - (d - R), 0, 1);
                if (face > 0)
                {
                    val += (s.Face - val) * face;
                    if (s.RimWidth > 0) val += (s.Ink - val) * Math.Clamp(0.5 - (Math.Abs(d - rimR) - rimHalf), 0, 1);
                }
                buffer[y * n + x] = (float)val;
            }

        // Marks.
        double inner = R - s.RimWidth;
        (double X, double Y) At(double angleDeg, double radius)
        {
            double a = (angleDeg + rot) * Math.PI / 180;
            return (cx + radius * Math.Sin(a), cy - radius * Math.Cos(a));
        }
        double scale = n / 150.0;
        for (int i = 0; i < 60; i++)
        {
            double ang = i * 6.0;
            bool hourMark = i % 5 == 0, quarter = i % 15 == 0, twelve = i == 0;
            switch (s.Ticks)
            {
                case TickStyle.Lines:
                    if (hourMark) Tick(ang, inner * 0.78, inner * 0.95, 2.6 * scale, twelve);
                    else Tick(ang, inner * 0.89, inner * 0.95, 1.1 * scale, false);
                    break;
                case TickStyle.Dots:
                    if (hourMark)
                    {
                        if (twelve) Tick(ang, inner * 0.76, inner * 0.93, 2.6 * scale, true);
                        else { var (x, y) = At(ang, inner * 0.86); c.Disc(x, y, (quarter ? 3.4 : 2.6) * scale, s.Ink, 1.0); }
                    }
                    break;
                case TickStyle.Quarters:
                    if (quarter) Tick(ang, inner * 0.74, inner * 0.95, 4.2 * scale, twelve);
                    else if (hourMark) { var (x, y) = At(ang, inner * 0.88); c.Disc(x, y, 1.8 * scale, s.Ink, 1.0); }
                    break;
                case TickStyle.Bars:
                    if (hourMark) Tick(ang, inner * 0.8, inner * 0.95, 4.8 * scale, twelve);
                    break;
            }
        }

        void Tick(double angleDeg, double r0, double r1, double width, bool doubled)
        {
            var (x0, y0) = At(angleDeg, r0);
            var (x1, y1) = At(angleDeg, r1);
            if (!doubled) { c.Segment(x0, y0, x1, y1, width, width, true, s.Ink, 1.0); return; }
            // 12 o'clock: two parallel marks, so the dial's orientation can be read at any rotation.
            double a = (angleDeg + rot) * Math.PI / 180, off = width * 0.5 + 1.6 * scale;
            double px = Math.Cos(a) * off, py = Math.Sin(a) * off;
            c.Segment(x0 - px, y0 - py, x1 - px, y1 - py, width, width, true, s.Ink, 1.0);
            c.Segment(x0 + px, y0 + py, x1 + px, y1 + py, width, width, true, s.Ink, 1.0);
        }

        // Hands (shadows first), hour under minute, then the centre cap.
        void Hand(double angleDeg, double length, double width, double dx, double dy, double value, double alpha, double soft)
        {
            var (tx, ty) = At(angleDeg, length * R);
            var (bx, by) = At(angleDeg + 180, s.Tail * R);
            double tip = s.Hands == HandStyle.Tapered ? width * 0.35 : width;
            c.Segment(bx + dx, by + dy, tx + dx, ty + dy, width, tip, s.Hands == HandStyle.Square, value, alpha, soft);
        }
        if (s.ShadowOffset > 0 && s.ShadowStrength > 0)
        {
            double sa = s.LightAngle + Math.PI, dx = Math.Cos(sa) * s.ShadowOffset, dy = Math.Sin(sa) * s.ShadowOffset;
            Hand(s.HourAngleDegrees, s.HourLength, s.HourWidth, dx, dy, 0, s.ShadowStrength, 2.0);
            Hand(s.MinuteAngleDegrees, s.MinuteLength, s.MinuteWidth, dx, dy, 0, s.ShadowStrength, 2.0);
        }
        Hand(s.HourAngleDegrees, s.HourLength, s.HourWidth, 0, 0, s.Ink, 1.0, 1.0);
        Hand(s.MinuteAngleDegrees, s.MinuteLength, s.MinuteWidth, 0, 0, s.Ink, 1.0, 1.0);
        c.Disc(cx, cy, Math.Max(s.HourWidth, s.MinuteWidth) * 0.75 + 1, s.Ink, 1.0);

        // Lighting: a linear gradient towards LightAngle and a vignette; then noise (normal deviates from a
        // fixed table, indexed by 16-bit pieces of the noise stream: four pixels per 64-bit draw).
        float lx = (float)(Math.Cos(s.LightAngle) * s.LightStrength * 0.5), ly = (float)(Math.Sin(s.LightAngle) * s.LightStrength * 0.5);
        float vig = (float)(s.Vignette * 0.5), h = (n - 1) / 2f, inv = 1f / h, sigma = (float)s.NoiseStd;
        var noise = new SplitMix(s.NoiseSeed);
        var table = NormalTable;
        ulong bits = 0;
        for (int y = 0, k = 0; y < n; y++)
        {
            float v = (y - h) * inv;
            for (int x = 0; x < n; x++, k++)
            {
                float u = (x - h) * inv;
                float val = buffer[k] * (1 + u * lx + v * ly - vig * (u * u + v * v));
                if (sigma > 0)
                {
                    if ((k & 3) == 0) bits = noise.NextULong();
                    val += sigma * table[(int)(bits & 0xFFFF)];
                    bits >>= 16;
                }
                buffer[k] = Math.Clamp(val, 0f, 1f);
            }
        }
    }

    // 65,536 standard normal deviates (Box–Muller from a fixed seed), for fast, reproducible pixel noise.
    static readonly float[] NormalTable = MakeNormalTable();

    static float[] MakeNormalTable()
    {
        var r = new SplitMix(0x6E6F697365);
        var t = new float[1 << 16];
        for (int i = 0; i < t.Length; i++) t[i] = (float)r.Normal();
        return t;
    }

    /// <summary>
    /// The common-sense error between two times on a 12-hour dial, in minutes: |t₁ − t₂| taken the short way
    /// round 720 minutes (3:59 vs 4:01 → 2; 11:59 vs 0:01 → 2). Hours are read modulo 12, so 12 ≡ 0. At most 360.
    /// </summary>
    public static int CommonSenseError(int h1, int m1, int h2, int m2)
    {
        int t1 = ((h1 % 12 + 12) % 12) * 60 + m1, t2 = ((h2 % 12 + 12) % 12) * 60 + m2;
        int d = ((t1 - t2) % 720 + 720) % 720;
        return Math.Min(d, 720 - d);
    }

    /// <summary>The common-sense error of whole batches: int64 [N] from hour and minute tensors [N] (any integer dtype).</summary>
    public static Tensor CommonSenseError(Tensor h1, Tensor m1, Tensor h2, Tensor m2)
    {
        using var scope = DisposeScope.Enter();
        var twelve = Torch.Full(Array.Empty<long>(), 12, DType.Int64, h1.Device);
        var full = Torch.Full(Array.Empty<long>(), 720, DType.Int64, h1.Device);
        Tensor Minutes(Tensor h, Tensor m) => h.To(DType.Int64).Remainder(twelve) * 60L + m.To(DType.Int64);
        var d = (Minutes(h1, m1) - Minutes(h2, m2)).Remainder(full);
        return scope.MoveOut(d.Minimum(720L - d));
    }

    /// <summary>Minutes since 12:00 on a 12-hour dial (0–719); hours are read modulo 12.</summary>
    public static int ToMinutes(int hour, int minute) => ((hour % 12 + 12) % 12) * 60 + minute;

    // ---------------------------------------------------------------- drawing

    /// <summary>Alpha-blends shapes given by signed distances (negative inside) with one-pixel anti-aliasing.</summary>
    sealed class Canvas(float[] buffer, int size)
    {
        readonly float[] buf = buffer;
        readonly int n = size;

        void Blend(int x, int y, double coverage, double value)
        {
            if (coverage <= 0) return;
            ref float p = ref buf[y * n + x];
            p = (float)(p + (value - p) * Math.Min(1, coverage));
        }

        // Coverage of a pixel at signed distance d for an edge softened over `soft` pixels.
        static double Cover(double d, double soft) => Math.Clamp(0.5 - d / soft, 0, 1);

        public void Disc(double cx, double cy, double r, double value, double alpha, double soft = 1)
        {
            int x0 = Math.Max(0, (int)Math.Floor(cx - r - soft)), x1 = Math.Min(n - 1, (int)Math.Ceiling(cx + r + soft));
            int y0 = Math.Max(0, (int)Math.Floor(cy - r - soft)), y1 = Math.Min(n - 1, (int)Math.Ceiling(cy + r + soft));
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++)
                {
                    double d = Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) - r;
                    Blend(x, y, alpha * Cover(d, soft), value);
                }
        }

        /// <summary>A thick segment a→b whose width changes linearly from w0 to w1, with round or square ends.</summary>
        public void Segment(double ax, double ay, double bx, double by, double w0, double w1, bool square, double value, double alpha, double soft = 1)
        {
            double dx = bx - ax, dy = by - ay, len = Math.Sqrt(dx * dx + dy * dy);
            if (len < 1e-9) { Disc(ax, ay, w0 / 2, value, alpha, soft); return; }
            double ux = dx / len, uy = dy / len;
            double pad = Math.Max(w0, w1) / 2 + soft + 1;
            int x0 = Math.Max(0, (int)Math.Floor(Math.Min(ax, bx) - pad)), x1 = Math.Min(n - 1, (int)Math.Ceiling(Math.Max(ax, bx) + pad));
            int y0 = Math.Max(0, (int)Math.Floor(Math.Min(ay, by) - pad)), y1 = Math.Min(n - 1, (int)Math.Ceiling(Math.Max(ay, by) + pad));
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++)
                {
                    double px = x - ax, py = y - ay;
                    double t = px * ux + py * uy, s = -px * uy + py * ux;
                    double tc = Math.Clamp(t, 0, len);
                    double half = (w0 + (w1 - w0) * (tc / len)) / 2;
                    double d;
                    if (square) d = Math.Max(Math.Abs(s) - half, Math.Max(-t, t - len));
                    else d = Math.Sqrt((t - tc) * (t - tc) + s * s) - half;
                    Blend(x, y, alpha * Cover(d, soft), value);
                }
        }
    }
}
