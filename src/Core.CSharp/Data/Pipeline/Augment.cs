namespace Dsl.Data;

/// <summary>
/// Image geometry on batches with tensor ops: a per-sample affine warp with gather-based bilinear
/// interpolation (the engine of <see cref="RandomAffine"/> and <see cref="RandomRotation"/>), per-sample
/// crops and flips. Images are [N, C, H, W] or [N, H, W]; pixel (row i, column j) has its centre at
/// (x, y) = (j, i), and the warp centre is ((W − 1)/2, (H − 1)/2).
/// </summary>
public static class Augment
{
    /// <summary>
    /// Warps each image with its own 2×3 matrix θ (row-major in <paramref name="thetas"/>, 6 numbers per
    /// sample): output pixel p, relative to the centre c, samples the input at θ·(p − c, 1) + c with bilinear
    /// interpolation (four gathers). Where the sample point falls outside the image the missing corners
    /// count as <paramref name="fill"/>. θ = [1 0 0; 0 1 0] is the identity. Integer images are warped in
    /// float and rounded back to their dtype.
    /// </summary>
    public static Tensor AffineSample(Tensor x, double[] thetas, double fill = 0)
    {
        using var scope = DisposeScope.Enter();
        var dtype = x.DType;
        var img = Transform.AsNchw(x, "AffineSample");
        long n = img.Size(0), c = img.Size(1), h = img.Size(2), w = img.Size(3), hw = h * w;
        if (thetas.Length != n * 6)
            throw new ArgumentException($"AffineSample: {thetas.Length} matrix entries for {n} images; give 6 per image (a 2×3 matrix each).");
        if (!dtype.IsFloating()) img = img.To(DType.Float32);
        var fdt = img.DType;
        var device = img.Device;
        double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        // Output pixel coordinates relative to the centre, as rows (x − cx, y − cy, 1) of a [3, HW] matrix.
        var basis = new float[3 * hw];
        for (long i = 0; i < h; i++)
            for (long j = 0; j < w; j++)
            {
                long k = i * w + j;
                basis[k] = (float)(j - cx);
                basis[hw + k] = (float)(i - cy);
                basis[2 * hw + k] = 1f;
            }
        var b = Torch.From(basis, 3, hw).To(device, fdt);
        var th = Torch.From(thetas.Select(v => (float)v).ToArray(), n, 2, 3).To(device, fdt);
        var src = th.Matmul(b);                                  // [N, 2, HW]
        var sx = src.Select(1, 0) + cx;                          // [N, HW]
        var sy = src.Select(1, 1) + cy;
        var x0 = sx.Floor();
        var y0 = sy.Floor();
        var wx1 = sx - x0; var wx0 = 1.0 - wx1;
        var wy1 = sy - y0; var wy0 = 1.0 - wy1;
        var flat = img.Reshape(n, c, hw);
        Tensor? acc = null, wsum = null;
        foreach (var (dx, dy) in new[] { (0, 0), (1, 0), (0, 1), (1, 1) })
        {
            var xi = dx == 0 ? x0 : x0 + 1.0;
            var yi = dy == 0 ? y0 : y0 + 1.0;
            var valid = (xi >= 0.0).LogicalAnd(xi <= w - 1.0).LogicalAnd(yi >= 0.0).LogicalAnd(yi <= h - 1.0).To(fdt);
            var wt = (dx == 0 ? wx0 : wx1) * (dy == 0 ? wy0 : wy1) * valid;
            var idx = (yi.Clamp(0, h - 1) * (double)w + xi.Clamp(0, w - 1)).To(DType.Int64).Unsqueeze(1).Expand(n, c, hw);
            var term = flat.Gather(2, idx) * wt.Unsqueeze(1);
            acc = acc is null ? term : acc + term;
            wsum = wsum is null ? wt : wsum + wt;
        }
        var result = acc!;
        if (fill != 0) result = result + ((1.0 - wsum!) * fill).Unsqueeze(1);
        result = result.Reshape(n, c, h, w);
        if (!dtype.IsFloating()) result = result.Round().Clamp(0, 255).To(dtype);
        return scope.MoveOut(Transform.FromNchw(result, x));
    }

    /// <summary>
    /// The inverse-mapping matrix θ (6 numbers, for <see cref="AffineSample"/>) of the forward map that
    /// scales by <paramref name="scale"/>, shears by <paramref name="shearXDegrees"/> along x, rotates the
    /// content counter-clockwise (as seen on screen) by <paramref name="degrees"/> about the centre, then
    /// shifts it by (<paramref name="dx"/>, <paramref name="dy"/>) pixels (right, down).
    /// </summary>
    public static double[] AffineTheta(double degrees, double dx = 0, double dy = 0, double scale = 1, double shearXDegrees = 0)
    {
        if (!(scale > 0)) throw new ArgumentOutOfRangeException(nameof(scale), $"AffineTheta: scale {scale} must be positive.");
        double a = degrees * Math.PI / 180, s = Math.Tan(shearXDegrees * Math.PI / 180);
        double cos = Math.Cos(a), sin = Math.Sin(a);
        // Forward M = R · Sh · S with y pointing down: R = [cos sin; −sin cos] turns content counter-clockwise.
        double r00 = cos, r01 = sin, r10 = -sin, r11 = cos;
        double m00 = (r00 + r01 * 0) * scale, m01 = (r00 * s + r01) * scale;
        double m10 = (r10 + r11 * 0) * scale, m11 = (r10 * s + r11) * scale;
        double det = m00 * m11 - m01 * m10;
        double i00 = m11 / det, i01 = -m01 / det, i10 = -m10 / det, i11 = m00 / det;
        // Inverse: p_in = M⁻¹ (p_out − t).
        return new[] { i00, i01, -(i00 * dx + i01 * dy), i10, i11, -(i10 * dx + i11 * dy) };
    }

    /// <summary>
    /// Crops an h×w window from each image at its own top-left offset (row <paramref name="top"/>[n],
    /// column <paramref name="left"/>[n]), with two gathers. Offsets must keep the window inside the image.
    /// </summary>
    public static Tensor CropPerSample(Tensor x, long[] top, long[] left, long height, long width)
    {
        using var scope = DisposeScope.Enter();
        var img = Transform.AsNchw(x, "CropPerSample");
        long n = img.Size(0), c = img.Size(1), h = img.Size(2), w = img.Size(3);
        if (top.Length != n || left.Length != n) throw new ArgumentException($"CropPerSample: {top.Length} top and {left.Length} left offsets for {n} images.");
        for (int i = 0; i < n; i++)
            if (top[i] < 0 || left[i] < 0 || top[i] + height > h || left[i] + width > w)
                throw new ArgumentOutOfRangeException(nameof(top), $"CropPerSample: a {height}×{width} window at ({top[i]}, {left[i]}) leaves the {h}×{w} image {i}.");
        var rows = new long[n * height];
        var cols = new long[n * width];
        for (int i = 0; i < n; i++)
        {
            for (int r = 0; r < height; r++) rows[i * height + r] = top[i] + r;
            for (int q = 0; q < width; q++) cols[i * width + q] = left[i] + q;
        }
        var ri = Torch.From(rows, n, 1, height, 1).To(img.Device).Expand(n, c, height, w);
        var ci = Torch.From(cols, n, 1, 1, width).To(img.Device).Expand(n, c, height, width);
        var y = img.Gather(2, ri).Gather(3, ci);
        return scope.MoveOut(Transform.FromNchw(y, x));
    }

    /// <summary>Mirrors the images whose entry in <paramref name="flip"/> is true left–right (the others are copied unchanged).</summary>
    public static Tensor FlipPerSample(Tensor x, bool[] flip)
    {
        using var scope = DisposeScope.Enter();
        long n = x.Size(0);
        if (flip.Length != n) throw new ArgumentException($"FlipPerSample: {flip.Length} flags for {n} images.");
        var shape = Enumerable.Repeat(1L, x.Dim).ToArray();
        shape[0] = n;
        var mask = Torch.From(flip, shape).To(x.Device);
        return scope.MoveOut(Torch.Where(mask, x.Flip(-1), x));
    }
}

/// <summary>Mirrors every image left–right (deterministic; applying it twice is the identity).</summary>
public sealed class HorizontalFlip : Transform
{
    /// <inheritdoc/>
    public override Tensor Apply(Tensor x, Generator? generator = null) => x.Flip(-1);
}

/// <summary>Mirrors each image left–right with probability <see cref="P"/>, independently per sample.</summary>
public sealed class RandomHorizontalFlip(double p = 0.5, long seed = 0) : RandomTransform(seed)
{
    /// <summary>Probability of flipping a sample.</summary>
    public double P { get; } = p is >= 0 and <= 1 ? p : throw new ArgumentOutOfRangeException(nameof(p), $"RandomHorizontalFlip: p={p} must lie in [0, 1].");

    /// <inheritdoc/>
    protected override Tensor Sample(Tensor x, Generator g) =>
        Augment.FlipPerSample(x, Uniform(g, x.Size(0), 0, 1).Select(u => u < P).ToArray());

    /// <inheritdoc/>
    public override string ToString() => $"RandomHorizontalFlip(p={P})";
}

/// <summary>
/// Pads each image by <see cref="Padding"/> pixels on every side, then crops a random
/// <see cref="Height"/>×<see cref="Width"/> window per sample (torchvision's RandomCrop with padding).
/// </summary>
public sealed class RandomCrop(long height, long width, long padding = 0, PadMode mode = PadMode.Constant, double fill = 0, long seed = 0) : RandomTransform(seed)
{
    /// <summary>Output height.</summary>
    public long Height { get; } = height > 0 ? height : throw new ArgumentOutOfRangeException(nameof(height));
    /// <summary>Output width.</summary>
    public long Width { get; } = width > 0 ? width : throw new ArgumentOutOfRangeException(nameof(width));
    /// <summary>Pixels of padding on each side before cropping.</summary>
    public long Padding { get; } = padding >= 0 ? padding : throw new ArgumentOutOfRangeException(nameof(padding));
    /// <summary>How the padding is filled.</summary>
    public PadMode Mode { get; } = mode;
    /// <summary>The constant for <see cref="PadMode.Constant"/>.</summary>
    public double Fill { get; } = fill;

    /// <inheritdoc/>
    protected override Tensor Sample(Tensor x, Generator g)
    {
        var img = AsNchw(x, "RandomCrop");
        var dtype = img.DType;
        // Reflect/replicate padding need floating input in libtorch.
        var src = Mode != PadMode.Constant && !dtype.IsFloating() ? img.To(DType.Float32) : img;
        var padded = Padding == 0 ? src : Functional.Pad(src, new[] { Padding, Padding, Padding, Padding }, Mode, Fill);
        if (padded.DType != dtype) padded = padded.To(dtype);
        long n = img.Size(0), hp = padded.Size(2), wp = padded.Size(3);
        if (Height > hp || Width > wp)
            throw new ArgumentException($"RandomCrop: a {Height}×{Width} crop does not fit the {hp}×{wp} padded image.");
        var top = Uniform(g, n, 0, 1).Select(u => Math.Min(hp - Height, (long)(u * (hp - Height + 1)))).ToArray();
        var left = Uniform(g, n, 0, 1).Select(u => Math.Min(wp - Width, (long)(u * (wp - Width + 1)))).ToArray();
        return FromNchw(Augment.CropPerSample(padded, top, left, Height, Width), x);
    }

    /// <inheritdoc/>
    public override string ToString() => $"RandomCrop({Height}×{Width}, padding={Padding})";
}

/// <summary>
/// A random affine warp per sample (torchvision's RandomAffine): rotation uniform in ±<see cref="Degrees"/>,
/// shift uniform in ±<see cref="Translate"/> of the width and height, zoom uniform in
/// [<see cref="ScaleMin"/>, <see cref="ScaleMax"/>], shear along x uniform in ±<see cref="ShearDegrees"/>;
/// bilinear sampling (<see cref="Augment.AffineSample"/>), uncovered pixels set to <see cref="Fill"/>.
/// </summary>
public sealed class RandomAffine(double degrees = 0, double translate = 0, double scaleMin = 1, double scaleMax = 1,
                                 double shearDegrees = 0, double fill = 0, long seed = 0) : RandomTransform(seed)
{
    /// <summary>Maximum rotation in degrees (either way).</summary>
    public double Degrees { get; } = degrees >= 0 ? degrees : throw new ArgumentOutOfRangeException(nameof(degrees));
    /// <summary>Maximum shift as a fraction of the image size (either way).</summary>
    public double Translate { get; } = translate is >= 0 and <= 1 ? translate : throw new ArgumentOutOfRangeException(nameof(translate));
    /// <summary>Smallest zoom factor.</summary>
    public double ScaleMin { get; } = scaleMin > 0 && scaleMin <= scaleMax ? scaleMin : throw new ArgumentOutOfRangeException(nameof(scaleMin), $"RandomAffine: need 0 < scaleMin ≤ scaleMax, got [{scaleMin}, {scaleMax}].");
    /// <summary>Largest zoom factor.</summary>
    public double ScaleMax { get; } = scaleMax;
    /// <summary>Maximum shear along x in degrees (either way).</summary>
    public double ShearDegrees { get; } = shearDegrees is >= 0 and < 90 ? shearDegrees : throw new ArgumentOutOfRangeException(nameof(shearDegrees));
    /// <summary>Value of pixels that come from outside the image.</summary>
    public double Fill { get; } = fill;

    /// <summary>The 6·N matrix entries this transform would draw for N samples (for inspection and tests).</summary>
    public double[] DrawThetas(Generator g, long n, long height, long width)
    {
        var rot = Uniform(g, n, -Degrees, Degrees);
        var tx = Uniform(g, n, -Translate, Translate);
        var ty = Uniform(g, n, -Translate, Translate);
        var sc = Uniform(g, n, ScaleMin, ScaleMax);
        var sh = Uniform(g, n, -ShearDegrees, ShearDegrees);
        var thetas = new double[n * 6];
        for (int i = 0; i < n; i++)
            Array.Copy(Augment.AffineTheta(rot[i], tx[i] * width, ty[i] * height, sc[i], sh[i]), 0, thetas, i * 6, 6);
        return thetas;
    }

    /// <inheritdoc/>
    protected override Tensor Sample(Tensor x, Generator g)
    {
        long h = x.Size(-2), w = x.Size(-1);
        return Augment.AffineSample(x, DrawThetas(g, x.Size(0), h, w), Fill);
    }

    /// <inheritdoc/>
    public override string ToString() => $"RandomAffine(degrees={Degrees}, translate={Translate}, scale=[{ScaleMin}, {ScaleMax}], shear={ShearDegrees})";
}

/// <summary>A random rotation per sample, uniform in ±<see cref="Degrees"/>, bilinear, uncovered pixels set to <see cref="Fill"/>.</summary>
public sealed class RandomRotation(double degrees, double fill = 0, long seed = 0) : RandomTransform(seed)
{
    /// <summary>Maximum rotation in degrees (either way).</summary>
    public double Degrees { get; } = degrees >= 0 ? degrees : throw new ArgumentOutOfRangeException(nameof(degrees));
    /// <summary>Value of pixels that come from outside the image.</summary>
    public double Fill { get; } = fill;

    /// <inheritdoc/>
    protected override Tensor Sample(Tensor x, Generator g)
    {
        var rot = Uniform(g, x.Size(0), -Degrees, Degrees);
        var thetas = rot.SelectMany(a => Augment.AffineTheta(a)).ToArray();
        return Augment.AffineSample(x, thetas, Fill);
    }

    /// <inheritdoc/>
    public override string ToString() => $"RandomRotation(±{Degrees}°)";
}

/// <summary>
/// Brightness and contrast jitter per sample on [0, 1] images (uint8 is scaled first): brightness factor
/// b uniform in [1 − <see cref="Brightness"/>, 1 + Brightness] multiplies the image; contrast factor k
/// uniform in [1 − <see cref="Contrast"/>, 1 + Contrast] blends it with its mean m: (x·b − m)·k + m; then clamps to [0, 1].
/// </summary>
public sealed class ColorJitter(double brightness = 0, double contrast = 0, long seed = 0) : RandomTransform(seed)
{
    /// <summary>Brightness jitter amount.</summary>
    public double Brightness { get; } = brightness is >= 0 and <= 1 ? brightness : throw new ArgumentOutOfRangeException(nameof(brightness));
    /// <summary>Contrast jitter amount.</summary>
    public double Contrast { get; } = contrast is >= 0 and <= 1 ? contrast : throw new ArgumentOutOfRangeException(nameof(contrast));

    /// <inheritdoc/>
    protected override Tensor Sample(Tensor x, Generator g)
    {
        var f = AsUnitFloat(x);
        long n = f.Size(0);
        var shape = Enumerable.Repeat(1L, f.Dim).ToArray();
        shape[0] = n;
        var b = Torch.From(Uniform(g, n, 1 - Brightness, 1 + Brightness).Select(v => (float)v).ToArray(), shape).To(f.Device, f.DType);
        var k = Torch.From(Uniform(g, n, 1 - Contrast, 1 + Contrast).Select(v => (float)v).ToArray(), shape).To(f.Device, f.DType);
        var y = f * b;
        var dims = Enumerable.Range(1, f.Dim - 1).Select(d => (long)d).ToArray();
        var m = dims.Length == 0 ? y : y.Mean(dims, keepdim: true);
        return ((y - m) * k + m).Clamp(0, 1);
    }

    /// <inheritdoc/>
    public override string ToString() => $"ColorJitter(brightness={Brightness}, contrast={Contrast})";
}
