using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FocalLoss.Data;
using FocalLoss.Metrics;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using FocalLoss.Infrastructure;

namespace FocalLoss.Training;

/// <summary>How a batch's per-sample losses become the number that is differentiated.</summary>
public enum BatchReduction
{
    /// <summary>The batch mean (PyTorch's default).</summary>
    Mean,
    /// <summary>The batch sum: what the seed's MindSpore code effectively trains with (its loss returns
    /// per-sample values and <c>value_and_grad</c> back-propagates a sensitivity of ones).</summary>
    Sum,
    /// <summary>
    /// The detection convention (RetinaNet's normaliser): the sum of the batch's per-element losses divided by
    /// <c>max(1, number of positive targets in the batch)</c>, by <see cref="Functional.sum_over_positives"/>. A
    /// positive is a target above 1/2 (the 1s of 0/1 targets); a batch without positives is divided by 1, i.e.
    /// it trains on the plain sum. For binary and multi-label losses; a multi-class loss (class-index targets,
    /// no positives to count) is refused when training starts.
    /// </summary>
    SumOverPositives,
}

/// <summary>The optimiser a run uses.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with momentum (the seed's).</summary>
    Sgd,
    /// <summary>Adam with PyTorch's default betas.</summary>
    Adam,
}

/// <summary>Training settings. Defaults are the seed tutorial's.</summary>
public sealed record TrainerConfig
{
    /// <summary><c>auto</c> (CUDA when available, else CPU), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; init; } = "auto";
    /// <summary>Momentum SGD (the seed's) or Adam.</summary>
    [JsonConverter(typeof(JsonStringEnumConverter))]
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;
    /// <summary>Learning rate (seed: 0.005).</summary>
    public double LearningRate { get; init; } = 0.005;
    /// <summary>SGD momentum in [0, 1); null takes the seed's 0.9 for SGD. Adam has none: setting it with Adam is an
    /// error rather than a setting silently ignored.</summary>
    public double? Momentum { get; init; }
    /// <summary>L2 weight decay (default 0).</summary>
    public double WeightDecay { get; init; }
    /// <summary>Samples per step (seed: 16); the last batch of an epoch may be smaller.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Passes over the training data (seed: 10).</summary>
    public int Epochs { get; init; } = 10;
    /// <summary>Reshuffle every epoch (MindSpore's GeneratorDataset shuffles by default).</summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>Seeds the model's initialisation (torch's global generator) and the shuffling (its own generator).</summary>
    public long Seed { get; init; }
    /// <summary>Mean, sum, or sum over the number of positives, over the batch (the seed's code effectively uses sum).</summary>
    [JsonConverter(typeof(JsonStringEnumConverter))]
    public BatchReduction Reduction { get; init; } = BatchReduction.Mean;
    /// <summary>Decision threshold for accuracy, precision, recall and F1 (binary) and for micro/macro F1 (multi-label).</summary>
    public double Threshold { get; init; } = 0.5;
    /// <summary>Evaluate after every epoch (default); when false, only after the last one.</summary>
    public bool EvaluateEveryEpoch { get; init; } = true;
    /// <summary>Show a progress bar on stderr for runs of more than 2 s (never when stderr is redirected).</summary>
    public bool Progress { get; init; } = true;

    /// <summary>Rejects out-of-range settings, naming the field.</summary>
    public TrainerConfig Validate()
    {
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentException($"Optimizer must be Sgd or Adam, got {(int)Optimizer}", nameof(Optimizer));
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentException($"LearningRate must be finite and > 0, got {Format.Number(LearningRate)}", nameof(LearningRate));
        if (Optimizer == OptimizerKind.Adam && Momentum is { } m) throw new ArgumentException($"Momentum must be unset with Adam (it has no momentum; its betas are PyTorch's defaults), got {Format.Number(m)}", nameof(Momentum));
        if (Momentum is { } momentum && !(momentum >= 0 && momentum < 1)) throw new ArgumentException($"Momentum must be in [0, 1), got {Format.Number(momentum)}", nameof(Momentum));
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) throw new ArgumentException($"WeightDecay must be finite and >= 0, got {Format.Number(WeightDecay)}", nameof(WeightDecay));
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be >= 1, got {BatchSize}", nameof(BatchSize));
        if (Epochs < 1) throw new ArgumentException($"Epochs must be >= 1, got {Epochs}", nameof(Epochs));
        if (!Enum.IsDefined(Reduction)) throw new ArgumentException($"Reduction must be Mean, Sum or SumOverPositives, got {(int)Reduction}", nameof(Reduction));
        if (!(Threshold >= 0 && Threshold <= 1)) throw new ArgumentException($"Threshold must be in [0, 1], got {Format.Number(Threshold)}", nameof(Threshold));
        Devices.Resolve(Device);
        return this;
    }
}

/// <summary>One epoch: mean per-sample training loss and the evaluation metrics after it.</summary>
public sealed record EpochRecord(int Epoch, long Steps, double TrainLoss, IReadOnlyDictionary<string, double> Metrics, double Seconds);

/// <summary>
/// The outcome of a run. A diverged run (non-finite loss or gradient) is data, not an exception: training
/// stopped before applying the non-finite step, and <c>FinalMetrics</c> describe the weights it kept.
/// </summary>
public sealed record TrainResult(
    string Device, bool Diverged, long? DivergedAtStep, long Steps,
    IReadOnlyList<EpochRecord> Epochs, IReadOnlyDictionary<string, double> FinalMetrics, double Seconds);


/// <summary>
/// Trains a model on a dataset with a loss from the family, on whatever device is present. Deterministic on
/// CPU: the same config and seed give bit-identical weights and metrics. Each step runs in its own dispose
/// scope, so memory stays flat over long runs.
/// </summary>
public static class Trainer
{
    private static readonly object InitLock = new();

    /// <summary>Batch size used for evaluation passes (no gradients).</summary>
    public const int EvaluationBatch = 8192;

    /// <summary>
    /// Seeds torch, creates the model with <paramref name="createModel"/>, moves model and data to the
    /// configured device, trains, and evaluates on <paramref name="eval"/> (or the training data) after
    /// every epoch. <paramref name="onEpoch"/> sees each epoch's record as it completes.
    /// </summary>
    public static (Module<Tensor, Tensor> Model, TrainResult Result) Run(
        Func<Module<Tensor, Tensor>> createModel, ILossFunction loss, TensorDataset train, TensorDataset? eval,
        TrainerConfig config, Action<EpochRecord>? onEpoch = null)
    {
        config.Validate();
        var device = Devices.Resolve(config.Device);
        Module<Tensor, Tensor> model;
        // The initialisation draws from torch's global generator: seeding and drawing must not interleave
        // with another thread's, or parallel sweeps would lose determinism.
        lock (InitLock)
        {
            manual_seed(config.Seed);
            model = createModel();
        }
        model.to(device);
        var result = Fit(model, loss, train, eval, config, onEpoch);
        return (model, result);
    }

    /// <summary>Trains an existing model (already on its device) and returns the result.</summary>
    public static TrainResult Fit(Module<Tensor, Tensor> model, ILossFunction loss, TensorDataset train, TensorDataset? eval, TrainerConfig config, Action<EpochRecord>? onEpoch = null)
    {
        config.Validate();
        if (!Fits(loss.Task, train.Task))
            throw new ArgumentException($"loss {loss.Name} is for {loss.Task} tasks but dataset {train.Name} is {train.Task}", nameof(loss));
        var overPositives = config.Reduction == BatchReduction.SumOverPositives;
        if (overPositives && loss.Task == LossTask.MultiClass)
            throw new ArgumentException(
                $"config.Reduction SumOverPositives needs binary or multi-label targets to count positives, but loss {loss.Name} is for {loss.Task} tasks (class-index targets): use Mean or Sum", nameof(config));
        var device = Devices.Resolve(config.Device);
        using var trainOnDevice = train.Device.ToString() == device.ToString() ? null : train.To(device);
        var data = trainOnDevice ?? train;
        using var evalOnDevice = eval is null || eval.Device.ToString() == device.ToString() ? null : eval.To(device);
        var evalData = evalOnDevice ?? eval ?? data;
        var reduction = config.Reduction == BatchReduction.Sum ? Reduction.Sum : Reduction.Mean;
        var parameters = model.parameters().ToArray();
        // Small CPU models take the fused update (FusedOptimizer: one pass over each parameter, no libtorch
        // operations); the rest TorchSharp's optimiser.
        CheckHyperParametersFit(parameters, config);
        using IStepper optimizer = (IStepper?)FusedOptimizer.TryCreate(parameters, config) ?? new TorchStepper(CreateOptimizer(model, config), parameters);
        using var shuffle = new Generator((ulong)(config.Seed + 1));
        var n = data.Count;
        var stepsPerEpoch = (n + config.BatchSize - 1) / config.BatchSize;
        var progress = new ProgressBar($"train {loss.Name}", config.Epochs * stepsPerEpoch, config.Progress);
        var clock = Stopwatch.StartNew();
        var epochs = new List<EpochRecord>();
        long step = 0;
        long? divergedAt = null;
        model.train();
        for (var epoch = 1; epoch <= config.Epochs && divergedAt is null; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            using var epochScope = NewDisposeScope();
            var order = (config.Shuffle ? randperm(n, generator: shuffle) : arange(n)).to(device);
            double lossSum = 0;
            for (long start = 0; start < n; start += config.BatchSize)
            {
                using var scope = NewDisposeScope();
                var index = order.slice(0, start, Math.Min(start + config.BatchSize, n), 1);
                var output = model.call(data.Features.index_select(0, index));
                var inputs = loss.Input == LossInput.Probabilities ? output.sigmoid() : output;
                var targets = data.Labels.index_select(0, index);
                Tensor? summed, value;
                try
                {
                    // SumOverPositives: the summed loss divided by max(1, positives) once, here (the loss's own Sum,
                    // so a batch without positives takes exactly the Sum reduction's step).
                    summed = overPositives ? loss.Compute(inputs, targets, Reduction.Sum) : null;
                    value = summed is null ? loss.Compute(inputs, targets, reduction) : summed / Functional.PositivesDivisor(targets, summed.dtype);
                }
                catch (ArgumentException) when (!TensorMemory.AllFinite(output))
                {
                    // A loss on probabilities refuses NaN ones as out of [0, 1]; NaN model outputs mean the run has
                    // diverged (finite weights whose layers overflow), which is data, not an input error.
                    step++;
                    divergedAt = step;
                    break;
                }
                optimizer.ZeroGrad();
                value.backward();
                step++;
                // The step is taken only from a finite loss with finite gradients, so a diverged run stops
                // with the last finite weights, and its final metrics below describe those weights.
                var stepped = value.ToDouble();
                if (!double.IsFinite(stepped) || !GradientsAreFinite(parameters))
                {
                    divergedAt = step;
                    break;
                }
                // The fused optimiser also refuses a step that would make a weight non-finite (nothing changes then).
                if (!optimizer.Step())
                {
                    divergedAt = step;
                    break;
                }
                // The epoch's train loss is the mean per sample whatever the batch reduction.
                var v = summed is null ? stepped : summed.ToDouble();
                lossSum += config.Reduction == BatchReduction.Mean ? v * index.shape[0] : v;
                progress.Report(step);
            }
            if (divergedAt is not null) break;
            var metrics = config.EvaluateEveryEpoch || epoch == config.Epochs
                ? EvaluateIfFinite(model, evalData, config.Threshold)
                : new Dictionary<string, double>();
            // Finite weights can still overflow to non-finite predictions (inf - inf in a layer): the run has
            // diverged then, and has no metrics, rather than stopping the sweep with an exception.
            if (metrics is null)
            {
                divergedAt = step;
                break;
            }
            var record = new EpochRecord(epoch, step, lossSum / n, metrics, epochClock.Elapsed.TotalSeconds);
            epochs.Add(record);
            onEpoch?.Invoke(record);
        }
        progress.Done();
        // A diverged run's metrics are those of the weights it returns (the last finite ones), evaluated
        // now: the last completed epoch's metrics would describe an earlier model.
        var final = divergedAt is not null ? EvaluateIfFinite(model, evalData, config.Threshold) ?? new Dictionary<string, double>()
            : epochs.Count > 0 ? epochs[^1].Metrics : new Dictionary<string, double>();
        return new TrainResult(device.ToString(), divergedAt is not null, divergedAt, step, epochs, final, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Probabilities for a dataset (sigmoid of binary logits [N], softmax of multi-class logits [N, C], a
    /// sigmoid per label of multi-label logits [N, C]), computed without gradients in batches, returned on the
    /// CPU as float64.
    /// </summary>
    public static Tensor PredictProbabilities(Module<Tensor, Tensor> model, TensorDataset data)
    {
        using var logits = PredictLogits(model, data);
        return data.Task == LossTask.MultiClass ? functional.softmax(logits, 1) : logits.sigmoid();
    }

    /// <summary>
    /// The model's logits for a dataset (binary [N], multi-class and multi-label [N, C]), computed without gradients in
    /// batches of <see cref="EvaluationBatch"/> in evaluation mode, returned on the CPU as float64.
    /// </summary>
    public static Tensor PredictLogits(Module<Tensor, Tensor> model, TensorDataset data)
    {
        using var _ = no_grad();
        var wasTraining = model.training;
        model.eval();
        var parts = new List<Tensor>();
        try
        {
            for (long start = 0; start < data.Count; start += EvaluationBatch)
            {
                using var scope = NewDisposeScope();
                var logits = model.call(data.Features.slice(0, start, Math.Min(start + EvaluationBatch, data.Count), 1));
                parts.Add(logits.to_type(ScalarType.Float64).cpu().MoveToOuterDisposeScope());
            }
            return cat(parts);
        }
        finally
        {
            foreach (var part in parts) part.Dispose();
            if (wasTraining) model.train();
        }
    }

    /// <summary>
    /// The metrics of <paramref name="model"/> on <paramref name="data"/>: binary, multi-class or multi-label
    /// report values (<see cref="BinaryMetrics"/>, <see cref="MultiClassMetrics"/>, <see cref="MultiLabelMetrics"/>);
    /// <paramref name="threshold"/> applies to the binary and multi-label decisions. Binary data also get
    /// <c>mean_score</c> (the mean predicted probability) and <c>prevalence</c>; a binary dataset with
    /// <see cref="TensorDataset.Weights"/> gets every metric importance-weighted.
    /// </summary>
    public static IReadOnlyDictionary<string, double> Evaluate(Module<Tensor, Tensor> model, TensorDataset data, double threshold = 0.5)
    {
        using var probs = PredictProbabilities(model, data);
        return Metrics(probs, data, threshold);
    }

    /// <summary>
    /// <see cref="Evaluate"/>, or null when the model's probabilities on <paramref name="data"/> are not all
    /// finite (NaN from an overflow inside the model: no metric is defined for them). One forward pass.
    /// </summary>
    public static IReadOnlyDictionary<string, double>? EvaluateIfFinite(Module<Tensor, Tensor> model, TensorDataset data, double threshold = 0.5)
    {
        using var probs = PredictProbabilities(model, data);
        return probs.isfinite().all().item<bool>() ? Metrics(probs, data, threshold) : null;
    }

    /// <summary>The metrics of predicted probabilities (CPU, float64) against the dataset's labels and weights.</summary>
    private static IReadOnlyDictionary<string, double> Metrics(Tensor probs, TensorDataset data, double threshold)
    {
        using var scope = NewDisposeScope();
        if (data.Task == LossTask.MultiLabel && !probs.shape.SequenceEqual(data.Labels.shape))
            throw new ArgumentException($"model output shape {Format.Shape(probs.shape)} must equal the labels' shape {Format.Shape(data.Labels.shape)} of multi-label dataset {data.Name}: one logit per label", "model");
        var labels = data.Labels.to_type(ScalarType.Int32).contiguous().cpu().data<int>().ToArray();
        var p = probs.contiguous().data<double>().ToArray();
        if (data.Task == LossTask.Binary)
        {
            // Weights exist on binary data only (TensorDataset refuses them elsewhere).
            var report = data.Weights is null
                ? BinaryMetrics.Evaluate(p, labels, threshold)
                : BinaryMetrics.Evaluate(p, labels, data.Weights.cpu().data<double>().ToArray(), threshold);
            // The mean predicted probability beside the prevalence: over- or under-prediction at a glance.
            return report.Values().Append(new("mean_score", report.MeanScore)).Append(new("prevalence", report.PositiveRate))
                .ToDictionary(kv => kv.Key, kv => kv.Value);
        }
        var values = data.Task == LossTask.MultiLabel
            ? MultiLabelMetrics.Evaluate(p, labels, data.NumClasses, threshold).Values()
            : MultiClassMetrics.Evaluate(p, labels, data.NumClasses).Values();
        return values.ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    /// <summary>
    /// Whether a loss for <paramref name="lossTask"/> trains on data of <paramref name="dataTask"/>: the same
    /// task, or binary and multi-label in either direction (both are element-wise sigmoid losses on targets of
    /// the logits' shape, [N] or [N, C]).
    /// </summary>
    public static bool Fits(LossTask lossTask, LossTask dataTask) =>
        lossTask == dataTask || (lossTask is LossTask.Binary or LossTask.MultiLabel && dataTask is LossTask.Binary or LossTask.MultiLabel);

    /// <summary>
    /// Every gradient is finite. Contiguous float CPU gradients are read in place (no libtorch operation, no host
    /// synchronisation); the others (CUDA, sparse) are reduced on their device with one host synchronisation for all.
    /// </summary>
    private static bool GradientsAreFinite(TorchSharp.Modules.Parameter[] parameters) =>
        AllFinite(parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!));

    /// <summary>Every element of every tensor is finite: in place where <see cref="TensorMemory.AllFiniteInPlace"/> can
    /// read it, else one reduction per tensor and one host synchronisation for all of them. Disposes the tensors'
    /// wrappers it is given through the enumeration's dispose scope.</summary>
    internal static bool AllFinite(IEnumerable<Tensor> tensors)
    {
        using var scope = NewDisposeScope();
        Tensor? onDevice = null;
        foreach (var t in tensors)
        {
            var dense = t.is_sparse ? t.to_dense() : t;
            switch (TensorMemory.AllFiniteInPlace(dense))
            {
                case false:
                    return false;
                case null:
                    var finite = dense.isfinite().all();
                    onDevice = onDevice is null ? finite : onDevice.logical_and(finite);
                    break;
            }
        }
        return onDevice is null || onDevice.item<bool>();
    }

    /// <summary>
    /// Refuses, before any step, hyper-parameters that float32 parameters cannot hold: TorchSharp's optimisers would
    /// throw at the first step (an overflow converting the scalar), the fused one would diverge at once. Adam's first
    /// step multiplies the learning rate by 1 / (1 - beta1) = 10.
    /// </summary>
    private static void CheckHyperParametersFit(TorchSharp.Modules.Parameter[] parameters, TrainerConfig config)
    {
        if (!parameters.Any(p => p.dtype == ScalarType.Float32)) return;
        var largest = config.Optimizer == OptimizerKind.Adam ? float.MaxValue / 10.0 : float.MaxValue;
        if (config.LearningRate > largest)
            throw new ArgumentOutOfRangeException(nameof(config),
                $"LearningRate must be at most {largest:R} for float32 parameters with {config.Optimizer} (its step would overflow float32), got {config.LearningRate:R}");
        if (config.WeightDecay > float.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(config), $"WeightDecay must be at most {float.MaxValue:R} for float32 parameters, got {config.WeightDecay:R}");
    }

    /// <summary>SGD's momentum when <see cref="TrainerConfig.Momentum"/> is unset: the seed's 0.9.</summary>
    public const double DefaultMomentum = 0.9;

    private static optim.Optimizer CreateOptimizer(Module<Tensor, Tensor> model, TrainerConfig config) => config.Optimizer switch
    {
        OptimizerKind.Adam => optim.Adam(model.parameters(), config.LearningRate, weight_decay: config.WeightDecay),
        OptimizerKind.Sgd => optim.SGD(model.parameters(), config.LearningRate, config.Momentum ?? DefaultMomentum, weight_decay: config.WeightDecay),
        _ => throw new ArgumentException($"Optimizer must be Sgd or Adam, got {(int)config.Optimizer}", nameof(config)),
    };
}

/// <summary>Saves and restores a model's weights with the config that trained it.</summary>
public static class Checkpoint
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>
    /// Writes <c>model.bin</c> (TorchSharp's state format) and <c>config.json</c> into
    /// <paramref name="directory"/>, each through a temporary file and a rename, so a crash never leaves a
    /// half-written checkpoint.
    /// </summary>
    public static void Save(string directory, Module<Tensor, Tensor> model, TrainerConfig config)
    {
        foreach (var (name, p) in model.named_parameters())
        {
            using var finite = p.isfinite().all();
            if (!finite.item<bool>())
                throw new ArgumentException($"model parameter '{name}' holds non-finite values (a diverged model?): a checkpoint must hold finite weights", nameof(model));
        }
        AtomicFile.Write(Path.Combine(directory, "model.bin"), temp => model.save(temp));
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), JsonSerializer.Serialize(config, Json));
    }

    /// <summary>Loads the weights into <paramref name="model"/> (same architecture) and returns the saved config.</summary>
    public static TrainerConfig Load(string directory, Module<Tensor, Tensor> model)
    {
        var weights = Path.Combine(directory, "model.bin");
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(weights) || !File.Exists(configPath))
            throw new FileNotFoundException($"{directory}: a checkpoint needs model.bin and config.json", directory);
        model.load(weights);
        return JsonSerializer.Deserialize<TrainerConfig>(File.ReadAllText(configPath), Json)
            ?? throw new InvalidDataException($"{configPath}: empty config");
    }
}


