using System.Globalization;

namespace Dsl.Data;

/// <summary>What <see cref="Csv.Load"/> does with a cell that parses as a number but is not finite: NaN, ±Infinity,
/// or a value outside the float32 range (such as 1e400, which parses as infinity).</summary>
public enum NonFinite
{
    /// <summary>Refuse the file, naming the line and the column (the default).</summary>
    Error = 0,
    /// <summary>Leave the whole row out (its label too); its line number is listed in <see cref="LabeledTable.SkippedLines"/>.</summary>
    SkipRow = 1,
    /// <summary>Keep the value as parsed: NaN, or ±infinity for an overflow.</summary>
    Keep = 2,
}

/// <summary>A numeric table with a label column: float32 features [N, F], int64 labels [N], and the names of both.</summary>
public sealed record LabeledTable(Tensor Features, Tensor Labels, IReadOnlyList<string> ClassNames, IReadOnlyList<string> FeatureNames) : IDisposable
{
    /// <summary>The (1-based) line numbers of rows left out because of non-finite values (<see cref="NonFinite.SkipRow"/>).</summary>
    public IReadOnlyList<int> SkippedLines { get; init; } = [];

    /// <summary>Frees the feature and label tensors.</summary>
    public void Dispose()
    {
        Features.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Reads CSV tables of numeric features and one class-label column (label encoding in order of first
/// appearance unless class names are given). Errors name the file, the line and the column. A NUL character
/// (a zero byte: a corrupt or binary file) is always an error; non-finite numbers are errors unless
/// <see cref="NonFinite"/> says otherwise.
/// </summary>
public static class Csv
{
    /// <summary>
    /// Loads <paramref name="path"/>: every column but <paramref name="labelColumn"/> (negative counts from
    /// the end) must parse as a finite float32 (see <paramref name="nonFinite"/> for NaN, infinities and
    /// overflows). With <paramref name="classNames"/>, labels outside it are an error.
    /// </summary>
    public static LabeledTable Load(string path, int labelColumn = -1, bool hasHeader = false, char separator = ',',
                                    IReadOnlyList<string>? classNames = null, IReadOnlyList<string>? featureNames = null,
                                    NonFinite nonFinite = NonFinite.Error)
    {
        if (!Enum.IsDefined(nonFinite)) throw new ArgumentException($"csv: unknown NonFinite value {(int)nonFinite}.", nameof(nonFinite));
        if (!File.Exists(path)) throw new FileNotFoundException($"csv: no file at '{path}'.", path);
        var features = new List<float>();
        var labels = new List<long>();
        var skipped = new List<int>();
        var classes = classNames?.ToList() ?? new List<string>();
        var header = Array.Empty<string>();
        var row = new List<float>();
        int width = -1, lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            int nul = raw.IndexOf('\0');
            if (nul >= 0)
                throw new InvalidDataException(
                    $"csv: '{path}' line {lineNo} column {raw.AsSpan(0, nul).Count(separator) + 1} holds a NUL character (a zero byte): the file is corrupt or not a text file; re-download it.");
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var cells = line.Split(separator);
            if (hasHeader && header.Length == 0) { header = cells.Select(c => c.Trim()).ToArray(); width = cells.Length; continue; }
            if (width < 0) width = cells.Length;
            if (cells.Length != width)
                throw new InvalidDataException($"csv: '{path}' line {lineNo} has {cells.Length} columns but earlier lines have {width} (truncated or corrupt line).");
            int label = labelColumn < 0 ? width + labelColumn : labelColumn;
            if (label < 0 || label >= width) throw new ArgumentOutOfRangeException(nameof(labelColumn), $"csv: label column {labelColumn} is outside the {width} columns of '{path}'.");
            row.Clear();
            bool skip = false;
            for (int c = 0; c < width; c++)
            {
                var cell = cells[c].Trim();
                if (c == label) continue;
                if (!float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                    throw new InvalidDataException($"csv: '{path}' line {lineNo} column {c + 1} holds '{cell}', which is not a number.");
                if (!float.IsFinite(v) && nonFinite != NonFinite.Keep)
                {
                    if (nonFinite == NonFinite.SkipRow) { skip = true; continue; }
                    var what = cell.Any(char.IsAsciiDigit) ? "a number outside the float32 range (±3.4e38)" : "not a finite number";
                    throw new InvalidDataException(
                        $"csv: '{path}' line {lineNo} column {c + 1} holds '{cell}', {what}; pass nonFinite: NonFinite.SkipRow to leave such rows out or NonFinite.Keep to keep the values.");
                }
                row.Add(v);
            }
            if (skip)
            {
                skipped.Add(lineNo);
                continue;
            }
            var name = cells[label].Trim();
            int k = classes.IndexOf(name);
            if (k < 0)
            {
                if (classNames is not null)
                    throw new InvalidDataException($"csv: '{path}' line {lineNo} has label '{name}', which is not one of {string.Join(", ", classNames)}.");
                classes.Add(name);
                k = classes.Count - 1;
            }
            labels.Add(k);
            features.AddRange(row);
        }
        if (labels.Count == 0) throw new InvalidDataException($"csv: '{path}' holds no data rows{(skipped.Count > 0 ? $" ({skipped.Count} row(s) skipped for non-finite values)" : "")}.");
        long n = labels.Count, f = width - 1;
        var names = featureNames?.ToList()
                    ?? (header.Length > 0 ? header.Where((_, i) => i != (labelColumn < 0 ? width + labelColumn : labelColumn)).ToList()
                                          : Enumerable.Range(0, (int)f).Select(i => $"x{i}").ToList());
        var x = Torch.From<float>(features.ToArray(), n, f);
        var y = Torch.From<long>(labels.ToArray(), n);
        return new LabeledTable(x, y, classes, names) { SkippedLines = skipped };
    }
}

/// <summary>The UCI MAGIC Gamma Telescope data: 10 features and a g (gamma, signal) / h (hadron, background) label.</summary>
public static class Magic
{
    /// <summary>The ten feature names of the UCI description.</summary>
    public static readonly IReadOnlyList<string> FeatureNames =
        new[] { "fLength", "fWidth", "fSize", "fConc", "fConc1", "fAsym", "fM3Long", "fM3Trans", "fAlpha", "fDist" };

    /// <summary>Rows of magic04.data: 12,332 gamma (g) and 6,688 hadron (h) events.</summary>
    public const int Rows = 19_020, Gammas = 12_332, Hadrons = 6_688;

    /// <summary>
    /// Loads magic04.data from the path the user gives: labels g → 0, h → 1. Checks 11 columns and, with
    /// <paramref name="strict"/>, the official file's 19,020 rows of 12,332 g and 6,688 h; turn it off for a cut-down file.
    /// </summary>
    public static LabeledTable Load(string path, bool strict = true)
    {
        var table = Csv.Load(path, labelColumn: 10, classNames: new[] { "g", "h" }, featureNames: FeatureNames);
        string? problem = null;
        if (table.Features.Size(1) != 10)
            problem = $"has {table.Features.Size(1) + 1} columns; magic04.data has 10 features and a label.";
        else if (strict)
        {
            long n = table.Labels.Size(0), h = table.Labels.ToArray<long>().Count(l => l == 1), g = n - h;
            if (n != Rows || g != Gammas)
                problem = $"holds {n} rows ({g} g, {h} h) but magic04.data holds {Rows} ({Gammas} g, {Hadrons} h); " +
                          "re-download it (Download.Magic), or pass strict: false for a cut-down file.";
        }
        if (problem is null) return table;
        table.Dispose();
        throw new InvalidDataException($"magic: '{path}' {problem}");
    }
}
