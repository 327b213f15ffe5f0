/// Properties of the loss curves the reports draw (Expecto + FsCheck), from meaningful p_t buckets.
module Analysis.Tests.LossCurveTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open Analysis

/// Tolerances are named, per dtype (the curves are float64).
module Tol =
    let identity64 = Accuracy.veryHigh

/// p_t buckets: confident-wrong, uncertain, confident-right, saturated-right.
let ptBucket =
    Gen.oneof [
        Gen.choose (1, 100_000) |> Gen.map (fun k -> "confident-wrong", float k * 1e-6)
        Gen.choose (300, 700) |> Gen.map (fun k -> "uncertain", float k / 1000.0)
        Gen.choose (900_000, 999_999) |> Gen.map (fun k -> "confident-right", float k / 1e6)
        Gen.choose (1, 1000) |> Gen.map (fun k -> "saturated-right", 1.0 - float k * 1e-12) ]

let gammaGen = Gen.oneof [ Gen.elements [ 0.0; 0.5; 1.0; 2.0; 5.0 ]; Gen.choose (0, 5000) |> Gen.map (fun k -> float k / 1000.0) ]
let alphaGen = Gen.oneof [ Gen.constant None; Gen.choose (0, 1000) |> Gen.map (fun k -> Some(float k / 1000.0)) ]

let config = Props.config 100

let classify (bucket: string) (prop: bool) = prop |> Prop.classify true bucket

[<Tests>]
let tests =
    testSequenced <| testList "loss curves" [
        testPropertyWithConfig config "focal loss at gamma 0 is alpha times cross-entropy" <|
            Prop.forAll (Arb.fromGen (Gen.zip ptBucket alphaGen)) (fun ((bucket, pt), alpha) ->
                let point = LossCurves.curve alpha [ 0.0 ] [ pt ] |> List.exactlyOne
                let expected = defaultArg alpha 1.0 * point.CrossEntropy
                Math.Abs(point.Focal - expected) <= 1e-12 + 1e-9 * expected |> classify bucket)

        testPropertyWithConfig config "focal loss falls as p_t rises" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 ptBucket ptBucket gammaGen)) (fun ((b1, p1), (b2, p2), gamma) ->
                let lo, hi = min p1 p2, max p1 p2
                match LossCurves.curve (Some 0.25) [ gamma ] [ lo; hi ] with
                | [ low; high ] -> high.Focal <= low.Focal * (1.0 + 1e-12) |> classify $"{b1}/{b2}"
                | other -> failwithf "expected two points, got %d" other.Length)

        testPropertyWithConfig config "gradient of a positive sample is finite and never positive" <|
            Prop.forAll (Arb.fromGen (Gen.zip ptBucket gammaGen)) (fun ((bucket, pt), gamma) ->
                let point = LossCurves.curve None [ gamma ] [ pt ] |> List.exactlyOne
                (Double.IsFinite point.Gradient && point.Gradient <= 0.0) |> classify bucket)

        test "the seed's operating point: gamma 2, alpha 0.25, p_t 0.7" {
            let point = LossCurves.curve (Some 0.25) [ 2.0 ] [ 0.7 ] |> List.exactlyOne
            Expect.floatClose Tol.identity64 point.Focal (0.25 * 0.09 * -Math.Log 0.7) "FL = alpha (1 - p_t)^2 CE at p_t = 0.7"
        }

        test "p_t outside (0, 1) is rejected with the value named" {
            Expect.throwsC (fun () -> LossCurves.curve None [ 2.0 ] [ 0.5; 1.0 ] |> ignore) (fun e ->
                Expect.stringContains e.Message "every p_t must lie in (0, 1), got 1" "the message names the bad value")
        }

        test "the table has a row per p_t and a column per gamma" {
            let table = LossCurves.curve (Some 0.25) [ 0.0; 2.0 ] [ 0.1; 0.9 ] |> LossCurves.formatTable
            let lines = table.Split('\n')
            Expect.equal lines.Length 3 "header and two rows"
            Expect.stringContains lines[0] "FL g=2" "gamma 2 column"
        }
    ]
