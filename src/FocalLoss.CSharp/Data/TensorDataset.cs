using TorchSharp;
using static TorchSharp.torch;
using FocalLoss.Infrastructure;

namespace FocalLoss.Data;

/// <summary>
/// Features and labels as tensors on one device. Binary tasks hold float32 0/1 labels of shape [N];
/// multi-class tasks hold Int64 class ids of shape [N]. Features are float32 [N, ...].
/// </summary>
public sealed class TensorDataset : IDisposable
{
    /// <summary>Wraps features and labels (takes ownership of both) after checking they agree.</summary>
    public TensorDataset(string name, Tensor features, Tensor labels, int numClasses)
    {
        if (features.dim() < 1 || labels.dim() != 1 || features.shape[0] != labels.shape[0])
            throw new ArgumentException($"labels must be 1-D with one entry per feature row: features shape {Format.Shape(features.shape)}, labels shape {Format.Shape(labels.shape)}", nameof(labels));
        if (numClasses < 2)
            throw new ArgumentException($"numClasses must be >= 2, got {numClasses}", nameof(numClasses));
        var binary = numClasses == 2 && labels.is_floating_point();
        if (!binary && labels.dtype != ScalarType.Int64)
            throw new ArgumentException($"labels must be float 0/1 (binary) or Int64 class ids, got {labels.dtype}", nameof(labels));
        Name = name;
        Features = features;
        Labels = labels;
        NumClasses = numClasses;
        Task = binary ? LossTask.Binary : LossTask.MultiClass;
    }

    /// <summary>A short name for reports (e.g. <c>seed-line</c>, <c>mnist-3-vs-rest</c>).</summary>
    public string Name { get; }
    /// <summary>Float32 features, first dim = samples.</summary>
    public Tensor Features { get; }
    /// <summary>Float32 0/1 labels (binary) or Int64 class ids (multi-class), shape [N].</summary>
    public Tensor Labels { get; }
    /// <summary>2 for binary tasks.</summary>
    public int NumClasses { get; }
    /// <summary>Binary (float labels) or multi-class (Int64 labels).</summary>
    public LossTask Task { get; }
    /// <summary>Number of samples.</summary>
    public long Count => Labels.shape[0];
    /// <summary>Number of features per sample (product of the non-batch dims).</summary>
    public long FeatureCount => Features.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
    /// <summary>The device the tensors live on.</summary>
    public Device Device => Features.device;

    /// <summary>Fraction of label-1 samples (binary) or of class-1 samples.</summary>
    public double PositiveRate()
    {
        using var scope = NewDisposeScope();
        return Labels.eq(1).to_type(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>Samples per class, index = class id.</summary>
    public long[] ClassCounts()
    {
        using var scope = NewDisposeScope();
        return Labels.to_type(ScalarType.Int64).bincount(null, NumClasses).cpu().data<long>().ToArray();
    }

    /// <summary>A copy on <paramref name="device"/>.</summary>
    public TensorDataset To(Device device) => new(Name, Features.to(device), Labels.to(device), NumClasses);

    /// <summary>The samples at <paramref name="indices"/> (Int64, on any device), as a new dataset.</summary>
    public TensorDataset Subset(Tensor indices, string? name = null)
    {
        using var idx = indices.to(Features.device);
        return new TensorDataset(name ?? Name, Features.index_select(0, idx), Labels.index_select(0, idx), NumClasses);
    }

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        Features.Dispose();
        Labels.Dispose();
    }

    /// <summary>"name: N samples, D features, positive rate r" for logs.</summary>
    public override string ToString() => Task == LossTask.Binary
        ? $"{Name}: {Count} samples, {FeatureCount} features, positive rate {PositiveRate():0.####}"
        : $"{Name}: {Count} samples, {FeatureCount} features, {NumClasses} classes [{string.Join(", ", ClassCounts())}]";
}

/// <summary>Seeded train/test splits.</summary>
public static class Splits
{
    /// <summary>
    /// Stratified split: within each class, a seeded shuffle puts round(testFraction * n_class) samples in
    /// the test set (at least one when the class has two or more samples), the rest in train.
    /// </summary>
    public static (TensorDataset Train, TensorDataset Test) Stratified(TensorDataset data, double testFraction, long seed)
    {
        if (!(testFraction > 0 && testFraction < 1))
            throw new ArgumentException($"testFraction must be in (0, 1), got {Format.Number(testFraction)}", nameof(testFraction));
        var labels = data.Labels.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
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
}
