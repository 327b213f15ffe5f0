using FocalLoss.Data;
using FocalLoss.Metrics;
using FocalLoss.Models;
using FocalLoss.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static FocalLoss.Tests.TensorAssert;

namespace FocalLoss.Tests;

/// <summary>Multi-label training: [N, C] logits, float [N, C] targets, per-label sigmoid and multi-label metrics.</summary>
public class MultiLabelTrainerTests
{
    private static readonly TrainerConfig Config = new()
    {
        Device = "cpu", Progress = false, Epochs = 8, BatchSize = 64, Optimizer = OptimizerKind.Adam, LearningRate = 0.01, Seed = 7,
    };

    /// <summary>
    /// Sigmoid binary cross-entropy per label slot as a multi-label loss: the smallest adapter that lets the
    /// trainer run a multi-label task (the workbench's own multi-label losses are added elsewhere).
    /// </summary>
    private sealed class MultiLabelBce : ILossFunction
    {
        public string Name => "multi_label_bce";
        public LossInput Input => LossInput.Logits;
        public LossTask Task => LossTask.MultiLabel;
        public IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>();
        public Tensor Compute(Tensor inputs, Tensor targets, nn.Reduction reduction) =>
            Functional.binary_cross_entropy_with_logits(inputs, targets, reduction: reduction);
    }

    /// <summary>Train and test of one synthetic task (one task seed, two sample seeds): 6 labels, 20 % positive.</summary>
    private static (TensorDataset Train, TensorDataset Test) Task() =>
        (Synthetic.MultiLabel(3000, 6, 0.2, seed: 1, features: 12, noise: 0.3, taskSeed: 5),
         Synthetic.MultiLabel(2000, 6, 0.2, seed: 2, features: 12, noise: 0.3, taskSeed: 5));

    [Fact]
    public void an_mlp_learns_the_synthetic_multi_label_task_to_a_map_far_above_chance_deterministically()
    {
        var (train, test) = Task();
        using (train) using (test)
        {
            var loss = new MultiLabelBce();
            var (m1, r1) = Trainer.Run(() => new Mlp(12, 6, 32), loss, train, test, Config);
            var (m2, r2) = Trainer.Run(() => new Mlp(12, 6, 32), loss, train, test, Config);
            using (m1) using (m2)
            {
                Assert.False(r1.Diverged);
                // Chance: a constant or random score gives each label's AP about its positive rate, 0.2.
                var map = r1.FinalMetrics["mean_average_precision"];
                Assert.True(map > 0.85, $"mAP {map:0.####} after {Config.Epochs} epochs (chance about 0.2)");
                Assert.True(r1.Epochs[^1].Metrics["mean_average_precision"] > r1.Epochs[0].Metrics["mean_average_precision"] - 0.02, "mAP fell during training");
                Assert.Equal(["mean_average_precision", "micro_f1", "macro_f1", "slot_ece15", "slot_brier", "slot_log_loss", "ap_label_0", "ap_label_1", "ap_label_2", "ap_label_3", "ap_label_4", "ap_label_5"], r1.FinalMetrics.Keys);
                Assert.InRange(r1.FinalMetrics["micro_f1"], 0.5, 1.0);
                foreach (var (p1, p2) in m1.parameters().Zip(m2.parameters()))
                    Assert.True(Same(p1, p2), "parameters differ between identical runs");
                Assert.Equal(r1.FinalMetrics, r2.FinalMetrics);
                Assert.Equal(r1.Epochs.Select(e => e.TrainLoss), r2.Epochs.Select(e => e.TrainLoss));
            }
        }
    }

    [Fact]
    public void probabilities_are_a_sigmoid_per_label_and_evaluate_scores_them_as_multi_label()
    {
        var (train, test) = Task();
        using (train) using (test)
        {
            var (model, _) = Trainer.Run(() => new Mlp(12, 6, 16), new MultiLabelBce(), train, null, Config with { Epochs = 1 });
            using (model)
            {
                using var logits = Trainer.PredictLogits(model, test);
                using var probs = Trainer.PredictProbabilities(model, test);
                Assert.Equal([2000L, 6], probs.shape);
                using var sigmoid = logits.sigmoid();
                Assert.True(Same(sigmoid, probs), "multi-label probabilities must be sigmoid(logit) per label, not a softmax over labels");
                var expected = MultiLabelMetrics.Evaluate(Eval.ToArray(probs), test.Labels.to_type(ScalarType.Int32).data<int>().ToArray(), 6, 0.3).Values();
                Assert.Equal(expected.ToDictionary(kv => kv.Key, kv => kv.Value), Trainer.Evaluate(model, test, threshold: 0.3));
            }
        }
    }

    [Fact]
    public void a_loss_or_a_model_that_does_not_fit_the_multi_label_task_is_rejected()
    {
        var (train, test) = Task();
        using (train) using (test)
        {
            using var softmaxLoss = Losses.SoftmaxCrossEntropyLoss();
            using var model = new Mlp(12, 6, 8);
            Assert.Contains("is for MultiClass tasks but dataset multi-label-6x12d-20pct is MultiLabel",
                Assert.Throws<ArgumentException>(() => Trainer.Fit(model, softmaxLoss, train, null, Config)).Message);
            using var oneOutput = new Mlp(12, 1, 8);
            var e = Assert.Throws<ArgumentException>(() => Trainer.Evaluate(oneOutput, test));
            Assert.Equal("model", e.ParamName);
            Assert.Contains("model output shape [2000] must equal the labels' shape [2000, 6] of multi-label dataset multi-label-6x12d-20pct", e.Message);
        }
    }

    [Fact]
    public void element_wise_sigmoid_losses_train_multi_label_data_as_torchvision_s_sigmoid_focal_loss_does()
    {
        // torchvision.ops.sigmoid_focal_loss and BCE-with-logits take targets of any shape: the binary losses of
        // the family are the multi-label losses, one sigmoid per label slot.
        Assert.True(Trainer.Fits(LossTask.Binary, LossTask.MultiLabel));
        Assert.True(Trainer.Fits(LossTask.MultiLabel, LossTask.Binary));
        Assert.False(Trainer.Fits(LossTask.MultiClass, LossTask.MultiLabel));
        Assert.False(Trainer.Fits(LossTask.Binary, LossTask.MultiClass));
        var (train, test) = Task();
        using (train) using (test)
        {
            using var focal = Losses.SigmoidFocalLoss();
            var (model, result) = Trainer.Run(() => new Mlp(12, 6, 8), focal, train, test, Config);
            using (model)
            {
                Assert.False(result.Diverged);
                // Chance mAP is the positive rate, about 0.2.
                Assert.True(result.FinalMetrics["mean_average_precision"] > 0.5, $"mAP {result.FinalMetrics["mean_average_precision"]}");
            }
        }
    }
}
