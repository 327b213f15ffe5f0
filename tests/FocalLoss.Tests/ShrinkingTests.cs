using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace FocalLoss.Tests;

/// <summary>
/// The shrinkers of <see cref="Shrink"/>: every candidate is a smaller, valid case from the same buckets,
/// and FsCheck, given a false property, reports the minimal counterexample the buckets allow.
/// </summary>
public class ShrinkingTests
{
    [LossProperty(MaxTest = 100)]
    public Property binary_shrinks_are_smaller_and_keep_every_element_in_its_bucket() =>
        Prop.ForAll(Gen.OneOf(Generators.Binary, Generators.BinaryModerate, Generators.BinaryLong, Generators.BinaryModerateLong).ToArbitrary(), c =>
        {
            var failures = Problems(c).Select(p => "generated: " + p).ToList();
            foreach (var s in Shrink.Binary(c))
            {
                failures.AddRange(Problems(s).Select(p => $"shrink {s}: {p}"));
                if (Shrink.Complexity(s).CompareTo(Shrink.Complexity(c)) >= 0)
                    failures.Add($"shrink {s}: complexity {Shrink.Complexity(s)} not below {Shrink.Complexity(c)}");
                if (!IsSubsequence(s.Buckets.Zip(s.Targets).ToArray(), c.Buckets.Zip(c.Targets).ToArray()))
                    failures.Add($"shrink {s}: its (bucket, target) pairs are not a subsequence of the original's");
            }
            return (failures.Count == 0).Label($"{c}: {string.Join("; ", failures.Take(5))}");
        });

    [LossProperty(MaxTest = 100)]
    public Property multi_class_shrinks_are_smaller_and_keep_every_rows_standing() =>
        Prop.ForAll(Gen.OneOf(Generators.MultiClass, Generators.MultiClassLong).ToArbitrary(), c =>
        {
            var failures = Problems(c).Select(p => "generated: " + p).ToList();
            var standing = Enumerable.Range(0, c.Rows).Select(c.TargetLeads).ToArray();
            foreach (var s in Shrink.MultiClass(c))
            {
                failures.AddRange(Problems(s).Select(p => $"shrink {s}: {p}"));
                if (Shrink.Complexity(s).CompareTo(Shrink.Complexity(c)) >= 0)
                    failures.Add($"shrink {s}: complexity {Shrink.Complexity(s)} not below {Shrink.Complexity(c)}");
                var shrunkStanding = Enumerable.Range(0, s.Rows).Select(s.TargetLeads).ToArray();
                var kept = s.Rows == c.Rows ? shrunkStanding.SequenceEqual(standing) : IsSubsequence(shrunkStanding, standing);
                if (!kept)
                    failures.Add($"shrink {s}: rows changed standing (target is the argmax or not)");
            }
            return (failures.Count == 0).Label($"{c}: {string.Join("; ", failures.Take(5))}");
        });

    [Fact]
    public void a_false_binary_property_shrinks_to_one_confident_wrong_logit_of_magnitude_two_with_gamma_zero_and_no_alpha()
    {
        // "No element is confident-wrong" is false for nearly every long case; the simplest counterexample the
        // buckets allow is a single confident-wrong logit at the bucket's edge with the simplest gamma and alpha.
        BinaryCase? lastFailing = null;
        var property = Prop.ForAll(Generators.BinaryLongArb, c =>
        {
            var holds = !c.Has(Bucket.ConfidentWrong);
            if (!holds) lastFailing = c;
            return holds;
        });
        var e = Assert.ThrowsAny<Exception>(() => Check.One(Config.QuickThrowOnFailure, property));
        var shrunk = lastFailing!;
        Assert.True(shrunk.Logits.Length == 1, $"shrunk to one element: {shrunk}");
        Assert.True(shrunk.Buckets[0] == Bucket.ConfidentWrong, $"the element stays confident-wrong: {shrunk}");
        Assert.True(Math.Abs(shrunk.Logits[0]) == Generators.ConfidentMin, $"the logit moves to the bucket's edge: {shrunk}");
        Assert.True(shrunk.Gamma == 0, $"gamma shrinks to 0: {shrunk}");
        Assert.True(shrunk.Alpha is null, $"alpha shrinks to none: {shrunk}");
        Assert.True(e.Message.Contains(shrunk.ToString(), StringComparison.Ordinal), $"FsCheck reports the shrunk case {shrunk}: {e.Message}");
    }

    [Fact]
    public void a_false_multi_class_property_shrinks_to_one_row_of_two_zero_logits_with_gamma_zero_and_no_alpha()
    {
        // "Every row's target is the argmax" fails on most cases; the simplest counterexample is one row of two
        // equal logits (the target does not lead strictly).
        MultiClassCase? lastFailing = null;
        var property = Prop.ForAll(Generators.MultiClassLongArb, m =>
        {
            var holds = Enumerable.Range(0, m.Rows).All(m.TargetLeads);
            if (!holds) lastFailing = m;
            return holds;
        });
        var e = Assert.ThrowsAny<Exception>(() => Check.One(Config.QuickThrowOnFailure, property));
        var shrunk = lastFailing!;
        Assert.True(shrunk.Rows == 1, $"shrunk to one row: {shrunk}");
        Assert.True(shrunk.Classes == Generators.ClassesMin, $"shrunk to two classes: {shrunk}");
        Assert.True(shrunk.Logits.All(x => x == 0), $"logits shrink to 0: {shrunk}");
        Assert.True(shrunk.Gamma == 0, $"gamma shrinks to 0: {shrunk}");
        Assert.True(shrunk.Alpha is null, $"alpha shrinks to none: {shrunk}");
        Assert.True(e.Message.Contains(shrunk.ToString(), StringComparison.Ordinal), $"FsCheck reports the shrunk case {shrunk}: {e.Message}");
    }

    /// <summary>What makes a binary case invalid for the generators' contract; empty when it is valid.</summary>
    private static IEnumerable<string> Problems(BinaryCase c)
    {
        if (c.Logits.Length < 1) yield return "no elements";
        if (c.Targets.Length != c.Logits.Length || c.Buckets.Length != c.Logits.Length)
            yield return $"lengths differ: {c.Logits.Length} logits, {c.Targets.Length} targets, {c.Buckets.Length} buckets";
        if (!double.IsFinite(c.Gamma) || c.Gamma < 0) yield return $"gamma {c.Gamma} not finite and >= 0";
        if (c.Alpha is { } a && a is not (>= 0 and <= 1)) yield return $"alpha {a} outside [0, 1]";
        for (var i = 0; i < Math.Min(c.Logits.Length, Math.Min(c.Targets.Length, c.Buckets.Length)); i++)
        {
            if (c.Targets[i] is not (0 or 1)) yield return $"[{i}] target {c.Targets[i]} not 0/1";
            if (!Generators.InBucket(c.Buckets[i], c.Targets[i], c.Logits[i])) yield return $"[{i}] logit {c.Logits[i]:R} outside bucket {c.Buckets[i]}";
        }
    }

    private static IEnumerable<string> Problems(MultiClassCase m)
    {
        if (m.Rows < 1) yield return "no rows";
        if (m.Classes < Generators.ClassesMin) yield return $"{m.Classes} classes";
        if (m.Logits.Length != m.Rows * m.Classes) yield return $"{m.Logits.Length} logits for {m.Rows} rows of {m.Classes} classes";
        if (m.Targets.Any(t => t < 0 || t >= m.Classes)) yield return "a target outside [0, classes)";
        if (m.Logits.Any(x => Math.Abs(x) > Generators.MultiLogitMax)) yield return "a logit outside the generator's range";
        if (m.Alpha is { } a && (a.Length != m.Classes || a.Any(v => v is not (>= 0 and <= 1)))) yield return $"alpha of length {a.Length} or outside [0, 1]";
        if (!double.IsFinite(m.Gamma) || m.Gamma < 0) yield return $"gamma {m.Gamma} not finite and >= 0";
    }

    private static bool IsSubsequence<T>(T[] part, T[] whole)
    {
        var j = 0;
        foreach (var x in whole)
            if (j < part.Length && EqualityComparer<T>.Default.Equals(part[j], x)) j++;
        return j == part.Length;
    }
}
