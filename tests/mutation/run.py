#!/usr/bin/env python3
"""Mutation check: proves the loss properties can fail.

Copies the working tree to tests/mutation/work/ (git-ignored), then for each broken variant below
replaces one snippet of the loss code, rebuilds, runs every property test class
(FullyQualifiedName~Properties) and records which properties fail. Writes a matrix to
tests/mutation/RESULTS.md and exits non-zero unless
  - the unmutated code passes every property,
  - every mutant is caught by at least one property, and
  - every property listed in PROPERTIES catches at least one mutant.

Usage: python3 tests/mutation/run.py            (about 5 minutes on 2 cores)
"""
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = os.path.join(ROOT, "tests", "mutation", "work")
FUNCTIONAL = "src/FocalLoss.CSharp/Losses/Functional.cs"

# (id, what the bug is, file, original snippet, broken snippet)
MUTANTS = [
    ("inner-bce-reduced", "reduction passed into the inner cross-entropy (mean(CE) * mean(weight))", FUNCTIONAL,
     "ce_loss = -F.logsigmoid(z);", "ce_loss = Reduce(-F.logsigmoid(z), reduction);"),
    ("alpha-wrong-class", "alpha weights the negative class instead of the positive one", FUNCTIONAL,
     "var alpha_t = a * targets + (1 - a) * (1 - targets);", "var alpha_t = a * (1 - targets) + (1 - a) * targets;"),
    ("alpha-both-classes", "alpha applied to both classes (no 1 - alpha for negatives)", FUNCTIONAL,
     "var alpha_t = a * targets + (1 - a) * (1 - targets);", "var alpha_t = a * targets + a * (1 - targets);"),
    ("gamma-ignored", "gamma ignored: the modulating factor is dropped", FUNCTIONAL,
     "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;", "loss = ce_loss;"),
    ("factor-from-probabilities", "modulating factor (1 - sigmoid(z))^gamma from probabilities, not log space", FUNCTIONAL,
     "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;",
     "loss = gamma == 0 ? ce_loss : (1 - z.sigmoid()).pow(gamma) * ce_loss;"),
    ("factor-inverted", "modulating exponent sign flipped: (1 - p_t)^-gamma up-weights easy examples", FUNCTIONAL,
     "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;",
     "loss = gamma == 0 ? ce_loss : (-gamma * F.logsigmoid(-z)).exp() * ce_loss;"),
    ("factor-detached", "modulating factor detached from the graph: right values, wrong gradient", FUNCTIONAL,
     "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;",
     "loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp().detach() * ce_loss;"),
    ("mean-wrong-count", "mean divides by count + 1", FUNCTIONAL,
     "Reduction.Mean => loss.mean(),", "Reduction.Mean => loss.sum() / (loss.numel() + 1),"),
    ("targets-misaligned", "targets shifted by one sample against the logits", FUNCTIONAL,
     "var z = inputs * (2 * targets - 1);", "var z = inputs * (2 * targets.roll(1, 0) - 1);"),
    ("probability-form-p_t-swapped", "probability form takes p_t from the wrong class", FUNCTIONAL,
     "var p_t = p * targets + (1 - p) * (1 - targets);", "var p_t = p * (1 - targets) + (1 - p) * targets;"),
    ("softmax-factor-from-p_t", "softmax focal loss modulates by p_t^gamma instead of (1 - p_t)^gamma", FUNCTIONAL,
     "log_p.masked_fill(classIds.eq(target), double.NegativeInfinity)", "log_p.masked_fill(classIds.ne(target), double.NegativeInfinity)"),
    ("soft-geometric-mixture", "soft targets mix log-probabilities (geometric) instead of probabilities", FUNCTIONAL,
     "var log_1m_p_t = logaddexp(targets.log() + log_1m_p, (-targets).log1p() + log_p);",
     "var log_1m_p_t = targets * log_1m_p + (1 - targets) * log_p;"),
]

# The properties the issue lists; each must catch at least one mutant.
PROPERTIES = [
    "gamma_zero_equals_alpha_weighted_bce_in_value_and_gradient",
    "focal_loss_never_exceeds_alpha_weighted_bce",
    "focal_over_bce_equals_alpha_t_times_one_minus_p_t_to_the_gamma",
    "loss_does_not_increase_as_p_t_rises",
    "loss_does_not_increase_as_gamma_rises",
    "flipping_logit_target_and_alpha_leaves_the_loss_unchanged",
    "mean_is_sum_over_count_and_none_sums_to_sum",
    "loss_is_invariant_under_permutation_of_samples",
    "logits_form_equals_probability_form_wherever_the_latter_is_finite",
    "softmax_focal_with_two_classes_equals_sigmoid_focal_on_the_logit_difference",
    "analytic_gradient_equals_central_finite_differences_in_float64",
    "loss_and_gradient_are_finite_for_logits_up_to_plus_minus_100_in_float32_and_float64",
]

TEST_PROJECT = "tests/FocalLoss.Tests"
FAILED = re.compile(r"^\s*Failed FocalLoss\.Tests\.\w+\.(\w+)", re.M)
SUMMARY = re.compile(r"(Passed|Failed)!\s+-\s+Failed:\s+(\d+), Passed:\s+(\d+)")


def sh(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def copy_tree():
    if os.path.exists(WORK):
        shutil.rmtree(WORK)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout.split("\n")
    for f in files:
        if not f or f.startswith("tests/mutation/") or not os.path.isfile(os.path.join(ROOT, f)):
            continue
        dst = os.path.join(WORK, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), dst)


def run_properties():
    build = sh(["dotnet", "build", TEST_PROJECT, "-c", "Release", "-nologo", "-v", "quiet"], WORK)
    if build.returncode != 0:
        return None, build.stdout[-3000:]
    test = sh(["dotnet", "test", TEST_PROJECT, "-c", "Release", "--no-build", "-nologo", "--filter", "FullyQualifiedName~Properties"], WORK)
    summary = SUMMARY.search(test.stdout)
    if summary is None:
        return None, test.stdout[-3000:]
    return sorted(set(FAILED.findall(test.stdout))), summary.group(0)


def main():
    started = time.time()
    copy_tree()
    baseline, info = run_properties()
    if baseline is None or baseline:
        print(f"baseline (unmutated) must pass every property; got {baseline}: {info}")
        return 1
    print(f"baseline: {info}")
    results = []
    for mid, what, path, original, broken in MUTANTS:
        full = os.path.join(WORK, path)
        source = open(os.path.join(ROOT, path)).read()
        if source.count(original) != 1:
            print(f"mutant {mid}: snippet must occur exactly once in {path}, found {source.count(original)}: {original}")
            return 1
        with open(full, "w") as f:
            f.write(source.replace(original, broken))
        failed, info = run_properties()
        with open(full, "w") as f:
            f.write(source)
        if failed is None:
            print(f"mutant {mid}: did not build or run: {info}")
            return 1
        results.append((mid, what, failed))
        print(f"mutant {mid}: caught by {len(failed)} properties: {', '.join(failed) or 'NONE'}")

    all_props = PROPERTIES + sorted({p for _, _, f in results for p in f if p not in PROPERTIES})
    lines = ["# Mutation check: every property catches a broken variant", "",
             f"Generated by `python3 tests/mutation/run.py` ({time.strftime('%Y-%m-%d')}, {time.time() - started:.0f} s).",
             "Each row is a deliberately broken variant of the loss code; X marks a property test that failed on it.", ""]
    lines.append("| property | " + " | ".join(m for m, _, _ in results) + " | caught |")
    lines.append("|---|" + "---|" * len(results) + "---|")
    uncaught_props = []
    for p in all_props:
        marks = ["X" if p in failed else "" for _, _, failed in results]
        count = marks.count("X")
        if p in PROPERTIES and count == 0:
            uncaught_props.append(p)
        lines.append(f"| {p} | " + " | ".join(marks) + f" | {count} |")
    lines += ["", "| mutant | the bug | caught by |", "|---|---|---|"]
    survivors = []
    for mid, what, failed in results:
        if not failed:
            survivors.append(mid)
        lines.append(f"| {mid} | {what} | {len(failed)} properties |")
    lines += ["", f"Mutants survived: {len(survivors)} {survivors}", f"Listed properties that caught nothing: {len(uncaught_props)} {uncaught_props}"]
    with open(os.path.join(ROOT, "tests", "mutation", "RESULTS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    shutil.rmtree(WORK, ignore_errors=True)
    return 0 if not survivors and not uncaught_props else 1


if __name__ == "__main__":
    sys.exit(main())
