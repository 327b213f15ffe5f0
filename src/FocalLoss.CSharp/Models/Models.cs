using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using FocalLoss.Infrastructure;

namespace FocalLoss.Models;

/// <summary>
/// The seed tutorial's model: one linear unit (inputs -&gt; 1) whose weight and bias are drawn from
/// Normal(0, 0.02) (MindSpore's <c>Normal(0.02)</c>). Returns logits of shape [N]; apply a sigmoid for
/// the probability the seed's network outputs.
/// </summary>
public sealed class LinearNet : Module<Tensor, Tensor>
{
    private readonly Linear fc;

    /// <summary>Creates the unit; draws from torch's global generator (seed it first).</summary>
    public LinearNet(int inputs = 1) : base(nameof(LinearNet))
    {
        ModelFactory.CheckPositive(inputs, nameof(inputs));
        fc = Linear(inputs, 1);
        using (no_grad())
        {
            init.normal_(fc.weight!, 0, 0.02);
            init.normal_(fc.bias!, 0, 0.02);
        }
        RegisterComponents();
    }

    /// <summary>The weight w (for one input) and bias b as doubles.</summary>
    public (double[] Weight, double Bias) Parameters()
    {
        using var scope = NewDisposeScope();
        return (fc.weight!.detach().to_type(ScalarType.Float64).cpu().flatten().data<double>().ToArray(), fc.bias!.detach().to_type(ScalarType.Float64).cpu().item<double>());
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => fc.forward(input).squeeze(-1);
}

/// <summary>
/// Logistic regression on D features: one linear layer with PyTorch's default initialisation. One output
/// gives binary logits [N]; C outputs give multi-class logits [N, C].
/// </summary>
public sealed class LogisticRegression : Module<Tensor, Tensor>
{
    private readonly Linear fc;
    private readonly bool squeeze;

    /// <summary>Creates the layer.</summary>
    public LogisticRegression(int inputs, int outputs = 1) : base(nameof(LogisticRegression))
    {
        ModelFactory.CheckPositive(inputs, nameof(inputs));
        ModelFactory.CheckPositive(outputs, nameof(outputs));
        fc = Linear(inputs, outputs);
        squeeze = outputs == 1;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var flat = input.flatten(1);
        var logits = fc.forward(flat);
        return squeeze ? logits.squeeze(-1) : logits;
    }
}

/// <summary>A small multi-layer perceptron: Linear-ReLU blocks, then a linear head (1 output: binary logits [N]).</summary>
public sealed class Mlp : Module<Tensor, Tensor>
{
    private readonly Sequential layers;
    private readonly bool squeeze;

    /// <summary>Creates the network with the given hidden widths (default one layer of 32).</summary>
    public Mlp(int inputs, int outputs = 1, params int[] hidden) : base(nameof(Mlp))
    {
        ModelFactory.CheckPositive(inputs, nameof(inputs));
        ModelFactory.CheckPositive(outputs, nameof(outputs));
        if (hidden.Length == 0) hidden = [32];
        var modules = new List<(string, Module<Tensor, Tensor>)>();
        var width = inputs;
        for (var i = 0; i < hidden.Length; i++)
        {
            ModelFactory.CheckPositive(hidden[i], nameof(hidden));
            modules.Add(($"fc{i}", Linear(width, hidden[i])));
            modules.Add(($"relu{i}", ReLU()));
            width = hidden[i];
        }
        modules.Add(("head", Linear(width, outputs)));
        layers = Sequential(modules);
        squeeze = outputs == 1;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var flat = input.flatten(1);
        var logits = layers.forward(flat);
        return squeeze ? logits.squeeze(-1) : logits;
    }
}

/// <summary>
/// A small CNN for 28x28 grey digits: conv(1-&gt;16, 3) ReLU maxpool(2), conv(16-&gt;32, 3) ReLU maxpool(2),
/// linear(800-&gt;64) ReLU, linear head (1 output: binary logits [N]; C outputs: [N, C]). Input [N, 1, 28, 28].
/// </summary>
public sealed class DigitCnn : Module<Tensor, Tensor>
{
    private readonly Sequential features;
    private readonly Sequential head;
    private readonly bool squeeze;

    /// <summary>Creates the network.</summary>
    public DigitCnn(int outputs = 10) : base(nameof(DigitCnn))
    {
        ModelFactory.CheckPositive(outputs, nameof(outputs));
        features = Sequential(
            ("conv1", Conv2d(1, 16, 3)), ("relu1", ReLU()), ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(16, 32, 3)), ("relu2", ReLU()), ("pool2", MaxPool2d(2)));
        head = Sequential(("fc", Linear(32 * 5 * 5, 64)), ("relu", ReLU()), ("out", Linear(64, outputs)));
        squeeze = outputs == 1;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (input.dim() != 4 || input.shape[1] != 1 || input.shape[2] != 28 || input.shape[3] != 28)
            throw new ArgumentException($"input must be [N, 1, 28, 28], got {Format.Shape(input.shape)}", nameof(input));
        using var maps = features.forward(input);
        using var flat = maps.flatten(1);
        var logits = head.forward(flat);
        return squeeze ? logits.squeeze(-1) : logits;
    }
}

/// <summary>Creates models by name, so experiments pick them from configuration.</summary>
public static class ModelFactory
{
    /// <summary>Every name <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["linear", "logistic", "mlp", "cnn"];

    /// <summary>
    /// Creates <c>linear</c> (the seed's <see cref="LinearNet"/>, one output), <c>logistic</c>,
    /// <c>mlp</c> (one hidden layer of 32) or <c>cnn</c> (28x28 digits). <paramref name="outputs"/> is 1
    /// for binary tasks, C for multi-class ones. Draws from torch's global generator: seed it first.
    /// </summary>
    public static Module<Tensor, Tensor> Create(string name, int inputs, int outputs = 1)
    {
        TorchRuntime.EnsureLoaded();
        return name switch
        {
            "linear" when outputs == 1 => new LinearNet(inputs),
            "linear" => throw new ArgumentException($"outputs for model 'linear' (the seed's single unit) must be 1, got {outputs}", nameof(outputs)),
            "logistic" => new LogisticRegression(inputs, outputs),
            "mlp" => new Mlp(inputs, outputs),
            "cnn" => new DigitCnn(outputs),
            _ => throw new ArgumentException($"name must be one of {string.Join(", ", Names)}, got '{name}'", nameof(name)),
        };
    }

    internal static void CheckPositive(int value, string name)
    {
        if (value < 1) throw new ArgumentException($"{name} must be >= 1, got {value}", name);
    }
}

/// <summary>Initialisations of a model's output layer (RetinaNet's prior-probability bias, Lin et al. 2017, section 4.1).</summary>
public static class OutputBias
{
    /// <summary>
    /// The bias that makes a zero-input sigmoid output equal <paramref name="prior"/>:
    /// <c>b = -log((1 - pi) / pi)</c> (about -4.595 for RetinaNet's pi = 0.01).
    /// </summary>
    public static double ForPrior(double prior)
    {
        if (!(prior > 0 && prior < 1))
            throw new ArgumentException($"prior must be in (0, 1), got {Format.Number(prior)}", nameof(prior));
        return -Math.Log((1 - prior) / prior);
    }

    /// <summary>
    /// Sets every entry of the bias of the model's last linear layer (its output layer) to
    /// <paramref name="bias"/>, in place and outside autograd; returns the layer's name. A model without a linear
    /// layer with a bias is refused.
    /// </summary>
    public static string Set(Module<Tensor, Tensor> model, double bias)
    {
        if (!double.IsFinite(bias))
            throw new ArgumentException($"bias must be finite, got {Format.Number(bias)}", nameof(bias));
        var (name, head) = model.named_modules().LastOrDefault(m => m.module is Linear l && l.bias is not null);
        if (head is not Linear linear)
            throw new ArgumentException($"model {model.GetName()} has no linear layer with a bias to initialise", nameof(model));
        using (no_grad())
            linear.bias!.fill_(bias);
        return name;
    }
}
