using System.Globalization;
using System.Numerics;
using System.Text;

namespace Dsl.Engine;

/// <summary>
/// Prints tensors as PyTorch 1.13's <c>repr</c> does (torch/_tensor_str.py with the default print options: 4 digits,
/// 80 columns, tensors of more than 1,000 elements summarised to 3 items at each edge of every dimension), then
/// adds what a reader of a script wants to see at a glance: the shape, the dtype, the device unless it is the CPU,
/// and <c>requires_grad=True</c> when set. Only the printed elements are copied from the tensor, so printing a
/// tensor of a billion elements costs as much as printing one of 216.
/// </summary>
internal static class TensorFormat
{
    const int Threshold = 1000, EdgeItems = 3, Precision = 4, LineWidth = 80;

    /// <summary>The values as PyTorch prints them, followed by shape, dtype, device and requires_grad.</summary>
    internal static string Format(Tensor t)
    {
        var (values, _) = Body(t);
        var extras = new List<string> { $"shape=[{string.Join(", ", t.Shape)}]", $"dtype={t.DType.Name()}" };
        if (t.Device.Type != DeviceType.Cpu) extras.Add($"device={t.Device}");
        if (t.RequiresGrad) extras.Add("requires_grad=True");
        return "tensor(" + values + ", " + string.Join(", ", extras) + ")";
    }

    /// <summary>Exactly the string PyTorch 1.13's <c>repr(tensor)</c> gives for a leaf tensor (grad_fn is not known here).</summary>
    internal static string PyTorch(Tensor t)
    {
        var (values, empty) = Body(t);
        var suffixes = new List<string>();
        if (t.Device.Type != DeviceType.Cpu) suffixes.Add($"device='{t.Device}'");
        if (empty && t.Dim != 1) suffixes.Add("size=(" + string.Join(", ", t.Shape) + (t.Dim == 1 ? ",)" : ")"));
        if (t.DType is not (DType.Float32 or DType.Int64 or DType.Bool)) suffixes.Add("dtype=torch." + t.DType.Name());
        if (t.RequiresGrad) suffixes.Add("requires_grad=True");
        return "tensor(" + values + (suffixes.Count > 0 ? ", " + string.Join(", ", suffixes) : "") + ")";
    }

    /// <summary>One printed element: the double value (floating tensors) or the exact integer (integer and bool tensors).</summary>
    readonly record struct Element(double Real, long Integer);

    static (string Values, bool Empty) Body(Tensor t)
    {
        if (t.Numel == 0) return ("[]", true);
        var shape = t.Shape;
        bool summarize = t.Numel > Threshold;
        bool floating = t.DType.IsFloating(), boolean = t.DType == DType.Bool;
        var data = Summarized(t, summarize, floating);
        var formatter = new Formatter(data, floating, boolean);
        var sb = new StringBuilder();
        int pos = 0;
        Write(sb, shape, 0, data, ref pos, formatter, indent: "tensor(".Length, summarize);
        return (sb.ToString(), false);
    }

    /// <summary>The elements that will be printed, in row-major order: every element, or the edge items of each dimension.</summary>
    static Element[] Summarized(Tensor t, bool summarize, bool floating)
    {
        var owned = new List<Tensor>();
        try
        {
            var x = t;
            if (summarize)
                for (int d = 0; d < t.Dim; d++)
                {
                    long n = t.Shape[d];
                    if (n <= 2 * EdgeItems) continue;
                    var idx = Torch.From(new long[] { 0, 1, 2, n - 3, n - 2, n - 1 }, 6L);
                    owned.Add(idx);
                    if (idx.Device != x.Device) { idx = idx.To(x.Device); owned.Add(idx); }
                    x = x.IndexSelect(d, idx);
                    owned.Add(x);
                }
            using var _ = Autograd.NoGrad();
            if (floating)
            {
                var d = x.To(Device.Cpu, DType.Float64, copy: true);
                owned.Add(d);
                return Array.ConvertAll(d.ToArray<double>(), v => new Element(v, 0));
            }
            var l = x.To(Device.Cpu, DType.Int64, copy: true);
            owned.Add(l);
            return Array.ConvertAll(l.ToArray<long>(), v => new Element(v, v));
        }
        finally
        {
            foreach (var o in owned) o.Dispose();
        }
    }

    static void Write(StringBuilder sb, long[] shape, int dim, Element[] data, ref int pos, Formatter f, int indent, bool summarize)
    {
        int rank = shape.Length;
        if (rank == 0) { sb.Append(f.Format(data[pos++])); return; }
        long n = shape[dim];
        bool elide = summarize && n > 2 * EdgeItems;
        long shown = elide ? 2 * EdgeItems : n;
        if (dim == rank - 1)
        {
            // A vector: elements padded to one width, as many per line as fit in 80 columns.
            var items = new List<string>();
            for (long i = 0; i < shown; i++)
            {
                if (elide && i == EdgeItems) items.Add(" ...");
                items.Add(f.Format(data[pos++]));
            }
            int perLine = Math.Max(1, (LineWidth - indent) / (f.Width + 2));
            var lines = items.Chunk(perLine).Select(c => string.Join(", ", c));
            sb.Append('[').Append(string.Join(",\n" + new string(' ', indent + 1), lines)).Append(']');
            return;
        }
        var separator = "," + new string('\n', rank - dim - 1) + new string(' ', indent + 1);
        sb.Append('[');
        for (long i = 0; i < shown; i++)
        {
            if (i > 0) sb.Append(separator);
            if (elide && i == EdgeItems) sb.Append("...").Append(separator);
            Write(sb, shape, dim + 1, data, ref pos, f, indent + 1, summarize);
        }
        sb.Append(']');
    }

    /// <summary>PyTorch's _Formatter: integer mode, fixed or scientific notation, and one width for every element.</summary>
    sealed class Formatter
    {
        readonly bool floating, boolean, intMode = true, sciMode;
        internal int Width { get; } = 1;

        internal Formatter(Element[] data, bool floating, bool boolean)
        {
            this.floating = floating;
            this.boolean = boolean;
            if (!floating)
            {
                foreach (var e in data) Width = Math.Max(Width, Plain(e).Length);
                return;
            }
            var finite = data.Select(e => e.Real).Where(v => double.IsFinite(v) && v != 0).ToArray();
            if (finite.Length == 0) return;
            double min = finite.Min(Math.Abs), max = finite.Max(Math.Abs);
            intMode = finite.All(v => v == Math.Ceiling(v));
            sciMode = max / min > 1000.0 || max > 1e8 || (!intMode && min < 1e-4);
            foreach (var v in finite)
            {
                var s = sciMode ? Scientific(v) : intMode ? Fixed(v, 0) : Fixed(v, Precision);
                Width = Math.Max(Width, s.Length + (intMode && !sciMode ? 1 : 0));
            }
        }

        string Plain(Element e) => boolean ? (e.Integer != 0 ? "True" : "False") : e.Integer.ToString(CultureInfo.InvariantCulture);

        internal string Format(Element e)
        {
            string s;
            if (!floating) s = Plain(e);
            else if (sciMode) s = Scientific(e.Real);
            else if (intMode) s = Fixed(e.Real, 0) + (double.IsFinite(e.Real) ? "." : "");
            else s = Fixed(e.Real, Precision);
            return s.PadLeft(Width);
        }
    }

    /// <summary>Python's <c>'{:.Nf}'.format(v)</c>: the exact binary value rounded half to even.</summary>
    internal static string Fixed(double v, int decimals)
    {
        if (!double.IsFinite(v)) return NonFinite(v);
        var digits = RoundScaled(Math.Abs(v), decimals).ToString(CultureInfo.InvariantCulture).PadLeft(decimals + 1, '0');
        var text = decimals == 0 ? digits : digits[..^decimals] + "." + digits[^decimals..];
        return (double.IsNegative(v) ? "-" : "") + text;
    }

    /// <summary>Python's <c>'{:.4e}'.format(v)</c>: d.dddde±XX, rounded half to even on the exact binary value.</summary>
    internal static string Scientific(double v)
    {
        if (!double.IsFinite(v)) return NonFinite(v);
        var sign = double.IsNegative(v) ? "-" : "";
        double a = Math.Abs(v);
        if (a == 0) return sign + "0." + new string('0', Precision) + "e+00";
        int exp = (int)Math.Floor(Math.Log10(a));
        var m = RoundScaled(a, Precision - exp);
        var limit = BigInteger.Pow(10, Precision + 1);
        if (m >= limit) { exp++; m = RoundScaled(a, Precision - exp); }
        else if (m < limit / 10) { exp--; m = RoundScaled(a, Precision - exp); }
        var digits = m.ToString(CultureInfo.InvariantCulture);
        return sign + digits[..1] + "." + digits[1..] + "e" + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
    }

    static string NonFinite(double v) => double.IsNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";

    /// <summary>round(a · 10^k) for a finite a ≥ 0, exactly, ties to even.</summary>
    static BigInteger RoundScaled(double a, int k)
    {
        long bits = BitConverter.DoubleToInt64Bits(a);
        int rawExp = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (rawExp == 0) rawExp = 1; else mantissa |= 1L << 52;
        int e2 = rawExp - 1075; // a = mantissa · 2^e2
        BigInteger num = mantissa, den = BigInteger.One;
        if (e2 >= 0) num <<= e2; else den <<= -e2;
        if (k >= 0) num *= BigInteger.Pow(10, k); else den *= BigInteger.Pow(10, -k);
        var q = BigInteger.DivRem(num, den, out var r);
        var twice = r * 2;
        if (twice > den || (twice == den && !q.IsEven)) q += 1;
        return q;
    }
}
