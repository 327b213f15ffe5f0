using System.IO.Compression;
using FocalLoss.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static FocalLoss.Tests.TensorAssert;

namespace FocalLoss.Tests;

internal static class Repo
{
    public static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Workbench.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Workbench.sln not found above the test binary");
    }

    public static string Mnist(string file) => Path.Combine(Root, "data", "mnist-10k", file);

    public static readonly Lazy<Digits> Digits = new(() => Idx.Load(Mnist("images-idx3-ubyte.gz"), Mnist("labels-idx1-ubyte.gz")));
}

public class SyntheticDatasetTests
{
    [Fact]
    public void seed_line_follows_the_tutorials_rule_and_positive_rate()
    {
        using var data = Synthetic.SeedLine(10_000, seed: 0);
        Assert.Equal([10_000L, 1], data.Features.shape);
        Assert.Equal(ScalarType.Float32, data.Features.dtype);
        var x = data.Features.squeeze(1).to_type(ScalarType.Float64).data<double>().ToArray();
        var y = data.Labels.data<float>().ToArray();
        Assert.All(x, v => Assert.InRange(v, -10, 10));
        Assert.Equal(x.Select(v => 2 * v + 3 > 0 ? 1f : 0f), y); // float32 x never lands within rounding of -1.5 here
        Assert.InRange(data.PositiveRate(), 0.55, 0.60);            // 57.5 % expected
    }

    [Fact]
    public void the_same_seed_gives_the_same_data_and_another_seed_other_data()
    {
        using var a = Synthetic.SeedLine(100, 7);
        using var b = Synthetic.SeedLine(100, 7);
        using var c = Synthetic.SeedLine(100, 8);
        Assert.True(Same(a.Features, b.Features));
        Assert.False(Same(a.Features, c.Features));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.1)]
    [InlineData(0.01)]
    [InlineData(0.001)]
    public void imbalanced_variants_hit_the_requested_positive_rate(double rate)
    {
        using var gauss = Synthetic.ImbalancedGaussian(20_000, rate, seed: 3);
        Assert.Equal(Math.Max(1, Math.Round(20_000 * rate)) / 20_000, gauss.PositiveRate(), 12);
        Assert.Equal([20_000L, 2], gauss.Features.shape);
        using var line = Synthetic.ImbalancedLine(20_000, rate, seed: 3);
        Assert.InRange(line.PositiveRate(), rate * 0.7 - 0.0005, rate * 1.3 + 0.0005);
    }

    [Fact]
    public void label_noise_flips_about_the_requested_fraction()
    {
        using var clean = Synthetic.ImbalancedGaussian(20_000, 0.3, seed: 5);
        using var noisy = Synthetic.ImbalancedGaussian(20_000, 0.3, seed: 5, labelNoise: 0.1);
        Assert.True(Same(clean.Features, noisy.Features));
        var flipped = clean.Labels.ne(noisy.Labels).to_type(ScalarType.Float64).mean().item<double>();
        Assert.InRange(flipped, 0.09, 0.11);
    }

    [Fact]
    public void dense_easy_negatives_has_a_flood_of_far_negatives_and_a_hard_band()
    {
        using var data = Synthetic.DenseEasyNegatives(10_000, 0.01, seed: 1, hardFraction: 0.05);
        Assert.Equal(0.01, data.PositiveRate(), 12);
        // Easy negatives sit around (-4, -4): most samples are far on the negative side of x1 + x2 = 0.
        var far = data.Features.sum(1).lt(-4).to_type(ScalarType.Float64).mean().item<double>();
        Assert.InRange(far, 0.85, 0.95);
        // Hard negatives overlap the positives: some negatives lie beyond the positives' mean sum (3).
        var hardBeyond = data.Features.sum(1).gt(1.5).logical_and(data.Labels.eq(0)).sum().item<long>();
        Assert.True(hardBeyond > 50, $"only {hardBeyond} negatives near the positives");
    }

    [Fact]
    public void generator_arguments_are_validated_with_the_parameter_named()
    {
        Assert.Equal("positiveRate", Assert.Throws<ArgumentException>(() => Synthetic.ImbalancedGaussian(100, 1.5, 0)).ParamName);
        Assert.Equal("labelNoise", Assert.Throws<ArgumentException>(() => Synthetic.ImbalancedLine(100, 0.5, 0, labelNoise: 0.6)).ParamName);
        Assert.Equal("count", Assert.Throws<ArgumentException>(() => Synthetic.SeedLine(0, 0)).ParamName);
        Assert.Equal("hardFraction", Assert.Throws<ArgumentException>(() => Synthetic.DenseEasyNegatives(100, 0.5, 0, hardFraction: 0.6)).ParamName);
    }

    [Fact]
    public void stratified_split_keeps_class_proportions_and_is_deterministic()
    {
        using var data = Synthetic.ImbalancedGaussian(1000, 0.1, seed: 2);
        var (train, test) = Splits.Stratified(data, 0.25, seed: 9);
        var (train2, test2) = Splits.Stratified(data, 0.25, seed: 9);
        using (train) using (test) using (train2) using (test2)
        {
            Assert.Equal(750, train.Count);
            Assert.Equal(250, test.Count);
            Assert.Equal(25, test.Labels.sum().item<float>());
            Assert.True(Same(test.Features, test2.Features));
        }
    }
}

public class DigitTests
{
    [Fact]
    public void reads_the_10k_real_digits_with_the_documented_class_counts()
    {
        var digits = Repo.Digits.Value;
        Assert.Equal(10_000, digits.Count);
        Assert.Equal((28, 28), (digits.Rows, digits.Cols));
        Assert.Equal([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978], digits.ClassCounts());
    }

    [Fact]
    public void reads_uncompressed_idx_files_unchanged_like_the_original_mnist_distribution()
    {
        var dir = Directory.CreateTempSubdirectory("idx");
        try
        {
            foreach (var name in new[] { "images-idx3-ubyte", "labels-idx1-ubyte" })
            {
                using var gz = new GZipStream(File.OpenRead(Repo.Mnist(name + ".gz")), CompressionMode.Decompress);
                using var raw = File.Create(Path.Combine(dir.FullName, name));
                gz.CopyTo(raw);
            }
            var plain = Idx.Load(Path.Combine(dir.FullName, "images-idx3-ubyte"), Path.Combine(dir.FullName, "labels-idx1-ubyte"));
            Assert.Equal(Repo.Digits.Value.Pixels, plain.Pixels);
            Assert.Equal(Repo.Digits.Value.Labels, plain.Labels);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void a_wrong_magic_or_a_truncated_file_is_an_error_naming_the_file()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, [0, 0, 8, 1, 0, 0, 0, 2, 5]); // a label file given as images
            var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("expected IDX magic 0x00000803", e.Message);
            var t = Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(path));
            Assert.Contains("announces 2 labels", t.Message);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(3, 0.1)]
    [InlineData(0, 0.01)]
    [InlineData(7, 0.5)]
    public void one_digit_vs_rest_hits_the_positive_rate(int digit, double rate)
    {
        using var data = DigitTasks.OneVsRest(Repo.Digits.Value, digit, rate, seed: 1);
        Assert.InRange(data.PositiveRate(), rate * 0.98, rate * 1.02);
        Assert.Equal([data.Count, 1L, 28, 28], data.Features.shape);
        Assert.InRange(data.Features.max().item<float>(), 0.99f, 1f);
    }

    [Fact]
    public void long_tailed_split_decays_geometrically_to_the_imbalance_ratio()
    {
        using var data = DigitTasks.LongTailed(Repo.Digits.Value, 100, seed: 1, flatten: true);
        var counts = data.ClassCounts();
        Assert.Equal(863, counts[0]);
        Assert.Equal(8, counts[9]);                     // floor(863 / 100)
        for (var k = 1; k < 10; k++) Assert.True(counts[k] < counts[k - 1], $"class {k}: {counts[k]} >= {counts[k - 1]}");
        Assert.Equal(ScalarType.Int64, data.Labels.dtype);
        Assert.Equal(784, data.FeatureCount);
    }
}

public class CsvTests
{
    private static string Write(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), $"wb-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, text);
        return path;
    }

    private static InvalidDataException Bad(string text, string label = "y")
    {
        var path = Write(text);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => CsvTable.Load(path, label));
            Assert.Contains(path, e.Message);
            return e;
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void loads_numeric_features_and_a_named_label_column()
    {
        var path = Write("a,y,\"b\"\n1.5,0,2\n-3,1,4e-1\n\n0,1,7\n");
        try
        {
            var table = CsvTable.Load(path, "y");
            Assert.Equal(["a", "b"], table.FeatureNames);
            Assert.Equal([0L, 1, 1], table.Labels);
            Assert.Equal([-3, 0.4], table.Rows[1]);
            using var data = table.ToDataset();
            Assert.Equal(LossTask.Binary, data.Task);
            Assert.Equal([3L, 2], data.Features.shape);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void class_ids_make_a_multi_class_dataset()
    {
        var path = Write("x,label\n0.1,0\n0.2,2\n0.3,1\n");
        try
        {
            using var data = CsvTable.Load(path, "label").ToDataset();
            Assert.Equal(LossTask.MultiClass, data.Task);
            Assert.Equal(3, data.NumClasses);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void missing_label_column_is_named_with_the_header() =>
        Assert.Contains("line 1: no label column 'y'; the header has 'a', 'b'", Bad("a,b\n1,2\n").Message);

    [Fact]
    public void non_numeric_cell_names_line_and_column() =>
        Assert.Contains("line 3, column 2 ('b'): expected a finite number, got 'abc'", Bad("a,b,y\n1,2,0\n3,abc,1\n").Message);

    [Fact]
    public void ragged_row_names_the_line() =>
        Assert.Contains("line 2: expected 3 fields as in the header, got 2", Bad("a,b,y\n1,2\n").Message);

    [Fact]
    public void empty_file_is_rejected() =>
        Assert.Contains("the file is empty", Bad("\n\n").Message);

    [Fact]
    public void one_class_only_is_rejected() =>
        Assert.Contains("every row has label 1", Bad("a,y\n1,1\n2,1\n").Message);

    [Fact]
    public void a_fractional_label_is_rejected() =>
        Assert.Contains("line 2, column 2 ('y'): a label must be 0/1 or a class id", Bad("a,y\n1,0.5\n2,1\n").Message);

    [Fact]
    public void a_repeated_column_name_is_rejected_instead_of_read_as_a_feature() =>
        Assert.Contains("line 1: column names must be unique, got 'label' more than once in the header", Bad("x1,label,label\n1,0,0\n2,1,1\n", "label").Message);

    [Fact]
    public void a_value_beyond_float32_range_is_rejected_not_turned_into_infinity() =>
        Assert.Contains("line 3, column 1 ('a'): expected a number within float32 range", Bad("a,y\n1,0\n1e39,1\n2,1\n").Message);

    [Fact]
    public void an_unnamed_column_is_rejected() =>
        Assert.Contains("line 1, column 2: every column needs a name", Bad("a,,y\n1,2,0\n3,4,1\n").Message);

    [Theory]
    [InlineData("1", "2", "got 2 distinct values {1, 2}; relabel them as 0..1")]
    [InlineData("0", "2", "got 2 distinct values {0, 2}; relabel them as 0..1")]
    [InlineData("0", "3000000000", "a label must be 0/1 or a class id")]
    public void labels_must_be_the_class_ids_0_to_c_minus_1_with_every_class_present(string first, string second, string message) =>
        Assert.Contains(message, Bad($"a,y\n1,{first}\n2,{second}\n3,{first}\n").Message);

    [Fact]
    public void standardisation_is_fitted_on_the_training_split_only()
    {
        using var data = Synthetic.ImbalancedGaussian(2000, 0.3, seed: 4, features: 3);
        var (train, test) = Splits.Stratified(data, 0.5, seed: 1);
        using (train) using (test)
        {
            var scaler = Standardizer.Fit(train);
            using var trainScaled = scaler.Transform(train);
            using var testScaled = scaler.Transform(test);
            var trainMean = trainScaled.Features.to_type(ScalarType.Float64).mean([0]).data<double>().ToArray();
            Assert.All(trainMean, m => Assert.True(Math.Abs(m) < 1e-6, $"train mean {m}"));
            var testMean = testScaled.Features.to_type(ScalarType.Float64).mean([0]).data<double>().ToArray();
            Assert.Contains(testMean, m => Math.Abs(m) > 1e-4); // the test split is transformed, not refitted
            Assert.Equal(3, scaler.Mean.Length);
        }
    }
}
