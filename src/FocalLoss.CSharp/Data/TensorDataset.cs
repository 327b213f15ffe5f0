using TorchSharp;
using static TorchSharp.torch;
using FocalLoss.Infrastructure;

namespace FocalLoss.Data;

/// <summary>
/// Features and labels as tensors on one device. Binary tasks hold float32 0/1 labels of shape [N];
/// multi-class tasks hold Int64 class ids of shape [N]; multi-label tasks hold float32 0/1 labels of shape
/// [N, C], one column per label, C &gt;= 2. Features are float32 [N, ...].
/// </summary>
public sealed class TensorDataset : IDisposable
{
    /// <summary>
    /// Wraps features and labels (takes ownership of both) after checking they agree. The task follows from
    /// the labels: floating-point [N] with <paramref name="numClasses"/> = 2 is binary, Int64 [N] is
    /// multi-class, floating-point [N, C] with <paramref name="numClasses"/> = C &gt;= 2 is multi-label (every
    /// value 0 or 1; checked, one host synchronisation). A single label is a binary task: give it as [N].
    /// </summary>
    public TensorDataset(string name, Tensor features, Tensor labels, int numClasses) : this(name, features, labels, numClasses, null) { }

    /// <summary>
    /// As the constructor above, with per-sample importance <paramref name="weights"/> (float64 [N], finite,
    /// &gt;= 0, not all 0; checked, one host synchronisation) that metrics use in place of counts: a test set
    /// that keeps every rare sample but only a sample of the common ones weights those by their inverse
    /// sampling rate, so its metrics estimate the full distribution's. Null: every sample counts once.
    /// </summary>
    public TensorDataset(string name, Tensor features, Tensor labels, int numClasses, Tensor? weights)
    {
        if (features.dim() < 1 || labels.dim() is not (1 or 2) || features.shape[0] != labels.shape[0])
            throw new ArgumentException($"labels must be [N] (binary, multi-class) or [N, C] (multi-label) with N = the feature rows: features shape {Format.Shape(features.shape)}, labels shape {Format.Shape(labels.shape)}", nameof(labels));
        if (labels.dim() == 2)
            CheckMultiLabel(labels, numClasses);
        else
        {
            if (numClasses < 2)
                throw new ArgumentException($"numClasses must be >= 2, got {numClasses}", nameof(numClasses));
            if (!(numClasses == 2 && labels.is_floating_point()) && labels.dtype != ScalarType.Int64)
                throw new ArgumentException($"labels must be float 0/1 (binary) or Int64 class ids, got {labels.dtype}", nameof(labels));
        }
        if (weights is not null)
        {
            if (labels.dim() != 1 || !labels.is_floating_point() || numClasses != 2)
                throw new ArgumentException($"weights are supported for binary data (float 0/1 labels [N]) only, got {labels.dtype} labels of shape {Format.Shape(labels.shape)} with {numClasses} classes", nameof(weights));
            CheckWeights(weights, labels.shape[0]);
        }
        Name = name;
        Features = features;
        Labels = labels;
        Weights = weights;
        NumClasses = numClasses;
        Task = labels.dim() == 2 ? LossTask.MultiLabel : labels.is_floating_point() ? LossTask.Binary : LossTask.MultiClass;
    }

    private static void CheckWeights(Tensor weights, long n)
    {
        if (weights.dim() != 1 || weights.shape[0] != n || weights.dtype != ScalarType.Float64)
            throw new ArgumentException($"weights must be float64 [N] with N = {n} samples, got {weights.dtype} of shape {Format.Shape(weights.shape)}", nameof(weights));
        using var scope = NewDisposeScope();
        var bad = weights.isfinite().logical_not().logical_or(weights.lt(0));
        if (bad.any().item<bool>())
        {
            var at = bad.nonzero()[0, 0].item<long>();
            throw new ArgumentException($"weights must be finite and >= 0, got {Format.Number(weights[at].item<double>())} at sample {at}", nameof(weights));
        }
        if (n > 0 && weights.sum().item<double>() <= 0)
            throw new ArgumentException("weights must not all be 0: at least one sample must count", nameof(weights));
    }

    private static void CheckMultiLabel(Tensor labels, int numClasses)
    {
        var shape = Format.Shape(labels.shape);
        if (!labels.is_floating_point())
            throw new ArgumentException($"multi-label labels (shape {shape}) must be floating-point 0/1, got {labels.dtype}", nameof(labels));
        if (labels.shape[1] < 2)
            throw new ArgumentException($"multi-label labels must be [N, C] with C >= 2, got shape {shape}; give a single label as binary labels of shape [N]", nameof(labels));
        if (numClasses != labels.shape[1])
            throw new ArgumentException($"numClasses must equal the label columns C = {labels.shape[1]} of multi-label labels {shape}, got {numClasses}", nameof(numClasses));
        using var scope = NewDisposeScope();
        var bad = labels.ne(0).logical_and(labels.ne(1));
        if (bad.any().item<bool>())
        {
            var at = bad.nonzero()[0].cpu().data<long>().ToArray();
            throw new ArgumentException($"multi-label labels must all be 0 or 1, got {Format.Number(labels[at[0], at[1]].to_type(ScalarType.Float64).item<double>())} at row {at[0]}, label {at[1]}", nameof(labels));
        }
    }

    /// <summary>A short name for reports (e.g. <c>seed-line</c>, <c>mnist-3-vs-rest</c>).</summary>
    public string Name { get; }
    /// <summary>Float32 features, first dim = samples.</summary>
    public Tensor Features { get; }
    /// <summary>Float32 0/1 labels (binary) or Int64 class ids (multi-class), shape [N]; float32 0/1 labels [N, C] (multi-label).</summary>
    public Tensor Labels { get; }
    /// <summary>Per-sample importance weights, float64 [N]; null when every sample counts once.</summary>
    public Tensor? Weights { get; }
    /// <summary>2 for binary tasks, C for multi-class and for multi-label tasks (the number of labels).</summary>
    public int NumClasses { get; }
    /// <summary>Binary (float labels [N]), multi-class (Int64 labels [N]) or multi-label (float labels [N, C]).</summary>
    public LossTask Task { get; }
    /// <summary>Number of samples.</summary>
    public long Count => Labels.shape[0];
    /// <summary>Number of features per sample (product of the non-batch dims).</summary>
    public long FeatureCount => Features.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
    /// <summary>The device the tensors live on.</summary>
    public Device Device => Features.device;

    /// <summary>
    /// Fraction of label-1 samples (binary), of class-1 samples (multi-class), or of positive label slots
    /// (multi-label: the label density, positives over N x C).
    /// </summary>
    public double PositiveRate()
    {
        using var scope = NewDisposeScope();
        return Labels.eq(1).to_type(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>
    /// The positive rate the dataset stands for: <see cref="PositiveRate"/> with each sample counted by its
    /// weight (binary and multi-class: class-1 weight over total weight); equal to it without weights.
    /// </summary>
    public double WeightedPositiveRate()
    {
        if (Weights is null) return PositiveRate();
        if (Task == LossTask.MultiLabel)
            throw new InvalidOperationException("weighted multi-label data is not supported: weights are per sample, the rate is per label slot");
        using var scope = NewDisposeScope();
        var w = Weights.to(Labels.device);
        return (Labels.eq(1).to_type(ScalarType.Float64) * w).sum().item<double>() / w.sum().item<double>();
    }

    /// <summary>Samples per class, index = class id; for multi-label data, positives per label, index = label.</summary>
    public long[] ClassCounts()
    {
        using var scope = NewDisposeScope();
        var counts = Task == LossTask.MultiLabel
            ? Labels.to_type(ScalarType.Int64).sum([0L])
            : Labels.to_type(ScalarType.Int64).bincount(null, NumClasses);
        return counts.cpu().data<long>().ToArray();
    }

    /// <summary>A copy on <paramref name="device"/>.</summary>
    public TensorDataset To(Device device) => new(Name, Features.to(device), Labels.to(device), NumClasses, Weights?.to(device));

    /// <summary>The samples at <paramref name="indices"/> (Int64, on any device), as a new dataset.</summary>
    public TensorDataset Subset(Tensor indices, string? name = null)
    {
        using var idx = indices.to(Features.device);
        return new TensorDataset(name ?? Name, Features.index_select(0, idx), Labels.index_select(0, idx), NumClasses, Weights?.index_select(0, idx));
    }

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        Features.Dispose();
        Labels.Dispose();
        Weights?.Dispose();
    }

    /// <summary>
    /// For logs: "name: N samples, D features, positive rate r" (binary), "..., C classes [counts]"
    /// (multi-class), "..., C labels, positive rate r of N x C slots, positives per label [counts]" (multi-label).
    /// </summary>
    public override string ToString() => Task switch
    {
        LossTask.Binary => $"{Name}: {Count} samples, {FeatureCount} features, positive rate {PositiveRate():0.####}",
        LossTask.MultiLabel => $"{Name}: {Count} samples, {FeatureCount} features, {NumClasses} labels, positive rate {PositiveRate():0.####} of {Count} x {NumClasses} slots, positives per label [{string.Join(", ", ClassCounts())}]",
        _ => $"{Name}: {Count} samples, {FeatureCount} features, {NumClasses} classes [{string.Join(", ", ClassCounts())}]",
    };
}

/// <summary>Seeded train/test splits.</summary>
public static class Splits
{
    /// <summary>
    /// Stratified split: within each stratum, a seeded shuffle puts round(testFraction * n) of its n samples
    /// in the test set (at least one when it has two or more samples, never all of them), the rest in train.
    /// The strata are the classes (binary, multi-class) or, for multi-label data, the label sets (each row's
    /// 0/1 pattern, "label powerset" stratification), so every label keeps about its positive rate and its
    /// co-occurrences in both splits. Label sets too rare to expect one test sample (n &lt; 1 / testFraction)
    /// are pooled into one stratum, so they neither all stay in train nor each put one in test; a label set
    /// seen once may thus land in either split.
    /// </summary>
    public static (TensorDataset Train, TensorDataset Test) Stratified(TensorDataset data, double testFraction, long seed)
    {
        if (!(testFraction > 0 && testFraction < 1))
            throw new ArgumentException($"testFraction must be in (0, 1), got {Format.Number(testFraction)}", nameof(testFraction));
        var labels = data.Task == LossTask.MultiLabel
            ? LabelSetStrata(data, testFraction)
            : data.Labels.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        var rng = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        var train = new List<long>();
        var test = new List<long>();
        foreach (var group in Enumerable.Range(0, labels.Length).GroupBy(i => labels[i]).OrderBy(g => g.Key))
        {
            var members = group.Select(i => (long)i).ToArray();
            rng.Shuffle(members);
            var nTest = (int)Math.Round(testFraction * members.Length);
            if (nTest == 0 && members.Length >= 2) nTest = 1;
            if (nTest == members.Length && members.Length >= 2) nTest = members.Length - 1;
            test.AddRange(members.Take(nTest));
            train.AddRange(members.Skip(nTest));
        }
        train.Sort();
        test.Sort();
        using var trainIdx = tensor(train.ToArray());
        using var testIdx = tensor(test.ToArray());
        return (data.Subset(trainIdx, data.Name + "/train"), data.Subset(testIdx, data.Name + "/test"));
    }

    /// <summary>
    /// One stratum id per row of multi-label data: label sets in ordinal order of their 0/1 pattern get ids
    /// 1, 2, ...; those with fewer than 1 / testFraction rows share id 0.
    /// </summary>
    private static long[] LabelSetStrata(TensorDataset data, double testFraction)
    {
        var c = data.NumClasses;
        int[] flat;
        using (NewDisposeScope())
            flat = data.Labels.to_type(ScalarType.Int32).contiguous().cpu().data<int>().ToArray();
        var keys = new string[data.Count];
        var row = new char[c];
        for (var i = 0; i < keys.Length; i++)
        {
            for (var k = 0; k < c; k++) row[k] = flat[i * c + k] == 1 ? '1' : '0';
            keys[i] = new string(row);
        }
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        long next = 1;
        foreach (var group in keys.GroupBy(k => k, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            ids[group.Key] = group.Count() * testFraction < 1 ? 0 : next++;
        return keys.Select(k => ids[k]).ToArray();
    }
}
