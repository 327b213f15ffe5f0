/// A law checker for any binary loss, including one written in a script: give it the loss and the laws you
/// claim for it, and FsCheck tries to break each law on logits drawn from meaningful buckets
/// (confident-right, confident-wrong, uncertain, saturated at +-30..100), shrinking a failure to a small
/// counterexample that shows the inputs and both values, with the replay seed that reproduces it.
///
///     LossLaws.check (LossLaws.Function("my loss", myLoss)) [ LossLaws.BoundedAboveByBce; LossLaws.NonIncreasingInPt ]
///     |> LossLaws.print
module Analysis.LossLaws

open System
open FsCheck
open FsCheck.FSharp
open TorchSharp
open FocalLoss

/// A binary loss as a function: logits and 0/1 targets of the same shape and dtype to per-element losses.
type LossFn = torch.Tensor -> torch.Tensor -> torch.Tensor

/// What is checked: a function, or a loss module of the family (or your own ILossFunction).
type Subject =
    | Function of name: string * loss: LossFn
    | Module of ILossFunction

/// A law a loss may claim.
type Law =
    /// loss(x, t) <= BCE(x, t) element by element (focal loss with alpha off obeys it).
    | BoundedAboveByBce
    /// Moving a logit towards its target (raising p_t) never raises that element's loss.
    | NonIncreasingInPt
    /// loss(x, t) equals a reference loss everywhere (e.g. "gamma = 0 gives BCE": check the loss built at
    /// gamma = 0 against Functional.binary_cross_entropy_with_logits).
    | ReducesTo of name: string * reference: LossFn
    /// loss(x, t) = loss(-x, 1 - t): the loss treats the two classes alike (no alpha).
    | LabelFlipSymmetric
    /// Loss and gradient are finite for logits up to +-100, in float32 and float64.
    | FiniteAtExtremes
    /// The autograd gradient equals central finite differences of the summed loss, in float64.
    | GradientMatchesFiniteDifferences
    /// For a module: Compute(Mean) = mean of Compute(None) and Compute(Sum) = its sum.
    | ReductionConsistent

/// The verdict of one law.
type Verdict =
    { Law: string
      Held: bool
      Tests: int
      /// The shrunk counterexample: inputs and the two values that disagree.
      Counterexample: string option
      /// FsCheck's replay seed of the failing run, "(seed,gamma)".
      Replay: string option }

/// Relative and absolute tolerances of the value comparisons (float64), and of the gradient check.
let valueRel, valueAbs = 1e-9, 1e-12
let gradientRel, gradientAbs, gradientStep = 1e-5, 1e-8, 1e-6

/// One generated case: logits and their 0/1 targets, and the buckets they came from.
type Case =
    { Logits: float[]; Targets: float[]; Buckets: string[] }
    override c.ToString() =
        let show (xs: float[]) = String.Join(", ", xs |> Array.map (fun v -> v.ToString("R", Globalization.CultureInfo.InvariantCulture)))
        $"logits [{show c.Logits}], targets [{show c.Targets}]"

let private uniform lo hi = Gen.choose (0, 1_000_000) |> Gen.map (fun k -> lo + (hi - lo) * float k / 1_000_000.0)

/// A logit for a target from a bucket. Together the buckets cover every |logit| from 0 to 100 continuously
/// (uncertain |x| < 2, confident 2 to 30, saturated 30 to 100 with its end points drawn often).
let private logitGen (bucket: string) (target: float) =
    let sign = if target = 1.0 then 1.0 else -1.0
    match bucket with
    | "confident-right" -> uniform 2.0 30.0 |> Gen.map (fun m -> sign * m)
    | "confident-wrong" -> uniform 2.0 30.0 |> Gen.map (fun m -> -sign * m)
    | "uncertain" -> uniform -2.0 2.0
    | _ -> Gen.zip (Gen.oneof [ Gen.elements [ 30.0; 100.0 ]; uniform 30.0 100.0 ]) (Gen.elements [ 1.0; -1.0 ]) |> Gen.map (fun (m, s) -> m * s)

let private element =
    gen {
        let! bucket = Gen.elements [ "confident-right"; "confident-wrong"; "uncertain"; "saturated" ]
        let! target = Gen.elements [ 0.0; 1.0 ]
        let! logit = logitGen bucket target
        return bucket, target, logit
    }

/// Cases of 1 to 16 elements; `saturated` allows the +-30..100 bucket.
/// The steps NonIncreasingInPt moves a logit towards its target: from a hair (a jump in the loss, as FLSD's
/// gamma switch at a p_t threshold) to a stride.
let monotonicitySteps = [ 1e-3; 1e-2; 0.1; 0.5; 2.0 ]

let cases (saturated: bool) =
    Gen.choose (1, 16)
    |> Gen.bind (fun n -> Gen.arrayOfLength n (if saturated then element else element |> Gen.filter (fun (b, _, _) -> b <> "saturated")))
    |> Gen.map (fun es -> { Logits = es |> Array.map (fun (_, _, x) -> x); Targets = es |> Array.map (fun (_, t, _) -> t); Buckets = es |> Array.map (fun (b, _, _) -> b) })

/// Shrinks a case by dropping elements and by moving a logit towards a simpler value of its own sign.
let shrink (c: Case) : Case seq =
    seq {
        if c.Logits.Length > 1 then
            for i in 0 .. c.Logits.Length - 1 ->
                { Logits = Array.removeAt i c.Logits; Targets = Array.removeAt i c.Targets; Buckets = Array.removeAt i c.Buckets }
        for i in 0 .. c.Logits.Length - 1 do
            let x = c.Logits[i]
            let simpler = Math.Round(x) |> fun r -> if r = 0.0 && x <> 0.0 then Math.Sign x |> float else r
            if simpler <> x && Math.Sign simpler = Math.Sign x then yield { c with Logits = Array.updateAt i simpler c.Logits }
    }

let private tensorOf (dtype: torch.ScalarType) (values: float[]) = torch.tensor(values, dtype = torch.ScalarType.Float64).to_type(dtype)

/// The subject's per-element losses, checked to have the logits' shape (a law is about element-wise losses).
let private perElement (subject: Subject) (x: torch.Tensor) (t: torch.Tensor) =
    let out =
        match subject with
        | Function(_, f) -> f x t
        | Module m -> m.Compute(x, t, reduction = torch.nn.Reduction.None)
    if out.shape <> x.shape then
        invalidArg "subject" $"""a loss under the law checker must return per-element losses of the logits' shape [{String.Join(", ", x.shape)}], got shape [{String.Join(", ", out.shape)}]"""
    out

/// Per-element loss values of the subject in float64 (or the given dtype), as an array.
let private values (subject: Subject) (dtype: torch.ScalarType) (logits: float[]) (targets: float[]) =
    use scope = torch.NewDisposeScope()
    use _ = torch.no_grad()
    let out = perElement subject (tensorOf dtype logits) (tensorOf dtype targets)
    out.to_type(torch.ScalarType.Float64).cpu().flatten().data<float>().ToArray()

let private valuesOf (f: LossFn) logits targets = values (Function("reference", f)) torch.ScalarType.Float64 logits targets

/// The loss values and the gradient of their sum with respect to the logits.
let private withGradient (subject: Subject) (dtype: torch.ScalarType) (logits: float[]) (targets: float[]) =
    use scope = torch.NewDisposeScope()
    let x = (tensorOf dtype logits).requires_grad_(true)
    let out = perElement subject x (tensorOf dtype targets)
    out.sum().backward()
    out.detach().to_type(torch.ScalarType.Float64).cpu().flatten().data<float>().ToArray(),
    (nonNull x.grad).to_type(torch.ScalarType.Float64).cpu().flatten().data<float>().ToArray()

let private close rel tolerance (a: float) (b: float) = a = b || Math.Abs(a - b) <= tolerance + rel * Math.Abs b

let private bce : LossFn = fun x t -> Functional.binary_cross_entropy_with_logits(x, t, reduction = torch.nn.Reduction.None)

let private fmt (v: float) = v.ToString("G6", Globalization.CultureInfo.InvariantCulture)

/// For a law, a function from a case to None (holds) or Some text (the values that break it).
let private judge (subject: Subject) (law: Law) : Case -> string option =
    match law with
    | BoundedAboveByBce ->
        fun c ->
            let l = values subject torch.ScalarType.Float64 c.Logits c.Targets
            let b = valuesOf bce c.Logits c.Targets
            Array.zip l b |> Array.tryFindIndex (fun (l, b) -> l > b + valueAbs + valueRel * abs b)
            |> Option.map (fun i -> $"element {i}: loss {fmt l[i]} > BCE {fmt b[i]}")
    | NonIncreasingInPt ->
        fun c ->
            let before = values subject torch.ScalarType.Float64 c.Logits c.Targets
            monotonicitySteps |> List.tryPick (fun step ->
                let moved = Array.map2 (fun x t -> x + (if t = 1.0 then step else -step)) c.Logits c.Targets
                let after = values subject torch.ScalarType.Float64 moved c.Targets
                Array.zip before after |> Array.tryFindIndex (fun (b, a) -> a > b + valueAbs + valueRel * abs b)
                |> Option.map (fun i -> $"element {i}: loss {fmt before[i]} at logit {fmt c.Logits[i]}, {fmt after[i]} at {fmt moved[i]} ({fmt step} closer to the target)"))
    | ReducesTo(name, reference) ->
        fun c ->
            let l = values subject torch.ScalarType.Float64 c.Logits c.Targets
            let r = valuesOf reference c.Logits c.Targets
            Array.zip l r |> Array.tryFindIndex (fun (l, r) -> not (close valueRel valueAbs l r))
            |> Option.map (fun i -> $"element {i}: loss {fmt l[i]}, {name} {fmt r[i]}")
    | LabelFlipSymmetric ->
        fun c ->
            let l = values subject torch.ScalarType.Float64 c.Logits c.Targets
            let f = values subject torch.ScalarType.Float64 (c.Logits |> Array.map (~-)) (c.Targets |> Array.map (fun t -> 1.0 - t))
            Array.zip l f |> Array.tryFindIndex (fun (l, f) -> not (close valueRel valueAbs l f))
            |> Option.map (fun i -> $"element {i}: loss(x, t) {fmt l[i]}, loss(-x, 1 - t) {fmt f[i]}")
    | FiniteAtExtremes ->
        fun c ->
            [ torch.ScalarType.Float32; torch.ScalarType.Float64 ]
            |> List.tryPick (fun dtype ->
                let l, g = withGradient subject dtype c.Logits c.Targets
                match Array.tryFindIndex (Double.IsFinite >> not) l, Array.tryFindIndex (Double.IsFinite >> not) g with
                | Some i, _ -> Some $"{dtype}: loss {fmt l[i]} at element {i}"
                | None, Some i -> Some $"{dtype}: gradient {fmt g[i]} at element {i}"
                | None, None -> None)
    | GradientMatchesFiniteDifferences ->
        fun c ->
            let _, g = withGradient subject torch.ScalarType.Float64 c.Logits c.Targets
            // d(sum of losses)/dx_i as the sum of the per-element differences, not the difference of two sums:
            // a large total would swallow a small element's change in rounding (a false alarm on a right gradient).
            // The rounding of each difference (4 ulps of the two values over the step) widens the tolerance, so
            // large loss values do not turn into a false alarm either.
            let numeric, rounding =
                Array.init c.Logits.Length (fun i ->
                    let plus, minus = Array.copy c.Logits, Array.copy c.Logits
                    plus[i] <- plus[i] + gradientStep
                    minus[i] <- minus[i] - gradientStep
                    let up = values subject torch.ScalarType.Float64 plus c.Targets
                    let down = values subject torch.ScalarType.Float64 minus c.Targets
                    Array.fold2 (fun acc u d -> acc + (u - d)) 0.0 up down / (2.0 * gradientStep),
                    Array.fold2 (fun acc u d -> acc + 4.0 * 2.220446049250313e-16 * (abs u + abs d)) 0.0 up down / (2.0 * gradientStep))
                |> Array.unzip
            Array.zip3 g numeric rounding |> Array.tryFindIndex (fun (a, n, r) -> not (close gradientRel (gradientAbs + r) a n))
            |> Option.map (fun i -> $"element {i}: autograd {fmt g[i]}, finite differences {fmt numeric[i]}")
    | ReductionConsistent ->
        match subject with
        | Function _ -> invalidArg "laws" "ReductionConsistent needs a Module (an ILossFunction with reductions), got a Function"
        | Module m ->
            fun c ->
                use scope = torch.NewDisposeScope()
                let x = tensorOf torch.ScalarType.Float64 c.Logits
                let t = tensorOf torch.ScalarType.Float64 c.Targets
                let none = m.Compute(x, t, reduction = torch.nn.Reduction.None)
                let mean = m.Compute(x, t, torch.nn.Reduction.Mean).item<float>()
                let sum = m.Compute(x, t, torch.nn.Reduction.Sum).item<float>()
                let expectedSum = none.sum().item<float>()
                let expectedMean = none.mean().item<float>()
                if not (close valueRel valueAbs sum expectedSum) then Some $"Sum {fmt sum}, sum of None {fmt expectedSum}"
                elif not (close valueRel valueAbs mean expectedMean) then Some $"Mean {fmt mean}, mean of None {fmt expectedMean}"
                else None

/// The law's name in tables.
let lawName = function
    | BoundedAboveByBce -> "bounded above by BCE"
    | NonIncreasingInPt -> "non-increasing in p_t"
    | ReducesTo(name, _) -> $"reduces to {name}"
    | LabelFlipSymmetric -> "label-flip symmetric"
    | FiniteAtExtremes -> "finite at +-100 (float32, float64)"
    | GradientMatchesFiniteDifferences -> "gradient = finite differences (float64)"
    | ReductionConsistent -> "reductions consistent"

/// Collects FsCheck's result instead of printing it.
type private Collector() =
    member val Result: TestResult option = None with get, set
    interface IRunner with
        member _.OnStartFixture _ = ()
        member _.OnArguments(_, _, _) = ()
        member _.OnShrink(_, _) = ()
        member r.OnFinished(_, result) = r.Result <- Some result

/// Refuses what the checker cannot judge, before any case runs: a count of cases below 1, a module that is
/// not element-wise on logits (a multi-class loss, a loss on probabilities), a law that needs a module given a
/// function, a loss that does not return per-element losses of the logits' shape.
let private validate (maxTest: int) (subject: Subject) (laws: Law list) =
    if maxTest < 1 then invalidArg "maxTest" $"maxTest must be >= 1 (cases a law is tried on), got {maxTest}"
    match subject with
    | Module m when m.Task = FocalLoss.Data.LossTask.MultiClass ->
        invalidArg "subject" $"the law checker takes element-wise losses on logits with 0/1 targets, got {m.Name} (a multi-class loss)"
    | Module m when m.Input = LossInput.Probabilities ->
        invalidArg "subject" $"the law checker takes losses on logits, got {m.Name} (a loss on probabilities)"
    | _ -> ()
    for law in laws do judge subject law |> ignore   // a law the subject cannot have is refused here
    // One probe: the shape of what the loss returns.
    values subject torch.ScalarType.Float64 [| 1.0; -2.0; 0.5 |] [| 1.0; 0.0; 0.0 |] |> ignore

/// Checks each claimed law with `maxTest` FsCheck cases (and a replay seed "(seed,gamma)" if given).
let checkWith (maxTest: int) (replay: (uint64 * uint64) option) (subject: Subject) (laws: Law list) : Verdict list =
    TorchRuntime.EnsureLoaded() |> ignore
    validate maxTest subject laws
    [ for law in laws ->
        let saturated = match law with GradientMatchesFiniteDifferences -> false | _ -> true
        let judgement = judge subject law
        let property = Prop.forAll (Arb.fromGenShrink (cases saturated, shrink)) (fun c -> (judgement c).IsNone)
        let collector = Collector()
        let config =
            Config.Quick.WithMaxTest(maxTest).WithRunner(collector).WithQuietOnSuccess(true)
            |> fun cfg -> match replay with Some(s, g) -> cfg.WithReplay(Some { Rnd = Rnd(s, g); Size = None }) | None -> cfg
        Check.One(config, property)
        match collector.Result with
        | Some(TestResult.Passed(data, _)) -> { Law = lawName law; Held = true; Tests = data.NumberOfTests; Counterexample = None; Replay = None }
        | Some(TestResult.Failed(data, _, shrunk, outcome, seed, _, _)) ->
            let case = shrunk |> List.tryHead |> Option.bind (function :? Case as c -> Some c | _ -> None)
            let detail =
                match case, outcome with
                | Some c, _ ->
                    let why = try judgement c |> Option.defaultValue "" with e -> $"threw {e.GetType().Name}: {e.Message}"
                    $"{c}: {why}"
                | None, Outcome.Failed e -> $"threw {e.GetType().Name}: {e.Message}"
                | None, _ -> sprintf "%A" shrunk
            { Law = lawName law; Held = false; Tests = data.NumberOfTests; Counterexample = Some detail; Replay = Some $"({seed.Seed},{seed.Gamma})" }
        | Some(TestResult.Exhausted data) -> { Law = lawName law; Held = false; Tests = data.NumberOfTests; Counterexample = Some "exhausted: too many cases rejected"; Replay = None }
        | None -> { Law = lawName law; Held = false; Tests = 0; Counterexample = Some "FsCheck reported no result"; Replay = None } ]

/// Checks each claimed law with 200 cases.
let check (subject: Subject) (laws: Law list) = checkWith 200 None subject laws

/// The verdicts as a text table: law, held or broken, cases tried, counterexample, replay seed.
let format (verdicts: Verdict list) =
    let rows =
        verdicts |> List.map (fun v ->
            [ v.Law; (if v.Held then "holds" else "BROKEN"); string v.Tests
              v.Counterexample |> Option.defaultValue ""; v.Replay |> Option.defaultValue "" ])
    let header = [ "law"; "verdict"; "cases"; "shrunk counterexample"; "replay" ]
    let widths = header |> List.mapi (fun i h -> (h :: (rows |> List.map (fun r -> r[i]))) |> List.map String.length |> List.max |> min 100)
    let line (cells: string list) = String.Join(" | ", cells |> List.mapi (fun i c -> c.PadRight widths[i]))
    String.Join(Environment.NewLine, line header :: line (widths |> List.map (fun w -> String('-', w))) :: (rows |> List.map line))

/// Prints the verdicts as a table.
let print (verdicts: Verdict list) = printfn "%s" (format verdicts)
