using TorchSharp;
using static TorchSharp.torch;
using FocalLoss.Infrastructure;

namespace FocalLoss.Data;

/// <summary>
/// The geometry of the dense-discs task: <see cref="Discs"/> small positive discs of radius
/// <see cref="Radius"/>, each at the centre of a ring of hard negatives out to <see cref="RingRadius"/>,
/// inside the square [-<see cref="HalfWidth"/>, <see cref="HalfWidth"/>]^2. A point at distance r from its
/// disc's centre is positive with probability <c>sigmoid((Radius - r) / Softness)</c>, so the boundary is
/// soft and the Bayes error is not zero; points outside every ring are easy negatives (label 0).
/// </summary>
/// <param name="Radius">Radius of a positive disc (default 0.1).</param>
/// <param name="RingRadius">Outer radius of the hard-negative ring around it (default 0.3).</param>
/// <param name="Softness">Width of the soft boundary (default 0.02): the positive probability falls from
/// 0.73 to 0.27 between Radius - Softness and Radius + Softness.</param>
/// <param name="HalfWidth">Half the side of the square the easy negatives fill (default 2).</param>
public sealed record DenseDiscsGeometry(double Radius = 0.1, double RingRadius = 0.3, double Softness = 0.02, double HalfWidth = 2.0)
{
    /// <summary>The default geometry: 4 discs of radius 0.1 at (+-1, +-1), rings to 0.3, softness 0.02, square [-2, 2]^2.</summary>
    public static DenseDiscsGeometry Default { get; } = new();

    /// <summary>The disc centres, (+-HalfWidth/2, +-HalfWidth/2): four discs whose rings never overlap.</summary>
    public (double X, double Y)[] Centres
    {
        get
        {
            var c = HalfWidth / 2;
            return [(-c, -c), (c, -c), (-c, c), (c, c)];
        }
    }

    /// <summary>The number of discs (4).</summary>
    public int Discs => 4;

    /// <summary>The probability that a point at distance <paramref name="r"/> from its disc's centre is positive.</summary>
    public double PositiveProbability(double r) => 1 / (1 + Math.Exp(-(Radius - r) / Softness));

    /// <summary>
    /// The expected share q of positives among hard points, which are uniform over the ring's disc
    /// (density 2 r / RingRadius^2 in r): q = integral over [0, RingRadius] of p(r) 2 r / RingRadius^2 dr,
    /// by composite Simpson's rule on 20,000 intervals (error far below 1e-9 for these smooth integrands).
    /// </summary>
    public double HardPositiveShare()
    {
        const int n = 20_000;
        var h = RingRadius / n;
        double F(double r) => PositiveProbability(r) * 2 * r / (RingRadius * RingRadius);
        var sum = F(0) + F(RingRadius);
        for (var i = 1; i < n; i++) sum += (i % 2 == 1 ? 4 : 2) * F(i * h);
        return sum * h / 3;
    }

    internal void Check()
    {
        if (!(Radius > 0 && double.IsFinite(Radius)))
            throw new ArgumentException($"Radius must be finite and > 0, got {Format.Number(Radius)}", nameof(Radius));
        if (!(RingRadius > Radius && double.IsFinite(RingRadius)))
            throw new ArgumentException($"RingRadius must be finite and > Radius ({Format.Number(Radius)}), got {Format.Number(RingRadius)}", nameof(RingRadius));
        if (!(Softness > 0 && double.IsFinite(Softness)))
            throw new ArgumentException($"Softness must be finite and > 0, got {Format.Number(Softness)}", nameof(Softness));
        if (!(HalfWidth >= 4 * RingRadius && double.IsFinite(HalfWidth)))
            throw new ArgumentException($"HalfWidth must be finite and >= 4 RingRadius ({Format.Number(4 * RingRadius)}) so the rings stay apart and inside the square, got {Format.Number(HalfWidth)}", nameof(HalfWidth));
    }
}

/// <summary>
/// Dense detection at CPU scale (the regime of Lin et al. 2017: few positives, a flood of easy negatives, a
/// few hard ones). 2-D points: hard points uniform over the ring discs of <see cref="DenseDiscsGeometry"/>
/// (positive with the soft-boundary probability), and easy negatives uniform over the square outside every
/// ring. The positive rate pi is set by the number of easy negatives: with H hard points of expected positive
/// share q, E = round(H q / pi) - H easy negatives make the expected positive rate pi. The training set holds
/// all of them (about 1.1 million points at pi = 1e-4 with the default 250 hard points a disc); the test set
/// (<see cref="Test"/>) keeps all its hard points and a sample of easy ones with importance weights.
/// </summary>
public static class DenseDiscs
{
    /// <summary>The smallest positive rate accepted (1e-5): below it the training set would pass 10 million points.</summary>
    public const double MinPositiveRate = 1e-5;

    /// <summary>
    /// The number of easy negatives that gives an expected positive rate <paramref name="positiveRate"/> with
    /// <paramref name="hardPoints"/> hard points: round(H q / pi) - H, where q is
    /// <see cref="DenseDiscsGeometry.HardPositiveShare"/>.
    /// </summary>
    public static long EasyCount(long hardPoints, double positiveRate, DenseDiscsGeometry? geometry = null)
    {
        var g = geometry ?? DenseDiscsGeometry.Default;
        var q = g.HardPositiveShare();
        return (long)Math.Round(hardPoints * q / positiveRate) - hardPoints;
    }

    /// <summary>
    /// The training set: <paramref name="hardPerDisc"/> hard points around each disc and
    /// <see cref="EasyCount"/> easy negatives, rows shuffled; float32 features [N, 2], float32 0/1 labels [N].
    /// </summary>
    /// <param name="positiveRate">The expected positive rate pi, in [1e-5, q) with q about 0.13 for the default geometry.</param>
    /// <param name="hardPerDisc">Hard points per disc, >= 1 (default 250).</param>
    /// <param name="seed">Seeds every draw; the same seed gives the same data.</param>
    /// <param name="geometry">The discs (default <see cref="DenseDiscsGeometry.Default"/>).</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    public static TensorDataset Train(double positiveRate, long seed, int hardPerDisc = 250, DenseDiscsGeometry? geometry = null, Device? device = null)
    {
        var g = Check(positiveRate, hardPerDisc, geometry);
        var hardTotal = (long)hardPerDisc * g.Discs;
        var easy = EasyCount(hardTotal, positiveRate, g);
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var gen = new Generator((ulong)seed);
        var (hx, hy) = Hard(g, hardPerDisc, gen);
        var ex = Easy(g, easy, gen);
        var x = cat([hx, ex]);
        var y = cat([hy, zeros(easy)]);
        var order = randperm(x.shape[0], generator: gen);
        return Synthetic.Keep(new TensorDataset($"dense-discs-{Synthetic.Percent(positiveRate)}", x.index_select(0, order), y.index_select(0, order), 2), device);
    }

    /// <summary>
    /// A stratified test set with importance weights: <paramref name="hardPerDisc"/> hard points around each
    /// disc (weight 1) and a sample of <paramref name="easySample"/> easy negatives, each weighted
    /// E / <paramref name="easySample"/> where E = <see cref="EasyCount"/> is the number of easy negatives the
    /// positive rate implies for these hard points. Weighted, the set stands for a test set of H + E points at
    /// prevalence pi, so AP and ECE at 1:10,000 stay precise without a hundred-million-point test set.
    /// </summary>
    /// <param name="positiveRate">The expected positive rate pi the weights restore.</param>
    /// <param name="seed">Seeds every draw (use another seed than the training set's for fresh points).</param>
    /// <param name="hardPerDisc">Hard points per disc, >= 1 (default 2,500).</param>
    /// <param name="easySample">Easy negatives drawn, >= 1 and at most E (default 20,000).</param>
    /// <param name="geometry">The discs (default <see cref="DenseDiscsGeometry.Default"/>).</param>
    /// <param name="device">Where the tensors go (default CPU).</param>
    public static TensorDataset Test(double positiveRate, long seed, int hardPerDisc = 2_500, int easySample = 20_000, DenseDiscsGeometry? geometry = null, Device? device = null)
    {
        var g = Check(positiveRate, hardPerDisc, geometry);
        var hardTotal = (long)hardPerDisc * g.Discs;
        var easy = EasyCount(hardTotal, positiveRate, g);
        if (easySample < 1 || easySample > easy)
            throw new ArgumentException($"easySample must be in [1, {easy}] (the easy negatives pi = {Format.Number(positiveRate)} implies for {hardTotal} hard points), got {easySample}", nameof(easySample));
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var gen = new Generator((ulong)seed);
        var (hx, hy) = Hard(g, hardPerDisc, gen);
        var ex = Easy(g, easySample, gen);
        var x = cat([hx, ex]);
        var y = cat([hy, zeros(easySample)]);
        var w = cat([ones([hardTotal], ScalarType.Float64), ones([easySample], ScalarType.Float64) * ((double)easy / easySample)]);
        return Synthetic.Keep(new TensorDataset($"dense-discs-{Synthetic.Percent(positiveRate)}/test", x, y, 2, w), device);
    }

    /// <summary>Hard points: per disc, r = RingRadius sqrt(u) and a uniform angle (uniform over the ring's disc), labels drawn from the soft boundary.</summary>
    private static (Tensor X, Tensor Y) Hard(DenseDiscsGeometry g, int perDisc, Generator gen)
    {
        var n = (long)perDisc * g.Discs;
        var r = rand([n], ScalarType.Float64, generator: gen).sqrt() * g.RingRadius;
        var angle = rand([n], ScalarType.Float64, generator: gen) * (2 * Math.PI);
        var centres = g.Centres;
        var cx = tensor(centres.Select(c => c.X).ToArray()).repeat_interleave(perDisc);
        var cy = tensor(centres.Select(c => c.Y).ToArray()).repeat_interleave(perDisc);
        var x = stack([cx + r * angle.cos(), cy + r * angle.sin()], 1).to_type(ScalarType.Float32);
        // Labels follow from the stored float32 point: its distance to its own centre, in float64.
        var x64 = x.to_type(ScalarType.Float64);
        var stored = (x64.select(1, 0) - cx).square().add((x64.select(1, 1) - cy).square()).sqrt();
        var p = ((g.Radius - stored) / g.Softness).sigmoid();
        var y = rand([n], ScalarType.Float64, generator: gen).lt(p).to_type(ScalarType.Float32);
        return (x, y);
    }

    /// <summary>Easy negatives: uniform over the square, rejected inside any ring (about 93 % are kept), in rounds until enough.</summary>
    private static Tensor Easy(DenseDiscsGeometry g, long count, Generator gen)
    {
        var kept = new List<Tensor>();
        var have = 0L;
        var centres = tensor(g.Centres.SelectMany(c => new[] { c.X, c.Y }).ToArray()).reshape(g.Discs, 2);
        while (have < count)
        {
            var draw = (long)((count - have) * 1.1) + 1024;
            var u = (rand([draw, 2], ScalarType.Float64, generator: gen) * 2 - 1) * g.HalfWidth;
            var u32 = u.to_type(ScalarType.Float32);
            // Distances from the stored float32 point, so "outside every ring" holds for what the model sees.
            var d = (u32.to_type(ScalarType.Float64).unsqueeze(1) - centres.unsqueeze(0)).square().sum(2).sqrt().amin([1L]);
            var outside = u32.index_select(0, d.gt(g.RingRadius).nonzero().squeeze(1));
            var take = Math.Min(outside.shape[0], count - have);
            kept.Add(outside.narrow(0, 0, take));
            have += take;
        }
        return cat(kept);
    }

    private static DenseDiscsGeometry Check(double positiveRate, int hardPerDisc, DenseDiscsGeometry? geometry)
    {
        var g = geometry ?? DenseDiscsGeometry.Default;
        g.Check();
        var q = g.HardPositiveShare();
        if (!(positiveRate >= MinPositiveRate && positiveRate < q))
            throw new ArgumentException($"positiveRate must be in [{Format.Number(MinPositiveRate)}, {Format.Number(q)}) (the upper end is the positive share of the hard points alone), got {Format.Number(positiveRate)}", nameof(positiveRate));
        if (hardPerDisc < 1)
            throw new ArgumentException($"hardPerDisc must be >= 1, got {hardPerDisc}", nameof(hardPerDisc));
        return g;
    }
}
