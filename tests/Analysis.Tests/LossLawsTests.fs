/// The law checker: a lawful loss keeps every law it claims, every law can be broken by a loss that
/// violates it, and a broken law comes with a small shrunk counterexample and a replay seed that reproduces it.
module Analysis.Tests.LossLawsTests

open System
open Expecto
open TorchSharp
open FocalLoss
open Analysis

let private focal gamma : LossLaws.LossFn = fun x t -> Functional.sigmoid_focal_loss(x, t, Nullable(), gamma, reduction = torch.nn.Reduction.None)
let private bce : LossLaws.LossFn = fun x t -> Functional.binary_cross_entropy_with_logits(x, t, reduction = torch.nn.Reduction.None)

/// Each law with a loss that breaks it.
let private breakers : (LossLaws.Law * LossLaws.LossFn) list =
    [ LossLaws.BoundedAboveByBce, (fun x t -> 1.1 * bce x t)                                    // 10 % above BCE everywhere
      LossLaws.NonIncreasingInPt, (fun x t -> (x * (2.0 * t - 1.0)).square() * 0.01 + bce x t)   // rises again far on the right side
      LossLaws.ReducesTo("BCE", bce), focal 2.0
      LossLaws.LabelFlipSymmetric, (fun x t -> Functional.sigmoid_focal_loss(x, t, Nullable 0.25, 2.0, reduction = torch.nn.Reduction.None))
      LossLaws.FiniteAtExtremes, (fun x t -> -(t * x.sigmoid().log() + (1.0 - t) * (1.0 - x.sigmoid()).log()))   // log of a rounded probability
      LossLaws.GradientMatchesFiniteDifferences, (fun x t -> focal 2.0 (x.detach()) t + 0.0 * x) ]           // value right, gradient zero

[<Tests>]
let tests =
    testSequenced <| testList "law checker" [
        test "a lawful loss keeps every law it claims" {
            let laws = [ LossLaws.BoundedAboveByBce; LossLaws.NonIncreasingInPt; LossLaws.LabelFlipSymmetric; LossLaws.FiniteAtExtremes; LossLaws.GradientMatchesFiniteDifferences ]
            for v in LossLaws.checkWith 100 None (LossLaws.Function("focal g=2", focal 2.0)) laws do
                Expect.isTrue v.Held $"{v.Law}: {v.Counterexample}"
                Expect.equal v.Tests 100 $"{v.Law}: every case was tried"
            let atZero = LossLaws.checkWith 100 None (LossLaws.Function("focal g=0", focal 0.0)) [ LossLaws.ReducesTo("BCE", bce) ] |> List.exactlyOne
            Expect.isTrue atZero.Held $"focal loss at gamma 0 reduces to BCE: {atZero.Counterexample}"
            let modular = LossLaws.checkWith 100 None (LossLaws.Module(Losses.SigmoidFocalLoss())) [ LossLaws.ReductionConsistent ] |> List.exactlyOne
            Expect.isTrue modular.Held $"the module's reductions agree: {modular.Counterexample}"
        }
        test "every law can fail, and a failure shows a small shrunk counterexample with both values and a replay seed" {
            for law, loss in breakers do
                let v = LossLaws.checkWith 100 None (LossLaws.Function("broken", loss)) [ law ] |> List.exactlyOne
                Expect.isFalse v.Held $"{v.Law} is broken by a loss made to break it"
                let counterexample = v.Counterexample |> Option.defaultValue ""
                Expect.stringContains counterexample "logits [" $"{v.Law}: the counterexample shows the inputs"
                let elements = counterexample.Substring(0, counterexample.IndexOf ']').Split(',').Length
                Expect.isLessThanOrEqual elements 2 $"{v.Law}: shrunk to at most 2 elements ({counterexample})"
                Expect.isSome v.Replay $"{v.Law}: the replay seed is given"
        }
        test "the replay seed reproduces the counterexample" {
            let law, loss = breakers.Head
            let first = LossLaws.checkWith 100 None (LossLaws.Function("broken", loss)) [ law ] |> List.exactlyOne
            let seed =
                match (first.Replay |> Option.defaultValue "").Trim('(', ')').Split(',') with
                | [| s; g |] -> UInt64.Parse s, UInt64.Parse g
                | _ -> failtest "a replay seed (seed,gamma)"
            let again = LossLaws.checkWith 100 (Some seed) (LossLaws.Function("broken", loss)) [ law ] |> List.exactlyOne
            Expect.equal again.Counterexample first.Counterexample "the same counterexample from the same seed"
        }
        test "what the checker cannot judge is refused before any case, naming the parameter" {
            let refused (f: unit -> LossLaws.Verdict list) (parameter: string) (fragment: string) =
                Expect.throwsC (f >> ignore) (fun e ->
                    Expect.equal (e :?> ArgumentException).ParamName parameter "the parameter is named"
                    Expect.stringContains e.Message fragment "and what was wrong")
            refused (fun () -> LossLaws.checkWith 10 None (LossLaws.Function("f", bce)) [ LossLaws.ReductionConsistent ]) "laws" "ReductionConsistent needs a Module"
            refused (fun () -> LossLaws.checkWith 0 None (LossLaws.Function("f", bce)) [ LossLaws.NonIncreasingInPt ]) "maxTest" "maxTest must be >= 1 (cases a law is tried on), got 0"
            refused (fun () -> LossLaws.checkWith 10 None (LossLaws.Module(Losses.SoftmaxFocalLoss())) [ LossLaws.NonIncreasingInPt ]) "subject" "(a multi-class loss)"
            refused (fun () -> LossLaws.checkWith 10 None (LossLaws.Module(Losses.FocalLossFromProbabilities())) [ LossLaws.NonIncreasingInPt ]) "subject" "(a loss on probabilities)"
            refused (fun () -> LossLaws.checkWith 10 None (LossLaws.Function("mean", fun x t -> (bce x t).mean())) [ LossLaws.NonIncreasingInPt ]) "subject" "must return per-element losses of the logits' shape [3], got shape []"
        }
        test "a right gradient is not called broken however large the loss values and their sum" {
            // Per-element values near 1000 and sums near 16,000: a finite difference of the sum loses a small
            // element's change in rounding, the per-element differences with their rounding bound do not.
            let shifted : LossLaws.LossFn = fun x t -> bce x t + 1000.0
            let v = LossLaws.checkWith 300 None (LossLaws.Function("BCE + 1000", shifted)) [ LossLaws.GradientMatchesFiniteDifferences ] |> List.exactlyOne
            Expect.isTrue v.Held $"the gradient of BCE + 1000 is BCE's: {v.Counterexample}"
        }
        test "the buckets cover every logit up to 100 and steps down to 1e-3: a gap or a jump cannot hide" {
            // NaN only for 13 < |x| < 29 (between the old buckets), and a jump up at p_t = 0.2 (FLSD-53's gamma switch).
            let gap : LossLaws.LossFn = fun x t ->
                let inGap = x.abs().gt(torch.tensor 13.0).logical_and(x.abs().lt(torch.tensor 29.0))
                (bce x t).masked_fill(inGap, Double.NaN)
            let finite = LossLaws.checkWith 200 None (LossLaws.Function("NaN in a gap", gap)) [ LossLaws.FiniteAtExtremes ] |> List.exactlyOne
            Expect.isFalse finite.Held "a NaN between 13 and 29 is found"
            let flsd = LossLaws.checkWith 200 None (LossLaws.Module(Losses.SigmoidFocalLossSampleDependent())) [ LossLaws.NonIncreasingInPt ] |> List.exactlyOne
            Expect.isFalse flsd.Held "FLSD-53's loss jumps up where p_t passes 0.2 (gamma 5 -> 3): not monotone in p_t"
            Expect.stringContains (flsd.Counterexample |> Option.defaultValue "") "closer to the target" "the counterexample names the step"
        }
    ]
