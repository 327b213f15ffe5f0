/// Summary statistics over seeds: means with Student-t 95 % confidence intervals (quantiles from
/// MathNet.Numerics), paired differences, and a seeded percentile bootstrap.
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
