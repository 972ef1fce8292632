using System.Globalization;

namespace Dsl.Data;

/// <summary>A numeric table with a label column: float32 features [N, F], int64 labels [N], and the names of both.</summary>
public sealed record LabeledTable(Tensor Features, Tensor Labels, IReadOnlyList<string> ClassNames, IReadOnlyList<string> FeatureNames) : IDisposable
{
    /// <summary>Frees the feature and label tensors.</summary>
    public void Dispose()
    {
        Features.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Reads CSV tables of numeric features and one class-label column (label encoding in order of first
/// appearance unless class names are given). Errors name the file, the line and the column.
/// </summary>
public static class Csv
{
    /// <summary>
    /// Loads <paramref name="path"/>: every column but <paramref name="labelColumn"/> (negative counts from
    /// the end) must parse as a number. With <paramref name="classNames"/>, labels outside it are an error.
    /// </summary>
    public static LabeledTable Load(string path, int labelColumn = -1, bool hasHeader = false, char separator = ',',
                                    IReadOnlyList<string>? classNames = null, IReadOnlyList<string>? featureNames = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"csv: no file at '{path}'.", path);
        var features = new List<float>();
        var labels = new List<long>();
        var classes = classNames?.ToList() ?? new List<string>();
        var header = Array.Empty<string>();
        int width = -1, lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var cells = line.Split(separator);
            if (hasHeader && header.Length == 0) { header = cells.Select(c => c.Trim()).ToArray(); width = cells.Length; continue; }
            if (width < 0) width = cells.Length;
            if (cells.Length != width)
                throw new InvalidDataException($"csv: '{path}' line {lineNo} has {cells.Length} columns but earlier lines have {width} (truncated or corrupt line).");
            int label = labelColumn < 0 ? width + labelColumn : labelColumn;
            if (label < 0 || label >= width) throw new ArgumentOutOfRangeException(nameof(labelColumn), $"csv: label column {labelColumn} is outside the {width} columns of '{path}'.");
            for (int c = 0; c < width; c++)
            {
                var cell = cells[c].Trim();
                if (c == label)
                {
                    int k = classes.IndexOf(cell);
                    if (k < 0)
                    {
                        if (classNames is not null)
                            throw new InvalidDataException($"csv: '{path}' line {lineNo} has label '{cell}', which is not one of {string.Join(", ", classNames)}.");
                        classes.Add(cell);
                        k = classes.Count - 1;
                    }
                    labels.Add(k);
                }
                else if (float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) features.Add(v);
                else throw new InvalidDataException($"csv: '{path}' line {lineNo} column {c + 1} holds '{cell}', which is not a number.");
            }
        }
        if (labels.Count == 0) throw new InvalidDataException($"csv: '{path}' holds no data rows.");
        long n = labels.Count, f = width - 1;
        var names = featureNames?.ToList()
                    ?? (header.Length > 0 ? header.Where((_, i) => i != (labelColumn < 0 ? width + labelColumn : labelColumn)).ToList()
                                          : Enumerable.Range(0, (int)f).Select(i => $"x{i}").ToList());
        var x = Torch.From<float>(features.ToArray(), n, f);
        var y = Torch.From<long>(labels.ToArray(), n);
        return new LabeledTable(x, y, classes, names);
    }
}

/// <summary>The UCI MAGIC Gamma Telescope data: 10 features and a g (gamma, signal) / h (hadron, background) label.</summary>
public static class Magic
{
    /// <summary>The ten feature names of the UCI description.</summary>
    public static readonly IReadOnlyList<string> FeatureNames =
        new[] { "fLength", "fWidth", "fSize", "fConc", "fConc1", "fAsym", "fM3Long", "fM3Trans", "fAlpha", "fDist" };

    /// <summary>Loads magic04.data from the path the user gives: labels g → 0, h → 1. Checks 11 columns and 19,020 rows.</summary>
    public static LabeledTable Load(string path)
    {
        var table = Csv.Load(path, labelColumn: 10, classNames: new[] { "g", "h" }, featureNames: FeatureNames);
        if (table.Features.Size(1) != 10)
        {
            table.Dispose();
            throw new InvalidDataException($"magic: '{path}' has {table.Features.Size(1) + 1} columns; magic04.data has 10 features and a label.");
        }
        return table;
    }
}
