namespace Dsl.Data;

/// <summary>
/// Checks the entropy-coded data of a JPEG without decoding pixels. libjpeg, and so SkiaSharp, decodes damaged
/// scan data with only a warning (gray or smeared blocks, no error), so the Huffman codes of every scan of a
/// baseline, extended or progressive JPEG are walked here: each code must be in its table, each coefficient inside
/// its block, each scan (and restart interval) must end where its blocks end (no bits missing, no whole byte left
/// over), restart markers must come in order at their intervals, and no marker that cannot occur in scan data
/// (0xFF then 0x01–0xBF or SOI, a restart marker without a restart interval) may appear. Scans this walk does not
/// decode (arithmetic coding, lossless, tables missing) get the marker checks only.
/// </summary>
static class JpegScan
{
    /// <summary>A Huffman table for canonical decoding.</summary>
    sealed class Huffman
    {
        // maxCode[l]: the largest code of length l (-1: none); offset[l]: index in values of a code of length l, minus the code.
        public readonly int[] MaxCode = new int[17], Offset = new int[17];
        public readonly byte[] Values;
        // The codes of at most 9 bits, indexed by the next 9 bits: (length << 8) | value, or 0 for a longer code.
        public readonly ushort[] Fast = new ushort[512];

        public Huffman(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> values, Func<string, Exception> error)
        {
            Values = values.ToArray();
            int code = 0, k = 0;
            for (int l = 1; l <= 16; l++, code <<= 1)
            {
                Offset[l] = k - code;
                for (int n = 0; n < counts[l - 1]; n++, code++, k++)
                {
                    if (code >= 1 << l) throw error("corrupt JPEG: a Huffman table has more codes than fit their lengths");
                    if (l <= 9)
                        for (int low = 0; low < 1 << (9 - l); low++) Fast[code << (9 - l) | low] = (ushort)(l << 8 | values[k]);
                }
                MaxCode[l] = counts[l - 1] > 0 ? code - 1 : -1;
            }
        }
    }

    sealed record Component(int Id, int H, int V, int BlocksPerLine, int BlocksPerColumn);

    sealed record Frame(bool Walkable, bool Progressive, int Precision, int McusX, int McusY, Component[] Components);

    /// <summary>Reads bits from entropy-coded data (unstuffing FF 00), giving zeros past the marker that ends it, as libjpeg.</summary>
    ref struct Bits(ReadOnlySpan<byte> p, int start)
    {
        readonly ReadOnlySpan<byte> p = p;
        ulong acc;
        int n;
        /// <summary>The next byte to read; the position of the marker once reached (-1 before).</summary>
        public int Pos = start, Marker = -1;
        /// <summary>Bits of data read into the buffer, and bits taken from it (more than Real once past the data).</summary>
        public long Real, Used;

        // Fills the buffer to at least 57 bits.
        void Fill()
        {
            while (n <= 56)
            {
                int b = 0;
                if (Marker < 0 && Pos < p.Length && (p[Pos] != 0xFF || Pos + 1 < p.Length && p[Pos + 1] == 0))
                {
                    b = p[Pos];
                    Pos += b == 0xFF ? 2 : 1;
                    Real += 8;
                }
                else if (Marker < 0) Marker = Pos;
                acc = acc << 8 | (uint)b;
                n += 8;
            }
        }

        public int Take(int k)
        {
            if (k == 0) return 0;
            if (n < k) Fill();
            n -= k;
            Used += k;
            return (int)(acc >> n) & ((1 << k) - 1);
        }

        /// <summary>The next Huffman-coded value, or -1 for a code not in the table.</summary>
        public int Decode(Huffman h)
        {
            if (n < 16) Fill();
            int peek = (int)(acc >> (n - 16)) & 0xFFFF, fast = h.Fast[peek >> 7];
            if (fast != 0)
            {
                n -= fast >> 8;
                Used += fast >> 8;
                return fast & 0xFF;
            }
            for (int l = 10; l <= 16; l++)
                if (peek >> (16 - l) <= h.MaxCode[l])
                {
                    Take(l);
                    return h.Values[(peek >> (16 - l)) + h.Offset[l]];
                }
            return -1;
        }

        /// <summary>Reads to the marker that ends the data; returns how many bits were left unread (negative: missing).</summary>
        public long Finish()
        {
            while (Marker < 0)
            {
                n = 0;
                Fill();
            }
            return Real - Used;
        }
    }

    /// <summary>Checks the scans of the JPEG <paramref name="p"/> (already known to be complete); errors come from <paramref name="error"/>.</summary>
    public static void Check(ReadOnlySpan<byte> p, Func<string, Exception> error)
    {
        var dc = new Huffman?[4];
        var ac = new Huffman?[4];
        Frame? frame = null;
        ulong[][]? nonzero = null;
        int restart = 0, scan = 0, i = 2;
        while (true)
        {
            // libjpeg skips stray bytes between segments (with a warning); so does this check, up to the next marker.
            while (i < p.Length && p[i] != 0xFF) i++;
            while (i < p.Length && p[i] == 0xFF) i++;
            if (i + 2 >= p.Length) return;
            int m = p[i++];
            if (m == 0xD9) return;
            if (m == 0x01) continue;
            if (m is >= 0xD0 and <= 0xD8) throw error($"corrupt JPEG: a {Name(m)} marker at byte {i - 2}, outside any image data");
            int length = p[i] << 8 | p[i + 1];
            if (length < 2 || i + length > p.Length) throw error($"corrupt JPEG: the segment of marker 0x{m:X2} at byte {i - 2} runs past the end of the data");
            var segment = p.Slice(i + 2, length - 2);
            i += length;
            if (m == 0xC4) ReadTables(segment, dc, ac, error);
            else if (m == 0xDD) restart = segment.Length >= 2 ? segment[0] << 8 | segment[1] : 0;
            else if (m is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC))
                frame = frame is null ? ReadFrame(m, segment, error) : throw error($"corrupt JPEG: a second frame header at byte {i - length - 2}");
            else if (m == 0xDA)
            {
                scan++;
                if (frame is null) throw error("corrupt JPEG: image data (a start-of-scan marker) before the frame header");
                if (frame.Progressive) nonzero ??= frame.Components.Select(c => new ulong[frame.McusX * c.H * frame.McusY * c.V]).ToArray();
                i = Scan(p, i, frame, segment, dc, ac, nonzero, restart, scan, error);
            }
        }
    }

    static string Name(int marker) => marker switch
    {
        >= 0xD0 and <= 0xD7 => $"restart (RST{marker - 0xD0})",
        0xD8 => "start-of-image",
        0xD9 => "end-of-image",
        _ => $"0x{marker:X2}",
    };

    static void ReadTables(ReadOnlySpan<byte> s, Huffman?[] dc, Huffman?[] ac, Func<string, Exception> error)
    {
        while (s.Length >= 17)
        {
            int cls = s[0] >> 4, id = s[0] & 15, count = 0;
            foreach (var c in s.Slice(1, 16)) count += c;
            if (cls > 1 || id > 3 || count > 256 || s.Length < 17 + count) throw error("corrupt JPEG: a malformed Huffman table segment");
            (cls == 0 ? dc : ac)[id] = new Huffman(s.Slice(1, 16), s.Slice(17, count), error);
            s = s[(17 + count)..];
        }
    }

    static Frame ReadFrame(int marker, ReadOnlySpan<byte> s, Func<string, Exception> error)
    {
        if (s.Length < 6 || s.Length < 6 + 3 * s[5]) throw error("corrupt JPEG: a malformed frame header");
        int height = s[1] << 8 | s[2], width = s[3] << 8 | s[4], count = s[5];
        var hv = new (int Id, int H, int V)[count];
        for (int k = 0; k < count; k++) hv[k] = (s[6 + 3 * k], s[7 + 3 * k] >> 4, s[7 + 3 * k] & 15);
        if (count == 0 || hv.Any(c => c.H is < 1 or > 4 || c.V is < 1 or > 4)) throw error("corrupt JPEG: a malformed frame header");
        int hmax = hv.Max(c => c.H), vmax = hv.Max(c => c.V);
        static int Up(long a, long b) => (int)((a + b - 1) / b);
        var components = hv.Select(c => new Component(c.Id, c.H, c.V, Up(Up((long)width * c.H, hmax), 8), Up(Up((long)height * c.V, vmax), 8))).ToArray();
        // Huffman-coded frames: baseline (C0), extended sequential (C1), progressive (C2); height 0 (set by a DNL marker) is not walked.
        bool walkable = marker is 0xC0 or 0xC1 or 0xC2 && height > 0 && width > 0;
        return new Frame(walkable, marker == 0xC2, s[0], Up(width, 8 * hmax), Up(height, 8 * vmax), components);
    }

    /// <summary>Checks one scan whose data starts at <paramref name="start"/>; returns the position of the marker that ends it.</summary>
    static int Scan(ReadOnlySpan<byte> p, int start, Frame f, ReadOnlySpan<byte> header, Huffman?[] dc, Huffman?[] ac, ulong[][]? nonzero, int restart,
                    int scan, Func<string, Exception> error)
    {
        Exception Corrupt(string what, long at) => error($"corrupt JPEG: {what} in scan {scan} near byte {at}; the image data is damaged (libjpeg would decode it with garbled blocks), re-download or re-export it");
        int ns = header.Length > 0 ? header[0] : 0;
        if (ns is < 1 or > 4 || header.Length < 4 + 2 * ns) throw Corrupt("a malformed scan header", start);
        var comps = new int[ns];
        var tdc = new Huffman?[ns];
        var tac = new Huffman?[ns];
        for (int k = 0; k < ns; k++)
        {
            int id = header[1 + 2 * k];
            comps[k] = Array.FindIndex(f.Components, c => c.Id == id);
            if (comps[k] < 0) throw Corrupt("a scan of a component the frame does not have", start);
            (tdc[k], tac[k]) = (dc[header[2 + 2 * k] >> 4 & 3], ac[header[2 + 2 * k] & 3]);
        }
        int ss = header[1 + 2 * ns], se = header[2 + 2 * ns], ah = header[3 + 2 * ns] >> 4;
        bool sequential = !f.Progressive, dcScan = ss == 0;
        if (f.Progressive && (ss > se || se > 63 || dcScan != (se == 0) || !dcScan && ns != 1) || sequential && (ss != 0 || se != 63))
            throw Corrupt("an invalid spectral selection", start);
        bool needDc = dcScan && ah == 0, needAc = !dcScan || sequential;
        if (!f.Walkable || needDc && tdc.Any(t => t is null) || needAc && tac.Any(t => t is null)) return SkipScan(p, start, restart, Corrupt);

        int dcMax = f.Precision + 3, acMax = f.Precision + 2, eobrun = 0;
        var bits = new Bits(p, start);
        void Block(int k, int row, int col, ref Bits r)
        {
            if (needDc)
            {
                int t = r.Decode(tdc[k]!);
                if (t < 0 || t > dcMax) throw Corrupt(t < 0 ? "a bad Huffman code" : $"a DC difference of {t} bits", r.Pos);
                r.Take(t);
            }
            else if (dcScan) r.Take(1);
            if (dcScan && !sequential) return;
            var c = f.Components[comps[k]];
            ulong unused = 0;
            ref ulong nz = ref nonzero is null ? ref unused : ref nonzero[comps[k]][row * f.McusX * c.H + col];
            int z = sequential ? 1 : ss, end = sequential ? 63 : se;
            if (ah > 0 && !sequential) { Refine(k, ref nz, ref r); return; }
            if (eobrun > 0) { eobrun--; return; }
            for (; z <= end; z++)
            {
                int rs = r.Decode(tac[k]!), run = rs >> 4, size = rs & 15;
                if (rs < 0) throw Corrupt("a bad Huffman code", r.Pos);
                if (size == 0 && run < 15)
                {
                    if (!sequential) eobrun = (1 << run) - 1 + r.Take(run);
                    return;
                }
                z += run;
                if (z > end || size > acMax) throw Corrupt(z > end ? "a coefficient outside its block" : $"an AC coefficient of {size} bits", r.Pos);
                r.Take(size);
                if (size > 0) nz |= 1UL << z;
            }
        }
        // A refinement scan: one correction bit per coefficient already nonzero, new coefficients of magnitude 1.
        void Refine(int k, ref ulong nz, ref Bits r)
        {
            int z = ss;
            if (eobrun == 0)
                for (; z <= se; z++)
                {
                    int rs = r.Decode(tac[k]!), run = rs >> 4, size = rs & 15;
                    if (rs < 0 || size > 1) throw Corrupt(rs < 0 ? "a bad Huffman code" : $"a refinement of {size} bits", r.Pos);
                    r.Take(size);
                    if (size == 0 && run < 15)
                    {
                        eobrun = (1 << run) + r.Take(run);
                        break;
                    }
                    for (; z <= se; z++)
                    {
                        if ((nz >> z & 1) != 0) r.Take(1);
                        else if (run-- == 0) break;
                    }
                    if (size > 0)
                    {
                        if (z > se) throw Corrupt("a coefficient outside its block", r.Pos);
                        nz |= 1UL << z;
                    }
                }
            if (eobrun > 0)
            {
                for (; z <= se; z++) if ((nz >> z & 1) != 0) r.Take(1);
                eobrun--;
            }
        }
        void EndOfInterval(ref Bits r)
        {
            long left = r.Finish();
            if (left < 0) throw Corrupt($"data that ends {-left} bits before its last block", r.Pos);
            if (left >= 8) throw Corrupt($"{left / 8} byte(s) of data after its last block", r.Pos);
        }

        var one = f.Components[comps[0]];
        long mcus = ns == 1 ? (long)one.BlocksPerLine * one.BlocksPerColumn : (long)f.McusX * f.McusY;
        for (long m = 0, interval = 0; m < mcus; m++)
        {
            if (restart > 0 && m > 0 && m % restart == 0)
            {
                EndOfInterval(ref bits);
                int marker = MarkerCode(p, bits.Marker, out var next);
                if (marker != 0xD0 + (interval & 7))
                    throw Corrupt(marker is >= 0xD0 and <= 0xD7 ? $"restart marker RST{marker - 0xD0} where RST{interval & 7} belongs" : $"a {Name(marker)} marker where restart marker RST{interval & 7} belongs", bits.Marker);
                interval++;
                bits = new Bits(p, next);
                eobrun = 0;
            }
            if (ns == 1) Block(0, (int)(m / one.BlocksPerLine), (int)(m % one.BlocksPerLine), ref bits);
            else
                for (int k = 0; k < ns; k++)
                {
                    var c = f.Components[comps[k]];
                    for (int v = 0; v < c.V; v++)
                        for (int h = 0; h < c.H; h++)
                            Block(k, (int)(m / f.McusX) * c.V + v, (int)(m % f.McusX) * c.H + h, ref bits);
                }
            if (bits.Used > bits.Real + 64) throw Corrupt("data that ends before its last block", bits.Pos);
        }
        EndOfInterval(ref bits);
        return EndMarker(p, bits.Marker, Corrupt);
    }

    /// <summary>Passes over a scan that is not walked, checking its markers only; returns the position of the marker that ends it.</summary>
    static int SkipScan(ReadOnlySpan<byte> p, int i, int restart, Func<string, long, Exception> corrupt)
    {
        for (int expected = 0; i + 1 < p.Length; i++)
        {
            if (p[i] != 0xFF || p[i + 1] is 0x00 or 0xFF) continue;
            int m = p[i + 1];
            if (m is < 0xD0 or > 0xD7) return EndMarker(p, i, corrupt);
            if (restart == 0 || m != 0xD0 + expected)
                throw corrupt(restart == 0 ? $"restart marker RST{m - 0xD0} without a restart interval" : $"restart marker RST{m - 0xD0} where RST{expected} belongs", i);
            expected = (expected + 1) & 7;
        }
        return p.Length;
    }

    /// <summary>Checks the marker at <paramref name="at"/> (after any fill bytes) can end a scan; returns its position.</summary>
    static int EndMarker(ReadOnlySpan<byte> p, int at, Func<string, long, Exception> corrupt)
    {
        int m = MarkerCode(p, at, out _);
        if (m is >= 0x01 and <= 0xBF or >= 0xD0 and <= 0xD8)
            throw corrupt($"a {Name(m)} marker that cannot occur there", at);
        return at;
    }

    /// <summary>The code of the marker at <paramref name="at"/> (after its fill bytes), -1 at the end of the data; <paramref name="next"/> is the byte after it.</summary>
    static int MarkerCode(ReadOnlySpan<byte> p, int at, out int next)
    {
        int j = at;
        while (j < p.Length && p[j] == 0xFF) j++;
        next = j + 1;
        return j < p.Length ? p[j] : -1;
    }
}
