using FocalLoss.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static FocalLoss.Tests.TensorAssert;

namespace FocalLoss.Tests;

/// <summary>Multi-label datasets: float 0/1 labels [N, C], their counts, guards and splits.</summary>
public class MultiLabelDatasetTests
{
    private static TensorDataset Small() =>
        new("small", arange(8, dtype: ScalarType.Float32).reshape(4, 2),
            tensor(new float[] { 1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0 }).reshape(4, 3), 3);

    [Fact]
    public void float_n_by_c_labels_make_a_multi_label_dataset_counting_positives_per_label()
    {
        using var data = Small();
        Assert.Equal(LossTask.MultiLabel, data.Task);
        Assert.Equal(3, data.NumClasses);
        Assert.Equal(4, data.Count);
        Assert.Equal([2L, 1, 3], data.ClassCounts());          // positives per label, not a bincount of 0/1 values
        Assert.Equal(6.0 / 12, data.PositiveRate(), 15);        // positive slots over N x C
        Assert.Equal("small: 4 samples, 2 features, 3 labels, positive rate 0.5 of 4 x 3 slots, positives per label [2, 1, 3]", data.ToString());
        using var idx = tensor(new long[] { 2, 0 });
        using var subset = data.Subset(idx);
        Assert.Equal(LossTask.MultiLabel, subset.Task);
        Assert.Equal([1f, 1, 1, 1, 0, 1], subset.Labels.data<float>().ToArray());
        using var copy = data.To(CPU);
        Assert.Equal(LossTask.MultiLabel, copy.Task);
        Assert.True(Same(copy.Labels, data.Labels));
    }

    [Fact]
    public void binary_and_multi_class_labels_keep_their_tasks()
    {
        using var binary = new TensorDataset("b", zeros(3, 2), tensor(new float[] { 0, 1, 1 }), 2);
        using var multi = new TensorDataset("m", zeros(3, 2), tensor(new long[] { 0, 2, 1 }), 3);
        using var twoClasses = new TensorDataset("m2", zeros(3, 2), tensor(new long[] { 0, 1, 1 }), 2);
        Assert.Equal(LossTask.Binary, binary.Task);
        Assert.Equal(LossTask.MultiClass, multi.Task);
        Assert.Equal(LossTask.MultiClass, twoClasses.Task);
        Assert.Equal([1L, 2], binary.ClassCounts());
        Assert.Equal([1L, 1, 1], multi.ClassCounts());
    }

    private static ArgumentException Rejected(Func<Tensor> labels, int numClasses, long rows = 2) =>
        Assert.Throws<ArgumentException>(() => new TensorDataset("bad", zeros(rows, 2), labels(), numClasses));

    [Fact]
    public void integer_multi_label_labels_are_rejected_naming_the_dtype()
    {
        var e = Rejected(() => tensor(new long[] { 1, 0, 0, 1 }).reshape(2, 2), 2);
        Assert.Equal("labels", e.ParamName);
        Assert.Contains("multi-label labels (shape [2, 2]) must be floating-point 0/1, got Int64", e.Message);
    }

    [Fact]
    public void a_single_label_column_is_rejected_in_favour_of_binary_labels()
    {
        var e = Rejected(() => ones(2, 1), 1);
        Assert.Equal("labels", e.ParamName);
        Assert.Contains("[N, C] with C >= 2, got shape [2, 1]; give a single label as binary labels of shape [N]", e.Message);
    }

    [Fact]
    public void num_classes_must_equal_the_label_columns()
    {
        var e = Rejected(() => zeros(2, 3), 4);
        Assert.Equal("numClasses", e.ParamName);
        Assert.Contains("numClasses must equal the label columns C = 3 of multi-label labels [2, 3], got 4", e.Message);
    }

    [Fact]
    public void a_label_that_is_not_0_or_1_is_rejected_with_its_position()
    {
        var e = Rejected(() => tensor(new float[] { 1, 0, 0, 0, 0, 0.5f }).reshape(2, 3), 3);
        Assert.Equal("labels", e.ParamName);
        Assert.Contains("multi-label labels must all be 0 or 1, got 0.5 at row 1, label 2", e.Message);
        Assert.Contains("got NaN at row 0, label 1", Rejected(() => tensor(new float[] { 0, float.NaN, 1, 0 }).reshape(2, 2), 2).Message);
    }

    [Fact]
    public void label_rows_must_match_feature_rows_and_labels_be_1_or_2_d()
    {
        var e = Rejected(() => zeros(3, 2), 2);
        Assert.Equal("labels", e.ParamName);
        Assert.Contains("labels must be [N] (binary, multi-class) or [N, C] (multi-label) with N = the feature rows: features shape [2, 2], labels shape [3, 2]", e.Message);
        Assert.Contains("labels shape [2, 2, 2]", Rejected(() => zeros(2, 2, 2), 2).Message);
    }

    [Fact]
    public void stratified_split_of_multi_label_data_keeps_every_labels_positive_rate()
    {
        using var data = Synthetic.MultiLabel(4000, 6, 0.2, seed: 3, features: 8);
        var (train, test) = Splits.Stratified(data, 0.25, seed: 9);
        var (train2, test2) = Splits.Stratified(data, 0.25, seed: 9);
        var (train3, test3) = Splits.Stratified(data, 0.25, seed: 10);
        using (train) using (test) using (train2) using (test2) using (train3) using (test3)
        {
            Assert.Equal(4000, train.Count + test.Count);
            Assert.InRange(test.Count, 990, 1010);
            Assert.Equal(LossTask.MultiLabel, test.Task);
            // Rows travel with their labels: positives per label add up.
            Assert.Equal(data.ClassCounts(), train.ClassCounts().Zip(test.ClassCounts(), (a, b) => a + b));
            var all = data.ClassCounts();
            var held = test.ClassCounts();
            for (var k = 0; k < 6; k++)
            {
                var rate = (double)all[k] / data.Count;
                var testRate = (double)held[k] / test.Count;
                Assert.True(Math.Abs(testRate - rate) < 0.01, $"label {k}: test positive rate {testRate:0.####}, whole set {rate:0.####}");
            }
            Assert.True(Same(test.Features, test2.Features), "the same seed gave another split");
            Assert.False(test.Count == test3.Count && Same(test.Features, test3.Features), "another seed gave the same split");
        }
    }

    [Fact]
    public void label_sets_too_rare_for_the_test_split_are_pooled_not_all_kept_in_train()
    {
        // 200 rows, each its own label set (the 8 bits of its index): no set could send a sample to test alone.
        var bits = Enumerable.Range(0, 200).SelectMany(i => Enumerable.Range(0, 8).Select(b => (float)((i >> b) & 1))).ToArray();
        using var data = new TensorDataset("unique-sets", arange(200, dtype: ScalarType.Float32).unsqueeze(1), tensor(bits).reshape(200, 8), 8);
        var (train, test) = Splits.Stratified(data, 0.25, seed: 1);
        using (train) using (test)
        {
            Assert.Equal(50, test.Count);
            Assert.Equal(150, train.Count);
            var ids = train.Features.data<float>().Concat(test.Features.data<float>()).Order();
            Assert.Equal(Enumerable.Range(0, 200).Select(i => (float)i), ids);
        }
    }
}
