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

/// Tolerances are named: scipy's p-values are float64 and both sides compute them in closed form or exactly.
module Tol =
    let scipy = { absolute = 0.0; relative = 1e-10 }
    let statsmodels = { absolute = 0.0; relative = 1e-12 }

/// Paired differences and their p-values from scipy 1.10.1 (Debian python3-scipy), an oracle outside this code:
///   /usr/bin/python3 -c "import numpy as np, scipy.stats as s; d = np.array(k) / 1e4; print(repr(s.ttest_1samp(d, 0).pvalue), repr(s.wilcoxon(d).pvalue))"
/// with k each row's integers: d = k / 1e4 is one correctly rounded division, the same double in numpy and here.
/// Columns: name, k, ttest_1samp p, wilcoxon p; the comment says which route scipy 1.10's wilcoxon takes.
let scipyCases =
    [ //  name, k, ttest_1samp(d, 0).pvalue, wilcoxon(d).pvalue
      "n5 no ties", [| 120; -40; 210; 80; 150 |], 0.06756236679865858, 0.125   // n = 5: exact
      "n5 all positive", [| 120; 40; 210; 80; 150 |], 0.014660588623418095, 0.0625   // n = 5: exact
      "n6 no ties", [| 35; -12; 48; 22; 9; 61 |], 0.054215007326311716, 0.09375   // n = 6: exact
      "n6 all positive", [| 35; 12; 48; 22; 9; 61 |], 0.014027355386873813, 0.03125   // n = 6: exact
      "n6 one zero", [| 35; 0; 48; -22; 9; 61 |], 0.1500907388217573, 0.13801073756865956   // n = 6, 1 zero: normal approximation
      "n10 no ties", [| 82; 68; -21; -64; 18; 126; 137; 103; 58; 158 |], 0.016080246165015778, 0.02734375   // n = 10: exact
      "n10 ties half-integer rank sum", [| 10; -10; 25; 30; -5; 40; 55; 25; 60; -70 |], 0.21485989980003967, 0.193359375   // n = 10, ties in |d|: exact
      "n10 zeros and ties", [| 0; 15; -15; 0; 30; 45; 30; -8; 60; 12 |], 0.053773067465901804, 0.058088626398563256   // n = 10, 2 zeros, ties in |d|: normal approximation
      "n30 no ties", [| 281; 285; 167; 121; -268; -27; -53; 236; 185; 147; 96; -61; -129; 215; 126; 89; 178; -116; -71; -95; -51; 39; -98; 87; 56; -15; 141; 189; 214; 88 |], 0.01513489347848011, 0.013663241639733315   // n = 30: exact
      "n30 ties", [| 200; 125; 50; 125; -75; -75; 50; 50; 150; 150; 25; 75; -100; -100; 150; -125; -25; -50; -75; 125; 50; 100; 125; 50; 25; -50; 75; 200; -200; -25 |], 0.08814896110777411, 0.09194962680339813   // n = 30, ties in |d|: exact
      "n30 strong effect", [| 481; 374; 524; 424; 230; 568; 427; 294; 567; 288; 340; 337; 565; 328; 450; 414; 438; 392; 544; 451; 352; 456; 472; 259; 418; 581; 439; 400; 512; 275 |], 2.3785000924154613e-20, 1.862645149230957e-09   // n = 30: exact
      "n50 no ties exact", [| -5; -147; 13; 53; 79; -3; 47; -175; 63; -187; -120; 112; 24; 122; -33; -213; -10; 6; -95; -260; 50; 1; -29; 17; 59; -117; 44; 12; 84; 124; 198; -92; -82; -105; 219; 64; 65; 116; 36; 91; 86; 41; -25; -4; -123; -23; -38; 37; 74; -43 |], 0.9910538524825485, 0.645875956795086   // n = 50: exact
      "n51 no ties approx", [| 45; -83; 38; -70; -113; -56; 40; 173; -114; 128; 14; 121; 25; 65; 30; 21; 126; 157; -117; 100; -269; -2; -50; 94; 20; 31; -68; -24; -12; -69; -29; -85; 88; 8; -293; -47; -220; -59; 7; 145; -120; 143; 205; 28; -71; -91; 43; 52; 63; 33; 16 |], 0.9968207654071949, 0.7499556273330805   // n = 51: normal approximation
      "n60 no ties", [| 251; 29; -45; -34; -135; 28; -77; -57; -125; 203; 120; -95; -193; -83; 21; 143; 47; 56; 112; -51; 107; 187; -22; -3; 15; -204; 149; -13; 228; -89; 218; 113; 74; 240; 164; -66; 63; -31; 277; -54; -30; 55; -98; 253; 211; -140; 72; 10; 179; -27; 71; 8; 81; -131; 145; -32; 167; 177; 78; 59 |], 0.007802720116067262, 0.016400331787624508   // n = 60: normal approximation
      "n60 ties and zeros", [| 0; -40; 40; -40; 0; 0; -80; 120; -20; -20; -40; -40; 40; -40; -80; 140; 20; -60; 0; 60; 20; -120; 0; 0; 20; 120; -20; 40; 40; 40; 80; 100; -40; 20; 40; 140; 0; 20; -60; 40; 0; -20; 20; 140; -100; -40; -120; 0; -80; 80; -40; 20; 60; -60; 20; 80; 100; 0; 40; -40 |], 0.30608573175596854, 0.43109337017689553   // n = 60, 10 zeros, ties in |d|: normal approximation
    ]
    |> List.map (fun (name, ks: int[], t, w) -> name, ks |> Array.map (fun k -> float k / 1e4), t, w)

/// Paired differences over 1 to 60 seeds (k / 1e4, metric-sized: n crosses the Wilcoxon exact limit of 50),
/// from buckets that reach every branch of the paired tests.
let differences (minN: int) =
    let ofInts (ks: int[]) = ks |> Array.map (fun k -> float k / 1e4)
    let sized g = Gen.choose (minN, 60) |> Gen.bind (fun n -> Gen.arrayOfLength n g)
    Gen.oneof [
        sized (Gen.choose (-500, 500)) |> Gen.map (fun ks -> "noise around 0", ofInts ks)
        sized (Gen.choose (-100, 500)) |> Gen.map (fun ks -> "shifted", ofInts ks)
        sized (Gen.elements [ -20; -10; 0; 0; 10; 20; 30 ]) |> Gen.map (fun ks -> "ties and zeros", ofInts ks)
        Gen.zip (Gen.choose (minN, 60)) (Gen.choose (-500, 500)) |> Gen.map (fun (n, k) -> "constant", Array.create n (float k / 1e4))
        Gen.choose (minN, 60) |> Gen.map (fun n -> "identical runs", Array.zeroCreate n) ]

/// Differences whose magnitudes are all distinct and non-zero, over 1 to 12 seeds: the exact Wilcoxon route.
let untiedDifferences =
    Gen.choose (1, 12)
    |> Gen.bind (fun n -> Gen.shuffle [| 1 .. 40 |] |> Gen.map (Array.truncate n))
    |> Gen.bind (fun magnitudes -> Gen.arrayOfLength magnitudes.Length (Gen.elements [ -1.0; 1.0 ]) |> Gen.map (Array.map2 (fun m s -> s * float m / 1e4) magnitudes))

/// Two-sided exact Wilcoxon p-value by brute force: every one of the 2^n sign patterns of the ranks 1..n.
let bruteForceWilcoxon (d: float[]) =
    let n = d.Length
    let rankOf = d |> Array.map abs |> Array.sort
    let observed = d |> Array.sumBy (fun x -> if x > 0.0 then float (Array.IndexOf(rankOf, abs x) + 1) else 0.0)
    let sums = [| for mask in 0 .. (1 <<< n) - 1 -> [ for r in 1 .. n do if mask &&& (1 <<< (r - 1)) <> 0 then float r ] |> List.sum |]
    let share f = float (sums |> Array.filter f |> Array.length) / float sums.Length
    min 1.0 (2.0 * min (share (fun w -> w <= observed)) (share (fun w -> w >= observed)))

/// p-value vectors of 1 to 20 tests from buckets: tiny, small, anywhere, the exact ends 0 and 1, ties, NaN (a test not run).
let pValues =
    let p =
        Gen.oneof [
            Gen.choose (0, 1000) |> Gen.map (fun k -> "tiny", float k * 1e-9)
            Gen.choose (0, 500) |> Gen.map (fun k -> "small", float k / 1e4)
            Gen.choose (0, 1_000_000) |> Gen.map (fun k -> "anywhere", float k / 1e6)
            Gen.elements [ "0 or 1", 0.0; "0 or 1", 1.0 ]
            Gen.elements [ "tie", 0.01; "tie", 0.02 ]
            Gen.constant ("NaN", nan) ]
    Gen.choose (1, 20) |> Gen.bind (fun n -> Gen.arrayOfLength n p)

let classifyAll (labels: string seq) (prop: bool) = Seq.fold (fun pr label -> pr |> Prop.classify true label) (Prop.ofTestable prop) (Seq.distinct labels)

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

        testList "paired t-test" [
            test "p-values equal scipy's ttest_1samp(d, 0).pvalue" {
                for name, d, expected, _ in scipyCases do
                    Expect.floatClose Tol.scipy (Stats.pairedTTest d) expected $"paired t-test p, {name}"
            }

            testPropertyWithConfig config "a paired t-test p-value lies in [0, 1]" <|
                Prop.forAll (Arb.fromGen (differences 2)) (fun (bucket, d) ->
                    let p = Stats.pairedTTest d
                    (0.0 <= p && p <= 1.0) |> Prop.classify true bucket)

            testPropertyWithConfig config "negating every difference leaves the paired t-test p unchanged" <|
                Prop.forAll (Arb.fromGen (differences 2)) (fun (bucket, d) ->
                    // negation is exact in floating point and the test is two-sided, so the p-values are equal, not just close
                    Stats.pairedTTest (Array.map (~-) d) = Stats.pairedTTest d |> Prop.classify true bucket)

            testPropertyWithConfig config "identical runs give a paired t-test p of 1" <| Prop.forAll samples (fun xs ->
                let _, d = Stats.paired xs xs
                Stats.pairedTTest d = 1.0)

            test "fewer than 2 differences give NaN" {
                Expect.isTrue (Double.IsNaN (Stats.pairedTTest [||])) "no differences"
                Expect.isTrue (Double.IsNaN (Stats.pairedTTest [| 0.01 |])) "one difference: no variance"
                Expect.isTrue (Double.IsNaN (Stats.pairedTTest [| 0.0 |])) "one difference, even a zero one"
            }

            test "equal non-zero differences (zero variance) get the exact sign-test p, 2 / 2^n" {
                Expect.equal (Stats.pairedTTest [| 0.00025; 0.00025 |]) 0.5 "two seeds that both moved alike: p 0.5, no certainty"
                Expect.equal (Stats.pairedTTest [| 0.01; 0.01; 0.01 |]) 0.25 "constant +0.01, 3 pairs"
                Expect.equal (Stats.pairedTTest (Array.create 6 -0.25)) 0.03125 "constant -0.25, 6 pairs"
            }

            test "diverged runs are refused" {
                for d in [ [| 0.1; nan; 0.2 |]; [| 0.1; infinity |] ] do
                    Expect.throwsC (fun () -> Stats.pairedTTest d |> ignore) (fun e ->
                        Expect.stringContains e.Message "count and drop diverged runs" "the message says what to do")
            }
        ]

        testList "wilcoxon signed-rank" [
            test "p-values equal scipy's wilcoxon(d).pvalue, exact and approximate" {
                for name, d, _, expected in scipyCases do
                    Expect.floatClose Tol.scipy (Stats.wilcoxonSignedRank d) expected $"Wilcoxon p, {name}"
            }

            test "like scipy 1.10, ties on the exact route truncate W+, so negating the differences changes p" {
                // W+ = 41.5 is truncated to 41, and after negation W+ = 13.5 to 13: P(W+ >= 41) <> P(W+ <= 13).
                // /usr/bin/python3 -c "import numpy as np, scipy.stats as s; d = np.array([10, -10, 25, 30, -5, 40, 55, 25, 60, -70]) / 1e4; print(repr(s.wilcoxon(d).pvalue), repr(s.wilcoxon(-d).pvalue))"
                // -> 0.193359375 0.16015625
                let d = [| 10; -10; 25; 30; -5; 40; 55; 25; 60; -70 |] |> Array.map (fun k -> float k / 1e4)
                Expect.floatClose Tol.scipy (Stats.wilcoxonSignedRank d) 0.193359375 "as given"
                Expect.floatClose Tol.scipy (Stats.wilcoxonSignedRank (Array.map (~-) d)) 0.16015625 "negated"
            }

            testPropertyWithConfig config "the exact p equals the share of all 2^n sign patterns at least as extreme" <|
                Prop.forAll (Arb.fromGen untiedDifferences) (fun d ->
                    Math.Abs(Stats.wilcoxonSignedRank d - bruteForceWilcoxon d) <= 1e-15 |> Prop.classify true $"n = {d.Length}")

            testPropertyWithConfig config "a Wilcoxon p-value lies in [0, 1]" <|
                Prop.forAll (Arb.fromGen (differences 1)) (fun (bucket, d) ->
                    let p = Stats.wilcoxonSignedRank d
                    (0.0 <= p && p <= 1.0) |> Prop.classify true bucket |> Prop.classify (d.Length > 50) "n > 50")

            testPropertyWithConfig config "negating untied differences leaves the Wilcoxon p unchanged" <|
                Prop.forAll (Arb.fromGen (differences 1)) (fun (bucket, d) ->
                    let nonZero = d |> Array.filter ((<>) 0.0) |> Array.map abs
                    let exactWithTies = d.Length <= 50 && nonZero.Length = d.Length && (Array.distinct nonZero).Length < nonZero.Length
                    (not exactWithTies ==> lazy (Stats.wilcoxonSignedRank (Array.map (~-) d) = Stats.wilcoxonSignedRank d))
                    |> Prop.classify true bucket)

            test "with 5 pairs no p falls below 0.0625; with 6 the smallest is 0.03125" {
                let smallest n =
                    [ for mask in 0 .. (1 <<< n) - 1 ->
                        Array.init n (fun i -> (if mask &&& (1 <<< i) <> 0 then 1.0 else -1.0) * float (i + 1) / 100.0)
                        |> Stats.wilcoxonSignedRank ] |> List.min
                Expect.equal (smallest 5) 0.0625 "5 seeds: 2 / 2^5, so the report needs at least 6"
                Expect.equal (smallest 6) 0.03125 "6 seeds: 2 / 2^6"
            }

            test "identical runs give 1 and no differences give NaN" {
                Expect.equal (Stats.wilcoxonSignedRank (Array.zeroCreate 8)) 1.0 "all zero: an exact tie (scipy raises)"
                Expect.isTrue (Double.IsNaN (Stats.wilcoxonSignedRank [||])) "empty, as scipy"
            }

            test "diverged runs are refused" {
                Expect.throwsC (fun () -> Stats.wilcoxonSignedRank [| 0.1; nan; 0.2 |] |> ignore) (fun e ->
                    Expect.stringContains e.Message "count and drop diverged runs" "the message says what to do")
            }
        ]

        testList "holm" [
            test "a hand-computed example" {
                // p = [0.01, 0.04, 0.03, 0.005], m = 4. Ascending: 0.005, 0.01, 0.03, 0.04 with factors 4, 3, 2, 1:
                //   4 * 0.005 = 0.02, 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, 1 * 0.04 = 0.04 -> running max 0.02, 0.03, 0.06, 0.06
                // (0.04 rises to 0.06: it cannot be more significant than the 0.03 rejected before it).
                // Back in input order: [0.03, 0.06, 0.06, 0.02]. statsmodels 0.13.5 agrees:
                // /usr/bin/python3 -c "from statsmodels.stats.multitest import multipletests as mt; print(list(mt([0.01, 0.04, 0.03, 0.005], method='holm')[1]))"
                // -> [0.03, 0.06, 0.06, 0.02]
                let adjusted = Stats.holm [| 0.01; 0.04; 0.03; 0.005 |]
                Array.iter2 (fun a e -> Expect.floatClose Tol.statsmodels a e $"adjusted {Array.toList adjusted}") adjusted [| 0.03; 0.06; 0.06; 0.02 |]
            }

            test "NaN entries stay in place and do not count in m" {
                // the same four tests and a fifth that could not be run: m stays 4, so the values above
                let adjusted = Stats.holm [| 0.01; nan; 0.04; 0.03; 0.005 |]
                Expect.isTrue (Double.IsNaN adjusted[1]) "the test not run stays NaN"
                Array.iter2 (fun a e -> Expect.floatClose Tol.statsmodels a e $"adjusted {Array.toList adjusted}") (Array.map (fun i -> adjusted[i]) [| 0; 2; 3; 4 |]) [| 0.03; 0.06; 0.06; 0.02 |]
            }

            test "equals statsmodels' multipletests(method='holm') with ties, 0, 1 and capping" {
                // /usr/bin/python3 -c "from statsmodels.stats.multitest import multipletests as mt; print([repr(x) for x in mt([0.2, 0.001, 0.04, 0.04, 0.6, 0.0, 1.0, 0.012, 0.45, 0.0049], method='holm')[1]])"
                let raw = [| 0.2; 0.001; 0.04; 0.04; 0.6; 0.0; 1.0; 0.012; 0.45; 0.0049 |]   // 3 * 0.45 and 2 * 0.6 exceed 1: capped
                let statsmodels = [| 0.8; 0.009000000000000001; 0.24; 0.24; 1.0; 0.0; 1.0; 0.084; 1.0; 0.0392 |]
                Array.iter2 (fun a e -> Expect.floatClose Tol.statsmodels a e "adjusted p") (Stats.holm raw) statsmodels
            }

            testPropertyWithConfig config "an adjusted p is never smaller than its raw p, and NaN stays NaN" <|
                Prop.forAll (Arb.fromGen pValues) (fun labelled ->
                    let raw = Array.map snd labelled
                    Array.forall2 (fun r a -> if Double.IsNaN r then Double.IsNaN a else a >= r) raw (Stats.holm raw)
                    |> classifyAll (Array.map fst labelled))

            testPropertyWithConfig config "an adjusted p is never above 1, nor above Bonferroni's m p" <|
                Prop.forAll (Arb.fromGen pValues) (fun labelled ->
                    let raw = Array.map snd labelled
                    let m = raw |> Array.filter (Double.IsNaN >> not) |> Array.length |> float
                    Array.forall2 (fun r a -> Double.IsNaN r || (a <= 1.0 && a <= m * r)) raw (Stats.holm raw)
                    |> classifyAll (Array.map fst labelled))

            testPropertyWithConfig config "adjusted p-values keep the order of the raw ones" <|
                Prop.forAll (Arb.fromGen pValues) (fun labelled ->
                    let raw = Array.map snd labelled
                    let adjusted = Stats.holm raw
                    let tested = [ for i in 0 .. raw.Length - 1 do if not (Double.IsNaN raw[i]) then raw[i], adjusted[i] ]
                    List.allPairs tested tested |> List.forall (fun ((r1, a1), (r2, a2)) -> r1 > r2 || a1 <= a2)
                    |> classifyAll (Array.map fst labelled))

            testPropertyWithConfig config "with one test (m = 1) the adjusted p is the raw p, whatever NaNs surround it" <|
                Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (0, 1_000_000)) (Gen.choose (0, 5)) (Gen.choose (0, 5)))) (fun (k, before, after) ->
                    let p = float k / 1e6
                    let raw = Array.concat [ Array.create before nan; [| p |]; Array.create after nan ]
                    let adjusted = Stats.holm raw
                    adjusted[before] = p && adjusted |> Array.indexed |> Array.forall (fun (i, a) -> i = before || Double.IsNaN a))

            test "p-values outside [0, 1] are refused" {
                Expect.throwsC (fun () -> Stats.holm [| 0.01; 1.5 |] |> ignore) (fun e ->
                    Expect.stringContains e.Message "must lie in [0, 1]" "the message says the range")
            }
        ]

        test "relative change is the mean difference over the baseline's magnitude" {
            Expect.floatClose Accuracy.veryHigh (Stats.relativeChange 0.5 0.01) 0.02 "+0.01 on 0.5 is +2 %"
            Expect.floatClose Accuracy.veryHigh (Stats.relativeChange 0.25 -0.05) -0.2 "-0.05 on 0.25 is -20 %"
            Expect.floatClose Accuracy.veryHigh (Stats.relativeChange -2.0 1.0) 0.5 "the sign follows the difference, not the baseline"
            Expect.isTrue (Double.IsNaN (Stats.relativeChange 0.0 0.01)) "a zero baseline has no scale"
            Expect.isTrue (Double.IsNaN (Stats.relativeChange 0.0 0.0)) "not even for a zero difference"
            Expect.isTrue (Double.IsNaN (Stats.relativeChange 0.002 0.11)) "a near-zero baseline gives no percentage (it would read +5500 %)"
            Expect.isTrue (Double.IsNaN (Stats.relativeChange nan 0.01)) "NaN in, NaN out"
        }
    ]
