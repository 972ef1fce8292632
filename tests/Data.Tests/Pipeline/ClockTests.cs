namespace Dsl.Data.Tests.Pipeline;

/// <summary>
/// Synthetic clocks: the common-sense error, reproducibility from seeds, and hands pointing at the labelled
/// time. (Writing them as pictures is tested with the image writer, in ImageTests.)
/// </summary>
public class ClockTests
{
    public sealed record TimePair(int H1, int M1, int H2, int M2);

    static Gen<int> Hours => Gen.Choose(0, 11);
    static Gen<int> Minutes => Gen.Choose(0, 59);

    static Arbitrary<TimePair> Pairs() =>
        Arb(from h1 in Hours from m1 in Minutes from h2 in Hours from m2 in Minutes select new TimePair(h1, m1, h2, m2),
            p => new[] { p with { H1 = 0 }, p with { M1 = 0 }, p with { H2 = 0 }, p with { M2 = 0 }, p with { H2 = p.H1, M2 = p.M1 } }.Where(q => q != p));

    [Property(MaxTest = 300, QuietOnSuccess = true)]
    public Property CommonSenseErrorIsASymmetricCircularDistance() => Prop.ForAll(Pairs(), p =>
    {
        int e = Clocks.CommonSenseError(p.H1, p.M1, p.H2, p.M2);
        Require(e == Clocks.CommonSenseError(p.H2, p.M2, p.H1, p.M1), "not symmetric");
        Require(e >= 0 && e <= 360, $"{e} is outside [0, 360]");
        Require((e == 0) == (p.H1 == p.H2 && p.M1 == p.M2), $"zero iff equal times, got {e}");
        // The short way round: the plain difference or its complement to 12 hours.
        int d = Math.Abs(Clocks.ToMinutes(p.H1, p.M1) - Clocks.ToMinutes(p.H2, p.M2));
        Require(e == Math.Min(d, 720 - d), $"{e} vs min({d}, {720 - d})");
        // Triangle inequality through 6:00 and shifting both times together changes nothing.
        Require(e <= Clocks.CommonSenseError(p.H1, p.M1, 6, 0) + Clocks.CommonSenseError(6, 0, p.H2, p.M2), "triangle inequality");
        int s1 = (Clocks.ToMinutes(p.H1, p.M1) + 137) % 720, s2 = (Clocks.ToMinutes(p.H2, p.M2) + 137) % 720;
        Require(Clocks.CommonSenseError(s1 / 60, s1 % 60, s2 / 60, s2 % 60) == e, "not invariant under turning both hands");
    });

    [Test]
    public void CommonSenseErrorExamples()
    {
        Assert.That(Clocks.CommonSenseError(3, 59, 4, 1), Is.EqualTo(2));
        Assert.That(Clocks.CommonSenseError(11, 59, 0, 1), Is.EqualTo(2));
        Assert.That(Clocks.CommonSenseError(4, 1, 4, 3), Is.EqualTo(2));
        Assert.That(Clocks.CommonSenseError(0, 0, 6, 0), Is.EqualTo(360));
        Assert.That(Clocks.CommonSenseError(12, 30, 0, 30), Is.EqualTo(0), "12 ≡ 0");
        Assert.That(Clocks.CommonSenseError(1, 59, 0, 59), Is.EqualTo(60), "seed 004's worst sample");
    }

    [Property(MaxTest = 30, QuietOnSuccess = true)]
    public Property TensorCommonSenseErrorMatchesTheScalarOne() => Prop.ForAll(
        Arb(Gen.ListOf(Pairs().Generator).Select(l => l.ToArray()).Where(a => a.Length > 0),
            a => a.Length > 1 ? new[] { a[..(a.Length / 2)], a[1..] } : Array.Empty<TimePair[]>()),
        pairs =>
        {
            using var scope = DisposeScope.Enter();
            Tensor Col(Func<TimePair, int> f) => Torch.From(pairs.Select(p => (long)f(p)).ToArray(), pairs.Length);
            var e = Clocks.CommonSenseError(Col(p => p.H1), Col(p => p.M1), Col(p => p.H2), Col(p => p.M2));
            Require(e.DType == DType.Int64, "int64 result");
            var got = e.ToArray<long>();
            for (int i = 0; i < pairs.Length; i++)
                Require(got[i] == Clocks.CommonSenseError(pairs[i].H1, pairs[i].M1, pairs[i].H2, pairs[i].M2), $"pair {i}: {got[i]}");
            // int32 hours from a model's argmax work too.
            var e32 = Clocks.CommonSenseError(Col(p => p.H1).To(DType.Int32), Col(p => p.M1), Col(p => p.H2), Col(p => p.M2).To(DType.Int32));
            Require(e32.Equal(e), "int32 inputs");
        });

    [Test]
    public void TheSameSeedGivesIdenticalClocks()
    {
        var baseline = SettledLiveCount();
        using (var a = Clocks.Generate(40, seed: 9))
        using (var b = Clocks.Generate(40, seed: 9))
        using (var c = Clocks.Generate(40, seed: 10))
        using (var prefix = Clocks.Generate(7, seed: 9))
        {
            Assert.That(a.Images.Shape, Is.EqualTo(new long[] { 40, 1, 150, 150 }));
            Assert.That(a.Images.DType, Is.EqualTo(DType.UInt8));
            Assert.That(a.Images.Equal(b.Images) && a.Hours.Equal(b.Hours) && a.Minutes.Equal(b.Minutes), Is.True, "same seed, same clocks");
            Assert.That(a.Images.Equal(c.Images), Is.False, "another seed, other clocks");
            using var first7 = a.Images.Narrow(0, 0, 7);
            Assert.That(first7.Equal(prefix.Images), Is.True, "clock i depends only on (seed, i)");
            Assert.That(a.Specs.Select(s => s.Hour), Is.EqualTo(a.Hours.ToArray<long>().Select(h => (int)h)));
            Assert.That(a.Hours.ToArray<long>().All(h => h is >= 0 and < 12) && a.Minutes.ToArray<long>().All(m => m is >= 0 and < 60), Is.True);
            Assert.That(ClockSpec.Random(123), Is.EqualTo(ClockSpec.Random(123)));
            // Images span dark ink to bright faces.
            using var mn = a.Images.Min(); using var mx = a.Images.Max();
            Assert.That(mn.ToDouble(), Is.LessThan(60)); Assert.That(mx.ToDouble(), Is.GreaterThan(200));
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    [Test]
    public void NearbySeedsShareNoClock()
    {
        // Seeds 1 … 4 (say, one per chunk of a data set) once drew the same clocks shifted by one index.
        var baseline = SettledLiveCount();
        var seen = new Dictionary<(int, int, double, double), (long, int)>();
        for (long seed = 1; seed <= 4; seed++)
        {
            using var set = Clocks.Generate(300, seed, new ClockOptions { ImageSize = 16 });
            for (int i = 0; i < set.Specs.Count; i++)
            {
                var s = set.Specs[i];
                Assert.That(seen.TryAdd((s.Hour, s.Minute, s.RotationDegrees, s.CenterX), (seed, i)), Is.True,
                    $"clock {i} of seed {seed} is clock {seen.GetValueOrDefault((s.Hour, s.Minute, s.RotationDegrees, s.CenterX))}");
            }
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    [Test]
    public void TheEasyPresetIsUprightPlainAndDeterministic()
    {
        var baseline = SettledLiveCount();
        var easy = ClockOptions.Easy;
        Assert.That(easy.ImageSize, Is.EqualTo(64));
        Assert.That(easy.MaxRotationDegrees, Is.EqualTo(0));
        Assert.That(easy.Plain && !easy.Shadows && easy.Noise == (0, 0) && easy.Lighting == (0, 0), Is.True);
        Assert.That(new ClockOptions().Plain, Is.False, "the default keeps seed 004's clutter");
        for (long seed = 0; seed < 200; seed++)
        {
            var e = ClockSpec.Random(seed, easy);
            var d = ClockSpec.Random(seed);
            Assert.That(e.RotationDegrees, Is.EqualTo(0), "upright");
            Assert.That((e.Hour, e.Minute), Is.EqualTo((d.Hour, d.Minute)), "a seed gives the same time with either preset");
            Assert.That((e.CenterX, e.CenterY), Is.EqualTo((31.5, 31.5)), "centred");
            Assert.That((e.Face, e.Background, e.Ink, e.Ticks, e.Hands, e.Tail, e.Vignette), Is.EqualTo((0.95, 0.6, 0.05, TickStyle.Lines, HandStyle.Round, 0.0, 0.0)));
            Assert.That((e.ShadowStrength, e.NoiseStd, e.LightStrength), Is.EqualTo((0.0, 0.0, 0.0)));
        }
        // The default is the harder data: rotated every which way.
        var rotations = Enumerable.Range(0, 200).Select(i => Math.Abs(ClockSpec.Random(i).RotationDegrees)).ToArray();
        Assert.That(rotations.Count(r => r > 90), Is.GreaterThan(60), "the default turns clocks to any orientation");
        using (var a = Clocks.Generate(24, seed: 5, options: easy))
        using (var b = Clocks.Generate(24, seed: 5, options: easy))
        using (var c = Clocks.Generate(24, seed: 6, options: easy))
        using (var d = Clocks.Generate(24, seed: 5))
        {
            Assert.That(a.Images.Shape, Is.EqualTo(new long[] { 24, 1, 64, 64 }));
            Assert.That(a.Images.Equal(b.Images) && a.Hours.Equal(b.Hours) && a.Minutes.Equal(b.Minutes), Is.True, "same seed, same clocks");
            Assert.That(a.Images.Equal(c.Images), Is.False, "another seed, other clocks");
            Assert.That(a.Hours.Equal(d.Hours) && a.Minutes.Equal(d.Minutes), Is.True, "the same times as the default preset");
            // Upright: the 12 o'clock double mark is straight above the centre (dark ink there on every clock).
            var px = a.Images.ToArray<byte>();
            for (int i = 0; i < 24; i++)
            {
                var s = a.Specs[i];
                double inner = s.Radius - s.RimWidth;
                int y = (int)Math.Round(s.CenterY - inner * 0.87), x0 = (int)Math.Round(s.CenterX - 2.5), x1 = (int)Math.Round(s.CenterX + 2.5);
                bool Dark(int x) => px[i * 64 * 64 + y * 64 + x] < 128;
                Assert.That(Dark(x0) || Dark(x0 + 1) || Dark(x0 - 1), Is.True, $"clock {i}: left tick of the 12 at ({x0}, {y})");
                Assert.That(Dark(x1) || Dark(x1 + 1) || Dark(x1 - 1), Is.True, $"clock {i}: right tick of the 12 at ({x1}, {y})");
            }
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    public sealed record HandCase(int Hour, int Minute, int Seed);

    static Arbitrary<HandCase> HandCases() =>
        Arb(from h in Hours from m in Minutes from s in Gen.Choose(0, 100_000) select new HandCase(h, m, s),
            c => new[] { c with { Seed = 0 }, c with { Minute = 0 }, c with { Hour = 0 } }.Where(v => v != c));

    static double Bilinear(float[] img, int n, double x, double y)
    {
        if (x < 0 || y < 0 || x > n - 1 || y > n - 1) return 0;
        int x0 = Math.Min((int)x, n - 2), y0 = Math.Min((int)y, n - 2);
        double fx = x - x0, fy = y - y0;
        return img[y0 * n + x0] * (1 - fx) * (1 - fy) + img[y0 * n + x0 + 1] * fx * (1 - fy)
             + img[(y0 + 1) * n + x0] * (1 - fx) * fy + img[(y0 + 1) * n + x0 + 1] * fx * fy;
    }

    static double AngleDiff(double a, double b) { double d = ((a - b) % 360 + 540) % 360 - 180; return Math.Abs(d); }

    // The direction (degrees clockwise from up) of the hand that reaches furthest, ignoring angles near `exclude`:
    // the middle of the angles whose extent is within half a pixel of the longest.
    static (double Angle, double Extent) Furthest(float[] hands, ClockSpec s, double threshold, double? exclude = null)
    {
        var extent = new List<(double Phi, double E)>();
        double r0 = Math.Max(s.HourWidth, s.MinuteWidth) * 0.75 + 3;
        for (double phi = 0; phi < 360; phi += 0.25)
        {
            if (exclude is { } ex && AngleDiff(phi, ex) < 12) continue;
            double a = phi * Math.PI / 180, e = 0;
            for (double r = s.Radius; r >= r0; r -= 0.25)
                if (Bilinear(hands, s.Size, s.CenterX + r * Math.Sin(a), s.CenterY - r * Math.Cos(a)) > threshold) { e = r; break; }
            extent.Add((phi, e));
        }
        double max = extent.Max(p => p.E);
        var top = extent.Where(p => p.E >= max - 0.5).ToArray();
        double sx = top.Sum(p => Math.Sin(p.Phi * Math.PI / 180)), cy = top.Sum(p => Math.Cos(p.Phi * Math.PI / 180));
        return ((Math.Atan2(sx, cy) * 180 / Math.PI + 360) % 360, max);
    }

    [Property(MaxTest = 30, QuietOnSuccess = true)]
    public Property HandsPointAtTheLabelledTime() => Prop.ForAll(HandCases(), c =>
    {
        var spec = ClockSpec.Random(c.Seed) with { Hour = c.Hour, Minute = c.Minute, ShadowStrength = 0, NoiseStd = 0 };
        var img = Clocks.Render(spec);
        var bare = Clocks.Render(spec with { HourLength = 0, MinuteLength = 0, Tail = 0 });
        // The hands alone: how much darker each pixel is than on the same clock without hands.
        var hands = bare.Zip(img, (b, i) => b - i).ToArray();
        double threshold = 0.35 * (spec.Face - spec.Ink);
        double minuteExpected = spec.MinuteAngleDegrees + spec.RotationDegrees;
        double hourExpected = spec.HourAngleDegrees + spec.RotationDegrees;
        var (minute, minuteExtent) = Furthest(hands, spec, threshold);
        Require(AngleDiff(minute, minuteExpected) <= 3, $"the longest hand points at {minute:F1}°, the minute hand of {c.Hour}:{c.Minute:D2} should at {(minuteExpected + 360) % 360:F1}°");
        // The hand ends at its tip, or where it runs under a mark of the same ink (marks start at 0.74 of the
        // inner radius or further out; the 12's double mark at 0.76): such pixels are as dark with and without hands.
        double tip = spec.MinuteLength * spec.Radius, marks = 0.74 * (spec.Radius - spec.RimWidth);
        Require(minuteExtent <= tip + spec.MinuteWidth / 2 + 1.5 && minuteExtent >= Math.Min(tip - spec.MinuteWidth / 2, marks) - 2,
                $"minute hand reaches {minuteExtent:F1} px, its length is {tip:F1} (marks from {marks:F1}); {spec}");
        if (AngleDiff(hourExpected, minuteExpected) >= 25)
        {
            var (hour, hourExtent) = Furthest(hands, spec, threshold, exclude: minute);
            Require(AngleDiff(hour, hourExpected) <= 3, $"the other hand points at {hour:F1}°, the hour hand of {c.Hour}:{c.Minute:D2} should at {(hourExpected + 360) % 360:F1}°");
            Require(hourExtent < minuteExtent, "the hour hand is the shorter one");
        }
        // The hands are the darkest thing along their directions: ink on the face.
        double a = minuteExpected * Math.PI / 180, r = spec.MinuteLength * spec.Radius * 0.6;
        double onHand = Bilinear(img, spec.Size, spec.CenterX + r * Math.Sin(a), spec.CenterY - r * Math.Cos(a));
        Require(onHand < (spec.Face + spec.Ink) / 2 * 1.2, $"the pixel on the minute hand is {onHand:F2}, not dark");
    });
}
