/// Frames and verdicts on constructed runs, where the right answer is known by construction.
module Analysis.Tests.ReportTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open Analysis
open Analysis.Config
open Analysis.Runner

let task = { defaults with Experiment = "constructed"; Device = Cpu }

/// A finished run of `config` with the given metrics (nothing is trained).
let record (config: RunConfig) (metrics: (string * float) list) : RunRecord =
    { Id = Data.runId config; Config = config; Inputs = []; Task = Binary; Device = "cpu"; Diverged = false; DivergedAtStep = -1L
      Steps = 1L; Seconds = 0.0; Metrics = Map.ofList metrics; TrainLoss = [||]; TestCurve = [||]; PrCurve = [||]; Reliability = [||]; Parameters = Map.empty }

/// CE and one focal setting over the seeds, AP = base + per-seed offset (+ effect for focal).
let constructed (offsets: float[]) (effects: float[]) =
    [ for s, offset in Array.indexed offsets do
        yield record { task with Seed = s; Loss = BinaryCrossEntropy } [ "average_precision", 0.3 + offset ]
        yield record { task with Seed = s; Loss = SigmoidFocal(Some 0.25, 2.0) } [ "average_precision", 0.3 + offset + effects[s] ] ]

let apRow (records: RunRecord list) =
    Frames.pairedDifferences records |> List.find (fun p -> p.Metric = "average_precision")

[<Tests>]
let tests =
    testList "frames and verdicts on constructed runs" [
        test "each setting is paired with the CE run of its own seed: a large shared per-seed offset cancels" {
            let offsets = [| 0.0; 0.3; 0.1; 0.5; 0.2 |]
            let effects = [| 0.011; 0.009; 0.010; 0.012; 0.008 |]
            let p = apRow (constructed offsets effects)
            Expect.floatClose Accuracy.high p.MeanDiff 0.010 "mean paired difference"
            Expect.isLessThan (p.Hi - p.Lo) 0.01 "narrow: the per-seed offsets (0 to 0.5) cancel within each pair"
            Expect.isTrue p.Significant "the +0.01 effect is found"
            Expect.equal (p.Better, p.Worse, p.Pairs) (5, 0, 5) "better on every seed"
        }

        testPropertyWithConfig (Props.config 300) "a verdict whose interval contains zero never reads improved or worsened" <|
            Prop.forAll (Arb.fromGen (Gen.arrayOfLength 5 (Gen.choose (-100, 100) |> Gen.map (fun k -> float k / 10_000.0)))) (fun effects ->
                let records = constructed [| 0.0; 0.1; 0.2; 0.3; 0.4 |] effects
                let p = apRow records
                let line = Report.verdicts records [ p ] |> List.exactlyOne |> snd |> List.find (fun l -> l.StartsWith "focal a=0.25 g=2:")
                let containsZero = p.Lo <= 0.0 && p.Hi >= 0.0
                (not containsZero || (not (line.Contains "improved") && not (line.Contains "worsened")))
                |> Prop.classify containsZero "interval contains zero"
                |> Prop.classify (not containsZero) "interval excludes zero")
    ]
