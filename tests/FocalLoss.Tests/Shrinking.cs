namespace FocalLoss.Tests;

/// <summary>
/// Shrinkers for the generated cases: a failing property is reported on a small case whose
/// elements stay in the buckets they were drawn from, so the counterexample still means what the
/// generator meant (a confident-wrong logit stays confident and wrong).
/// </summary>
/// <remarks>
/// Each candidate is strictly simpler than its parent under <see cref="Complexity(BinaryCase)"/>
/// (fewer elements, or as many with simpler values), so shrinking always terminates. Candidates come
/// simplest first: drop chunks of elements (halves, quarters, ..., single ones; at least one element
/// stays), then gamma towards 0, 1, 2, then alpha towards none and 0.5, then each logit towards the
/// simplest value of its bucket.
/// </remarks>
public static class Shrink
{
    /// <summary>Simpler cases than <paramref name="c"/>, simplest first.</summary>
    public static IEnumerable<BinaryCase> Binary(BinaryCase c) =>
        Removals(c.Logits.Length).Select(c.Keep).Concat(BinaryValues(c));

    /// <summary>The simpler cases with every element kept: gamma, alpha, then each logit within its bucket.</summary>
    public static IEnumerable<BinaryCase> BinaryValues(BinaryCase c)
    {
        foreach (var gamma in Simpler(c.Gamma, GammaRank, 0.0, 1.0, 2.0, Math.Round(c.Gamma), Math.Round(c.Gamma, 1)))
            yield return c with { Gamma = gamma };
        foreach (var alpha in SimplerAlpha(c.Alpha))
            yield return c with { Alpha = alpha };
        for (var i = 0; i < c.Logits.Length; i++)
            foreach (var logit in SimplerLogits(c.Buckets[i], c.Targets[i], c.Logits[i]))
                yield return c with { Logits = Replace(c.Logits, i, logit) };
    }

    /// <summary>Simpler multi-class cases than <paramref name="c"/>, simplest first; every row keeps its standing
    /// (<see cref="MultiClassCase.TargetLeads"/>).</summary>
    public static IEnumerable<MultiClassCase> MultiClass(MultiClassCase c)
    {
        foreach (var keep in Removals(c.Rows))
            yield return c with
            {
                Logits = keep.SelectMany(r => c.Logits.Skip(r * c.Classes).Take(c.Classes)).ToArray(),
                Targets = keep.Select(r => c.Targets[r]).ToArray(),
            };
        // Drop a class that no row targets, unless some row's standing depends on it.
        if (c.Classes > Generators.ClassesMin)
            for (var k = 0; k < c.Classes; k++)
            {
                if (c.Targets.Contains(k)) continue;
                var column = k;
                var fewer = new MultiClassCase(
                    c.Logits.Where((_, j) => j % c.Classes != column).ToArray(),
                    c.Targets.Select(t => t > column ? t - 1 : t).ToArray(),
                    c.Classes - 1,
                    c.Alpha?.Where((_, j) => j != column).ToArray(),
                    c.Gamma);
                if (SameStanding(c, fewer)) yield return fewer;
            }
        foreach (var gamma in Simpler(c.Gamma, GammaRank, 0.0, 1.0, 2.0, Math.Round(c.Gamma), Math.Round(c.Gamma, 1)))
            yield return c with { Gamma = gamma };
        if (c.Alpha is { } alpha)
        {
            yield return c with { Alpha = null };
            foreach (var simpler in new[] { alpha.Select(_ => 0.5).ToArray(), alpha.Select(a => Math.Round(a, 1)).ToArray() })
                if (ClassAlphaRank(simpler) < ClassAlphaRank(alpha))
                    yield return c with { Alpha = simpler };
        }
        for (var j = 0; j < c.Logits.Length; j++)
            foreach (var logit in Simpler(c.Logits[j], MultiLogitRank, 0.0, Math.Round(c.Logits[j]), Math.Round(c.Logits[j], 1)))
            {
                var candidate = c with { Logits = Replace(c.Logits, j, logit) };
                if (candidate.TargetLeads(j / c.Classes) == c.TargetLeads(j / c.Classes)) yield return candidate;
            }
    }

    /// <summary>(elements, summed simplicity ranks): every shrink is lexicographically smaller than its parent.</summary>
    public static (int Elements, int Rank) Complexity(BinaryCase c) =>
        (c.Logits.Length, GammaRank(c.Gamma) + AlphaRank(c.Alpha) + c.Logits.Select((x, i) => LogitRank(c.Buckets[i], x)).Sum());

    /// <summary>(rows, classes, summed simplicity ranks): every shrink is lexicographically smaller than its parent.</summary>
    public static (int Rows, int Classes, int Rank) Complexity(MultiClassCase c) =>
        (c.Rows, c.Classes, GammaRank(c.Gamma) + ClassAlphaRank(c.Alpha) + c.Logits.Sum(MultiLogitRank));

    /// <summary>Which elements to keep: without each chunk of n/2, n/4, ..., 1 elements (so at least one stays).</summary>
    public static IEnumerable<int[]> Removals(int n)
    {
        for (var chunk = n / 2; chunk >= 1; chunk /= 2)
            for (var start = 0; start + chunk <= n; start += chunk)
                yield return Enumerable.Range(0, n).Where(i => i < start || i >= start + chunk).ToArray();
    }

    private static IEnumerable<double> SimplerLogits(Bucket bucket, double target, double logit)
    {
        var sign = Math.Sign(logit) is 0 ? 1 : Math.Sign(logit);
        var candidates = bucket switch
        {
            Bucket.Uncertain => [0.0, Math.Round(logit, 1)],
            Bucket.Saturated => Generators.SaturatedMagnitudes.Select(m => sign * m).ToArray(),
            _ => [sign * Generators.ConfidentMin, Math.Round(logit), Math.Round(logit, 1)],
        };
        return Simpler(logit, x => LogitRank(bucket, x), candidates).Where(x => Generators.InBucket(bucket, target, x));
    }

    private static IEnumerable<double?> SimplerAlpha(double? alpha)
    {
        if (alpha is not { } a) yield break;
        yield return null;
        foreach (var simpler in Simpler(a, v => AlphaRank(v), 0.5, Math.Round(a, 1)))
            yield return simpler;
    }

    /// <summary>The candidates of strictly lower rank than <paramref name="value"/>, without repeats, in the order given.</summary>
    private static IEnumerable<double> Simpler(double value, Func<double, int> rank, params double[] candidates) =>
        candidates.Where(v => rank(v) < rank(value)).Distinct();

    // Simplicity ranks: 0 is the simplest value of its kind.
    private static int GammaRank(double gamma) => gamma switch { 0 => 0, 1 => 1, 2 => 2, _ when gamma == Math.Round(gamma) => 3, _ when gamma == Math.Round(gamma, 1) => 4, _ => 5 };
    private static int AlphaRank(double? alpha) => alpha switch { null => 0, 0.5 => 1, { } a when a == Math.Round(a, 1) => 2, _ => 3 };
    private static int ClassAlphaRank(double[]? alpha) =>
        alpha is null ? 0 : alpha.All(a => a == 0.5) ? 1 : alpha.All(a => a == Math.Round(a, 1)) ? 2 : 3;
    private static int MultiLogitRank(double x) => x == 0 ? 0 : x == Math.Round(x) ? 1 : x == Math.Round(x, 1) ? 2 : 3;

    private static int LogitRank(Bucket bucket, double x) => bucket switch
    {
        Bucket.Uncertain => x == 0 ? 0 : x == Math.Round(x, 1) ? 1 : 2,
        Bucket.Saturated => Array.IndexOf(Generators.SaturatedMagnitudes, Math.Abs(x)) is var i and >= 0 ? i : Generators.SaturatedMagnitudes.Length,
        _ => Math.Abs(x) == Generators.ConfidentMin ? 0 : x == Math.Round(x) ? 1 : x == Math.Round(x, 1) ? 2 : 3,
    };

    private static bool SameStanding(MultiClassCase a, MultiClassCase b) =>
        Enumerable.Range(0, a.Rows).All(r => a.TargetLeads(r) == b.TargetLeads(r));

    private static double[] Replace(double[] values, int index, double value)
    {
        var copy = (double[])values.Clone();
        copy[index] = value;
        return copy;
    }
}
