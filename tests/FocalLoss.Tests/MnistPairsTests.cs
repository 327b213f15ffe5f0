using FocalLoss.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FocalLoss.Tests;

/// <summary>mnist-pairs: composed digit images, label sets, the negative fraction and disjoint sources.</summary>
public class MnistPairsTests
{
    /// <summary>Each source image's pixels, keyed by content, to recognise the digits in a composed slot.</summary>
    private static readonly Lazy<Dictionary<string, int>> SourceByPixels = new(() =>
    {
        var d = Repo.Digits.Value;
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < d.Count; i++)
            index[Convert.ToBase64String(d.Pixels, i * 784, 784)] = i;
        return index;
    });

    /// <summary>
    /// The source image in each of an image's three slots (-1 for a blank slot), read back from the
    /// features (x 255 and rounded to the original bytes).
    /// </summary>
    private static int[][] Slots(TensorDataset data)
    {
        var n = (int)data.Count;
        var bytes = data.Features.mul(255).round().to_type(ScalarType.Byte).reshape(n, 28, 84).data<byte>().ToArray();
        var result = new int[n][];
        var slot = new byte[784];
        for (var i = 0; i < n; i++)
        {
            result[i] = new int[3];
            for (var s = 0; s < 3; s++)
            {
                for (var r = 0; r < 28; r++) Array.Copy(bytes, (i * 28 + r) * 84 + s * 28, slot, r * 28, 28);
                result[i][s] = slot.All(b => b == 0) ? -1
                    : SourceByPixels.Value.TryGetValue(Convert.ToBase64String(slot), out var source) ? source
                    : throw new Xunit.Sdk.XunitException($"image {i}, slot {s} is neither blank nor a source digit");
            }
        }
        return result;
    }

    [Fact]
    public void the_10k_source_digits_are_pairwise_distinct_images()
    {
        Assert.Equal(Repo.Digits.Value.Count, SourceByPixels.Value.Count); // so the slots can be traced to one source
    }

    [Fact]
    public void each_image_shows_two_or_three_distinct_digits_and_its_labels_are_the_set_of_their_classes()
    {
        var digits = Repo.Digits.Value;
        using var data = DigitTasks.Pairs(digits, 3000, seed: 4);
        Assert.Equal("mnist-pairs", data.Name);
        Assert.Equal(LossTask.MultiLabel, data.Task);
        Assert.Equal(10, data.NumClasses);
        Assert.Equal([3000L, 1, 28, 84], data.Features.shape);
        Assert.Equal([3000L, 10], data.Labels.shape);
        var labels = data.Labels.data<float>().ToArray();
        var slots = Slots(data);
        var digitCounts = new int[4];
        var blankAt = new int[3];
        var repeatedClass = 0;
        for (var i = 0; i < slots.Length; i++)
        {
            var shown = slots[i].Where(s => s >= 0).ToArray();
            digitCounts[shown.Length]++;
            if (shown.Length == 2) blankAt[Array.IndexOf(slots[i], -1)]++;
            Assert.Equal(shown.Length, shown.Distinct().Count());
            var classes = shown.Select(s => (int)digits.Labels[s]).ToHashSet();
            if (classes.Count < shown.Length) repeatedClass++;
            var expected = Enumerable.Range(0, 10).Select(k => classes.Contains(k) ? 1f : 0f);
            Assert.Equal(expected, labels.Skip(i * 10).Take(10));
        }
        Assert.Equal(0, digitCounts[0] + digitCounts[1]);
        Assert.InRange(digitCounts[2], 1350, 1650);                  // half of the images, give or take 5 sd
        Assert.All(blankAt, c => Assert.InRange(c, 350, 650));       // the blank slot anywhere, a third each
        Assert.True(repeatedClass > 100, $"only {repeatedClass} images show a class twice");
    }

    [Fact]
    public void about_77_percent_of_label_slots_are_negative_as_documented()
    {
        using var three = DigitTasks.Pairs(Repo.Digits.Value, 20_000, seed: 0, flatten: true);
        Assert.Equal([20_000L, 28 * 84], three.Features.shape);
        Assert.Equal(46_045, three.ClassCounts().Sum());             // positives of 200,000 slots: 76.98 % negative, as documented
        Assert.InRange(1 - three.PositiveRate(), 0.75, 0.80);
        using var two = DigitTasks.Pairs(Repo.Digits.Value, 20_000, seed: 0, maxDigits: 2);
        Assert.Equal("mnist-pairs-max2", two.Name);
        Assert.Equal(37_975, two.ClassCounts().Sum());               // 81.01 % negative, as documented
        Assert.All(Slots(two), s => Assert.Equal(1, s.Count(v => v < 0)));
    }

    [Fact]
    public void one_image_never_shows_the_same_source_digit_twice()
    {
        // Three sources: every three-digit image must show all three, every two-digit image two different ones.
        using var data = DigitTasks.Pairs(Repo.Digits.Value, 300, seed: 5, sources: [10, 20, 30]);
        Assert.All(Slots(data), s => Assert.Equal(s.Count(v => v >= 0), s.Where(v => v >= 0).Distinct().Count()));
    }

    [Fact]
    public void the_same_seed_gives_the_same_images()
    {
        using var a = DigitTasks.Pairs(Repo.Digits.Value, 200, seed: 3);
        using var b = DigitTasks.Pairs(Repo.Digits.Value, 200, seed: 3);
        using var c = DigitTasks.Pairs(Repo.Digits.Value, 200, seed: 4);
        Assert.True(TensorAssert.Same(a.Features, b.Features) && TensorAssert.Same(a.Labels, b.Labels));
        Assert.False(TensorAssert.Same(a.Features, c.Features));
    }

    [Fact]
    public void train_and_test_images_drawn_from_disjoint_sources_share_no_source_digit()
    {
        var digits = Repo.Digits.Value;
        var (trainSources, testSources) = DigitTasks.DisjointSources(digits, 0.3, seed: 1);
        Assert.Empty(trainSources.Intersect(testSources));
        Assert.Equal(Enumerable.Range(0, digits.Count), trainSources.Concat(testSources).Order());
        var counts = digits.ClassCounts();
        for (var k = 0; k < 10; k++)
            Assert.Equal((int)Math.Round(0.3 * counts[k]), testSources.Count(i => digits.Labels[i] == k));
        using var train = DigitTasks.Pairs(digits, 4000, seed: 1, sources: trainSources);
        using var test = DigitTasks.Pairs(digits, 2000, seed: 2, sources: testSources);
        var usedInTrain = Slots(train).SelectMany(s => s).Where(s => s >= 0).ToHashSet();
        var usedInTest = Slots(test).SelectMany(s => s).Where(s => s >= 0).ToHashSet();
        Assert.Subset(trainSources.ToHashSet(), usedInTrain);
        Assert.Subset(testSources.ToHashSet(), usedInTest);
        Assert.Empty(usedInTrain.Intersect(usedInTest));
        Assert.True(usedInTrain.Count > 5000, $"the training images use only {usedInTrain.Count} source digits");
    }

    [Fact]
    public void arguments_are_validated_with_the_parameter_named()
    {
        var digits = Repo.Digits.Value;
        ArgumentException Error(Action a) => Assert.Throws<ArgumentException>(a);
        Assert.Equal("count", Error(() => DigitTasks.Pairs(digits, 0, 0)).ParamName);
        Assert.Contains("maxDigits must be 2 or 3 (three slots per image), got 4", Error(() => DigitTasks.Pairs(digits, 10, 0, maxDigits: 4)).Message);
        var outside = Error(() => DigitTasks.Pairs(digits, 10, 0, sources: [0, 1, 10_000]));
        Assert.Equal("sources", outside.ParamName);
        Assert.Contains("sources must be image indices in [0, 9999], got 10000", outside.Message);
        Assert.Contains("at least maxDigits = 3 distinct images, got 2", Error(() => DigitTasks.Pairs(digits, 10, 0, sources: [5, 6, 5])).Message);
        Assert.Equal("testFraction", Error(() => DigitTasks.DisjointSources(digits, 1, 0)).ParamName);
    }
}
