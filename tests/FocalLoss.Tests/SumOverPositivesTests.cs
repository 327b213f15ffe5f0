using FocalLoss.Data;
using FocalLoss.Models;
using FocalLoss.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss.Tests;

/// <summary>Normalisation by the number of positives (RetinaNet's convention): the helper and the trainer's batch reduction.</summary>
public class SumOverPositivesTests
{
    private static readonly TrainerConfig OneFullBatchStep = new()
    {
        Device = "cpu", Progress = false, Epochs = 1, Shuffle = false, EvaluateEveryEpoch = false, Optimizer = OptimizerKind.Sgd, LearningRate = 0.1,
    };

    [Fact]
    public void the_sum_is_divided_by_the_number_of_positives()
    {
        using var scope = NewDisposeScope();
        var loss = tensor(new[] { 0.5, 1.5, 2.0, 4.0, 0.25 });
        var targets = tensor(new[] { 1.0, 0.0, 1.0, 1.0, 0.0 });
        Assert.Equal(8.25 / 3, Functional.sum_over_positives(loss, targets).item<double>(), 15);
    }

    [Fact]
    public void a_batch_of_only_negatives_is_divided_by_one_giving_the_plain_sum()
    {
        using var scope = NewDisposeScope();
        var loss = tensor(new[] { 0.5, 1.5, 2.0 });
        Assert.Equal(4.0, Functional.sum_over_positives(loss, zeros(3, ScalarType.Float64)).item<double>());
    }

    [Fact]
    public void soft_targets_count_as_positive_above_one_half_so_label_smoothed_ones_still_count()
    {
        using var scope = NewDisposeScope();
        var loss = ones(6, ScalarType.Float64);
        var targets = tensor(new[] { 0.95, 0.05, 0.5, 0.51, 0.49, 1.0 });
        Assert.Equal(6.0 / 3, Functional.sum_over_positives(loss, targets).item<double>(), 15);
    }

    [Fact]
    public void multi_label_targets_count_every_positive_label_of_every_sample()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 2.0, -1.0, 0.5, 3.0, -0.2, 1.5 }).reshape(2, 3).requires_grad_(true);
        var y = tensor(new[] { 1.0, 0.0, 1.0, 0.0, 0.0, 1.0 }).reshape(2, 3);
        var perElement = Functional.asymmetric_loss(x, y, reduction: Reduction.None);
        var value = Functional.sum_over_positives(perElement, y);
        Assert.Equal(perElement.sum().item<double>() / 3, value.item<double>(), 15);
        value.backward();
        var expected = x.detach().clone().requires_grad_(true);
        (Functional.asymmetric_loss(expected, y, reduction: Reduction.Sum) / 3).backward();
        Assert.Equal(Eval.ToArray(expected.grad!), Eval.ToArray(x.grad!), (a, b) => Tol.Close(a, b, Tol.IdentityRel64, Tol.IdentityAbs64));
    }

    [Fact]
    public void class_index_targets_are_refused_with_a_clear_error()
    {
        var e = Assert.Throws<ArgumentException>(() => Functional.sum_over_positives(ones(3), tensor(new long[] { 0, 2, 1 })));
        Assert.Equal("targets", e.ParamName);
        Assert.Contains("class-index targets have no positives to count", e.Message);
    }

    [Fact]
    public void targets_must_have_the_shape_of_the_per_element_loss()
    {
        var e = Assert.Throws<ArgumentException>(() => Functional.sum_over_positives(ones(4), ones(2, 2)));
        Assert.Equal("targets", e.ParamName);
        Assert.Contains("targets shape [2, 2] must equal perElementLoss shape [4]", e.Message);
    }

    [Fact]
    public void targets_must_lie_in_the_unit_interval()
    {
        var e = Assert.Throws<ArgumentException>(() => Functional.sum_over_positives(ones(3), tensor(new[] { 0f, 2f, 1f })));
        Assert.Equal("targets", e.ParamName);
        Assert.Contains("targets must lie in [0, 1], got values in [0, 2]", e.Message);
    }

    /// <summary>Weights after one full-batch SGD step from the same initial weights, and the recorded train loss.</summary>
    private static (double[] Weights, double TrainLoss) OneStep(TensorDataset data, BatchReduction reduction)
    {
        using var loss = Losses.SigmoidFocalLoss();
        var (model, result) = Trainer.Run(() => new LogisticRegression(2), loss, data, null, OneFullBatchStep with { BatchSize = (int)data.Count, Reduction = reduction, Seed = 7 });
        using (model)
            return (model.parameters().SelectMany(p => Eval.ToArray(p)).ToArray(), result.Epochs.Single().TrainLoss);
    }

    [Fact]
    public void training_on_a_batch_of_only_negatives_takes_the_sum_step()
    {
        using var features = Synthetic.ImbalancedGaussian(64, 0.3, seed: 3);
        using var negatives = new TensorDataset("negatives", features.Features.clone(), zeros(64), 2);
        var (overPositives, lossOverPositives) = OneStep(negatives, BatchReduction.SumOverPositives);
        var (sum, lossSum) = OneStep(negatives, BatchReduction.Sum);
        Assert.NotEqual(Initial(negatives), sum);   // the step moved the weights
        Assert.Equal(sum, overPositives);           // divided by max(1, 0) = 1: bit for bit the sum's step
        Assert.Equal(lossSum, lossOverPositives);
    }

    [Fact]
    public void training_with_k_positives_takes_the_sum_step_divided_by_k_and_records_the_same_mean_loss()
    {
        using var data = Synthetic.ImbalancedGaussian(64, 0.3, seed: 3);
        var positives = (int)data.Labels.sum().item<float>();
        Assert.InRange(positives, 2, 62);
        var initial = Initial(data);
        var (overPositives, lossOverPositives) = OneStep(data, BatchReduction.SumOverPositives);
        var (sum, lossSum) = OneStep(data, BatchReduction.Sum);
        for (var i = 0; i < initial.Length; i++)
        {
            var expected = (sum[i] - initial[i]) / positives;
            Assert.True(Tol.Close(overPositives[i] - initial[i], expected, 1e-4, 1e-9), $"parameter {i}: step {overPositives[i] - initial[i]:R}, expected {expected:R}");
        }
        Assert.Equal(lossSum, lossOverPositives, 6);
    }

    [Fact]
    public void training_a_multi_class_loss_with_sum_over_positives_is_refused()
    {
        using var data = new TensorDataset("ids", arange(8, dtype: ScalarType.Float32).unsqueeze(1), arange(8L) % 3, 3);
        using var loss = Losses.SoftmaxFocalLoss();
        using var model = new LogisticRegression(1, 3);
        var e = Assert.Throws<ArgumentException>(() => Trainer.Fit(model, loss, data, null, OneFullBatchStep with { Reduction = BatchReduction.SumOverPositives }));
        Assert.Equal("config", e.ParamName);
        Assert.Contains("SumOverPositives needs binary or multi-label targets", e.Message);
        Assert.Contains("softmax_focal_loss is for MultiClass tasks", e.Message);
    }

    [Fact]
    public void an_unknown_batch_reduction_is_refused_naming_the_valid_ones() =>
        Assert.Contains("Reduction must be Mean, Sum or SumOverPositives, got 9",
            Assert.Throws<ArgumentException>(() => (OneFullBatchStep with { Reduction = (BatchReduction)9 }).Validate()).Message);

    private static double[] Initial(TensorDataset data)
    {
        manual_seed(7);
        using var model = new LogisticRegression(2);
        return model.parameters().SelectMany(p => Eval.ToArray(p)).ToArray();
    }
}
