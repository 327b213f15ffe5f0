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

let config = { FsCheckConfig.defaultConfig with maxTest = 200 }

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

        test "t quantiles match the table and approach 1.96" {
            Expect.floatClose Accuracy.high (Stats.tQuantile975 4) 2.776 "df 4 (5 seeds)"
            Expect.floatClose Accuracy.high (Stats.tQuantile975 9) 2.262 "df 9 (10 seeds)"
            Expect.isTrue (abs (Stats.tQuantile975 60 - 2.0003) < 1e-3) $"df 60: {Stats.tQuantile975 60}"
            Expect.isTrue (abs (Stats.tQuantile975 1000 - 1.9623) < 1e-3) $"df 1000: {Stats.tQuantile975 1000}"
        }

        test "NaN values are refused: diverged runs must be counted and dropped explicitly" {
            Expect.throwsC (fun () -> Stats.meanCI [| 0.5; nan; 0.7 |] |> ignore) (fun e ->
                Expect.stringContains e.Message "count and drop diverged runs" "the message says what to do")
        }

        test "a known sample: mean 0.5 with the textbook interval" {
            let ci = Stats.meanCI [| 0.4; 0.5; 0.6 |]
            Expect.floatClose Accuracy.veryHigh ci.Mean 0.5 "mean"
            Expect.floatClose Accuracy.high (ci.Hi - ci.Mean) (4.303 * 0.1 / sqrt 3.0) "half-width t(2) * sd / sqrt n"
        }
    ]
