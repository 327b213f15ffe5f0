// Mutation check: proves the tests can fail.
//
// Copies the working tree to tests/mutation/work/ (git-ignored), then for each broken variant below
// replaces one snippet of the code, rebuilds, runs the test suite that guards that code (the xUnit property
// classes, a named xUnit test, or an Expecto test list) and records which tests fail. Every FsCheck
// property runs with one fixed replay seed (FOCAL_PROPERTY_REPLAY), so the verdict is reproducible.
// Writes a matrix (default tests/mutation/RESULTS.md, or --results PATH) and exits non-zero unless
//   - the unmutated code passes every suite used,
//   - every mutant is caught by at least one test, and
//   - every property listed in `properties` catches at least one mutant.
//
// Two sets of mutants: `core` (below: the focal loss and the six areas outside the loss where planted bugs
// once went unnoticed; test.sh runs the `ciCore` cover of them) and `family` (tests/mutation/mutants-family.txt: the asymmetric
// family, one line a mutant "id | the bug | file | original | broken | suite"; results in RESULTS-family.md).
//
// Usage (after dotnet build -c Release): dotnet fsi tests/mutation/run.fsx [--set core|family|all|ci] [--results PATH] [--only id,id] [--replay "(seed,gamma)"]
// `--help` lists the options.
#r "../../src/Analysis.FSharp/bin/Release/net10.0/Argu.dll"
open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Argu

type MutantSet =
    | Core
    | Family
    | All
    /// A cover of the core properties (ciCore) and one mutant of each member of the family: what test.sh runs.
    | Ci

type Args =
    | Set of MutantSet
    | Results of path: string
    | Only of ids: string
    | Replay of seed: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Set _ -> "which mutants: core (default), family (tests/mutation/mutants-family.txt), all, or ci (core mutants that cover every listed core property, and one of each family member; what test.sh runs)"
            | Results _ -> "where to write the matrix (default tests/mutation/RESULTS.md for core, RESULTS-family.md for family, RESULTS-all.md for all)"
            | Only _ -> "comma-separated mutant ids to run (default: all)"
            | Replay _ -> "FsCheck replay seed \"(seed,gamma)\" for every property (default: the fixed one below)"

let root = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", ".."))
let work = Path.Combine(root, "tests", "mutation", "work")
let functional = "src/FocalLoss.CSharp/Losses/Functional.cs"
let trainer = "src/FocalLoss.CSharp/Training/Trainer.cs"
let fused = "src/FocalLoss.CSharp/Losses/FusedSigmoidFocal.cs"
let fusedOptimizer = "src/FocalLoss.CSharp/Training/FusedOptimizer.cs"

/// The suite a mutant is checked against.
type Suite =
    /// Every xUnit property class (FullyQualifiedName~Properties).
    | Properties
    /// The xUnit tests whose name contains the filter.
    | Xunit of filter: string
    /// One Expecto test list of tests/Analysis.Tests.
    | Expecto of testList: string

/// (id, what the bug is, file, original snippet, broken snippet, suite)
let mutants = [
    // The fused CPU kernel (issue 11), against the same xUnit properties (their *Fused classes force it).
    "fused-alpha-dropped", "fused kernel: alpha_t not applied to the forward loss", fused,
    "        return KeepNaN(x, p.HasAlpha ? AlphaT(s.T, p) * loss : loss);", "        return KeepNaN(x, loss);", Properties
    "fused-gamma-term-dropped", "fused kernel: gradient without the modulating factor's derivative", fused,
    "grad = s.Mod * (TV.Create(p.Gamma) * sign * s.Ce * ratio + pMinusT);", "grad = s.Mod * pMinusT;", Properties
    "fused-smoothing-dropped", "fused kernel: label smoothing ignored", fused,
    "t = t * TV.Create(1 - p.LabelSmoothing) + TV.Create(p.LabelSmoothing / 2);", "t = t * TV.Create(1);", Properties
    "fused-mean-as-sum", "fused kernel: Mean not divided by the count", fused,
    "if (p.Reduction == Reduction.Mean) total /= n;", "if (p.Reduction == Reduction.Mean) total /= 1;", Properties
    "fused-adam-bias-correction-dropped", "fused optimiser: Adam's second-moment bias correction dropped", fusedOptimizer,
    "var rootCorrection2 = T.CreateChecked(Math.Sqrt(1 - Math.Pow(beta2, t)));", "var rootCorrection2 = T.One;", Xunit "FusedOptimizerTests"
    "fused-sgd-momentum-ignored", "fused optimiser: SGD steps on the raw gradient, momentum buffer unused", fusedOptimizer,
    "gi = buffer is null ? gi : T.CreateChecked(buffer[i]) * mom + gi;", "gi = buffer is null ? gi : gi + T.Zero * T.CreateChecked(buffer[i]) * mom;", Xunit "FusedOptimizerTests"
    // The loss itself, against the xUnit properties.
    "inner-bce-reduced", "reduction passed into the inner cross-entropy (mean(CE) * mean(weight))", functional,
    "ce_loss = -F.logsigmoid(z);", "ce_loss = Reduce(-F.logsigmoid(z), reduction);", Properties
    "alpha-wrong-class", "alpha weights the negative class instead of the positive one", functional,
    "var alpha_t = a * targets + (1 - a) * (1 - targets);", "var alpha_t = a * (1 - targets) + (1 - a) * targets;", Properties
    "alpha-both-classes", "alpha applied to both classes (no 1 - alpha for negatives)", functional,
    "var alpha_t = a * targets + (1 - a) * (1 - targets);", "var alpha_t = a * targets + a * (1 - targets);", Properties
    "gamma-ignored", "gamma ignored: the modulating factor is dropped", functional,
    "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;", "loss = ce_loss;", Properties
    "factor-from-probabilities", "modulating factor (1 - sigmoid(z))^gamma from probabilities, not log space", functional,
    "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;",
    "loss = gamma == 0 ? ce_loss : (1 - z.sigmoid()).pow(gamma) * ce_loss;", Properties
    "factor-inverted", "modulating exponent sign flipped: (1 - p_t)^-gamma up-weights easy examples", functional,
    "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;",
    "loss = gamma == 0 ? ce_loss : (-gamma * F.logsigmoid(-z)).exp() * ce_loss;", Properties
    "factor-detached", "modulating factor detached from the graph: right values, wrong gradient", functional,
    "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;",
    "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp().detach() * ce_loss;", Properties
    "mean-wrong-count", "mean divides by count + 1", functional,
    "Reduction.Mean => loss.mean(),", "Reduction.Mean => loss.sum() / (loss.numel() + 1),", Properties
    "targets-misaligned", "targets shifted by one sample against the logits", functional,
    "var z = inputs * (2 * targets - 1);", "var z = inputs * (2 * targets.roll(1, 0) - 1);", Properties
    "probability-form-p_t-swapped", "probability form takes p_t from the wrong class", functional,
    "var p_t = p * targets + (1 - p) * (1 - targets);", "var p_t = p * (1 - targets) + (1 - p) * targets;", Properties
    "softmax-factor-from-p_t", "softmax focal loss modulates by p_t^gamma instead of (1 - p_t)^gamma", functional,
    "log_p.masked_fill(classIds.eq(target), double.NegativeInfinity)", "log_p.masked_fill(classIds.ne(target), double.NegativeInfinity)", Properties
    "soft-geometric-mixture", "soft targets mix log-probabilities (geometric) instead of probabilities", functional,
    "var log_1m_p_t = logaddexp(targets.log() + log_1m_p, (-targets).log1p() + log_p);",
    "var log_1m_p_t = targets * log_1m_p + (1 - targets) * log_p;", Properties
    // Outside the loss: the six areas where planted bugs once went unnoticed, and the typed configuration.
    "softmax-alpha-value-only-in-gradient", "softmax focal loss: per-class alpha scales the gradient but not the value", functional,
    "            loss = alpha_t * loss;", "            loss = alpha_t * loss - (alpha_t * loss - loss).detach();", Xunit "SoftmaxGoldenValueTests"
    "batch-order-fixed", "the shuffled batch order is the same every epoch (generator re-created)", trainer,
    "randperm(n, generator: shuffle)", "randperm(n, generator: new Generator((ulong)(config.Seed + 1)))", Xunit "each_epoch_visits_every_sample_once"
    "adam-ignores-learning-rate", "Adam runs at its default learning rate 0.001 whatever the config says", trainer,
    "optim.Adam(model.parameters(), config.LearningRate,", "optim.Adam(model.parameters(), 0.001,", Xunit "the_learning_rate_reaches_the_optimizer"
    // (step-before-finite-check, the optimiser stepping before the divergence check, was dropped with issue 11: both
    // optimisers now refuse a step that makes a weight non-finite, so that mutant keeps finite weights and cannot be
    // told apart; torch-step-overflow-kept and fused-step-overflow-applied break those guards instead.)
    "fused-step-overflow-applied", "fused optimiser: a step that makes a weight non-finite is written anyway", fusedOptimizer,
    "            if (!finite) return false;", "            if (!finite && false) return false;", Xunit "TrainerTests"
    "torch-step-overflow-kept", "TorchSharp's optimiser: a step that makes a weight non-finite is kept, not undone", fusedOptimizer,
    "        if (Trainer.AllFinite(parameters)) return true;", "        if (true || Trainer.AllFinite(parameters)) return true;", Xunit "TrainerTests"
    "probability-nan-outputs-throw", "NaN model outputs under a loss on probabilities stop training with an exception, not as a divergence", trainer,
    "catch (ArgumentException) when (!TensorMemory.AllFinite(output))", "catch (ArgumentException) when (false && !TensorMemory.AllFinite(output))", Xunit "TrainerTests"
    "pairs-other-seed", "a setting is paired with the cross-entropy run of another seed", "src/Analysis.FSharp/Frames.fs",
    "let baselineIdOf (r: RunRecord) = runIdOf (baselineOf r.Config) (", "let baselineIdOf (r: RunRecord) = runIdOf { baselineOf r.Config with Seed = (r.Config.Seed + 1) % 5 } (", Expecto "frames and verdicts on constructed runs"
    "significant-unadjusted", "a difference counts as significant on its raw p-value, without Holm's adjustment", "src/Analysis.FSharp/Frames.fs",
    "{ r with PAdjusted = p; Significant = p < alpha }", "{ r with PAdjusted = p; Significant = r.PValue < alpha }", Expecto "frames and verdicts on constructed runs"
    "holm-not-monotone", "Holm's step-down adjustment without its running maximum", "src/Analysis.FSharp/Stats.fs",
    "runningMax <- max runningMax (min 1.0 (float (m - j) * ps[i]))", "runningMax <- min 1.0 (float (m - j) * ps[i])", Expecto "statistics"
    "verdict-ignores-significance", "a family verdict reads better or worse from any non-tied difference, significant or not", "src/Analysis.FSharp/Verdicts.fs",
    "let significant = rows |> List.filter (fun p -> p.Significant && not (isTie p))", "let significant = rows |> List.filter (fun p -> not (isTie p))", Expecto "frames and verdicts on constructed runs"
    "threshold-shift-unread", "a drop of F1 at 0.5 with the best-threshold F1 unchanged is not read as a threshold shift", "src/Analysis.FSharp/Verdicts.fs",
    "| Some d, Some best when sig' (Some d) && not rankingChanged ->", "| Some d, Some best when sig' (Some best) && not rankingChanged ->", Expecto "frames and verdicts on constructed runs"
    "scale-from-non-significance", "a calibration penalty is read as a scale whenever its recalibrated difference is not significant, however wide its interval", "src/Analysis.FSharp/Verdicts.fs",
    "| Some a when not (improves ece) && shownSmall (abs ece.MeanDiff) a ->", "| Some a when not (improves ece) && not a.Significant ->", Expecto "frames and verdicts on constructed runs"
    "tables-sort-one-way", "a second click on a table header does not reverse the order", "src/Analysis.FSharp/Document.fs",
    "return asc?c:-c;", "return c;", Expecto "report in a browser"
    "csv-scaled-by-test-split", "a CSV is standardised with the test split's statistics", "src/Analysis.FSharp/Data.fs",
    "let scaler = Standardizer.Fit train", "let scaler = Standardizer.Fit test", Expecto "data of a config"
    "softmax-alpha-dropped", "the config's per-class alpha does not reach the softmax focal loss", "src/Analysis.FSharp/Config.fs",
    "Losses.SoftmaxFocalLoss(w, g, labelSmoothing = ls)", "Losses.SoftmaxFocalLoss(null, g, labelSmoothing = ls)", Expecto "typed configuration"
    "run-id-ignores-inputs", "the run id hashes the config but not the content of the files it reads", "src/Analysis.FSharp/Config.fs",
    "String.Join(\"|\", canonical c :: (inputs |> List.map _.Sha256))", "String.Join(\"|\", [ canonical c ])", Expecto "typed configuration"
    "labels-rounded", "report labels round hyper-parameters, so two settings can share a label", "src/Analysis.FSharp/Config.fs",
    "let num (v: float) = v.ToString(\"R\", inv)", "let num (v: float) = v.ToString(\"G4\", inv)", Expecto "typed configuration"
]

/// The mutants of the asymmetric family, read from mutants-family.txt: "id | the bug | file | original |
/// broken | suite", the suite "Properties", "Xunit <filter>" or "Expecto <test list>".
let familyMutants =
    let path = Path.Combine(__SOURCE_DIRECTORY__, "mutants-family.txt")
    [ for i, line in File.ReadAllLines path |> Array.indexed do
        if not (String.IsNullOrWhiteSpace line) then
            match line.Split(" | ") with
            | [| id; what; file; original; broken; suite |] ->
                let suite =
                    match suite.Trim() with
                    | "Properties" -> Properties
                    | s when s.StartsWith "Xunit " -> Xunit(s.Substring 6)
                    | s when s.StartsWith "Expecto " -> Expecto(s.Substring 8)
                    | s -> failwithf "%s line %d: suite must be Properties, Xunit <filter> or Expecto <list>, got '%s'" path (i + 1) s
                yield id.Trim(), what.Trim(), file.Trim(), original, broken, suite
            | parts -> failwithf "%s line %d: expected 6 fields separated by ' | ', got %d" path (i + 1) parts.Length ]

/// The core mutants test.sh runs: together they are caught by every property in `properties` below, and they
/// include the issue-7 defects (a dropped hyper-parameter, a run id blind to its inputs, a diverged run's step).
let ciCore = [
    "targets-misaligned"; "factor-inverted"; "alpha-both-classes"; "mean-wrong-count"; "factor-detached"
    "torch-step-overflow-kept"; "softmax-alpha-dropped"; "run-id-ignores-inputs"; "labels-rounded"
    "verdict-ignores-significance"; "significant-unadjusted"; "fused-alpha-dropped" ]

/// One mutant of each member of the family and of its F# configuration: the family's share of test.sh's run.
let familySample = [
    "asl-margin-unsafe-stand-in"; "poly1-term-detached"; "fl-star-log-of-sigmoid"; "flsd-threshold-direction"
    "smoothing-binary-towards-eps"; "class-balanced-effective-number"; "trainer-sum-over-positives-is-mean"; "config-asl-detach-dropped" ]

/// The laws of the asymmetric family that must each catch at least one of its mutants.
let familyProperties = [
    "asl_with_equal_gammas_and_no_clip_equals_sigmoid_focal_loss_without_alpha_in_value_and_gradient"
    "asl_with_zero_gammas_and_no_clip_equals_binary_cross_entropy_in_value_and_gradient"
    "asl_does_not_increase_with_p_for_positives_and_does_not_decrease_for_negatives"
    "asl_loss_and_gradient_are_finite_for_logits_up_to_plus_minus_100_in_float32_and_float64"
    "binary_poly1_with_epsilon_zero_equals_its_base_in_value_and_gradient"
    "softmax_poly1_with_epsilon_zero_equals_its_base_in_value_and_gradient"
    "poly1_loss_and_gradient_are_finite_for_logits_up_to_plus_minus_100_in_float32_and_float64"
    "fl_star_with_gamma_one_and_beta_zero_equals_binary_cross_entropy_in_value_and_gradient"
    "a_constant_schedule_equals_sigmoid_focal_loss_in_value_and_gradient"
    "a_constant_schedule_equals_softmax_focal_loss_in_value_and_gradient"
    "class_balanced_weights_with_beta_zero_are_uniform_ones"
    "binary_losses_with_label_smoothing_equal_the_same_loss_on_smoothed_targets_in_value_and_gradient"
]

/// The properties that must each catch at least one mutant.
let properties = [
    "gamma_zero_equals_alpha_weighted_bce_in_value_and_gradient"
    "focal_loss_never_exceeds_alpha_weighted_bce"
    "focal_over_bce_equals_alpha_t_times_one_minus_p_t_to_the_gamma"
    "loss_does_not_increase_as_p_t_rises"
    "loss_does_not_increase_as_gamma_rises"
    "flipping_logit_target_and_alpha_leaves_the_loss_unchanged"
    "mean_is_sum_over_count_and_none_sums_to_sum"
    "loss_is_invariant_under_permutation_of_samples"
    "logits_form_equals_probability_form_wherever_the_latter_is_finite"
    "softmax_focal_with_two_classes_equals_sigmoid_focal_on_the_logit_difference"
    "analytic_gradient_equals_central_finite_differences_in_float64"
    "loss_and_gradient_are_finite_for_logits_up_to_plus_minus_100_in_float32_and_float64"
    "changing any declared hyper-parameter of any loss changes its value on a fixed batch"
    "the label a report prints parses back to the same loss"
    "a verdict whose interval contains zero never reads improved or worsened"
    "a difference is significant only when its Holm-adjusted p is below 0.05, and Holm never lowers a p"
]

let failedXunit = Regex(@"^\s*Failed FocalLoss\.Tests\.\w+\.(\w+)", RegexOptions.Multiline)
let xunitSummary = Regex(@"(Passed|Failed)!\s+-\s+Failed:\s+(\d+), Passed:\s+(\d+)")
let expectoSummary = Regex(@"(\d+) passed, (\d+) ignored, (\d+) failed, (\d+) errored")

let sh (replay: string) (cwd: string) (args: string list) =
    let info = ProcessStartInfo("dotnet", args, WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true)
    info.Environment["FOCAL_PROPERTY_REPLAY"] <- replay   // one FsCheck seed for every run: a reproducible verdict
    use proc = Process.Start info |> nonNull
    let err = proc.StandardError.ReadToEndAsync()
    let out = proc.StandardOutput.ReadToEnd()
    proc.WaitForExit()
    proc.ExitCode, out + err.Result

let tail (text: string) = if text.Length > 3000 then text[text.Length - 3000 ..] else text

let copyTree () =
    if Directory.Exists work then Directory.Delete(work, true)
    let info = ProcessStartInfo("git", "ls-files -co --exclude-standard", WorkingDirectory = root, RedirectStandardOutput = true)
    use git = Process.Start info |> nonNull
    let files = git.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
    git.WaitForExit()
    for f in files do
        let source = Path.Combine(root, f)
        if not (f.StartsWith "tests/mutation/") && File.Exists source then
            let target = Path.Combine(work, f)
            Directory.CreateDirectory(Path.GetDirectoryName target |> nonNull) |> ignore
            File.Copy(source, target)

/// Expecto's --summary lists failing and errored tests, one a line after "Failed:" / "Errored:".
let expectoFailures (testList: string) (out: string) =
    let mutable section = ""
    [ for line in out.Split('\n') do
        let l = line.TrimEnd('\r')
        if Regex.IsMatch(l, @"^(Passed|Ignored|Failed|Errored):") then section <- l.Split(':')[0]
        elif (section = "Failed" || section = "Errored") && l.StartsWith "\t" then
            let name = l.Trim().Replace(" <Expecto>", "")
            yield (if name.StartsWith(testList + ".") then name.Substring(testList.Length + 1) else name) ]
    |> List.distinct |> List.sort

/// Builds and runs one suite in the work tree: Ok (failed test names, summary) or Error (output tail).
let testProject = function Expecto _ -> "tests/Analysis.Tests" | _ -> "tests/FocalLoss.Tests"

/// Builds the test projects the suites need, whole (the baseline).
let buildTests (replay: string) (suites: Suite list) =
    suites |> List.map testProject |> List.distinct
    |> List.tryPick (fun project ->
        match sh replay work [ "build"; project; "-c"; "Release"; "-nologo"; "-v"; "quiet" ] with
        | code, out when code <> 0 -> Some(tail out)
        | _ -> None)

/// The library project a source file belongs to, and its assembly.
let libraryOf (file: string) =
    if file.StartsWith "src/FocalLoss.CSharp/" then "src/FocalLoss.CSharp", "FocalLoss.CSharp.dll"
    elif file.StartsWith "src/Analysis.FSharp/" then "src/Analysis.FSharp", "Analysis.FSharp.dll"
    else failwithf "mutants must be in src/FocalLoss.CSharp or src/Analysis.FSharp, got %s" file

/// Where the test programs load the libraries from.
let testBins = [ "tests/FocalLoss.Tests"; "tests/Analysis.Tests" ] |> List.map (fun p -> Path.Combine(work, p, "bin", "Release", "net10.0"))

/// Rebuilds only the mutated library (no dependencies; a mutant never changes a public signature) and puts
/// its assembly where the test programs load it: a few seconds instead of rebuilding every project.
let buildLibrary (replay: string) (file: string) =
    let project, assembly = libraryOf file
    match sh replay work [ "build"; project; "-c"; "Release"; "--no-dependencies"; "-nologo"; "-v"; "quiet" ] with
    | code, out when code <> 0 -> Error(tail out)
    | _ ->
        let built = Path.Combine(work, project, "bin", "Release", "net10.0", assembly)
        for bin in testBins do
            let target = Path.Combine(bin, assembly)
            // The build hard-links copy-local files (Directory.Build.props): the target may be the built file
            // itself under another name, so unlink it rather than copy onto it.
            if File.Exists target then
                File.Delete target
                File.Copy(built, target)
        Ok()

/// Runs one suite on the current test binaries: Ok (failed test names, summary) or Error (output tail).
let runSuite (replay: string) (suite: Suite) =
    let project = testProject suite
    match suite with
    | Properties | Xunit _ ->
        let filter = match suite with Xunit f -> $"FullyQualifiedName~{f}" | _ -> "FullyQualifiedName~Properties"
        let _, out = sh replay work [ "test"; project; "-c"; "Release"; "--no-build"; "-nologo"; "--filter"; filter ]
        let m = xunitSummary.Match out
        if not m.Success then Error(tail out)
        else Ok([ for f in failedXunit.Matches out -> f.Groups[1].Value ] |> List.distinct |> List.sort, m.Value)
    | Expecto testList ->
        let _, out = sh replay work [ "run"; "--project"; project; "-c"; "Release"; "--no-build"; "--"; "--filter-test-list"; testList; "--colours"; "0"; "--no-spinner"; "--summary" ]
        let m = expectoSummary.Match out
        if not m.Success || m.Groups[1].Value = "0" && m.Groups[3].Value = "0" && m.Groups[4].Value = "0" then Error(tail out)
        else Ok(expectoFailures testList out, m.Value)

let suiteName = function Properties -> "xUnit properties" | Xunit f -> $"xUnit ~{f}" | Expecto l -> $"Expecto '{l}'"

let main (argv: string array) =
    let parser = ArgumentParser.Create<Args>(programName = "dotnet fsi tests/mutation/run.fsx")
    let args = parser.ParseCommandLine(argv)
    let set = args.GetResult(Set, Core)
    let mutants, properties, defaultResults =
        match set with
        | Core -> mutants, properties, "RESULTS.md"
        | Family -> familyMutants, familyProperties, "RESULTS-family.md"
        | All -> mutants @ familyMutants, properties @ familyProperties, "RESULTS-all.md"
        | Ci ->
            let pick ids from name =
                let chosen = from |> List.filter (fun (id, _, _, _, _, _) -> List.contains id ids)
                if chosen.Length <> ids.Length then failwithf "%s names a mutant that does not exist: %A" name ids
                chosen
            pick ciCore mutants "ciCore" @ pick familySample familyMutants "familySample", properties, "RESULTS-ci.md"
    let resultsPath = args.TryGetResult Results |> Option.map Path.GetFullPath |> Option.defaultValue (Path.Combine(root, "tests", "mutation", defaultResults))
    let replay = args.GetResult(Replay, "(12725637066060010977,5987593262269096141)")
    let selected =
        match args.TryGetResult Only with
        | None -> mutants
        | Some ids ->
            let wanted = ids.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries) |> Set.ofArray
            let known = mutants |> List.map (fun (id, _, _, _, _, _) -> id) |> Set.ofList
            let unknown = Set.difference wanted known
            if not unknown.IsEmpty then
                eprintfn "--only: unknown mutant(s) %s; valid: %s" (String.Join(", ", unknown)) (String.Join(", ", known))
                exit 2
            mutants |> List.filter (fun (id, _, _, _, _, _) -> wanted.Contains id)
    // Every snippet must occur exactly once before anything is built: a stale one fails at once, not minutes in.
    let stale =
        [ for id, _, path, original, _, _ in selected do
            let count = Regex.Matches(File.ReadAllText(Path.Combine(root, path)), Regex.Escape original).Count
            if count <> 1 then yield $"{id}: snippet found {count} times in {path}: {original}" ]
    if not stale.IsEmpty then
        stale |> List.iter (eprintfn "%s")
        exit 2
    let started = Stopwatch.StartNew()
    copyTree ()
    let suites = selected |> List.map (fun (_, _, _, _, _, s) -> s) |> List.distinct
    let built = buildTests replay suites
    // The unmutated libraries, put back into the test binaries after every mutant.
    let originals =
        [ for bin in testBins do
            for assembly in [ "FocalLoss.CSharp.dll"; "Analysis.FSharp.dll" ] do
                let path = Path.Combine(bin, assembly)
                if File.Exists path then yield path, File.ReadAllBytes path ]
    let baseline = if built.IsSome then [] else suites |> List.map (fun s -> s, runSuite replay s)
    let broken = baseline |> List.filter (fun (_, r) -> match r with Ok([], _) -> false | _ -> true)
    if built.IsSome || not broken.IsEmpty then
        built |> Option.iter (printfn "baseline did not build:\n%s")
        for s, r in broken do
            match r with
            | Ok(failed, info) -> printfn "baseline (unmutated) must pass %s; failed %A: %s" (suiteName s) failed info
            | Error out -> printfn "baseline %s did not build or run:\n%s" (suiteName s) out
        1
    else
        for s, r in baseline do
            match r with Ok(_, info) -> printfn "baseline %s: %s" (suiteName s) info | Error _ -> ()
        let results =
            [ for id, what, path, original, broken, suite in selected do
                let full = Path.Combine(work, path)
                let source = File.ReadAllText(Path.Combine(root, path))
                let count = Regex.Matches(source, Regex.Escape original).Count
                if count <> 1 then failwithf "mutant %s: snippet must occur exactly once in %s, found %d: %s" id path count original
                File.WriteAllText(full, source.Replace(original, broken))
                let outcome = buildLibrary replay path |> Result.bind (fun () -> runSuite replay suite)
                File.WriteAllText(full, source)
                for target, bytes in originals do File.WriteAllBytes(target, bytes)
                match outcome with
                | Error out -> failwithf "mutant %s did not build or run:\n%s" id out
                | Ok(failed, _) ->
                    printfn "mutant %s (%s): caught by %d tests: %s" id (suiteName suite) failed.Length (if failed.IsEmpty then "NONE" else String.Join(", ", failed))
                    yield id, what, failed ]
        // A subset cannot judge the list; the ci set judges the core properties (its core part is whole).
        let listed = if selected.Length = mutants.Length then properties else []
        let extra = results |> List.collect (fun (_, _, f) -> f) |> List.distinct |> List.filter (fun p -> not (List.contains p listed)) |> List.sort
        let uncaught = listed |> List.filter (fun p -> results |> List.forall (fun (_, _, f) -> not (List.contains p f)))
        let survivors = results |> List.filter (fun (_, _, f) -> f.IsEmpty) |> List.map (fun (id, _, _) -> id)
        let today = DateTime.UtcNow.ToString "yyyy-MM-dd"
        let seconds = started.Elapsed.TotalSeconds.ToString "F0"
        let lines = [
            "# Mutation check: every test named here catches a broken variant"
            ""
            $"""Generated by `dotnet fsi tests/mutation/run.fsx{match set with Core -> "" | Family -> " --set family" | All -> " --set all" | Ci -> " --set ci"}` ({today}, {seconds} s, FsCheck replay seed {replay})."""
            "Each column is a deliberately broken variant of the code; X marks a test that failed on it."
            ""
            "| test | " + String.Join(" | ", results |> List.map (fun (id, _, _) -> id)) + " | caught |"
            "|---|" + String.replicate results.Length "---|" + "---|"
            yield!
                (listed @ extra) |> List.map (fun p ->
                    let marks = results |> List.map (fun (_, _, f) -> if List.contains p f then "X" else "")
                    let caught = marks |> List.filter (fun m -> m <> "") |> List.length
                    $"| {p} | " + String.Join(" | ", marks) + $" | {caught} |")
            ""
            "| mutant | the bug | suite | caught by |"
            "|---|---|---|---|"
            yield! (List.zip results selected) |> List.map (fun ((id, what, f), (_, _, _, _, _, suite)) -> $"| {id} | {what} | {suiteName suite} | {f.Length} tests |")
            ""
            $"Mutants survived: {survivors.Length} %A{survivors}"
            $"Listed properties that caught nothing: {uncaught.Length} %A{uncaught}" ]
        File.WriteAllLines(resultsPath, lines)
        lines |> List.iter (printfn "%s")
        Directory.Delete(work, true)
        if survivors.IsEmpty && uncaught.IsEmpty then 0 else 1

exit (
    try main (fsi.CommandLineArgs |> Array.tail)
    with :? ArguParseException as e -> eprintfn "%s" e.Message; 2)
