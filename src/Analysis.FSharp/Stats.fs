/// Summary statistics over seeds: means with Student-t 95 % confidence intervals (quantiles from
/// MathNet.Numerics), paired differences, a seeded percentile bootstrap, paired tests (t and Wilcoxon
/// signed-rank, both matching scipy 1.10), Holm's multiplicity adjustment and relative change.
module Analysis.Stats

open System

/// A mean with its 95 % interval over N values (Lo = Hi = NaN when N < 2).
type Interval = { Mean: float; Lo: float; Hi: float; N: int }

/// t(0.975, df), the two-sided 95 % Student-t quantile, from MathNet.Numerics' inverse CDF.
let tQuantile975 (df: int) =
    if df < 1 then invalidArg (nameof df) $"df must be >= 1, got {df}"
    MathNet.Numerics.Distributions.StudentT.InvCDF(0.0, 1.0, float df, 0.975)

let mean (xs: float[]) = if xs.Length = 0 then nan else Array.average xs

/// Sample standard deviation (n - 1).
let sd (xs: float[]) =
    if xs.Length < 2 then nan
    else
        let m = mean xs
        sqrt ((xs |> Array.sumBy (fun x -> (x - m) * (x - m))) / float (xs.Length - 1))

/// Mean and t-based 95 % interval. NaN values are rejected: count diverged runs before calling.
let meanCI (xs: float[]) : Interval =
    if xs |> Array.exists Double.IsNaN then invalidArg (nameof xs) "values must not contain NaN: count and drop diverged runs explicitly first"
    let n = xs.Length
    let m = mean xs
    if n < 2 then { Mean = m; Lo = nan; Hi = nan; N = n }
    else
        let half = tQuantile975 (n - 1) * sd xs / sqrt (float n)
        { Mean = m; Lo = m - half; Hi = m + half; N = n }

/// Paired differences xs[i] - ys[i] and their mean with a 95 % interval.
let paired (xs: float[]) (ys: float[]) : Interval * float[] =
    if xs.Length <> ys.Length then invalidArg (nameof ys) $"ys must pair with xs: lengths {xs.Length} and {ys.Length}"
    let d = Array.map2 (-) xs ys
    meanCI d, d

/// Percentile bootstrap 95 % interval of the mean: <paramref name="resamples"/> resamples drawn with a
/// System.Random seeded by <paramref name="seed"/>, so the same seed gives the same interval.
let bootstrapCI (seed: int) (resamples: int) (xs: float[]) : Interval =
    if resamples < 1 then invalidArg (nameof resamples) $"resamples must be >= 1, got {resamples}"
    if xs.Length = 0 then invalidArg (nameof xs) "xs must not be empty"
    let rng = Random(seed)
    let means =
        Array.init resamples (fun _ -> Array.init xs.Length (fun _ -> xs[rng.Next xs.Length]) |> Array.average)
        |> Array.sort
    let q (p: float) = means[min (resamples - 1) (int (floor (p * float resamples)))]
    { Mean = mean xs; Lo = q 0.025; Hi = q 0.975; N = xs.Length }

/// True when the interval excludes zero.
let significant (i: Interval) = not (Double.IsNaN i.Lo) && (i.Lo > 0.0 || i.Hi < 0.0)

/// Paired tests refuse NaN and infinite differences: a diverged run has no difference to test.
let private requireFinite (name: string) (d: float[]) =
    match d |> Array.tryFindIndex (Double.IsFinite >> not) with
    | Some i -> invalidArg name $"differences must be finite, got {d[i]} at index {i}: count and drop diverged runs explicitly first"
    | None -> ()

/// <summary>Two-sided p-value of the one-sample Student t-test of paired differences <paramref name="d"/>
/// against 0: t = mean d / (sd d / sqrt n) on n - 1 degrees of freedom, p = P(|T| >= |t|) = 2 F(-|t|) with
/// F MathNet.Numerics' StudentT CDF (the lower tail directly, so a small p keeps its digits). Equals
/// scipy.stats.ttest_1samp(d, 0).pvalue (scipy 1.10) wherever that is defined.</summary>
/// <remarks>Edge cases, where scipy returns NaN or divides by zero:
/// n &lt; 2 gives NaN (no variance to estimate; scipy agrees);
/// all differences exactly 0 gives 1 (identical runs: an exact tie is no evidence of a difference; scipy gives NaN);
/// all differences equal to the same non-zero value (zero sample variance, non-zero mean) has no t statistic:
/// it gets the exact two-sided sign-test p, 2 / 2^n (0.5 for 2 pairs, 0.0625 for 5, 0.002 for 10), not the
/// limit 0, so two seeds that both moved by one test sample are not a certainty; the test is on exact
/// equality, so a sample that is constant up to rounding gets its huge |t| and a p next to 0 instead.
/// NaN or infinite differences are refused: count and drop diverged runs first.</remarks>
let pairedTTest (d: float[]) : float =
    requireFinite (nameof d) d
    let n = d.Length
    if n < 2 then nan
    elif d |> Array.forall (fun x -> x = d[0]) then (if d[0] = 0.0 then 1.0 else min 1.0 (Math.ScaleB(1.0, 1 - n)))
    else
        let t = mean d / (sd d / sqrt (float n))
        2.0 * MathNet.Numerics.Distributions.StudentT.CDF(0.0, 1.0, float (n - 1), -abs t)

/// Ranks 1..n of xs in ascending order, tied values sharing the mean of their positions
/// (scipy.stats.rankdata's default, method='average').
let private averageRanks (xs: float[]) : float[] =
    let order = Array.init xs.Length id |> Array.sortBy (fun i -> xs[i])
    let ranks = Array.zeroCreate xs.Length
    let mutable first = 0
    while first < order.Length do
        let mutable last = first
        while last + 1 < order.Length && xs[order[last + 1]] = xs[order[first]] do last <- last + 1
        let shared = float (first + last + 2) / 2.0   // positions first..last hold ranks first+1..last+1
        for k in first .. last do ranks[order[k]] <- shared
        first <- last + 1
    ranks

/// Sizes of the groups of equal values in xs (1 for an untied value).
let private tieGroupSizes (xs: float[]) : int[] = xs |> Array.countBy id |> Array.map snd

/// The null distribution of the Wilcoxon statistic W+ over n untied ranks, as counts: element w is the number
/// of the 2^n equally likely sign patterns whose positive ranks sum to w, for w = 0 .. n(n+1)/2. Dynamic
/// programming over ranks: rank k joins (or not) every subset of 1..k-1, so counts(w) += counts(w - k),
/// updated from the top down so each rank is used at most once. Exact in int64 for n &lt;= 61 (counts &lt; 2^n).
let private signedRankCounts (n: int) : int64[] =
    let counts = Array.zeroCreate<int64> (n * (n + 1) / 2 + 1)
    counts[0] <- 1L
    for k in 1 .. n do
        for w in k * (k + 1) / 2 .. -1 .. k do counts[w] <- counts[w] + counts[w - k]
    counts

/// Largest n (zeros included) for which scipy 1.10's default method='auto' uses the exact distribution.
[<Literal>]
let private WilcoxonExactMaxN = 50

/// <summary>Two-sided p-value of the Wilcoxon signed-rank test of paired differences <paramref name="d"/>
/// against a distribution symmetric about 0, exactly as scipy.stats.wilcoxon(d).pvalue computes it by
/// default in scipy 1.10 (zero_method='wilcox', correction=False, method='auto'):</summary>
/// <remarks>
/// Ranks are the average ranks of |d|; W+ and W- sum the ranks of the positive and negative differences.
/// Exact: when n &lt;= 50 (n counted before any zero is dropped) and no difference is 0, p = 2 min(P(W+ &lt;= w),
/// P(W+ &gt;= w)) under the exact null distribution (dynamic programming over ranks, see signedRankCounts), capped
/// at 1 (so p = 1 at the centre n(n+1)/4), with w = W+ truncated to an integer.
/// scipy 1.10 stays exact when |d| has ties: it then uses the untied distribution with a half-integer W+
/// truncated, which errs towards a larger p when W+ lies above the centre and a smaller one below it, so negating
/// such a d can change p (0.193 against 0.160 in the tests); this follows 1.10 on purpose.
/// Normal approximation otherwise (n &gt; 50, or any zero): zeros are dropped (count = non-zero differences),
/// z = (min(W+, W-) - count(count+1)/4) / sqrt((count(count+1)(2count+1) - sum t(t^2-1)/2) / 24), t the size of
/// each group of tied |d|, no continuity correction (scipy's default correction=False), p = 2 Phi(-|z|) = erfc(|z|/sqrt 2).
/// Edge cases: an empty d gives NaN (as scipy); all differences 0 gives 1, an exact tie as in pairedTTest (scipy
/// raises ValueError). NaN or infinite differences are refused.
/// With n seeds the smallest possible p is 2 / 2^n: 0.0625 for 5 pairs, never below 0.05, so the report uses
/// this test only with at least 6 seeds (smallest p 0.03125).
/// </remarks>
let wilcoxonSignedRank (d: float[]) : float =
    requireFinite (nameof d) d
    let nonZero = d |> Array.filter (fun x -> x <> 0.0)
    if d.Length = 0 then nan
    elif nonZero.Length = 0 then 1.0
    else
        let count = nonZero.Length
        let ranks = averageRanks (nonZero |> Array.map abs)
        let wPlus = Array.fold2 (fun s x r -> if x > 0.0 then s + r else s) 0.0 nonZero ranks
        let wMinus = Array.fold2 (fun s x r -> if x < 0.0 then s + r else s) 0.0 nonZero ranks
        if d.Length <= WilcoxonExactMaxN && count = d.Length then
            let counts = signedRankCounts count
            let w = int wPlus   // scipy 1.10: int(r_plus), a truncation when ties make W+ a half-integer
            let atMost = Array.sum counts[.. w]
            let atLeast = Array.sum counts[w ..]
            // counts are exact integers below 2^50, so this is one rounding; at the centre 2 min(...) >= 1 and the cap
            // gives scipy's special-cased p = 1 there
            min 1.0 (Math.ScaleB(2.0 * float (min atMost atLeast), -count))
        else
            let c = float count
            let tieTerm = tieGroupSizes (nonZero |> Array.map abs) |> Array.sumBy (fun t -> let t = float t in t * (t * t - 1.0))
            let se = sqrt ((c * (c + 1.0) * (2.0 * c + 1.0) - 0.5 * tieTerm) / 24.0)
            let z = (min wPlus wMinus - c * (c + 1.0) / 4.0) / se
            MathNet.Numerics.SpecialFunctions.Erfc(abs z / sqrt 2.0)

/// <summary>Holm-Bonferroni adjusted p-values, in the order of <paramref name="ps"/>: with the m non-NaN
/// p-values sorted ascending, p_(1) &lt;= ... &lt;= p_(m), the adjusted p_(i) = max over j &lt;= i of
/// min(1, (m - j + 1) p_(j)) (step-down; the running maximum keeps the adjusted values in the order of the raw
/// ones). Equals statsmodels' multipletests(ps, method='holm')[1] on the non-NaN entries.</summary>
/// <remarks>NaN entries (a test that could not be run, e.g. fewer than 2 seeds) stay NaN in place and are not
/// counted in m, so they neither get nor cause any adjustment. Values outside [0, 1] are refused.</remarks>
let holm (ps: float[]) : float[] =
    match ps |> Array.tryFindIndex (fun p -> not (Double.IsNaN p) && not (0.0 <= p && p <= 1.0)) with
    | Some i -> invalidArg (nameof ps) $"p-values must lie in [0, 1] or be NaN, got {ps[i]} at index {i}"
    | None -> ()
    let ascending = Array.init ps.Length id |> Array.filter (fun i -> not (Double.IsNaN ps[i])) |> Array.sortBy (fun i -> ps[i])
    let m = ascending.Length
    let adjusted = Array.copy ps
    let mutable runningMax = 0.0
    ascending |> Array.iteri (fun j i ->
        runningMax <- max runningMax (min 1.0 (float (m - j) * ps[i]))   // j is 0-based: factor m - j = m - (j+1) + 1
        adjusted[i] <- runningMax)
    adjusted

/// <summary>Relative change of a setting against its baseline: the mean paired difference over the baseline's
/// mean magnitude, meanDiff / |baselineMean| (0.05 = 5 % better on a higher-is-better metric).</summary>
/// <remarks>Dividing by |baselineMean| keeps the sign of the change equal to the sign of meanDiff; for the
/// non-negative metrics of the report (AP, ECE, loss) it is simply meanDiff / baselineMean. NaN when
/// |baselineMean| is below 0.01 (a near-zero baseline turns any change into thousands of per cent, which says
/// nothing) and whenever either input is NaN.</remarks>
let relativeChange (baselineMean: float) (meanDiff: float) : float =
    if not (abs baselineMean >= 0.01) then nan else meanDiff / abs baselineMean
