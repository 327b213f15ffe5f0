using System.Buffers.Binary;
using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;
using FocalLoss.Infrastructure;

namespace FocalLoss.Data;

/// <summary>Images and labels read from a pair of IDX files (MNIST, Fashion-MNIST, EMNIST layout).</summary>
/// <param name="Pixels">Row-major grey levels 0-255, <c>Count * Rows * Cols</c> bytes.</param>
/// <param name="Labels">One class id per image.</param>
/// <param name="Rows">Image height.</param>
/// <param name="Cols">Image width.</param>
public sealed record Digits(byte[] Pixels, byte[] Labels, int Rows, int Cols)
{
    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Number of distinct classes (max label + 1).</summary>
    public int NumClasses => Labels.Length == 0 ? 0 : Labels.Max() + 1;

    /// <summary>Images per class, index = class id.</summary>
    public int[] ClassCounts()
    {
        var counts = new int[NumClasses];
        foreach (var label in Labels) counts[label]++;
        return counts;
    }
}

/// <summary>
/// Reader for the IDX format of the MNIST database (big-endian magic 0x00000803 for unsigned-byte
/// images, 0x00000801 for labels, then the dimension sizes). Reads raw or gzipped files (detected by
/// the gzip magic bytes, not the name), so the original 60k/10k MNIST and Fashion-MNIST files load
/// unchanged.
/// </summary>
public static class Idx
{
    /// <summary>Reads a pair of image and label files and checks that their counts agree.</summary>
    public static Digits Load(string imagesPath, string labelsPath)
    {
        var (count, rows, cols, pixels) = ReadImages(imagesPath);
        var labels = ReadLabels(labelsPath);
        if (labels.Length != count)
            throw new InvalidDataException($"{labelsPath}: holds {labels.Length} labels but {imagesPath} holds {count} images");
        return new Digits(pixels, labels, rows, cols);
    }

    /// <summary>Reads an IDX3 unsigned-byte image file: (count, rows, cols, pixels).</summary>
    public static (int Count, int Rows, int Cols, byte[] Pixels) ReadImages(string path)
    {
        var bytes = ReadAll(path);
        var dims = Header(bytes, path, 0x00000803, 3);
        long expected = 16L + (long)dims[0] * dims[1] * dims[2];
        if (bytes.Length != expected)
            throw new InvalidDataException($"{path}: header announces {dims[0]} images of {dims[1]}x{dims[2]} ({expected} bytes) but the file has {bytes.Length} bytes");
        return (dims[0], dims[1], dims[2], bytes[16..]);
    }

    /// <summary>Reads an IDX1 unsigned-byte label file.</summary>
    public static byte[] ReadLabels(string path)
    {
        var bytes = ReadAll(path);
        var dims = Header(bytes, path, 0x00000801, 1);
        if (bytes.Length != 8L + dims[0])
            throw new InvalidDataException($"{path}: header announces {dims[0]} labels but the file has {bytes.Length - 8} label bytes");
        return bytes[8..];
    }

    private static byte[] ReadAll(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path}", path);
        var raw = File.ReadAllBytes(path);
        if (raw.Length >= 2 && raw[0] == 0x1f && raw[1] == 0x8b)
        {
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var output = new MemoryStream();
            gz.CopyTo(output);
            return output.ToArray();
        }
        return raw;
    }

    private static int[] Header(byte[] bytes, string path, int magic, int dims)
    {
        var actual = bytes.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(bytes) : -1;
        if (actual != magic)
            throw new InvalidDataException($"{path}: expected IDX magic 0x{magic:X8} (unsigned bytes, {dims} dims), got {(bytes.Length >= 4 ? $"0x{actual:X8}" : $"only {bytes.Length} bytes")}");
        if (bytes.Length < 4 + 4 * dims)
            throw new InvalidDataException($"{path}: too short for an IDX header with {dims} dims ({bytes.Length} bytes)");
        return Enumerable.Range(0, dims).Select(i => BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i))).ToArray();
    }
}

/// <summary>Binary, long-tailed and multi-label tasks built from digits, as tensors scaled to [0, 1].</summary>
public static class DigitTasks
{
    /// <summary>
    /// One digit against the rest at a chosen positive rate: keeps every image of the other digits and a
    /// seeded random subset of <paramref name="digit"/> so that positives make up
    /// <paramref name="positiveRate"/> of the result (or, when there are too few positives, keeps them all and
    /// subsamples the negatives). Features [N, 1, rows, cols] (or [N, rows*cols] when
    /// <paramref name="flatten"/>), float32 in [0, 1]; labels float 0/1.
    /// </summary>
    public static TensorDataset OneVsRest(Digits digits, int digit, double positiveRate, long seed, bool flatten = false, Device? device = null)
    {
        if (digit < 0 || digit >= digits.NumClasses)
            throw new ArgumentException($"digit must be in [0, {digits.NumClasses - 1}], got {digit}", nameof(digit));
        if (!(positiveRate > 0 && positiveRate < 1))
            throw new ArgumentException($"positiveRate must be in (0, 1), got {Format.Number(positiveRate)}", nameof(positiveRate));
        var rng = new Random(unchecked((int)seed));
        var pos = Enumerable.Range(0, digits.Count).Where(i => digits.Labels[i] == digit).ToArray();
        var neg = Enumerable.Range(0, digits.Count).Where(i => digits.Labels[i] != digit).ToArray();
        rng.Shuffle(pos);
        rng.Shuffle(neg);
        var wantPos = (int)Math.Round(neg.Length * positiveRate / (1 - positiveRate));
        if (wantPos < 1)
            throw new ArgumentException($"positiveRate {Format.Number(positiveRate)} leaves no positive among {neg.Length} negatives", nameof(positiveRate));
        int[] keep;
        if (wantPos <= pos.Length)
            keep = [.. pos.Take(wantPos), .. neg];
        else
            keep = [.. pos, .. neg.Take((int)Math.Round(pos.Length * (1 - positiveRate) / positiveRate))];
        Array.Sort(keep);
        var labels = keep.Select(i => digits.Labels[i] == digit ? 1f : 0f).ToArray();
        return Build($"mnist-{digit}-vs-rest-{Synthetic.Percent(positiveRate)}", digits, keep, tensor(labels), 2, flatten, device);
    }

    /// <summary>
    /// A long-tailed multi-class split: class k keeps n_max * ratio^(-k / (C - 1)) images (seeded subset),
    /// n_max being the smallest class count available, so counts decay geometrically from n_max to
    /// n_max / <paramref name="imbalanceRatio"/> (Cao et al. 2019). Labels Int64.
    /// </summary>
    /// <param name="digits">The images to draw from.</param>
    /// <param name="imbalanceRatio">Largest over smallest class count, finite and >= 1.</param>
    /// <param name="seed">Seeds the subsets.</param>
    /// <param name="flatten">Features [N, rows*cols] instead of [N, 1, rows, cols].</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="exclude">Images (indices into <paramref name="digits"/>) not to use, e.g. a held-out
    /// balanced test set (<see cref="BalancedSample"/>); n_max is then the smallest class count among the rest.</param>
    public static TensorDataset LongTailed(Digits digits, double imbalanceRatio, long seed, bool flatten = false, Device? device = null, IReadOnlySet<int>? exclude = null)
    {
        if (!(imbalanceRatio >= 1) || !double.IsFinite(imbalanceRatio))
            throw new ArgumentException($"imbalanceRatio must be finite and >= 1, got {Format.Number(imbalanceRatio)}", nameof(imbalanceRatio));
        var classes = digits.NumClasses;
        bool Available(int i) => exclude is null || !exclude.Contains(i);
        var nMax = Enumerable.Range(0, classes).Min(k => Enumerable.Range(0, digits.Count).Count(i => digits.Labels[i] == k && Available(i)));
        if (nMax < 1)
            throw new ArgumentException($"exclude leaves a class without images; a long-tailed split needs at least one image of every class", nameof(exclude));
        var rng = new Random(unchecked((int)seed));
        var keep = new List<int>();
        for (var k = 0; k < classes; k++)
        {
            var members = Enumerable.Range(0, digits.Count).Where(i => digits.Labels[i] == k && Available(i)).ToArray();
            rng.Shuffle(members);
            var n = Math.Max(1, (int)Math.Floor(nMax * Math.Pow(imbalanceRatio, -k / (double)(classes - 1))));
            keep.AddRange(members.Take(n));
        }
        keep.Sort();
        var labels = keep.Select(i => (long)digits.Labels[i]).ToArray();
        return Build($"mnist-long-tailed-{imbalanceRatio:0.##}", digits, keep.ToArray(), tensor(labels), classes, flatten, device);
    }

    /// <summary>
    /// A class-balanced sample: <paramref name="perClass"/> images of every class (seeded), e.g. the balanced
    /// test set on which a long-tailed training split is also scored (Cui et al. 2019). Returns the dataset
    /// (Int64 labels) and the indices it used, to exclude them from training.
    /// </summary>
    public static (TensorDataset Data, IReadOnlySet<int> Used) BalancedSample(Digits digits, int perClass, long seed, bool flatten = false, Device? device = null)
    {
        var counts = digits.ClassCounts();
        if (perClass < 1 || perClass > counts.Min())
            throw new ArgumentException($"perClass must be in [1, {counts.Min()}] (the smallest class count), got {perClass}", nameof(perClass));
        var rng = new Random(unchecked((int)seed) ^ 0x2545F491);
        var keep = new List<int>();
        for (var k = 0; k < digits.NumClasses; k++)
        {
            var members = Enumerable.Range(0, digits.Count).Where(i => digits.Labels[i] == k).ToArray();
            rng.Shuffle(members);
            keep.AddRange(members.Take(perClass));
        }
        keep.Sort();
        var labels = keep.Select(i => (long)digits.Labels[i]).ToArray();
        var data = Build($"mnist-balanced-{perClass}", digits, keep.ToArray(), tensor(labels), digits.NumClasses, flatten, device);
        return (data, keep.ToHashSet());
    }

    /// <summary>
    /// A multi-label task, "mnist-pairs": each image is 2 to <paramref name="maxDigits"/> digits (the number
    /// drawn uniformly) placed side by side in three slots of rows x cols (28 x 84 for MNIST); two digits leave
    /// one slot blank (zeros), its position drawn uniformly, the digits keeping their drawn order in the other
    /// two. The digits of one image are distinct source images drawn uniformly from
    /// <paramref name="sources"/> (default: every image), so classes follow the source's class frequencies.
    /// Labels: the set of digit classes present, float32 0/1 [N, C] with C = <paramref name="digits"/>'s class
    /// count (10); a class shown twice is one positive. Measured on the 10k MNIST digits (count 20,000,
    /// seed 0): 76.98 % of the label slots are negative with maxDigits = 3 (77.04 % with seed 1; expected
    /// 76.96 % from the class frequencies, 2.30 distinct classes per image) and 81.01 % with maxDigits = 2
    /// (expected 81.00 %, 1.90 classes per image).
    /// Train and test images must not share source digits: draw them from the two disjoint halves that
    /// <see cref="DisjointSources"/> returns.
    /// </summary>
    /// <param name="digits">The source images.</param>
    /// <param name="count">Images to compose, >= 1.</param>
    /// <param name="seed">Seeds the digit counts, the source images and the blank slots.</param>
    /// <param name="maxDigits">2 or 3 (default): digits per image are drawn from 2..maxDigits.</param>
    /// <param name="flatten">Features [N, rows * 3 cols] instead of [N, 1, rows, 3 cols].</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    /// <param name="sources">Indices into <paramref name="digits"/> to draw from (at least
    /// <paramref name="maxDigits"/> distinct ones); default all.</param>
    public static TensorDataset Pairs(Digits digits, int count, long seed, int maxDigits = 3, bool flatten = false, Device? device = null, IReadOnlyList<int>? sources = null)
    {
        if (count < 1) throw new ArgumentException($"count must be >= 1, got {count}", nameof(count));
        if (maxDigits is not (2 or 3)) throw new ArgumentException($"maxDigits must be 2 or 3 (three slots per image), got {maxDigits}", nameof(maxDigits));
        var pool = sources?.Distinct().ToArray() ?? Enumerable.Range(0, digits.Count).ToArray();
        var outside = pool.Where(i => i < 0 || i >= digits.Count).Take(1).ToArray();
        if (outside.Length > 0)
            throw new ArgumentException($"sources must be image indices in [0, {digits.Count - 1}], got {outside[0]}", nameof(sources));
        if (pool.Length < maxDigits)
            throw new ArgumentException($"sources must hold at least maxDigits = {maxDigits} distinct images, got {pool.Length}", nameof(sources));
        const int slots = 3;
        int rows = digits.Rows, cols = digits.Cols, width = slots * cols, classes = digits.NumClasses;
        var rng = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        var pixels = new byte[(long)count * rows * width];
        var labels = new float[(long)count * classes];
        var chosen = new int[slots];
        for (var i = 0; i < count; i++)
        {
            var n = rng.Next(2, maxDigits + 1);
            for (var j = 0; j < n; j++)
            {
                int pick;
                do pick = pool[rng.Next(pool.Length)]; while (chosen.AsSpan(0, j).Contains(pick));
                chosen[j] = pick;
            }
            var blank = n < slots ? rng.Next(slots) : -1;
            for (int slot = 0, j = 0; slot < slots; slot++)
            {
                if (slot == blank) continue;
                var source = chosen[j++];
                for (var r = 0; r < rows; r++)
                    Array.Copy(digits.Pixels, ((long)source * rows + r) * cols, pixels, ((long)i * rows + r) * width + slot * cols, cols);
                labels[(long)i * classes + digits.Labels[source]] = 1f;
            }
        }
        TorchRuntime.EnsureLoaded();
        using var raw = tensor(pixels, ScalarType.Byte);
        using var scaled = raw.to_type(ScalarType.Float32).div_(255f);
        var features = flatten ? scaled.reshape(count, rows * width) : scaled.reshape(count, 1, rows, width);
        var data = new TensorDataset(maxDigits == 3 ? "mnist-pairs" : "mnist-pairs-max2", features, tensor(labels).reshape(count, classes), classes);
        if (device is null || device.type == DeviceType.CPU) return data;
        using (data) return data.To(device);
    }

    /// <summary>
    /// Splits the images into two disjoint sets of indices, stratified by class: within each class a seeded
    /// shuffle puts round(testFraction * n_class) images in Test, the rest in Train (both sorted). Compose
    /// training images from Train and test images from Test (<see cref="Pairs"/>' <c>sources</c>) so that no
    /// source digit is seen in both.
    /// </summary>
    public static (int[] Train, int[] Test) DisjointSources(Digits digits, double testFraction, long seed)
    {
        if (!(testFraction > 0 && testFraction < 1))
            throw new ArgumentException($"testFraction must be in (0, 1), got {Format.Number(testFraction)}", nameof(testFraction));
        var rng = new Random(unchecked((int)seed ^ (int)(seed >> 32)) ^ 0x3C6EF372);
        var train = new List<int>();
        var test = new List<int>();
        for (var k = 0; k < digits.NumClasses; k++)
        {
            var members = Enumerable.Range(0, digits.Count).Where(i => digits.Labels[i] == k).ToArray();
            rng.Shuffle(members);
            var nTest = (int)Math.Round(testFraction * members.Length);
            test.AddRange(members.Take(nTest));
            train.AddRange(members.Skip(nTest));
        }
        train.Sort();
        test.Sort();
        return (train.ToArray(), test.ToArray());
    }

    /// <summary>All digits as a multi-class dataset (Int64 labels).</summary>
    public static TensorDataset All(Digits digits, bool flatten = false, Device? device = null) =>
        Build("mnist", digits, Enumerable.Range(0, digits.Count).ToArray(), tensor(digits.Labels.Select(l => (long)l).ToArray()), digits.NumClasses, flatten, device);

    private static TensorDataset Build(string name, Digits digits, int[] keep, Tensor labels, int classes, bool flatten, Device? device)
    {
        TorchRuntime.EnsureLoaded();
        var size = digits.Rows * digits.Cols;
        var pixels = new byte[keep.Length * size];
        for (var j = 0; j < keep.Length; j++)
            Array.Copy(digits.Pixels, (long)keep[j] * size, pixels, (long)j * size, size);
        using var raw = tensor(pixels, ScalarType.Byte);
        using var scaled = raw.to_type(ScalarType.Float32).div_(255f);
        var features = flatten ? scaled.reshape(keep.Length, size) : scaled.reshape(keep.Length, 1, digits.Rows, digits.Cols);
        var data = new TensorDataset(name, features, labels, classes);
        if (device is null || device.type == DeviceType.CPU) return data;
        using (data) return data.To(device);
    }
}
