using TorchSharp;
using static TorchSharp.torch;
using FocalLoss.Infrastructure;

namespace FocalLoss.Data;

/// <summary>
/// Seeded synthetic binary and multi-label tasks. Every generator draws on the CPU from its own
/// <see cref="torch.Generator"/> (the same seed gives the same data on every device) and returns tensors
/// on the requested device.
/// </summary>
public static class Synthetic
{
    /// <summary>
    /// The seed tutorial's data: <c>x ~ Uniform(lo, hi)</c>, one float feature; <c>y = 1</c> if
    /// <c>w x + b &gt; 0</c>. Defaults give the boundary x = -1.5 and about 57.5 % positives. As in the
    /// seed, x is drawn in float64, labelled in float64, and stored as float32.
    /// </summary>
    public static TensorDataset SeedLine(int count, long seed, double lo = -10, double hi = 10, double w = 2, double b = 3, Device? device = null)
    {
        CheckCount(count);
        if (!(lo < hi) || !double.IsFinite(lo) || !double.IsFinite(hi))
            throw new ArgumentException($"lo must be finite and below hi, got lo {Format.Number(lo)}, hi {Format.Number(hi)}", nameof(lo));
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var gen = new Generator((ulong)seed);
        var x = rand([count, 1], ScalarType.Float64, generator: gen) * (hi - lo) + lo;
        var y = (x * w + b).gt(0).to_type(ScalarType.Float32).squeeze(1);
        return Keep(new TensorDataset("seed-line", x.to_type(ScalarType.Float32), y, 2), device);
    }

    /// <summary>
    /// The seed's one-feature task with the boundary moved so that a fraction <paramref name="positiveRate"/>
    /// of x ~ Uniform(-10, 10) is positive (x &gt; 10 - 20 rate), then each label flipped with probability
    /// <paramref name="labelNoise"/>. One feature: every increasing linear model ranks these samples the
    /// same way, so only threshold, calibration and boundary metrics can separate losses here.
    /// </summary>
    public static TensorDataset ImbalancedLine(int count, double positiveRate, long seed, double labelNoise = 0, Device? device = null)
    {
        CheckRate(positiveRate, labelNoise);
        using var scope = NewDisposeScope();
        var boundary = 10 - 20 * positiveRate;
        var line = SeedLine(count, seed, -10, 10, 1, -boundary);
        var labels = Flip(line.Labels, labelNoise, seed);
        return Keep(new TensorDataset($"line-{Percent(positiveRate)}", line.Features.clone(), labels, 2), device);
    }

    /// <summary>
    /// Two Gaussian classes in <paramref name="features"/> dimensions with exactly
    /// round(count x rate) positives (at least one): negatives ~ N(0, I), positives ~ N(separation e1, I),
    /// rows shuffled, then each label flipped with probability <paramref name="labelNoise"/>. With two or
    /// more features, different linear models rank samples differently, so AP and ROC-AUC can tell losses apart.
    /// </summary>
    public static TensorDataset ImbalancedGaussian(int count, double positiveRate, long seed, int features = 2, double separation = 2.0, double labelNoise = 0, Device? device = null)
    {
        CheckCount(count);
        CheckRate(positiveRate, labelNoise);
        if (features < 1) throw new ArgumentException($"features must be >= 1, got {features}", nameof(features));
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var gen = new Generator((ulong)seed);
        var positives = Math.Max(1, (int)Math.Round(count * positiveRate));
        var y = cat([ones(positives), zeros(count - positives)]);
        var x = randn([count, features], generator: gen);
        x[TensorIndex.Slice(0, positives), 0] += separation;
        var order = randperm(count, generator: gen);
        var labels = Flip(y.index_select(0, order), labelNoise, seed + 1);
        return Keep(new TensorDataset($"gauss{features}d-{Percent(positiveRate)}", x.index_select(0, order), labels, 2), device);
    }

    /// <summary>
    /// A 2-D task that mimics one-stage detection: a flood of easy negatives far from the boundary
    /// (N((-4, -4), 1.5^2 I)), a band of hard negatives overlapping the positives (N((0.5, 0.5), I),
    /// a fraction <paramref name="hardFraction"/> of all samples) and few positives (N((1.5, 1.5), 0.75^2 I),
    /// a fraction <paramref name="positiveRate"/>). Rows shuffled.
    /// </summary>
    public static TensorDataset DenseEasyNegatives(int count, double positiveRate, long seed, double hardFraction = 0.05, Device? device = null)
    {
        CheckCount(count);
        CheckRate(positiveRate, 0);
        if (!(hardFraction >= 0 && hardFraction + positiveRate < 1))
            throw new ArgumentException($"hardFraction must be >= 0 with hardFraction + positiveRate < 1, got {Format.Number(hardFraction)} (positiveRate {Format.Number(positiveRate)})", nameof(hardFraction));
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var gen = new Generator((ulong)seed);
        var nPos = Math.Max(1, (int)Math.Round(count * positiveRate));
        var nHard = (int)Math.Round(count * hardFraction);
        var nEasy = count - nPos - nHard;
        var pos = randn([nPos, 2], generator: gen) * 0.75 + 1.5;
        var hard = randn([nHard, 2], generator: gen) + 0.5;
        var easy = randn([nEasy, 2], generator: gen) * 1.5 - 4.0;
        var x = cat([pos, hard, easy]);
        var y = cat([ones(nPos), zeros(nHard + nEasy)]);
        var order = randperm(count, generator: gen);
        return Keep(new TensorDataset($"dense-easy-negatives-{Percent(positiveRate)}", x.index_select(0, order), y.index_select(0, order), 2), device);
    }

    /// <summary>
    /// A multi-label task whose labels have a known linear relation to the features. Features x ~ N(0, I) in
    /// <paramref name="features"/> dimensions; label k is positive when its score
    /// <c>s_k = w_k . x + noise * e_k</c> exceeds <c>t = sqrt(1 + noise^2) Phi^-1(1 - positiveRate)</c>, with
    /// e_k ~ N(0, 1) independent and unit directions w_k (<see cref="MultiLabelDirections"/>). Since
    /// s_k ~ N(0, 1 + noise^2), t is its (1 - positiveRate) quantile: every label is positive with probability
    /// <paramref name="positiveRate"/>, so 1 - positiveRate of the N x C label slots are negative (the ASL
    /// setting of many negatives per sample). The Bayes-optimal probability of label k is
    /// Phi((w_k . x - t) / noise); with <paramref name="noise"/> = 0 each label is a deterministic, linearly
    /// separable function of x. The clean scores of two labels correlate exactly
    /// <paramref name="correlation"/> (their noisy scores rho / (1 + noise^2)); 0 gives independent labels.
    /// The directions come from <paramref name="taskSeed"/> alone and the samples and noise from
    /// <paramref name="seed"/> alone: train and test sets drawn with two seeds and one task seed share one task.
    /// x is drawn in float64 and rounded to float32 before the labels are computed (in float64), so the labels
    /// follow exactly from the stored features.
    /// </summary>
    /// <param name="count">Samples N, >= 1.</param>
    /// <param name="labels">Labels C, >= 2 (one label is a binary task).</param>
    /// <param name="positiveRate">Expected positive rate of every label, in (0, 1).</param>
    /// <param name="seed">Seeds the features and the score noise.</param>
    /// <param name="features">Feature dimensions D, at least C + 1 (the directions are built from C + 1
    /// orthonormal vectors); default 16.</param>
    /// <param name="noise">Standard deviation of the score noise, finite and >= 0 (default 0.5): the
    /// irreducible label noise.</param>
    /// <param name="correlation">Pairwise correlation rho of the clean label scores, in [0, 1) (default 0).</param>
    /// <param name="taskSeed">Seeds the directions w_k (default 0).</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <returns>Float32 features [N, D] and float32 0/1 labels [N, C].</returns>
    public static TensorDataset MultiLabel(int count, int labels, double positiveRate, long seed, int features = 16, double noise = 0.5, double correlation = 0, long taskSeed = 0, Device? device = null)
    {
        CheckCount(count);
        CheckRate(positiveRate, 0);
        if (!(noise >= 0) || !double.IsFinite(noise))
            throw new ArgumentException($"noise must be finite and >= 0, got {Format.Number(noise)}", nameof(noise));
        using var scope = NewDisposeScope();
        var w = MultiLabelDirections(labels, features, correlation, taskSeed);
        using var gen = new Generator((ulong)seed);
        var x = randn([count, features], ScalarType.Float64, generator: gen).to_type(ScalarType.Float32);
        var e = randn([count, labels], ScalarType.Float64, generator: gen);
        var score = x.to_type(ScalarType.Float64).matmul(w) + e * noise;
        using var q = tensor(1 - 2 * positiveRate, ScalarType.Float64);
        var threshold = Math.Sqrt(2 * (1 + noise * noise)) * q.erfinv().item<double>();
        var y = score.gt(threshold).to_type(ScalarType.Float32);
        var name = $"multi-label-{labels}x{features}d-{Percent(positiveRate)}" + (correlation > 0 ? $"-rho{correlation:0.###}" : "");
        return Keep(new TensorDataset(name, x, y, labels), device);
    }

    /// <summary>
    /// The unit directions w_k of <see cref="MultiLabel"/>'s label scores, float64 [D, C] on the CPU:
    /// <c>w_k = sqrt(rho) q_0 + sqrt(1 - rho) q_k</c> with q_0..q_C the orthonormal columns of the QR
    /// factorisation of a Gaussian D x (C + 1) matrix drawn from <paramref name="taskSeed"/>, so
    /// |w_k| = 1 and w_j . w_k = rho for j != k.
    /// </summary>
    /// <param name="labels">Labels C, >= 2.</param>
    /// <param name="features">Dimensions D, >= C + 1.</param>
    /// <param name="correlation">rho in [0, 1).</param>
    /// <param name="taskSeed">Seeds the Gaussian matrix.</param>
    public static Tensor MultiLabelDirections(int labels, int features, double correlation, long taskSeed)
    {
        if (labels < 2)
            throw new ArgumentException($"labels must be >= 2 (one label is a binary task), got {labels}", nameof(labels));
        if (features < labels + 1)
            throw new ArgumentException($"features must be >= labels + 1 = {labels + 1} (C + 1 orthonormal directions), got {features}", nameof(features));
        if (!(correlation >= 0 && correlation < 1))
            throw new ArgumentException($"correlation must be in [0, 1), got {Format.Number(correlation)}", nameof(correlation));
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var gen = new Generator((ulong)(taskSeed ^ 0x6A09E667L));
        var (q, _) = linalg.qr(randn([features, labels + 1], ScalarType.Float64, generator: gen));
        var shared = q[TensorIndex.Colon, TensorIndex.Slice(0, 1)];
        var own = q[TensorIndex.Colon, TensorIndex.Slice(1, labels + 1)];
        return (shared * Math.Sqrt(correlation) + own * Math.Sqrt(1 - correlation)).MoveToOuterDisposeScope();
    }

    private static Tensor Flip(Tensor labels, double noise, long seed)
    {
        if (noise == 0) return labels.clone();
        using var gen = new Generator((ulong)(seed ^ 0x5DEECE66DL));
        using var flip = rand(labels.shape, generator: gen).lt(noise);
        return where(flip, 1 - labels, labels);
    }

    /// <summary>Moves the dataset to <paramref name="device"/> and out of the generator's dispose scope.</summary>
    internal static TensorDataset Keep(TensorDataset data, Device? device)
    {
        var result = device is null || device.type == DeviceType.CPU ? data : data.To(device);
        result.Features.MoveToOuterDisposeScope();
        result.Labels.MoveToOuterDisposeScope();
        result.Weights?.MoveToOuterDisposeScope();
        return result;
    }

    internal static string Percent(double rate) => $"{rate * 100:0.###}pct";

    internal static void CheckCount(int count)
    {
        if (count < 1) throw new ArgumentException($"count must be >= 1, got {count}", nameof(count));
    }

    private static void CheckRate(double positiveRate, double labelNoise)
    {
        if (!(positiveRate > 0 && positiveRate < 1))
            throw new ArgumentException($"positiveRate must be in (0, 1), got {Format.Number(positiveRate)}", nameof(positiveRate));
        if (!(labelNoise >= 0 && labelNoise < 0.5))
            throw new ArgumentException($"labelNoise must be in [0, 0.5), got {Format.Number(labelNoise)}", nameof(labelNoise));
    }
}
