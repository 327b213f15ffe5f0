/// Plain-language verdicts from the paired differences: per task and setting, one verdict per metric
/// family (ranking, decisions at the default threshold, calibration before and after temperature scaling),
/// significant only after Holm's adjustment within the task, and a one-line reading per task that names a
/// threshold shift as such and says whether a calibration penalty is only a scale.
module Analysis.Verdicts

open System
open System.Globalization
open Analysis.Frames

let private inv = CultureInfo.InvariantCulture

/// A number with enough digits to be read and never shown as 0 when it is not: three decimals from 0.01
/// up ("0.146", "-0.047"), three significant digits below ("0.00123", "1.23E-05").
let number (v: float) =
    if Double.IsNaN v then "n/a"
    elif v = 0.0 then "0"
    elif abs v >= 0.01 then v.ToString("0.000", inv)
    else v.ToString("G3", inv)

/// A signed number: "+0.011", "-0.047", "0".
let signed (v: float) = if Double.IsNaN v || v <= 0.0 then number v else "+" + number v

/// A p-value: "< 0.0001" or three significant digits.
let pText (p: float) = if Double.IsNaN p then "n/a" elif p < 1e-4 then "< 0.0001" else p.ToString("G3", inv)

/// A relative change as a percentage: "+9.8 %".
let percent (r: float) = if Double.IsNaN r || Double.IsInfinity r then "n/a" else (r * 100.0).ToString("+0.#;-0.#;0", inv) + " %"

/// How a setting compares with CE on one family.
type Direction =
    /// Every seed gave exactly the same value for every metric of the family.
    | Tie
    | Better
    | Worse
    /// Some metrics significantly better, others significantly worse.
    | Mixed
    | NoSignificantDifference
    /// Fewer than 2 seeds had both runs finished (diverged runs, no CE run to pair with, or one seed): no interval, nothing judged.
    | NotCompared

/// The verdict of one setting on one family of metrics.
type FamilyVerdict = { Setting: string; Family: Family; Direction: Direction; Rows: PairedRow list }

/// True when every seed of the row gave exactly the same value for both losses.
let isTie (p: PairedRow) = p.Pairs > 0 && p.Ties = p.Pairs

/// Whether a significant row is better or worse for the metric's direction.
let improves (p: PairedRow) = if lowerIsBetter.Contains p.Metric then p.MeanDiff < 0.0 else p.MeanDiff > 0.0

/// A difference in few words: "AP -0.047 (-9.8 %)".
/// " (+9.8 %)", or nothing where the baseline is too close to zero for a percentage.
let private relative (r: float) = if Double.IsNaN r || Double.IsInfinity r then "" else $" ({percent r})"

let brief (p: PairedRow) = $"{(metricInfo p.Metric).Short} {signed p.MeanDiff}{relative p.RelativeChange}"

/// Classifies a family's rows: significant means Holm-adjusted p < 0.05 (never the interval alone).
let direction (rows: PairedRow list) =
    let significant = rows |> List.filter (fun p -> p.Significant && not (isTie p))
    if not rows.IsEmpty && rows |> List.forall (fun p -> p.Pairs < 2 && not (isTie p)) then NotCompared
    elif not rows.IsEmpty && rows |> List.forall isTie then Tie
    elif significant.IsEmpty then NoSignificantDifference
    elif significant |> List.forall improves then Better
    elif significant |> List.exists improves then Mixed
    else Worse

/// One metric's difference in words: "AP -0.047 (-9.8 %) [-0.081, -0.013], p_adj 0.004, better on 0 of 5 seeds".
let describe (p: PairedRow) =
    let info = metricInfo p.Metric
    if p.Pairs = 0 && p.ExcludedSeeds = 0 then $"{info.Short} not compared: no seed has a CE run to pair with ({p.MissingBaseline} missing)"
    elif p.Pairs = 0 then $"{info.Short} not compared: {p.ExcludedSeeds} seed(s), each with a diverged run or an undefined value"
    elif isTie p then $"{info.Short} identical on all {p.Pairs} seeds (a tie)"
    else
        let wilcoxon = if Double.IsNaN p.PWilcoxon then "" else $", Wilcoxon p {pText p.PWilcoxon}"
        let excluded =
            (if p.ExcludedSeeds > 0 then $", {p.ExcludedSeeds} seed(s) excluded (a run diverged, or the value is undefined there)" else "")
            + (if p.MissingBaseline > 0 then $", {p.MissingBaseline} seed(s) without a CE run to pair with (an incomplete grid)" else "")
        $"{info.Short} {signed p.MeanDiff}{relative p.RelativeChange} [{number p.Lo}, {number p.Hi}], p {pText p.PValue}, Holm p {pText p.PAdjusted}{wilcoxon}, better on {p.Better} of {p.Pairs} seeds{excluded}"

let private directionText (family: Family) = function
    | Tie -> "tie"
    | Better -> (match family with Calibration | Recalibrated -> "better calibrated" | _ -> "better")
    | Worse -> (match family with Calibration | Recalibrated -> "worse calibrated" | _ -> "worse")
    | Mixed -> "mixed (some metrics significantly better, some worse)"
    | NoSignificantDifference -> "no significant difference"
    | NotCompared -> "not compared (fewer than 2 seeds with a finished pair of runs)"

/// Per setting and family of a task's paired rows, its verdict.
let familyVerdicts (task: PairedRow list) : FamilyVerdict list =
    let families = [ Ranking; Decisions; Calibration; Recalibrated; BalancedTest ]
    task
    |> List.groupBy _.Setting
    |> List.collect (fun (setting, rows) ->
        families |> List.choose (fun f ->
            match rows |> List.filter (fun p -> (metricInfo p.Metric).Family = f) with
            | [] -> None
            | fr -> Some { Setting = setting; Family = f; Direction = direction fr; Rows = fr }))

/// The sentence of a family verdict: "ranking: worse; AP -0.047 (...); ROC-AUC ...".
let verdictLine (v: FamilyVerdict) =
    let details = v.Rows |> List.map describe
    $"""{Family.label v.Family}: {directionText v.Family v.Direction}. {String.Join("; ", details)}."""

let private find (rows: PairedRow list) metric = rows |> List.tryFind (fun p -> p.Metric = metric)

/// True when a difference is shown to be small next to `size`: not significant, and its whole 95 % interval
/// within +-size/2 (an equivalence margin). Non-significance alone, with a wide interval, shows nothing.
let private shownSmall (size: float) (p: PairedRow) =
    isTie p || (not p.Significant && not (Double.IsNaN p.Lo) && p.Lo > -size / 2.0 && p.Hi < size / 2.0)

/// What a setting does against CE, in one clause, or None when no family differs significantly.
let reading (setting: string) (rows: PairedRow list) =
    let f = find rows
    let sig' (p: PairedRow option) = p |> Option.exists (fun p -> p.Significant && not (isTie p))
    let ranking = rows |> List.filter (fun p -> (metricInfo p.Metric).Family = Ranking)
    let rankingChanged = ranking |> List.exists (fun p -> p.Significant && not (isTie p))
    let interval (p: PairedRow) = $"[{number p.Lo}, {number p.Hi}]"
    let clauses =
        [ match f "f1", f "best_f1" with
          | Some d, Some best when sig' (Some d) && not rankingChanged ->
              if shownSmall (abs d.MeanDiff) best then
                  let bestText = if isTie best then "unchanged (identical on every seed)" else $"unchanged ({signed best.MeanDiff} {interval best})"
                  yield $"moves the operating point: F1 at 0.5 {signed d.MeanDiff}, best-threshold F1 {bestText}: a threshold shift, not a ranking change"
              else
                  yield $"changes F1 at 0.5 by {signed d.MeanDiff}; the best-threshold F1 ({signed best.MeanDiff} {interval best}) is neither shown unchanged nor shown to move"
          | Some d, _ when sig' (Some d) ->
              yield $"""{(if improves d then "raises" else "lowers")} F1 at 0.5 by {number (abs d.MeanDiff)}"""
          | _ ->
              match f "macro_f1" with
              | Some d when sig' (Some d) -> yield $"""{(if improves d then "raises" else "lowers")} macro-F1 by {number (abs d.MeanDiff)}"""
              | _ -> ()
          if rankingChanged then
              let largest = ranking |> List.filter _.Significant |> List.maxBy (fun p -> abs p.MeanDiff)
              yield $"""{(if improves largest then "improves" else "worsens")} the ranking: {brief largest}"""
          let calibration = rows |> List.filter (fun p -> (metricInfo p.Metric).Family = Calibration && p.Significant && not (isTie p))
          if not calibration.IsEmpty then
              let ece = calibration |> List.tryFind (fun p -> p.Metric = "ece15" || p.Metric = "top_label_ece15") |> Option.defaultValue (List.head calibration)
              let after = f (ece.Metric + "_recal")
              let afterText =
                  match after with
                  | Some a when a.Pairs < 2 -> "; after temperature scaling not compared (no fit converged on enough seeds)"
                  | Some a when not (improves ece) && shownSmall (abs ece.MeanDiff) a ->
                      $"; after temperature scaling {signed a.MeanDiff} {interval a}: a scale that one parameter fixes"
                  | Some a when improves ece && shownSmall (abs ece.MeanDiff) a ->
                      $"; after temperature scaling {signed a.MeanDiff} {interval a}: a gain that one temperature gives CE too"
                  | Some a when a.Significant && improves a = improves ece ->
                      $"; after temperature scaling still {signed a.MeanDiff} (Holm p {pText a.PAdjusted}): more than a scale"
                  | Some a when a.Significant -> $"; after temperature scaling {signed a.MeanDiff} the other way (Holm p {pText a.PAdjusted})"
                  | Some a -> $"; after temperature scaling {signed a.MeanDiff} {interval a} (n.s.): this run cannot tell whether it is only a scale"
                  | None -> ""
              yield $"""{(if improves ece then "improves" else "worsens")} calibration: {brief ece}{afterText}"""
          match rows |> List.filter (fun p -> (metricInfo p.Metric).Family = BalancedTest && p.Significant && not (isTie p)) with
          | [] -> ()
          | b :: _ -> yield $"""on the class-balanced test set {(metricInfo b.Metric).Short} {signed b.MeanDiff}""" ]
    if clauses.IsEmpty then None else Some $"""{setting} {String.Join("; ", clauses)}"""

/// The one-line reading of a task: every setting that differs, or that none does.
let taskReading (seeds: int) (task: PairedRow list) =
    let clauses = task |> List.groupBy _.Setting |> List.choose (fun (s, rows) -> reading s rows)
    if task |> List.forall (fun p -> p.Pairs < 2) then
        $"Not tested: {task |> List.map _.Pairs |> List.fold max 0} finished seed pair(s) per setting give no interval or p-value (run 2 seeds or more; 6 or more for the Wilcoxon test)."
    elif clauses.IsEmpty then $"No setting differs significantly from plain cross-entropy on any family of metrics (Holm-adjusted within the task, {seeds} seeds)."
    else String.Join(". ", clauses) + "."
