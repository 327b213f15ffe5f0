/// The typed configuration: every loss's declared hyper-parameters reach the computation, labels round-trip,
/// the run id follows the content of the files a run reads, and command lines are checked before any work.
module Analysis.Tests.ConfigTests

open System
open System.IO
open Microsoft.FSharp.Reflection
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open FocalLoss
open Analysis
open Analysis.Config

/// Relative difference below which two loss values count as equal.
let sameLossRel = 1e-9

let private uniform lo hi = Gen.choose (0, 1_000_000) |> Gen.map (fun k -> lo + (hi - lo) * float k / 1_000_000.0)
let private gammaGen = Gen.oneof [ Gen.elements [ 0.0; 0.5; 1.0; 2.0; 5.0 ]; uniform 0.0 5.0 ]
let private alphaGen = Gen.oneof [ Gen.elements [ 0.0; 0.25; 0.5; 1.0 ]; uniform 0.0 1.0 ]
let private classWeights = Gen.arrayOfLength 3 (uniform 0.05 3.0) |> Gen.filter (fun w -> w |> Array.exists (fun v -> v <> 1.0))

/// A loss registered the way a script registers its own: scale * BCE + shift * mean logit^2.
let registerTestLoss () =
    CustomLosses.register("scaled_bce", FocalLoss.Data.LossTask.Binary, [ "scale"; "shift" ], fun ps ->
        { new ILossFunction with
            member _.Name = "scaled_bce"
            member _.Input = LossInput.Logits
            member _.Task = FocalLoss.Data.LossTask.Binary
            member _.HyperParameters = Collections.Generic.Dictionary<string, string>() :> _
            member _.Compute(x, t, reduction) =
                let l = ps["scale"] * Functional.binary_cross_entropy_with_logits(x, t, reduction = torch.nn.Reduction.None) + ps["shift"] * x * x
                match reduction with
                | torch.nn.Reduction.None -> l
                | torch.nn.Reduction.Sum -> l.sum()
                | _ -> l.mean() })

let private epsilonGen = Gen.oneof [ Gen.elements [ -1.0; 0.0; 1.0; 2.0 ]; uniform -1.0 3.0 ]

/// Thresholds from {0.2, 0.5, 0.8} (each interval between them holds a p_t of both fixed batches, and so
/// does [t - 0.1, t)), with distinct gammas, so that every step and every threshold matters on the batch.
let private stepsGen =
    gen {
        let! thresholds = Gen.subListOf [ 0.2; 0.5; 0.8 ]
        let! gammas = Gen.shuffle [| 0.0; 1.0; 2.0; 3.0; 4.0; 5.0 |]
        return { Steps = List.zip (List.ofSeq thresholds) (List.ofArray gammas |> List.take (Seq.length thresholds)); Final = gammas[Seq.length thresholds] }
    }

/// The losses that take label smoothing, with valid hyper-parameters.
let private smoothableGen =
    Gen.oneof [
        Gen.constant BinaryCrossEntropy
        alphaGen |> Gen.map BalancedBinaryCrossEntropy
        Gen.zip (Gen.optionOf alphaGen) gammaGen |> Gen.map SigmoidFocal
        Gen.constant SoftmaxCrossEntropy
        Gen.zip (Gen.optionOf classWeights) gammaGen |> Gen.map SoftmaxFocal
        epsilonGen |> Gen.map Poly1CrossEntropy
        Gen.zip3 (Gen.optionOf alphaGen) gammaGen epsilonGen |> Gen.map Poly1Focal
        epsilonGen |> Gen.map SoftmaxPoly1CrossEntropy
        Gen.zip3 (Gen.optionOf classWeights) gammaGen epsilonGen |> Gen.map SoftmaxPoly1Focal ]

/// Every case of the Loss union with valid hyper-parameters (a case missing here fails the coverage test below).
let lossGen =
    Gen.oneof [
        smoothableGen
        Gen.zip (Gen.optionOf alphaGen) gammaGen |> Gen.map FocalFromProbabilities
        // ASL with at least one focusing gamma > 0 (else its focusing weight is 1 and detaching it changes
        // nothing) and a margin below the fixed batch's negatives at p 0.5, 0.57 and 0.82.
        gen {
            let! gammaNeg, gammaPos = Gen.zip gammaGen gammaGen |> Gen.filter (fun (n, p) -> n > 0.0 || p > 0.0)
            let! clip = Gen.oneof [ Gen.constant 0.0; uniform 0.0 0.3 ]
            let! detach = Gen.elements [ false; true ]
            return Asymmetric(gammaNeg, gammaPos, clip, detach) }
        Gen.zip (uniform 0.2 5.0) (uniform -2.0 2.0) |> Gen.map FocalStar
        // alpha strictly inside (0, 1): at 0 or 1 one class weighs nothing, and with it the sample that shows a threshold.
        Gen.zip stepsGen (Gen.optionOf (uniform 0.1 0.9)) |> Gen.map SigmoidFocalSampleDependent
        Gen.zip stepsGen (Gen.optionOf classWeights) |> Gen.map SoftmaxFocalSampleDependent
        Gen.zip (uniform 0.02 0.5) smoothableGen |> Gen.map Smoothed
        Gen.zip (uniform 0.1 3.0) (uniform 0.01 1.0) |> Gen.map (fun (scale, shift) -> Custom("scaled_bce", [ "scale", scale; "shift", shift ])) ]

/// Shrinks towards simpler hyper-parameters of the same case.
let shrinkLoss (loss: Loss) : Loss seq =
    match loss with
    | SigmoidFocal(a, g) -> seq { if a.IsSome then SigmoidFocal(None, g)
                                  if g <> 0.0 then SigmoidFocal(a, 0.0)
                                  if g <> 2.0 then SigmoidFocal(a, 2.0) }
    | FocalFromProbabilities(a, g) -> seq { if a.IsSome then FocalFromProbabilities(None, g)
                                            if g <> 2.0 then FocalFromProbabilities(a, 2.0) }
    | SoftmaxFocal(a, g) -> seq { if a.IsSome then SoftmaxFocal(None, g)
                                  if g <> 2.0 then SoftmaxFocal(a, 2.0) }
    | BalancedBinaryCrossEntropy a when a <> 0.5 -> Seq.singleton (BalancedBinaryCrossEntropy 0.5)
    | _ -> Seq.empty

let lossArb = Arb.fromGenShrink (lossGen, shrinkLoss)

/// The mean loss on a fixed batch for the loss's task (8 binary logits with both labels, the same as 4 x 2
/// multi-label logits, or 10 x 3 logits with every class), and its gradient with respect to the logits:
/// a hyper-parameter may change only the gradient (ASL's detached focusing weight).
let fixedBatchValue (loss: Loss) =
    use scope = torch.NewDisposeScope()
    let m = Loss.create loss
    use _ = { new IDisposable with member _.Dispose() = match box m with :? IDisposable as d -> d.Dispose() | _ -> () }
    let logits, targets =
        match Loss.task loss with
        | Data.LossTask.MultiClass ->
            torch.tensor([| 1.0; 2.0; -1.0; 0.5; 0.5; 3.0; -2.0; 0.0; 1.0; 0.3; -0.3; 0.9; 2.0; 2.0; -1.0; 0.1; 0.2; 0.3; -1.5; 0.5; 2.5; 0.0; 0.0; 0.0; 1.0; -1.0; 0.5
                            0.0; 0.0; -1.2 |], dtype = torch.ScalarType.Float64).reshape(10L, 3L),
            torch.tensor([| 1L; 2L; 0L; 0L; 1L; 2L; 2L; 0L; 1L; 2L |])
        | task ->
            let shape = if task = Data.LossTask.MultiLabel then [| 4L; 2L |] else [| 8L |]
            torch.tensor([| 2.5; -1.0; 0.3; -4.0; 7.0; 0.0; -0.7; 1.5 |], dtype = torch.ScalarType.Float64).reshape(shape),
            torch.tensor([| 1.0; 0.0; 0.0; 1.0; 1.0; 0.0; 1.0; 0.0 |], dtype = torch.ScalarType.Float64).reshape(shape)
    let x = logits.requires_grad_(true)
    let value = m.Compute((if m.Input = LossInput.Probabilities then x.sigmoid() else x), targets, torch.nn.Reduction.Mean)
    value.backward()
    value.item<float>(), (nonNull x.grad).flatten().data<float>().ToArray()

/// Different valid values for one field of a union case: how a test varies a declared hyper-parameter.
/// A field with no rule here fails the property, so a new hyper-parameter cannot go unchecked.
let rec variations (case: string) (field: Reflection.PropertyInfo) (value: objnull) : objnull list =
    match field.Name, value with
    | "gamma", (:? float as g) when case = "FocalStar" -> [ box (g + 1.0); box (g / 2.0) ]   // FL* needs gamma > 0
    | "gamma", (:? float as g) -> [ box (g + 1.0); box (if g = 0.0 then 0.5 else 0.0) ]
    | ("gammaNeg" | "gammaPos"), (:? float as g) -> [ box (g + 1.0) ]
    | "clip", (:? float as c) -> [ box (c + 0.1); box (if c = 0.0 then 0.2 else 0.0) ]
    | "detachFocusingWeight", (:? bool as d) -> [ box (not d) ]   // same value, another gradient
    | "epsilon", (:? float as e) -> [ box (e + 0.5); box (if e = 0.0 then -0.5 else 0.0) ]
    | "beta", (:? float as b) -> [ box (b + 1.0) ]
    | "labelSmoothing", (:? float as ls) -> [ box (if ls < 0.5 then ls + 0.1 else ls - 0.1) ]
    | "schedule", (:? GammaSteps as s) ->
        [ box { s with Final = s.Final + 1.0 }
          for i in 0 .. s.Steps.Length - 1 do
              box { s with Steps = s.Steps |> List.mapi (fun j (t, g) -> if i = j then t, g + 1.0 else t, g) }
              box { s with Steps = s.Steps |> List.mapi (fun j (t, g) -> if i = j then t - 0.1, g else t, g) } ]
    | "loss", (:? Loss as inner) when case = "Smoothed" -> variedLosses inner |> List.map (snd >> box)
    | "alpha", (:? float as a) -> [ box (if a < 0.5 then a + 0.3 else a - 0.3) ]
    | "alpha", _ when field.PropertyType = typeof<float option> ->
        match unbox<float option> value with
        | None -> [ box (Some 0.3); box (Some 0.9) ]
        | Some a -> [ box (None: float option); box (Some(if a < 0.5 then a + 0.3 else a - 0.3)) ]
    | "alpha", _ when field.PropertyType = typeof<float[] option> ->
        match unbox<float[] option> value with
        | None -> [ box (Some [| 0.2; 1.0; 3.0 |]) ]
        | Some w -> [ box (None: float[] option); box (Some(Array.mapi (fun i v -> if i = 0 then v + 0.5 else v) w)) ]
    | "name", _ when case = "Custom" -> []   // which custom loss, not one of its hyper-parameters
    | "parameters", _ ->
        let ps = unbox<(string * float) list> value
        [ for i in 0 .. ps.Length - 1 -> box (ps |> List.mapi (fun j (k, v) -> if i = j then k, v + 0.5 else k, v)) ]
    | name, _ -> failwithf "no variation for field '%s' of %s: declare how to vary it in ConfigTests.variations" name case

/// Each variation of each declared hyper-parameter of a loss: (field name, the varied loss).
and variedLosses (loss: Loss) =
    let case, fields = FSharpValue.GetUnionFields(loss, typeof<Loss>)
    let properties = case.GetFields()
    [ for i, p in Array.indexed properties do
        for v in variations case.Name p fields[i] ->
            let changed = Array.copy fields
            changed[i] <- v
            p.Name, unbox<Loss> (FSharpValue.MakeUnion(case, changed)) ]

let config = Props.config 200

[<Tests>]
let tests =
    registerTestLoss ()
    testSequenced <| testList "typed configuration" [
        testPropertyWithConfig config "changing any declared hyper-parameter of any loss changes its value on a fixed batch" <|
            Prop.forAll lossArb (fun loss ->
                let value, gradient = fixedBatchValue loss
                let apart (a: float) (b: float) = abs (a - b) > sameLossRel * max (abs a) (abs b)
                variedLosses loss |> List.forall (fun (field, varied) ->
                    let other, otherGradient = fixedBatchValue varied
                    let differs = apart value other || Array.exists2 apart gradient otherGradient
                    if not differs then failwithf "%s: changing %s to give %s left the loss at %g and its gradient unchanged" (Loss.label loss) field (Loss.label varied) value
                    differs)
                |> Prop.classify (List.isEmpty (variedLosses loss)) "no hyper-parameters"
                |> Prop.classify (Loss.task loss = Data.LossTask.MultiClass) "multi-class")

        testPropertyWithConfig config "the label a report prints parses back to the same loss" <|
            Prop.forAll lossArb (fun loss -> Loss.ofLabel (Loss.label loss) = loss)

        test "the generator covers every case of the Loss union and every name of the C# registry" {
            let cases = FSharpType.GetUnionCases typeof<Loss> |> Array.map _.Name |> Set.ofArray
            let generated = Gen.sample 2000 lossGen |> Seq.map (fun l -> (FSharpValue.GetUnionFields(l, typeof<Loss>) |> fst).Name) |> Set.ofSeq
            Expect.equal generated cases "every case is generated, so the properties above see it"
            let names = Gen.sample 2000 lossGen |> Seq.map Loss.name |> Set.ofSeq
            Expect.equal names (Set.ofSeq LossRegistry.Names |> Set.add "scaled_bce") "one F# case family per registered loss, by its canonical name, and the custom one"
            for loss in Gen.sample 50 lossGen do
                let m = Loss.create loss
                Expect.equal m.Name (Loss.name loss) $"{Loss.label loss}: the module is the registered loss"
        }

        test "the hyper-parameters of the asymmetric family are checked before a run, each naming the field" {
            let problem loss fragment =
                Expect.exists (Loss.problems loss) (fun p -> p.Contains(fragment: string)) $"{fragment} in {Loss.problems loss}"
                Expect.throwsC (fun () -> Loss.create loss |> ignore) (fun e -> Expect.stringContains e.Message fragment "create refuses it too")
            problem (Asymmetric(4.0, 1.0, 1.0, false)) "Loss.clip must be in [0, 1), got 1"
            problem (Asymmetric(-1.0, 1.0, 0.05, false)) "Loss.gammaNeg must be finite and >= 0, got -1"
            problem (FocalStar(0.0, 1.0)) "Loss.gamma must be finite and > 0 (FL* divides by it), got 0"
            problem (Poly1CrossEntropy -2.0) "Loss.epsilon must be finite and >= -1, got -2"
            problem (SigmoidFocalSampleDependent({ Steps = [ 0.5, 3.0; 0.2, 5.0 ]; Final = 2.0 }, None)) "Loss.schedule thresholds must be strictly ascending in (0, 1], got [0.5, 0.2]"
            problem (Smoothed(0.0, BinaryCrossEntropy)) "Loss.labelSmoothing must be in (0, 1) (leave Smoothed out for none), got 0"
            problem (Smoothed(0.1, Asymmetric(4.0, 1.0, 0.05, false))) "Loss.loss of Smoothed must be a loss with label smoothing"
            problem (Smoothed(0.1, Smoothed(0.1, BinaryCrossEntropy))) "Loss.loss of Smoothed must be a loss with label smoothing"
            problem (Smoothed(0.1, SigmoidFocal(Some 2.0, 2.0))) "Loss.alpha must be in [0, 1], got 2"
        }

        test "labels of the asymmetric family read as the papers write them and parse back" {
            let cases =
                [ Asymmetric(4.0, 1.0, 0.05, false), "ASL g-=4 g+=1 clip=0.05"
                  Asymmetric(4.0, 0.0, 0.05, true), "ASL g-=4 g+=0 clip=0.05 detached"
                  Poly1Focal(Some 0.25, 2.0, 1.0), "poly-1 focal a=0.25 g=2 e=1"
                  FocalStar(2.0, 1.0), "FL* g=2 b=1"
                  SigmoidFocalSampleDependent(GammaSteps.flsd53, None), "FLSD [p<0.2: 5, else 3] a=none"
                  SoftmaxFocalSampleDependent(GammaSteps.constant 2.0, Some [| 1.0; 2.0 |]), "softmax FLSD [else 2] a=[1, 2]"
                  Smoothed(0.1, SoftmaxFocal(None, 2.0)), "softmax focal a=none g=2 ls=0.1" ]
            for loss, text in cases do
                Expect.equal (Loss.label loss) text "the label"
                Expect.equal (Loss.ofLabel text) loss "parses back"
            Expect.equal (Loss.baseline (Asymmetric(4.0, 1.0, 0.05, false))) BinaryCrossEntropy "ASL is compared with per-label BCE"
            Expect.equal (Loss.baseline (Smoothed(0.1, SoftmaxFocal(None, 2.0)))) SoftmaxCrossEntropy "a smoothed softmax loss with softmax CE"
            Expect.isFalse (Loss.isBaseline (Smoothed(0.1, BinaryCrossEntropy))) "smoothed CE is a setting, not the baseline"
        }

        test "label smoothing reaches every loss that takes it: binary ones see t (1 - ls) + ls / 2, softmax CE is PyTorch's" {
            let ls = 0.1
            let value (m: ILossFunction) (x: torch.Tensor) (t: torch.Tensor) = m.Compute(x, t, torch.nn.Reduction.Mean).item<float>()
            let binary = [ BinaryCrossEntropy; BalancedBinaryCrossEntropy 0.3; SigmoidFocal(Some 0.25, 2.0); Poly1CrossEntropy 1.0; Poly1Focal(None, 1.5, 0.5) ]
            use x = torch.tensor([| 2.5; -1.0; 0.3; -4.0; 7.0; 0.0 |], dtype = torch.ScalarType.Float64)
            use t = torch.tensor([| 1.0; 0.0; 0.0; 1.0; 1.0; 0.0 |], dtype = torch.ScalarType.Float64)
            use smoothedTargets = t * (1.0 - ls) + ls / 2.0
            for loss in binary do
                let smoothed = Loss.create (Smoothed(ls, loss))
                let plain = Loss.create loss
                Expect.floatClose Accuracy.veryHigh (value smoothed x t) (value plain x smoothedTargets) $"{Loss.label loss}: the loss of the smoothed targets"
                Expect.isGreaterThan (abs (value smoothed x t - value plain x t)) 1e-6 $"{Loss.label loss}: smoothing changes the loss"
            use logits = torch.tensor([| 1.0; 2.0; -1.0; 0.5; 0.5; 3.0; -2.0; 0.0; 1.0 |], dtype = torch.ScalarType.Float64).reshape(3L, 3L)
            use classes = torch.tensor([| 1L; 2L; 0L |])
            use torchSmoothed = torch.nn.functional.cross_entropy(logits, classes, label_smoothing = ls)
            Expect.floatClose Accuracy.veryHigh (value (Loss.create (Smoothed(ls, SoftmaxCrossEntropy))) logits classes) (torchSmoothed.item<float>()) "softmax CE: PyTorch's label_smoothing"
            for loss in [ SoftmaxFocal(Some [| 1.0; 2.0; 0.5 |], 2.0); SoftmaxPoly1CrossEntropy 1.0; SoftmaxPoly1Focal(None, 2.0, 1.0) ] do
                Expect.isGreaterThan (abs (value (Loss.create (Smoothed(ls, loss))) logits classes - value (Loss.create loss) logits classes)) 1e-6 $"{Loss.label loss}: smoothing changes the loss"
        }

        test "every training setting of a config reaches the C# trainer's config" {
            let reductions =
                [ BatchMean, FocalLoss.Training.BatchReduction.Mean
                  BatchSum, FocalLoss.Training.BatchReduction.Sum
                  BatchSumOverPositives, FocalLoss.Training.BatchReduction.SumOverPositives ]
            Expect.equal (reductions |> List.map fst |> Set.ofList) (FSharpType.GetUnionCases typeof<BatchReduction> |> Array.map (fun c -> unbox<BatchReduction> (FSharpValue.MakeUnion(c, [||]))) |> Set.ofArray) "every reduction is listed"
            for reduction, expected in reductions do
                let t = Runner.trainerConfig { defaults with Reduction = reduction; Optimizer = Sgd(0.07, 0.5); Epochs = 3; BatchSize = 17; Seed = 11; Device = Cpu }
                Expect.equal t.Reduction expected $"{reduction}"
                Expect.equal (t.Optimizer, t.LearningRate, t.Momentum, t.Epochs, t.BatchSize, t.Seed, t.Device) (FocalLoss.Training.OptimizerKind.Sgd, 0.07, Nullable 0.5, 3, 17, 11L, "cpu") "the other settings"
            let adam = Runner.trainerConfig { defaults with Optimizer = Adam 0.003; Device = Cuda(Some 1) }
            Expect.equal (adam.Optimizer, adam.LearningRate, adam.Momentum, adam.Device) (FocalLoss.Training.OptimizerKind.Adam, 0.003, Nullable(), "cuda:1") "Adam has no momentum"
        }

        test "the output bias and every hidden layer of a config reach the model" {
            let head (m: torch.nn.Module<torch.Tensor, torch.Tensor>) =
                m.named_parameters() |> Seq.find (fun struct (n, _) -> n.EndsWith "head.bias") |> fun struct (_, p) -> p.to_type(torch.ScalarType.Float64).item<float>()
            let build bias = torch.random.manual_seed 0L |> ignore; Runner.createModel (Mlp [ 8; 4 ]) bias 2 1 ()
            use prior = build (PriorBias 0.01)
            Expect.floatClose { absolute = 1e-6; relative = 1e-6 } (head prior) (log (0.01 / 0.99)) "RetinaNet's prior bias: ln(0.01 / 0.99) = -4.595, to float32"
            use zero = build ZeroBias
            Expect.equal (head zero) 0.0 "zero"
            use plain = build DefaultBias
            Expect.notEqual (head plain) 0.0 "PyTorch's default initialisation draws a bias"
            let count (m: torch.nn.Module<torch.Tensor, torch.Tensor>) = m.parameters() |> Seq.sumBy (fun p -> p.numel())
            Expect.equal (count prior) (2L * 8L + 8L + 8L * 4L + 4L + 4L + 1L) "two hidden layers, 8 and 4 wide, then the head"
            for model, bias, fragment in
                [ Mlp [], DefaultBias, "Model.hidden must be at least one layer width"
                  Mlp [ 8; 0 ], DefaultBias, "Model.hidden must be widths >= 1, got 0"
                  Logistic, PriorBias 0.0, "OutputBias.prior must be in (0, 1), got 0"
                  Logistic, PriorBias 1.0, "OutputBias.prior must be in (0, 1), got 1" ] do
                Expect.exists (problems { defaults with Model = model; OutputBias = bias }) (fun p -> p.Contains(fragment: string)) fragment
        }

        test "dense discs are checked against what the generator can make, each problem naming its field" {
            let discs rate hard testHard testEasy = problems { defaults with Dataset = DenseDiscs(rate, hard, testHard, testEasy) }
            Expect.isEmpty (discs 1e-4 250 2500 20000) "the study's setting is valid"
            for p, fragment in
                [ discs 0.5 250 2500 20000, "Dataset.positiveRate must be in [1E-05, 0.1"
                  discs 1e-6 250 2500 20000, "Dataset.positiveRate"
                  discs 1e-2 0 2500 20000, "Dataset.hardPerDisc must be in [1, 1000000], got 0"
                  discs 1e-2 250 10 1_000_000, "Dataset.testEasySample must be in [1, "
                  discs 1e-5 100_000 2500 20000, "Dataset.hardPerDisc must be at most" ] do
                Expect.exists p (fun s -> s.Contains(fragment: string)) $"{fragment} in {p}"
        }

        test "a dense-discs run is scored on its weighted test set: the prevalence it reports is pi, not the sample's" {
            let c = { defaults with Dataset = DenseDiscs(1e-2, 20, 100, 2000); Model = Mlp [ 8 ]; OutputBias = PriorBias 0.01
                                    Loss = BinaryCrossEntropy; Epochs = 2; BatchSize = 256; Device = Cpu }
            let r = Runner.runOne c
            let q = FocalLoss.Data.DenseDiscsGeometry.Default.HardPositiveShare()
            // 400 hard test points, about 400 q = 52 positives: the weighted rate is pi within binomial noise.
            let sd = sqrt (400.0 * q * (1.0 - q)) / (400.0 * q)
            let prevalence = r.Metrics["prevalence"]
            Expect.isLessThan (abs (prevalence / 1e-2 - 1.0)) (4.0 * sd) $"weighted prevalence {prevalence}"
            Expect.equal r.EpochMetrics.Length 2 "one metric set per epoch"
            let lastEpoch, final = r.EpochMetrics[1]["average_precision"], r.Metrics["average_precision"]
            Expect.equal lastEpoch final "the last epoch's metrics are the final ones"
            Expect.isTrue (r.Metrics.ContainsKey "mean_score") "the mean predicted probability is recorded"
        }

        test "a label that is no loss is an error naming the forms" {
            Expect.throwsC (fun () -> Loss.ofLabel "balanced CE a=none" |> ignore) (fun e ->
                Expect.stringContains e.Message "got 'balanced CE a=none'" "names the label")
            for label, fragment in
                [ "CE ls=1.5", "Loss.labelSmoothing must be in (0, 1)"; "CE ls=0", "Loss.labelSmoothing must be in (0, 1)"
                  "CE ls=0.1 ls=0.2", "Loss.loss of Smoothed must be a loss with label smoothing"
                  "focal(p) a=0.25 g=2 ls=0.1", "Loss.loss of Smoothed must be a loss with label smoothing"
                  "mine(a=NaN)", "parameter a must be finite, got NaN"; "mine(a=1, a=2)", "must name each parameter once" ] do
                Expect.throwsC (fun () -> Loss.ofLabel label |> ignore) (fun e ->
                    Expect.stringContains e.Message $"the label '{label}' names an invalid loss" label
                    Expect.stringContains e.Message fragment label)
        }

        test "the run id changes when a file the run reads changes, not only its path" {
            let path = Path.Combine(Directory.CreateTempSubdirectory("wb-id").FullName, "data.csv")
            let write rows = File.WriteAllLines(path, "x,label" :: [ for i in 1 .. rows -> $"{i},{i % 2}" ])
            write 300
            let c = { defaults with Dataset = Csv(path, "label") }
            let first = Data.runId c
            Expect.equal (Data.runId c) first "same content, same id"
            write 600
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds 5.0)
            Expect.notEqual (Data.runId c) first "600 rows are another run than 300 rows"
        }

        test "the device parses PyTorch's names and refuses anything else" {
            Expect.equal (List.map Device.parse [ "auto"; "cpu"; "cuda"; "cuda:1" ]) [ Auto; Cpu; Cuda None; Cuda(Some 1) ] "the four forms"
            for bad in [ "tpu"; "cuda:"; "cuda:-1"; "CPU" ] do
                Expect.throwsC (fun () -> Device.parse bad |> ignore) (fun e -> Expect.stringContains e.Message $"got '{bad}'" "names the value")
        }
    ]
