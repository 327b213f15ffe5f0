/// Properties of the statistics behind the report (Expecto + FsCheck).
module Analysis.Tests.StatsTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open Analysis

/// Metric-like samples (AP, ECE...) over 2 to 30 seeds, not all equal.
let samples =
    Gen.choose (2, 30)
    |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.choose (0, 100_000) |> Gen.map (fun k -> float k / 100_000.0)))
    |> Gen.filter (fun xs -> Array.distinct xs |> Array.length > 1)
    |> Arb.fromGen

let config = Props.config 200

[<Tests>]
let tests =
    testList "statistics" [
        testPropertyWithConfig config "a t-interval contains its mean" <| Prop.forAll samples (fun xs ->
            let ci = Stats.meanCI xs
            ci.Lo <= ci.Mean && ci.Mean <= ci.Hi && ci.N = xs.Length)

        testPropertyWithConfig config "an interval narrows with more seeds of the same spread" <| Prop.forAll samples (fun xs ->
            let one = Stats.meanCI xs
            let two = Stats.meanCI (Array.append xs xs)
            (two.Hi - two.Lo) < (one.Hi - one.Lo))

        testPropertyWithConfig config "the paired difference of identical runs is zero" <| Prop.forAll samples (fun xs ->
            let ci, d = Stats.paired xs xs
            ci.Mean = 0.0 && ci.Lo = 0.0 && ci.Hi = 0.0 && d |> Array.forall ((=) 0.0) && not (Stats.significant ci))

        testPropertyWithConfig config "the bootstrap is deterministic under a seed" <| Prop.forAll (Arb.zip (samples, Arb.fromGen (Gen.choose (0, 1000)))) (fun (xs, seed) ->
            Stats.bootstrapCI seed 500 xs = Stats.bootstrapCI seed 500 xs)

        testPropertyWithConfig config "a bootstrap interval lies within the sample's range" <| Prop.forAll samples (fun xs ->
            let ci = Stats.bootstrapCI 1 500 xs
            let slack = 1e-12   // a mean of n copies of x can round one ulp away from x
            Array.min xs - slack <= ci.Lo && ci.Lo <= ci.Hi && ci.Hi <= Array.max xs + slack)

        test "t quantiles equal scipy's t.ppf(0.975, df)" {
            // scipy 1.10.1 (Debian python3-scipy): scipy.stats.t.ppf(0.975, df), an oracle outside this code.
            let scipy =
                [ 1, 12.706204736432095; 2, 4.302652729911275; 3, 3.182446305284263; 4, 2.7764451051977987; 5, 2.5705818366147395
                  9, 2.2621571627409915; 19, 2.093024054408263; 29, 2.045229642132703; 30, 2.0422724563012373
                  60, 2.0002978210582616; 120, 1.9799304050527766; 1000, 1.9623390808264074 ]
            for df, expected in scipy do
                Expect.floatClose { absolute = 1e-12; relative = 1e-9 } (Stats.tQuantile975 df) expected $"t(0.975, {df})"
        }

        test "paired differences are matched by seed: a large per-seed offset shared by both settings cancels" {
            // Seed k moves both settings by 0.1 k (e.g. an easier split): unpaired, that spread would swamp
            // the effect of +0.01; paired by seed it cancels and the interval is narrow around +0.01.
            let offsets = [| 0.0; 0.1; 0.2; 0.3; 0.4 |]
            let noise = [| 0.001; -0.001; 0.0005; -0.0005; 0.0 |]
            let setting = Array.map3 (fun o n _ -> 0.5 + o + 0.01 + n) offsets noise offsets
            let baseline = offsets |> Array.map (fun o -> 0.5 + o)
            let ci, d = Stats.paired setting baseline
            Expect.floatClose Accuracy.high ci.Mean 0.01 "mean paired difference"
            Expect.isLessThan (ci.Hi - ci.Lo) 0.01 "narrow: the shared offsets cancel"
            Expect.isTrue (Stats.significant ci) "the +0.01 effect is found"
            Expect.sequenceEqual d (Array.map2 (-) setting baseline) "differences are taken seed by seed"
        }

        test "NaN values are refused: diverged runs must be counted and dropped explicitly" {
            Expect.throwsC (fun () -> Stats.meanCI [| 0.5; nan; 0.7 |] |> ignore) (fun e ->
                Expect.stringContains e.Message "count and drop diverged runs" "the message says what to do")
        }

        test "a known sample: mean 0.5 with the textbook interval" {
            let ci = Stats.meanCI [| 0.4; 0.5; 0.6 |]
            Expect.floatClose Accuracy.veryHigh ci.Mean 0.5 "mean"
            Expect.floatClose Accuracy.high (ci.Hi - ci.Mean) (4.302652729911275 * 0.1 / sqrt 3.0) "half-width t(2) * sd / sqrt n, t(0.975, 2) from scipy"
        }
    ]
