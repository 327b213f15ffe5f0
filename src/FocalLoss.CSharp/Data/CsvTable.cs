using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;
using FocalLoss.Infrastructure;

namespace FocalLoss.Data;

/// <summary>
/// A CSV file a user brings: a header row, numeric feature columns and one named label column holding
/// 0/1 (binary) or class ids 0..C-1. Malformed files get an <see cref="InvalidDataException"/> that names
/// the file, line and column.
/// </summary>
public sealed class CsvTable
{
    private CsvTable(string path, string labelColumn, string[] featureNames, double[][] rows, long[] labels)
    {
        Path = path;
        LabelColumn = labelColumn;
        FeatureNames = featureNames;
        Rows = rows;
        Labels = labels;
        NumClasses = (int)labels.Max() + 1;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }
    /// <summary>The label column's name.</summary>
    public string LabelColumn { get; }
    /// <summary>Feature column names, in file order.</summary>
    public IReadOnlyList<string> FeatureNames { get; }
    /// <summary>Feature values, one array per data row.</summary>
    public double[][] Rows { get; }
    /// <summary>Label per data row.</summary>
    public long[] Labels { get; }
    /// <summary>Number of classes C: the labels are exactly the ids 0..C-1 (at least 2).</summary>
    public int NumClasses { get; }

    /// <summary>
    /// Reads <paramref name="path"/>. Fields are comma-separated (double quotes allowed around a field);
    /// numbers use the invariant culture; blank lines are skipped.
    /// </summary>
    public static CsvTable Load(string path, string labelColumn)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        var lines = File.ReadAllLines(path);
        var firstLine = Array.FindIndex(lines, l => l.Trim().Length > 0);
        if (firstLine < 0) throw new InvalidDataException($"{path}: the file is empty; expected a header row and data rows");
        var header = Split(lines[firstLine]);
        var duplicates = header.GroupBy(h => h, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => $"'{g.Key}'").ToList();
        if (duplicates.Count > 0)
            throw new InvalidDataException($"{path}, line {firstLine + 1}: column names must be unique, got {string.Join(", ", duplicates)} more than once in the header");
        var blank = Array.FindIndex(header, h => h.Length == 0);
        if (blank >= 0)
            throw new InvalidDataException($"{path}, line {firstLine + 1}, column {blank + 1}: every column needs a name, got an empty one");
        var labelIndex = Array.IndexOf(header, labelColumn);
        if (labelIndex < 0)
            throw new InvalidDataException($"{path}, line {firstLine + 1}: no label column '{labelColumn}'; the header has {string.Join(", ", header.Select(h => $"'{h}'"))}");
        var featureNames = header.Where((_, i) => i != labelIndex).ToArray();
        if (featureNames.Length == 0)
            throw new InvalidDataException($"{path}, line {firstLine + 1}: the header has no feature column besides the label column '{labelColumn}'");
        var rows = new List<double[]>();
        var labels = new List<long>();
        for (var l = firstLine + 1; l < lines.Length; l++)
        {
            if (lines[l].Trim().Length == 0) continue;
            var fields = Split(lines[l]);
            if (fields.Length != header.Length)
                throw new InvalidDataException($"{path}, line {l + 1}: expected {header.Length} fields as in the header, got {fields.Length}");
            var row = new double[featureNames.Length];
            var k = 0;
            for (var c = 0; c < fields.Length; c++)
            {
                if (!double.TryParse(fields[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
                    throw new InvalidDataException($"{path}, line {l + 1}, column {c + 1} ('{header[c]}'): expected a finite number, got '{fields[c]}'");
                if (Math.Abs(value) > float.MaxValue)
                    throw new InvalidDataException($"{path}, line {l + 1}, column {c + 1} ('{header[c]}'): expected a number within float32 range (|x| <= {float.MaxValue:G9}), got '{fields[c]}': features are stored as float32");
                if (c == labelIndex)
                {
                    if (value < 0 || value != Math.Floor(value) || value > int.MaxValue)
                        throw new InvalidDataException($"{path}, line {l + 1}, column {c + 1} ('{header[c]}'): a label must be 0/1 or a class id 0..C-1, got '{fields[c]}'");
                    labels.Add((long)value);
                }
                else
                {
                    row[k++] = value;
                }
            }
            rows.Add(row);
        }
        if (rows.Count == 0) throw new InvalidDataException($"{path}: the header is followed by no data rows");
        var distinct = labels.Distinct().Order().ToArray();
        if (distinct.Length < 2)
            throw new InvalidDataException($"{path}, column '{labelColumn}': every row has label {labels[0]}; a classification task needs at least two classes");
        if (distinct[^1] != distinct.Length - 1)
        {
            var shown = string.Join(", ", distinct.Take(10)) + (distinct.Length > 10 ? ", ..." : "");
            throw new InvalidDataException(
                $"{path}, column '{labelColumn}': labels must be the class ids 0..C-1 with every class present (0/1 for a binary task), " +
                $"got {distinct.Length} distinct values {{{shown}}}; relabel them as 0..{distinct.Length - 1}");
        }
        return new CsvTable(path, labelColumn, featureNames, rows.ToArray(), labels.ToArray());
    }

    /// <summary>
    /// The table as a dataset: float32 features [N, D]; float 0/1 labels when the labels are 0/1, Int64
    /// class ids otherwise. Features are not standardised here: fit a <see cref="Standardizer"/> on the
    /// training split only.
    /// </summary>
    public TensorDataset ToDataset(Device? device = null)
    {
        TorchRuntime.EnsureLoaded();
        var name = System.IO.Path.GetFileNameWithoutExtension(Path);
        var features = tensor(Rows.SelectMany(r => r).Select(v => (float)v).ToArray()).reshape(Rows.Length, FeatureNames.Count);
        var labels = NumClasses == 2 ? tensor(Labels.Select(v => (float)v).ToArray()) : tensor(Labels);
        var data = new TensorDataset(name, features, labels, NumClasses);
        if (device is null || device.type == DeviceType.CPU) return data;
        using (data) return data.To(device);
    }

    private static string[] Split(string line)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else current.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { fields.Add(current.ToString().Trim()); current.Clear(); }
            else current.Append(ch);
        }
        fields.Add(current.ToString().Trim());
        return fields.ToArray();
    }
}

/// <summary>
/// Per-feature standardisation (x - mean) / std, fitted on one dataset (the training split) and applied
/// to others. As scikit-learn's StandardScaler: population std, and a constant feature keeps scale 1.
/// </summary>
public sealed class Standardizer
{
    private Standardizer(float[] mean, float[] scale) => (Mean, Scale) = (mean, scale);

    /// <summary>Per-feature mean of the fitting data.</summary>
    public float[] Mean { get; }
    /// <summary>Per-feature population standard deviation (1 where it is 0).</summary>
    public float[] Scale { get; }

    /// <summary>Fits on a dataset with 2-D features [N, D].</summary>
    public static Standardizer Fit(TensorDataset train)
    {
        if (train.Features.dim() != 2)
            throw new ArgumentException($"train features must be [N, D], got shape {Format.Shape(train.Features.shape)}", nameof(train));
        using var scope = NewDisposeScope();
        var x = train.Features.to_type(ScalarType.Float64);
        var mean = x.mean([0]);
        var std = x.std(0, unbiased: false);
        var scale = where(std.eq(0), ones_like(std), std);
        return new Standardizer(
            mean.to_type(ScalarType.Float32).cpu().data<float>().ToArray(),
            scale.to_type(ScalarType.Float32).cpu().data<float>().ToArray());
    }

    /// <summary>A new dataset with standardised features (labels copied).</summary>
    public TensorDataset Transform(TensorDataset data)
    {
        if (data.Features.dim() != 2 || data.Features.shape[1] != Mean.Length)
            throw new ArgumentException($"data features must be [N, {Mean.Length}], got shape {Format.Shape(data.Features.shape)}", nameof(data));
        using var mean = tensor(Mean).to(data.Device);
        using var scale = tensor(Scale).to(data.Device);
        return new TensorDataset(data.Name, (data.Features - mean) / scale, data.Labels.clone(), data.NumClasses);
    }
}
