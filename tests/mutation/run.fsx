// Mutation check: proves the loss properties can fail.
//
// Copies the working tree to tests/mutation/work/ (git-ignored), then for each broken variant below
// replaces one snippet of the loss code, rebuilds, runs every property test class
// (FullyQualifiedName~Properties) and records which properties fail. Writes a matrix (default
// tests/mutation/RESULTS.md, or the path given with --results) and exits non-zero unless
//   - the unmutated code passes every property,
//   - every mutant is caught by at least one property, and
//   - every property listed in `properties` catches at least one mutant.
//
// Usage: dotnet fsi tests/mutation/run.fsx [--results PATH]      (about 90 s on 2 cores)
open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions

let root = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", ".."))
let work = Path.Combine(root, "tests", "mutation", "work")
let functional = "src/FocalLoss.CSharp/Losses/Functional.cs"
let testProject = "tests/FocalLoss.Tests"

/// (id, what the bug is, file, original snippet, broken snippet)
let mutants = [
    "inner-bce-reduced", "reduction passed into the inner cross-entropy (mean(CE) * mean(weight))", functional,
    "ce_loss = -F.logsigmoid(z);", "ce_loss = Reduce(-F.logsigmoid(z), reduction);"
    "alpha-wrong-class", "alpha weights the negative class instead of the positive one", functional,
    "var alpha_t = a * targets + (1 - a) * (1 - targets);", "var alpha_t = a * (1 - targets) + (1 - a) * targets;"
    "alpha-both-classes", "alpha applied to both classes (no 1 - alpha for negatives)", functional,
    "var alpha_t = a * targets + (1 - a) * (1 - targets);", "var alpha_t = a * targets + a * (1 - targets);"
    "gamma-ignored", "gamma ignored: the modulating factor is dropped", functional,
    "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;", "loss = ce_loss;"
    "factor-from-probabilities", "modulating factor (1 - sigmoid(z))^gamma from probabilities, not log space", functional,
    "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;",
    "loss = gamma == 0 ? ce_loss : (1 - z.sigmoid()).pow(gamma) * ce_loss;"
    "factor-inverted", "modulating exponent sign flipped: (1 - p_t)^-gamma up-weights easy examples", functional,
    "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;",
    "loss = gamma == 0 ? ce_loss : (-gamma * F.logsigmoid(-z)).exp() * ce_loss;"
    "factor-detached", "modulating factor detached from the graph: right values, wrong gradient", functional,
    "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;",
    "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp().detach() * ce_loss;"
    "mean-wrong-count", "mean divides by count + 1", functional,
    "Reduction.Mean => loss.mean(),", "Reduction.Mean => loss.sum() / (loss.numel() + 1),"
    "targets-misaligned", "targets shifted by one sample against the logits", functional,
    "var z = inputs * (2 * targets - 1);", "var z = inputs * (2 * targets.roll(1, 0) - 1);"
    "probability-form-p_t-swapped", "probability form takes p_t from the wrong class", functional,
    "var p_t = p * targets + (1 - p) * (1 - targets);", "var p_t = p * (1 - targets) + (1 - p) * targets;"
    "softmax-factor-from-p_t", "softmax focal loss modulates by p_t^gamma instead of (1 - p_t)^gamma", functional,
    "log_p.masked_fill(classIds.eq(target), double.NegativeInfinity)", "log_p.masked_fill(classIds.ne(target), double.NegativeInfinity)"
    "soft-geometric-mixture", "soft targets mix log-probabilities (geometric) instead of probabilities", functional,
    "var log_1m_p_t = logaddexp(targets.log() + log_1m_p, (-targets).log1p() + log_p);",
    "var log_1m_p_t = targets * log_1m_p + (1 - targets) * log_p;"
]

/// The properties the issue lists; each must catch at least one mutant.
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
]

let failedTest = Regex(@"^\s*Failed FocalLoss\.Tests\.\w+\.(\w+)", RegexOptions.Multiline)
let summary = Regex(@"(Passed|Failed)!\s+-\s+Failed:\s+(\d+), Passed:\s+(\d+)")

let sh (cwd: string) (args: string list) =
    let info = ProcessStartInfo("dotnet", args, WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true)
    info.Environment["FOCAL_PROPERTY_REPLAY"] <- "(12725637066060010977,5987593262269096141)" // one FsCheck seed for every run: a reproducible verdict
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

/// Builds and runs the property classes: Ok (failed property names, summary) or Error (output tail).
let runProperties () =
    match sh work [ "build"; testProject; "-c"; "Release"; "-nologo"; "-v"; "quiet" ] with
    | code, out when code <> 0 -> Error(tail out)
    | _ ->
        let _, out = sh work [ "test"; testProject; "-c"; "Release"; "--no-build"; "-nologo"; "--filter"; "FullyQualifiedName~Properties" ]
        let m = summary.Match out
        if not m.Success then Error(tail out)
        else Ok([ for f in failedTest.Matches out -> f.Groups[1].Value ] |> List.distinct |> List.sort, m.Value)

let main (argv: string list) =
    let resultsPath =
        match argv with
        | [ "--results"; path ] -> Path.GetFullPath path
        | [] -> Path.Combine(root, "tests", "mutation", "RESULTS.md")
        | other -> failwithf "unknown arguments %A; valid: --results PATH" other
    let started = Stopwatch.StartNew()
    copyTree ()
    match runProperties () with
    | Ok([], info) ->
        printfn "baseline: %s" info
        let results =
            [ for id, what, path, original, broken in mutants do
                let full = Path.Combine(work, path)
                let source = File.ReadAllText(Path.Combine(root, path))
                let count = Regex.Matches(source, Regex.Escape original).Count
                if count <> 1 then failwithf "mutant %s: snippet must occur exactly once in %s, found %d: %s" id path count original
                File.WriteAllText(full, source.Replace(original, broken))
                let outcome = runProperties ()
                File.WriteAllText(full, source)
                match outcome with
                | Error out -> failwithf "mutant %s did not build or run:\n%s" id out
                | Ok(failed, _) ->
                    printfn "mutant %s: caught by %d properties: %s" id failed.Length (if failed.IsEmpty then "NONE" else String.Join(", ", failed))
                    yield id, what, failed ]
        let extra = results |> List.collect (fun (_, _, f) -> f) |> List.distinct |> List.filter (fun p -> not (List.contains p properties)) |> List.sort
        let uncaught = properties |> List.filter (fun p -> results |> List.forall (fun (_, _, f) -> not (List.contains p f)))
        let survivors = results |> List.filter (fun (_, _, f) -> f.IsEmpty) |> List.map (fun (id, _, _) -> id)
        let today = DateTime.UtcNow.ToString "yyyy-MM-dd"
        let seconds = started.Elapsed.TotalSeconds.ToString "F0"
        let lines = [
            "# Mutation check: every property catches a broken variant"
            ""
            $"Generated by `dotnet fsi tests/mutation/run.fsx` ({today}, {seconds} s)."
            "Each column is a deliberately broken variant of the loss code; X marks a property test that failed on it."
            ""
            "| property | " + String.Join(" | ", results |> List.map (fun (id, _, _) -> id)) + " | caught |"
            "|---|" + String.replicate results.Length "---|" + "---|"
            yield!
                (properties @ extra) |> List.map (fun p ->
                    let marks = results |> List.map (fun (_, _, f) -> if List.contains p f then "X" else "")
                    let caught = marks |> List.filter (fun m -> m <> "") |> List.length
                    $"| {p} | " + String.Join(" | ", marks) + $" | {caught} |")
            ""
            "| mutant | the bug | caught by |"
            "|---|---|---|"
            yield! results |> List.map (fun (id, what, f) -> $"| {id} | {what} | {f.Length} properties |")
            ""
            $"Mutants survived: {survivors.Length} %A{survivors}"
            $"Listed properties that caught nothing: {uncaught.Length} %A{uncaught}" ]
        File.WriteAllLines(resultsPath, lines)
        lines |> List.iter (printfn "%s")
        Directory.Delete(work, true)
        if survivors.IsEmpty && uncaught.IsEmpty then 0 else 1
    | Ok(failed, info) -> printfn "baseline (unmutated) must pass every property; failed %A: %s" failed info; 1
    | Error out -> printfn "baseline did not build or run:\n%s" out; 1

exit (main (fsi.CommandLineArgs |> Array.toList |> List.tail))
