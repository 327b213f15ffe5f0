using FocalLoss.Data;
using FocalLoss.Models;
using FocalLoss.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static FocalLoss.Tests.TensorAssert;
using FocalLoss.Infrastructure;

namespace FocalLoss.Tests;

public class ModelTests
{
    [Fact]
    public void linear_net_draws_weight_and_bias_from_normal_0_0_02()
    {
        // 4,000 weights of one seeded unit: their mean and spread pin the distribution (standard error of
        // the sd about 1.1 %, of the mean about 0.0003); the bias comes from the same initialiser.
        manual_seed(11);
        using var net = new LinearNet(4000);
        var (w, b) = net.Parameters();
        var mean = w.Average();
        var sd = Math.Sqrt(w.Sum(v => (v - mean) * (v - mean)) / (w.Length - 1));
        Assert.InRange(mean, -0.0015, 0.0015);
        Assert.InRange(sd, 0.0190, 0.0210);
        Assert.InRange(b, -0.08, 0.08);
        Assert.NotEqual(0.0, b);
    }

    [Theory]
    [InlineData("linear", 3, 1)]
    [InlineData("logistic", 5, 1)]
    [InlineData("logistic", 5, 4)]
    [InlineData("mlp", 2, 1)]
    [InlineData("mlp", 784, 10)]
    public void models_return_binary_logits_n_or_multi_class_logits_n_c(string name, int inputs, int outputs)
    {
        using var model = ModelFactory.Create(name, inputs, outputs);
        using var y = model.call(randn(6, inputs));
        Assert.Equal(outputs == 1 ? [6L] : [6L, outputs], y.shape);
    }

    [Fact]
    public void the_digit_cnn_takes_28x28_images()
    {
        using var model = ModelFactory.Create("cnn", 784, 10);
        using var y = model.call(randn(3, 1, 28, 28));
        Assert.Equal([3L, 10], y.shape);
        Assert.Contains("[N, 1, 28, 28]", Assert.Throws<ArgumentException>(() => model.call(randn(3, 784))).Message);
    }

    [Fact]
    public void unknown_models_are_rejected_with_the_valid_names() =>
        Assert.Contains("linear, logistic, mlp, cnn, got 'resnet'", Assert.Throws<ArgumentException>(() => ModelFactory.Create("resnet", 1)).Message);
}

public class TrainerTests
{
    private static readonly TrainerConfig Fast = new() { Epochs = 2, BatchSize = 32, Device = "cpu", Progress = false };

    [Fact]
    public void the_same_config_and_seed_give_bit_identical_weights_and_metrics()
    {
        using var train = Synthetic.ImbalancedGaussian(2000, 0.2, seed: 1);
        using var loss = Losses.SigmoidFocalLoss();
        var config = Fast with { Seed = 42, Optimizer = OptimizerKind.Adam, LearningRate = 0.01 };
        var (m1, r1) = Trainer.Run(() => new Mlp(2, 1, 8), loss, train, null, config);
        var (m2, r2) = Trainer.Run(() => new Mlp(2, 1, 8), loss, train, null, config);
        var (m3, _) = Trainer.Run(() => new Mlp(2, 1, 8), loss, train, null, config with { Seed = 43 });
        using (m1) using (m2) using (m3)
        {
            foreach (var (p1, p2) in m1.parameters().Zip(m2.parameters()))
                Assert.True(Same(p1, p2), "parameters differ between identical runs");
            Assert.Equal(r1.FinalMetrics, r2.FinalMetrics);
            Assert.Equal(r1.Epochs.Select(e => e.TrainLoss), r2.Epochs.Select(e => e.TrainLoss));
            Assert.False(m1.parameters().Zip(m3.parameters()).All(p => Same(p.First, p.Second)), "another seed gave the same parameters");
        }
    }

    [Fact]
    public void a_diverging_run_is_recorded_with_its_step_not_thrown()
    {
        using var train = Synthetic.SeedLine(1000, seed: 0);
        using var loss = Losses.FocalLossFromProbabilities();
        var (model, result) = Trainer.Run(() => new LinearNet(1), loss, train, null, Fast with { LearningRate = 1e6, Reduction = BatchReduction.Sum });
        using (model)
        {
            Assert.True(result.Diverged);
            Assert.NotNull(result.DivergedAtStep);
            Assert.InRange(result.DivergedAtStep!.Value, 1, 63);
            Assert.Equal(result.DivergedAtStep, result.Steps);
        }
    }

    [Fact]
    public void a_diverged_run_keeps_its_last_finite_weights_and_its_metrics_describe_them()
    {
        using var train = Synthetic.SeedLine(1000, seed: 0);
        using var test = Synthetic.SeedLine(500, seed: 1);
        using var loss = Losses.FocalLossFromProbabilities();
        var (model, result) = Trainer.Run(() => new LinearNet(1), loss, train, test, Fast with { LearningRate = 1e6, Reduction = BatchReduction.Sum });
        AssertDivergedWithFiniteWeights(model, result, test);
    }

    [Fact]
    public void a_diverged_run_of_a_model_on_torchsharps_optimiser_keeps_its_last_finite_weights_too()
    {
        // 66,561 parameter elements: above FusedOptimizer.MaxElements, so TorchSharp's SGD takes the steps and only
        // the trainer's own check (before the step) keeps the weights finite.
        using var train = Synthetic.SeedLine(1000, seed: 0);
        using var test = Synthetic.SeedLine(500, seed: 1);
        using var loss = Losses.FocalLossFromProbabilities();
        var (model, result) = Trainer.Run(() => new Mlp(1, 1, 256, 256), loss, train, test, Fast with { LearningRate = 1e6, Reduction = BatchReduction.Sum });
        Assert.True(model.parameters().Sum(p => p.numel()) > FusedOptimizer.MaxElements);
        AssertDivergedWithFiniteWeights(model, result, test);
    }

    [Theory]
    [InlineData(false, 1e38, false)]
    [InlineData(true, 1e30, false)]
    [InlineData(false, 1e38, true)]
    [InlineData(true, 1e30, true)]
    public void a_step_that_would_overflow_the_weights_is_not_taken_and_nan_outputs_end_the_run_as_diverged(bool onProbabilities, double learningRate, bool onTorchSharpsOptimiser)
    {
        // The break test's cases. Finite loss and gradients, but a learning rate that sends the weights past float32's
        // range: the fused optimiser refuses the step, so the run ends diverged with the last finite weights. On
        // probabilities, weights that stay finite can still give NaN outputs, which the loss refuses as outside
        // [0, 1]: the trainer reports that as a divergence too, not as an exception.
        manual_seed(4);
        using var features = randn(203, 4) * 100;
        using var labels = (rand(203) < 0.3).to_type(ScalarType.Float32);
        using var train = new TensorDataset("wide", features, labels, 2);
        using var probabilityLoss = Losses.FocalLossFromProbabilities();
        using var logitLoss = Losses.SigmoidFocalLoss();
        ILossFunction loss = onProbabilities ? probabilityLoss : logitLoss;
        // Mlp(4, 1, 256, 256): 67,329 parameter elements, above FusedOptimizer.MaxElements (TorchSharp's SGD steps it).
        var (model, result) = Trainer.Run(() => onTorchSharpsOptimiser ? new Mlp(4, 1, 256, 256) : new Mlp(4, 1, 16), loss, train, null,
            Fast with { Epochs = 3, LearningRate = learningRate, Reduction = BatchReduction.Sum });
        AssertDivergedWithFiniteWeights(model, result, train);
    }

    /// <summary>A linear model plus a per-sample offset from a sparse embedding (index 0 for every sample): sparse gradients.</summary>
    private sealed class WithSparseEmbedding : nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.Linear linear = nn.Linear(1, 1);
        private readonly TorchSharp.Modules.Embedding offset = nn.Embedding(4, 1, sparse: true);

        public WithSparseEmbedding() : base(nameof(WithSparseEmbedding)) => RegisterComponents();

        public override Tensor forward(Tensor x)
        {
            using var index = zeros(x.shape[0], dtype: ScalarType.Int64);
            return linear.forward(x).squeeze(-1) + offset.forward(index).squeeze(-1);
        }
    }

    [Fact]
    public void a_model_with_sparse_gradients_trains_and_steps_them()
    {
        // Break test: the divergence check called isfinite on a sparse gradient, which libtorch does not have.
        using var train = Synthetic.SeedLine(200, seed: 0);
        using var loss = Losses.SigmoidFocalLoss();
        using var model = new WithSparseEmbedding();
        var before = model.named_parameters().Single(p => p.name.StartsWith("offset")).parameter.detach().clone();
        var result = Trainer.Fit(model, loss, train, null, Fast);
        Assert.False(result.Diverged);
        var after = model.named_parameters().Single(p => p.name.StartsWith("offset")).parameter.detach();
        Assert.NotEqual(before[0].item<float>(), after[0].item<float>());   // row 0 was stepped
        Assert.Equal(before[1].item<float>(), after[1].item<float>());      // row 1 never had a gradient
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd, 1e300, false)]
    [InlineData(OptimizerKind.Sgd, 1e300, true)]
    [InlineData(OptimizerKind.Adam, 1e38, false)]
    [InlineData(OptimizerKind.Adam, 1e38, true)]
    public void hyper_parameters_float32_cannot_hold_are_refused_before_training_naming_the_config(OptimizerKind optimizer, double learningRate, bool large)
    {
        using var train = Synthetic.SeedLine(100, seed: 0);
        using var loss = Losses.SigmoidFocalLoss();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Trainer.Run(() => large ? new Mlp(1, 1, 256, 256) : new Mlp(1, 1, 16), loss, train, null, Fast with { Optimizer = optimizer, LearningRate = learningRate }));
        Assert.Equal("config", error.ParamName);
        Assert.Contains("LearningRate must be at most", error.Message);
    }

    private static void AssertDivergedWithFiniteWeights(nn.Module<Tensor, Tensor> model, TrainResult result, TensorDataset test)
    {
        using (model)
        {
            Assert.True(result.Diverged);
            foreach (var (name, p) in model.named_parameters())
                Assert.True(p.isfinite().all().item<bool>(), $"parameter {name} is not finite after divergence");
            Assert.Equal(Trainer.EvaluateIfFinite(model, test) ?? new Dictionary<string, double>(), result.FinalMetrics);
        }
    }

    /// <summary>A logistic model whose finite weights overflow to inf - inf = NaN on inputs (2, -2), and stay finite at (0, 0).</summary>
    private static LogisticRegression Overflowing()
    {
        var model = new LogisticRegression(2);
        using (no_grad())
        {
            model.named_parameters().Single(p => p.name.EndsWith("weight")).parameter.fill_(3e38);
            model.named_parameters().Single(p => p.name.EndsWith("bias")).parameter.fill_(0);
        }
        return model;
    }

    private static TensorDataset Points(float x1, float x2) =>
        new("points", tensor(new[] { x1, x2, x1, x2 }).reshape(2, 2), tensor(new float[] { 0, 1 }), 2);

    [Fact]
    public void finite_weights_with_nan_predictions_end_the_run_as_diverged_without_metrics_instead_of_throwing()
    {
        using var loss = Losses.BinaryCrossEntropyWithLogitsLoss();
        using var quiet = Points(0, 0);   // trains on finite outputs: logit 0 whatever the weights
        using var nan = Points(2, -2);    // 6e38 - 6e38 overflows to inf - inf
        var config = Fast with { LearningRate = 1e-30, Epochs = 2 };
        using (var model = Overflowing())
        {
            var result = Trainer.Fit(model, loss, quiet, nan, config);
            Assert.True(result.Diverged, "NaN predictions on the evaluation data are a divergence");
            Assert.Equal(1, result.DivergedAtStep);
            Assert.Empty(result.Epochs);
            Assert.Empty(result.FinalMetrics);
        }
        using (var model = Overflowing())
        {
            var result = Trainer.Fit(model, loss, nan, nan, config);   // diverges in the first step
            Assert.True(result.Diverged);
            Assert.Empty(result.FinalMetrics);
        }
        using (var model = Overflowing())
            Assert.Null(Trainer.EvaluateIfFinite(model, nan));
    }

    [Fact]
    public void nan_outputs_under_a_loss_on_probabilities_end_the_run_as_diverged_instead_of_throwing()
    {
        // The loss on probabilities refuses NaN ones as outside [0, 1] (break test): in training they are a divergence.
        using var loss = Losses.FocalLossFromProbabilities();
        using var nan = Points(2, -2);
        using var model = Overflowing();
        var result = Trainer.Fit(model, loss, nan, null, Fast with { LearningRate = 1e-30 });
        Assert.True(result.Diverged);
        Assert.Equal(1, result.DivergedAtStep);
        Assert.Empty(result.FinalMetrics);
        // Outside training, NaN probabilities stay an input error naming the parameter.
        using var probabilities = tensor(new[] { float.NaN, 0.5f });
        using var targets = tensor(new[] { 0f, 1f });
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => Functional.focal_loss_from_probabilities(probabilities, targets)).ParamName);
    }

    [Fact]
    public void a_checkpoint_refuses_non_finite_weights_and_writes_nothing()
    {
        manual_seed(0);
        using var model = new LinearNet(1);
        using (no_grad()) model.parameters().First().fill_(double.NaN);
        var dir = Directory.CreateTempSubdirectory("wb-ckpt").FullName;
        var e = Assert.Throws<ArgumentException>(() => Checkpoint.Save(dir, model, Fast));
        Assert.Equal("model", e.ParamName);
        Assert.Contains("non-finite", e.Message);
        Assert.Empty(Directory.GetFiles(dir));
    }

    /// <summary>A loss that records the targets of every batch it sees (softmax cross-entropy otherwise).</summary>
    private sealed class RecordingLoss : ILossFunction
    {
        public List<long[]> Batches { get; } = [];
        public string Name => "recording";
        public LossInput Input => LossInput.Logits;
        public LossTask Task => LossTask.MultiClass;
        public IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>();
        public Tensor Compute(Tensor inputs, Tensor targets, nn.Reduction reduction)
        {
            Batches.Add(targets.data<long>().ToArray());
            return Functional.softmax_cross_entropy(inputs, targets, reduction: reduction);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void each_epoch_visits_every_sample_once_in_a_new_order_when_shuffling(bool shuffle)
    {
        // 64 samples, each its own class: the targets a batch carries name the samples in it.
        using var data = new TensorDataset("ids", arange(64, dtype: ScalarType.Float32).unsqueeze(1), arange(64L), 64);
        var loss = new RecordingLoss();
        var (model, _) = Trainer.Run(() => new LogisticRegression(1, 64), loss, data, null, Fast with { Epochs = 3, BatchSize = 16, Shuffle = shuffle, EvaluateEveryEpoch = false });
        model.Dispose();
        var epochs = loss.Batches.Chunk(4).Select(batches => batches.SelectMany(b => b).ToArray()).ToList();
        Assert.Equal(3, epochs.Count);
        Assert.All(epochs, order => Assert.Equal(Enumerable.Range(0, 64).Select(i => (long)i), order.Order()));
        if (shuffle)
        {
            Assert.NotEqual(epochs[0], epochs[1]);
            Assert.NotEqual(epochs[1], epochs[2]);
            Assert.NotEqual(Enumerable.Range(0, 64).Select(i => (long)i), epochs[0]);
        }
        else Assert.All(epochs, order => Assert.Equal(Enumerable.Range(0, 64).Select(i => (long)i), order));
    }

    /// <summary>A logistic model with an unused parameter that takes its size above FusedOptimizer.MaxElements, so
    /// the trainer steps it with TorchSharp's optimiser (the unused parameter never has a gradient, so it is skipped).</summary>
    private sealed class PaddedLogistic : nn.Module<Tensor, Tensor>
    {
        public readonly LogisticRegression Inner = new(2);
        private readonly TorchSharp.Modules.Parameter padding = new(zeros(FusedOptimizer.MaxElements + 1));

        public PaddedLogistic() : base(nameof(PaddedLogistic)) => RegisterComponents();

        public override Tensor forward(Tensor x) => Inner.forward(x);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 0.01, false)]
    [InlineData(OptimizerKind.Adam, 0.2, false)]
    [InlineData(OptimizerKind.Sgd, 0.01, false)]
    [InlineData(OptimizerKind.Sgd, 0.2, false)]
    [InlineData(OptimizerKind.Adam, 0.2, true)]
    [InlineData(OptimizerKind.Sgd, 0.2, true)]
    public void the_learning_rate_reaches_the_optimizer(OptimizerKind optimizer, double learningRate, bool onTorchSharpsOptimiser)
    {
        // One full-batch step from known weights. Adam's first step moves every parameter by exactly lr
        // against the sign of its gradient (m / sqrt(v) = sign(g) after bias correction, up to eps);
        // SGD's first step is -lr * g, momentum having no history yet.
        using var train = Synthetic.ImbalancedGaussian(256, 0.3, seed: 4);
        using var loss = Losses.BinaryCrossEntropyWithLogitsLoss();
        manual_seed(0);
        using var padded = new PaddedLogistic();
        var model = padded.Inner;
        var before = model.parameters().Select(p => Eval.ToArray(p)).ToArray();
        // The gradient at the initial weights, computed independently of the trainer.
        var x = train.Features;
        var y = train.Labels;
        using (var scope = NewDisposeScope())
        {
            var l = Functional.binary_cross_entropy_with_logits(model.call(x), y);
            l.backward();
        }
        var grads = model.parameters().Select(p => Eval.ToArray(p.grad!)).ToArray();
        foreach (var p in model.parameters()) p.grad!.zero_();
        Trainer.Fit(onTorchSharpsOptimiser ? padded : model, loss, train, null, Fast with { Epochs = 1, BatchSize = 256, Optimizer = optimizer, LearningRate = learningRate, Shuffle = false, EvaluateEveryEpoch = false });
        var after = model.parameters().Select(p => Eval.ToArray(p)).ToArray();
        for (var k = 0; k < before.Length; k++)
            for (var i = 0; i < before[k].Length; i++)
            {
                var step = after[k][i] - before[k][i];
                var expected = optimizer == OptimizerKind.Adam ? -learningRate * Math.Sign(grads[k][i]) : -learningRate * grads[k][i];
                Assert.True(Math.Abs(step - expected) <= 1e-4 * Math.Abs(expected) + 1e-7, $"{optimizer} lr {learningRate}: parameter {k}[{i}] moved {step}, expected {expected}");
            }
    }

    [Fact]
    public void every_epoch_reports_loss_and_metrics_and_training_reduces_the_loss()
    {
        using var train = Synthetic.ImbalancedGaussian(2000, 0.3, seed: 2);
        using var test = Synthetic.ImbalancedGaussian(1000, 0.3, seed: 3);
        using var loss = Losses.BinaryCrossEntropyWithLogitsLoss();
        var seen = new List<EpochRecord>();
        var (model, result) = Trainer.Run(() => new LogisticRegression(2), loss, train, test, Fast with { Epochs = 4, Optimizer = OptimizerKind.Adam, LearningRate = 0.05 }, seen.Add);
        using (model)
        {
            Assert.Equal([1, 2, 3, 4], seen.Select(e => e.Epoch));
            Assert.Equal(4 * 63, result.Steps); // ceil(2000 / 32) steps an epoch
            Assert.True(seen[^1].TrainLoss < seen[0].TrainLoss, $"loss {seen[0].TrainLoss} -> {seen[^1].TrainLoss}");
            Assert.Contains("average_precision", result.FinalMetrics.Keys);
            Assert.InRange(result.FinalMetrics["roc_auc"], 0.8, 1.0); // two Gaussians 2 sd apart
            Assert.Equal("cpu", result.Device);
        }
    }

    [Fact]
    public void sum_and_mean_batch_reductions_train_differently()
    {
        // The seed's setting: its data, one unit, the probability-form focal loss, momentum SGD 0.005/0.9,
        // batch 16, 10 epochs. Summing 16 per-sample gradients is a 16x larger step: the seed's reported
        // weights (w 2.61) come from the sum; the mean moves much less in 6,250 steps.
        double TrainedWeight(BatchReduction reduction)
        {
            using var train = Synthetic.SeedLine(10_000, seed: 5);
            using var loss = Losses.FocalLossFromProbabilities(alpha: 0.25, gamma: 2.0);
            var (model, result) = Trainer.Run(() => new LinearNet(1), loss, train, null, new TrainerConfig { Seed = 5, Reduction = reduction, Device = "cpu", Progress = false, EvaluateEveryEpoch = false });
            using (model)
            {
                Assert.False(result.Diverged);
                return ((LinearNet)model).Parameters().Weight[0];
            }
        }
        Assert.InRange(TrainedWeight(BatchReduction.Sum), 2.3, 2.9);
        Assert.InRange(TrainedWeight(BatchReduction.Mean), 0.7, 1.4);
    }

    [Fact]
    public void multi_class_training_with_softmax_focal_loss_on_digits()
    {
        using var all = DigitTasks.LongTailed(Repo.Digits.Value, 10, seed: 0, flatten: true);
        var (train, test) = Splits.Stratified(all, 0.3, seed: 0);
        using (train) using (test)
        {
            using var loss = Losses.SoftmaxFocalLoss(gamma: 2);
            var (model, result) = Trainer.Run(() => new Mlp(784, 10, 64), loss, train, test, Fast with { Epochs = 3, Optimizer = OptimizerKind.Adam, LearningRate = 0.003, BatchSize = 64 });
            using (model) Assert.InRange(result.FinalMetrics["top1"], 0.75, 1.0);
        }
    }

    [Fact]
    public void checkpoints_restore_weights_and_config()
    {
        using var train = Synthetic.ImbalancedGaussian(500, 0.3, seed: 2);
        using var loss = Losses.SigmoidFocalLoss();
        var config = Fast with { Seed = 3, Reduction = BatchReduction.Sum };
        var (model, _) = Trainer.Run(() => new Mlp(2, 1, 4), loss, train, null, config);
        var dir = Directory.CreateTempSubdirectory("ckpt").FullName;
        try
        {
            using (model)
            {
                Checkpoint.Save(dir, model, config);
                manual_seed(999);
                using var restored = new Mlp(2, 1, 4);
                var loaded = Checkpoint.Load(dir, restored);
                Assert.Equal(config, loaded);
                foreach (var (a, b) in model.parameters().Zip(restored.parameters()))
                    Assert.True(Same(a, b));
                Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void config_and_device_errors_name_the_field()
    {
        Assert.Equal("BatchSize", Assert.Throws<ArgumentException>(() => (Fast with { BatchSize = 0 }).Validate()).ParamName);
        Assert.Equal("Optimizer", Assert.Throws<ArgumentException>(() => (Fast with { Optimizer = (OptimizerKind)7 }).Validate()).ParamName);
        Assert.Contains("Momentum must be unset with Adam", Assert.Throws<ArgumentException>(() => (Fast with { Optimizer = OptimizerKind.Adam, Momentum = 0.9 }).Validate()).Message);
        Assert.Equal("LearningRate", Assert.Throws<ArgumentException>(() => (Fast with { LearningRate = double.NaN }).Validate()).ParamName);
        Assert.Equal("Momentum", Assert.Throws<ArgumentException>(() => (Fast with { Momentum = 1 }).Validate()).ParamName);
        Assert.Equal("Epochs", Assert.Throws<ArgumentException>(() => (Fast with { Epochs = 0 }).Validate()).ParamName);
        Assert.Contains("'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'", Assert.Throws<ArgumentException>(() => Devices.Resolve("tpu")).Message);
        Assert.Equal(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, Devices.Resolve("auto").type);
        if (!cuda.is_available())
            Assert.Contains("torch.cuda.is_available() is false", Assert.Throws<ArgumentException>(() => Devices.Resolve("cuda:0")).Message);
    }

    [Fact]
    public void a_loss_for_the_wrong_task_is_rejected()
    {
        using var train = Synthetic.SeedLine(100, 0);
        using var loss = Losses.SoftmaxFocalLoss();
        using var model = new LinearNet(1);
        Assert.Contains("MultiClass tasks but dataset seed-line is Binary", Assert.Throws<ArgumentException>(() => Trainer.Fit(model, loss, train, null, Fast)).Message);
    }

}

/// <summary>Process-wide memory readings need the process to themselves: this collection runs alone.</summary>
[CollectionDefinition(nameof(MemoryTests), DisableParallelization = true)]
public sealed class MemoryCollection;

[Collection(nameof(MemoryTests))]
public class MemoryTests
{
    private static readonly TrainerConfig Fast = new() { Device = "cpu", Progress = false };

    [Fact]
    public void memory_stays_flat_over_100k_steps()
    {
        // 1,600 samples in batches of 16: 100 steps an epoch, 1,000 epochs. Live tensors are counted exactly
        // (TorchSharp's per-thread statistics); managed heap and process RSS are sampled at epochs 100 and 1000.
        using var train = Synthetic.SeedLine(1600, seed: 1);
        using var loss = Losses.FocalLossFromProbabilities();
        var live = new List<long>();
        var managed = new Dictionary<int, long>();
        var rss = new Dictionary<int, long>();
        void Sample(EpochRecord e)
        {
            live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            if (e.Epoch is 100 or 1000)
            {
                managed[e.Epoch] = GC.GetTotalMemory(forceFullCollection: true);
                rss[e.Epoch] = Rss();
            }
        }
        var (model, result) = Trainer.Run(() => new LinearNet(1), loss, train, null, Fast with { Epochs = 1000, BatchSize = 16, EvaluateEveryEpoch = true }, Sample);
        using (model)
        {
            Assert.Equal(100_000, result.Steps);
            Assert.False(result.Diverged);
            Assert.True(live[1] == live[^1], $"live tensors {live[1]} after epoch 2, {live[^1]} after epoch 1000"); // none outlives its step
            Assert.True(managed[1000] - managed[100] < 8 << 20, $"managed heap grew {managed[1000] - managed[100]} bytes");
            Assert.True(rss[1000] - rss[100] < 32 << 20, $"RSS grew {rss[1000] - rss[100]} bytes");
        }
    }

    private static long Rss() =>
        long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1]) * Environment.SystemPageSize;
}
