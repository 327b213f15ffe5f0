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
    CustomLosses.register "scaled_bce" FocalLoss.Data.LossTask.Binary [ "scale"; "shift" ] (fun ps ->
        { new ILossFunction with
            member _.Name = "scaled_bce"
            member _.Input = LossInput.Logits
            member _.Task = FocalLoss.Data.LossTask.Binary
            member _.HyperParameters = Collections.Generic.Dictionary<string, string>() :> _
            member _.Compute(x, t, reduction) =
                let l = ps["scale"] * Functional.binary_cross_entropy_with_logits(x, t, torch.nn.Reduction.None) + ps["shift"] * x * x
                match reduction with
                | torch.nn.Reduction.None -> l
                | torch.nn.Reduction.Sum -> l.sum()
                | _ -> l.mean() })

/// Every case of the Loss union with valid hyper-parameters (a case missing here fails the coverage test below).
let lossGen =
    Gen.oneof [
        Gen.constant BinaryCrossEntropy
        alphaGen |> Gen.map BalancedBinaryCrossEntropy
        Gen.zip (Gen.optionOf alphaGen) gammaGen |> Gen.map SigmoidFocal
        Gen.zip (Gen.optionOf alphaGen) gammaGen |> Gen.map FocalFromProbabilities
        Gen.constant SoftmaxCrossEntropy
        Gen.zip (Gen.optionOf classWeights) gammaGen |> Gen.map SoftmaxFocal
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

/// Different valid values for one field of a union case: how a test varies a declared hyper-parameter.
/// A field with no rule here fails the property, so a new hyper-parameter cannot go unchecked.
let variations (case: string) (field: Reflection.PropertyInfo) (value: objnull) : objnull list =
    match field.Name, value with
    | "gamma", (:? float as g) -> [ box (g + 1.0); box (if g = 0.0 then 0.5 else 0.0) ]
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

/// A fixed batch for each task: 8 binary logits with both labels, or 9 x 3 logits with every class.
let fixedBatchValue (loss: Loss) =
    use scope = torch.NewDisposeScope()
    let m = Loss.create loss
    use _ = { new IDisposable with member _.Dispose() = match box m with :? IDisposable as d -> d.Dispose() | _ -> () }
    let x, t =
        if Loss.task loss = Data.LossTask.Binary then
            let logits = torch.tensor([| 2.5; -1.0; 0.3; -4.0; 7.0; 0.0; -0.7; 1.5 |], dtype = torch.ScalarType.Float64)
            let targets = torch.tensor([| 1.0; 0.0; 0.0; 1.0; 1.0; 0.0; 1.0; 0.0 |], dtype = torch.ScalarType.Float64)
            (if m.Input = LossInput.Probabilities then logits.sigmoid() else logits), targets
        else
            torch.tensor([| 1.0; 2.0; -1.0; 0.5; 0.5; 3.0; -2.0; 0.0; 1.0; 0.3; -0.3; 0.9; 2.0; 2.0; -1.0; 0.1; 0.2; 0.3; -1.5; 0.5; 2.5; 0.0; 0.0; 0.0; 1.0; -1.0; 0.5 |], dtype = torch.ScalarType.Float64).reshape(9L, 3L),
            torch.tensor([| 1L; 2L; 0L; 0L; 1L; 2L; 2L; 0L; 1L |])
    m.Compute(x, t, torch.nn.Reduction.Mean).item<float>()

/// Each variation of each declared hyper-parameter of a loss: (field name, the varied loss).
let variedLosses (loss: Loss) =
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
                let value = fixedBatchValue loss
                variedLosses loss |> List.forall (fun (field, varied) ->
                    let other = fixedBatchValue varied
                    let differs = abs (value - other) > sameLossRel * max (abs value) (abs other)
                    if not differs then failwithf "%s: changing %s to give %s left the loss at %g" (Loss.label loss) field (Loss.label varied) value
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

        test "a label that is no loss is an error naming the forms" {
            Expect.throwsC (fun () -> Loss.ofLabel "balanced CE a=none" |> ignore) (fun e ->
                Expect.stringContains e.Message "got 'balanced CE a=none'" "names the label")
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
