#!/usr/bin/python3
"""Reference values for the workbench's metrics, computed by scikit-learn.

Writes metrics_reference.json = {"meta": {...}, "binary": [...], "multiclass": [...], "multilabel": [...],
"weighted_binary": [...]}.
Binary case: scores (probability of class 1), labels (0/1), threshold, and sklearn's
accuracy, balanced_accuracy, precision, recall, f1 (zero_division=0), best_f1 / best_f1_threshold
(argmax of F1 over precision_recall_curve's thresholds, predicting 1 when score >= threshold, first
maximum in sklearn's threshold order), roc_auc (null where sklearn raises), average_precision,
ece15 (15 equal-width bins as calibration_curve(strategy="uniform") forms them, weighted by bin
counts), brier, log_loss (labels=[0, 1]).
Multi-class case: probs [N][C], labels, and top1, macro_f1 and per_class_recall (labels=range(C),
zero_division=0), classwise_ece15 (mean over classes of the binary ece15 of (y == k, p_k)),
top_label_ece15 (Guo et al. 2017: confidence = max_k p_k, correct = first argmax == y, the same 15 bins,
sum_b n_b / N |acc_b - conf_b|; written from that formula with numpy, no scikit-learn counterpart).
The pair "rank-disagreement-a"/"-b" has the same labels and is ranked one way by top-label ECE and the
other way by classwise ECE (asserted here).
Multi-label case: probs [N][C] (independent per label), labels [N][C] (0/1), threshold, and
mean_average_precision = average_precision_score(y, p, average="macro"), average_precision_per_label
(average=None), micro_f1 / macro_f1 / f1_per_label = f1_score(y, p >= threshold, average="micro" /
"macro" / None) with scikit-learn's default zero_division ("warn": 0 with a warning). sklearn 1.2.1 gives
a label without positives AP -0.0 (warning "No positive class found in y_true", recall set to 1) and keeps
it in the macro mean; the cases "label-without-positives" and "all-labels-negative" pin that.
The multi-label cases draw from their own generator, so the binary and multi-class values stay as they were.
Weighted binary case (importance weights, e.g. a stratified test set whose easy negatives stand for 1000
each): scores, labels, weights, threshold, and every binary metric above with sklearn's sample_weight
(accuracy, balanced_accuracy, precision, recall, f1, best_f1 / best_f1_threshold, roc_auc,
average_precision, brier, log_loss), plus confusion (confusion_matrix with sample_weight: weighted tp, fp,
tn, fn), the precision-recall curve (precision_recall_curve with sample_weight, from the highest threshold
down, without the final (recall 0, precision 1) point; null without positive weight), mean_score and
prevalence (np.average of scores and labels with the weights), ece15 and reliability bins (weighted,
from the formula with numpy: the same 15 bins, a bin counts when its weight is positive, each bin's
|weighted mean label - weighted mean score| weighted by its share of the total weight; calibration_curve
has no sample_weight). roc_auc is null where sklearn raises (one class in y_true) and where it returns NaN
(both classes present, one with zero total weight). Checked here, so the oracle obeys the laws the
workbench is tested on: all-one weights give the unweighted values, integer weights give the values of the
samples repeated that many times (np.repeat), zero weights give the values without those samples. The
weighted cases draw from their own generator too.

Usage: /usr/bin/python3 make_metrics_reference.py   (Debian: apt-get install python3-sklearn)
"""
import json

import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                             brier_score_loss, confusion_matrix, f1_score, log_loss, precision_recall_curve,
                             precision_score, recall_score, roc_auc_score)
import warnings

warnings.filterwarnings("ignore")


def ece15(y, p):
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    bins = np.linspace(0.0, 1.0, 16)
    ids = np.searchsorted(bins[1:-1], p)          # calibration_curve's binning
    total = 0.0
    for b in range(15):
        m = ids == b
        if m.any():
            total += m.sum() / len(p) * abs(y[m].mean() - p[m].mean())
    if len(np.unique(y)) == 2:                   # cross-check against sklearn's own curve
        prob_true, prob_pred = calibration_curve(y, p, n_bins=15, strategy="uniform")
        counts = np.bincount(ids, minlength=15)
        counts = counts[counts > 0]
        check = float(np.sum(counts / len(p) * np.abs(prob_true - prob_pred)))
        assert abs(check - total) < 1e-12, (check, total)
    return total


def binary_case(name, scores, labels, threshold=0.5):
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=int)
    pred = (scores >= threshold).astype(int)
    case = {"name": name, "scores": scores.tolist(), "labels": labels.tolist(), "threshold": threshold,
            "accuracy": accuracy_score(labels, pred),
            "balanced_accuracy": balanced_accuracy_score(labels, pred),
            "precision": precision_score(labels, pred, zero_division=0),
            "recall": recall_score(labels, pred, zero_division=0),
            "f1": f1_score(labels, pred, zero_division=0),
            "brier": brier_score_loss(labels, scores),
            "log_loss": log_loss(labels, scores, labels=[0, 1]),
            "ece15": ece15(labels, scores)}
    try:
        case["roc_auc"] = roc_auc_score(labels, scores)
    except ValueError:
        case["roc_auc"] = None
    ap = average_precision_score(labels, scores)
    case["average_precision"] = None if np.isnan(ap) else float(ap)
    if labels.sum() > 0:
        prec, rec, thr = precision_recall_curve(labels, scores)
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(prec[:-1] + rec[:-1] > 0, 2 * prec[:-1] * rec[:-1] / (prec[:-1] + rec[:-1]), 0.0)
        i = int(np.argmax(f1))
        case["best_f1"] = float(f1[i])
        case["best_f1_threshold"] = float(thr[i])
    else:
        case["best_f1"] = None
        case["best_f1_threshold"] = None
    return case


def top_label_ece15(probs, labels):
    """Guo et al. 2017's ECE, from its formula: bins of the top-label confidence, (b/15, (b+1)/15], the
    first also holding 0 (the binning of ece15 above, which calibration_curve confirms)."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, 16)
    total = 0.0
    for b in range(15):
        lo, hi = edges[b], edges[b + 1]
        m = (conf > lo) & (conf <= hi) if b > 0 else (conf >= lo) & (conf <= hi)
        if m.any():
            total += m.sum() / len(conf) * abs(correct[m].mean() - conf[m].mean())
    return total


def multiclass_case(name, probs, labels):
    probs = np.asarray(probs, dtype=float)
    labels = np.asarray(labels, dtype=int)
    c = probs.shape[1]
    pred = probs.argmax(axis=1)
    return {"name": name, "probs": probs.tolist(), "labels": labels.tolist(),
            "top1": accuracy_score(labels, pred),
            "macro_f1": f1_score(labels, pred, labels=list(range(c)), average="macro", zero_division=0),
            "per_class_recall": recall_score(labels, pred, labels=list(range(c)), average=None, zero_division=0).tolist(),
            "classwise_ece15": float(np.mean([ece15(labels == k, probs[:, k]) for k in range(c)])),
            "top_label_ece15": top_label_ece15(probs, labels)}


def multilabel_case(name, probs, labels, threshold=0.5):
    probs = np.asarray(probs, dtype=float)
    labels = np.asarray(labels, dtype=int)
    assert probs.shape == labels.shape and probs.ndim == 2, (probs.shape, labels.shape)
    pred = (probs >= threshold).astype(int)
    per_label_ap = average_precision_score(labels, probs, average=None)
    mean_ap = average_precision_score(labels, probs, average="macro")
    assert abs(mean_ap - np.mean(per_label_ap)) < 1e-15, (mean_ap, per_label_ap)   # macro = mean over all labels
    return {"name": name, "probs": probs.tolist(), "labels": labels.tolist(), "threshold": threshold,
            "mean_average_precision": float(mean_ap),
            "average_precision_per_label": [float(v) for v in per_label_ap],
            "micro_f1": float(f1_score(labels, pred, average="micro")),
            "macro_f1": float(f1_score(labels, pred, average="macro")),
            "f1_per_label": [float(v) for v in f1_score(labels, pred, average=None)]}


def multilabel_cases():
    rng = np.random.default_rng(20261128)
    cases = []
    for i, (n, c, rate) in enumerate([(50, 4, 0.3), (120, 10, 0.2), (80, 6, 0.05)]):
        y = (rng.random((n, c)) < rate).astype(int)
        y[0, :] = 1                              # every label has a positive and a negative
        y[1, :] = 0
        logits = rng.normal(0, 1.5, (n, c)) + 1.5 * y - 1.0
        cases.append(multilabel_case(f"random-{i}", 1 / (1 + np.exp(-logits)), y))
    y = (rng.random((60, 5)) < 0.3).astype(int)
    y[0, :], y[1, :] = 1, 0
    cases.append(multilabel_case("ties-rounded-to-0.1", np.round(rng.random((60, 5)) * 0.6 + 0.4 * y, 1), y))
    # Label 1 has no positive (predicted positive in some rows), label 3 none and never predicted.
    y = (rng.random((30, 4)) < 0.4).astype(int)
    y[0, :], y[1, :] = 1, 0
    y[:, 1] = 0
    y[:, 3] = 0
    p = rng.random((30, 4))
    p[:, 3] *= 0.4
    cases.append(multilabel_case("label-without-positives", p, y))
    # Label 0 positive in every row (AP 1 whatever the scores), label 2 too, scores low.
    y = (rng.random((25, 3)) < 0.3).astype(int)
    y[0, :], y[1, 1] = 1, 0
    y[:, 0] = 1
    y[:, 2] = 1
    p = rng.random((25, 3))
    p[:, 2] *= 0.3
    cases.append(multilabel_case("label-all-positives", p, y))
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 1]])
    p = np.array([[1.0, 0.0, 1 - 1e-16], [0.0, 1.0, 1e-300], [1.0, 0.0, 0.0], [1e-300, 0.0, 1.0], [1 - 1e-16, 1.0, 1.0], [0.0, 1.0, 1e-300]])
    cases.append(multilabel_case("saturated", p, y))
    y = (rng.random((40, 5)) < 0.25).astype(int)
    y[0, :], y[1, :] = 1, 0
    cases.append(multilabel_case("threshold-0.3", rng.random((40, 5)), y, threshold=0.3))
    # No positive anywhere and nothing predicted: every AP -0.0, micro and macro F1 0/0 = 0.
    cases.append(multilabel_case("all-labels-negative", rng.random((8, 3)) * 0.4, np.zeros((8, 3), dtype=int)))
    cases.append(multilabel_case("all-tied", np.full((6, 2), 0.5), [[1, 0], [0, 0], [1, 1], [0, 1], [0, 0], [1, 0]]))
    return cases


def weighted_reliability(y, p, w):
    """Weighted reliability bins over the bins of ece15: (mean score, fraction positive, weight) of each bin
    with positive weight, and the weighted ECE sum_b W_b / W |fraction_b - mean_b|."""
    ids = np.searchsorted(np.linspace(0.0, 1.0, 16)[1:-1], p)
    mean, frac, weight = [], [], []
    for b in range(15):
        wb = w[ids == b].sum()
        if wb > 0:
            m = ids == b
            mean.append(float(np.sum(w[m] * p[m]) / wb))
            frac.append(float(np.sum(w[m] * y[m]) / wb))
            weight.append(float(wb))
    ece = float(sum(wb / w.sum() * abs(f - m) for m, f, wb in zip(mean, frac, weight)))
    return ece, {"mean_score": mean, "fraction_positive": frac, "weight": weight}


def weighted_binary_case(name, scores, labels, weights, threshold=0.5):
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    w = np.asarray(weights, dtype=float)
    assert s.shape == y.shape == w.shape and (w >= 0).all() and w.sum() > 0, name
    pred = (s >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1], sample_weight=w).ravel()
    ece, bins = weighted_reliability(y, s, w)
    case = {"name": name, "scores": s.tolist(), "labels": y.tolist(), "weights": w.tolist(), "threshold": threshold,
            "accuracy": accuracy_score(y, pred, sample_weight=w),
            "balanced_accuracy": balanced_accuracy_score(y, pred, sample_weight=w),
            "precision": precision_score(y, pred, zero_division=0, sample_weight=w),
            "recall": recall_score(y, pred, zero_division=0, sample_weight=w),
            "f1": f1_score(y, pred, zero_division=0, sample_weight=w),
            "confusion": {"tp": float(tp), "fp": float(fp), "tn": float(tn), "fn": float(fn)},
            "brier": brier_score_loss(y, s, sample_weight=w),
            "log_loss": log_loss(y, s, sample_weight=w, labels=[0, 1]),
            "mean_score": float(np.average(s, weights=w)),
            "prevalence": float(np.average(y, weights=w)),
            "ece15": ece, "reliability": bins}
    try:
        auc = roc_auc_score(y, s, sample_weight=w)
        case["roc_auc"] = None if np.isnan(auc) else float(auc)
    except ValueError:
        case["roc_auc"] = None
    case["average_precision"] = float(average_precision_score(y, s, sample_weight=w))
    if (w * y).sum() > 0:
        prec, rec, thr = precision_recall_curve(y, s, sample_weight=w)
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(prec[:-1] + rec[:-1] > 0, 2 * prec[:-1] * rec[:-1] / (prec[:-1] + rec[:-1]), 0.0)
        i = int(np.argmax(f1))
        case["best_f1"] = float(f1[i])
        case["best_f1_threshold"] = float(thr[i])
        case["pr_curve"] = {"recall": rec[:-1][::-1].tolist(), "precision": prec[:-1][::-1].tolist(),
                            "threshold": thr[::-1].tolist()}
    else:
        case["best_f1"] = None
        case["best_f1_threshold"] = None
        case["pr_curve"] = None
    return case


SCALARS = ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "brier", "log_loss", "ece15",
           "roc_auc", "average_precision", "best_f1", "best_f1_threshold"]


def assert_same(name, a, b, keys=SCALARS):
    for k in keys:
        x, y = a[k], b[k]
        assert (x is None and y is None) or abs(x - y) <= 1e-12 + 1e-12 * abs(y), (name, k, x, y)


def as_unweighted(case):
    """The weighted case's samples, each repeated weight times (integer weights; weight 0 drops it)."""
    k = np.asarray(case["weights"]).astype(int)
    assert (k == np.asarray(case["weights"])).all(), case["name"]
    return binary_case(case["name"], np.repeat(case["scores"], k), np.repeat(case["labels"], k), case["threshold"])


def weighted_binary_cases():
    rng = np.random.default_rng(20261129)
    cases = []

    def add(case, law=None):
        if law == "repeats":              # integer weights: the samples repeated weight times
            unweighted = as_unweighted(case)
            assert_same(case["name"], case, unweighted)
            reps = np.asarray(case["weights"]).astype(int)
            assert abs(case["prevalence"] - np.repeat(case["labels"], reps).mean()) < 1e-12, case["name"]
        cases.append(case)

    def draw(n, rate, shift=1.2):
        y = (rng.random(n) < rate).astype(int)
        y[0], y[1] = 1, 0
        return 1 / (1 + np.exp(-(rng.normal(0, 1.5, n) + shift * y))), y

    s, y = draw(80, 0.3)
    add(weighted_binary_case("continuous-weights", s, y, rng.uniform(0.05, 4.0, 80)))
    s, y = draw(50, 0.4)
    add(weighted_binary_case("integer-weights", s, y, rng.integers(1, 6, 50)), "repeats")
    # The study's design: every positive and hard negative (weight 1), easy negatives sampled 1 in 1000
    # (weight 1000, scores near 0).
    hard_s, hard_y = draw(60, 0.35, shift=1.0)
    easy = rng.uniform(0.0, 0.08, 60)
    add(weighted_binary_case("stratified-easy-negatives-weight-1000", np.r_[hard_s, easy], np.r_[hard_y, np.zeros(60, int)],
                             np.r_[np.ones(60), np.full(60, 1000.0)]), "repeats")
    # 10 positives (weight 1) and 90 negatives of weight 1111: true prevalence 10 / 100,000 = 1 in 10,000.
    y = np.r_[np.ones(10, int), np.zeros(90, int)]
    s = np.r_[rng.uniform(0.2, 0.9, 10), rng.uniform(0.0, 0.6, 90)]
    case = weighted_binary_case("prevalence-1-in-10000", s, y, np.r_[np.ones(10), np.full(90, 1111.0)], threshold=0.3)
    assert abs(case["prevalence"] - 1e-4) < 1e-15, case["prevalence"]
    add(case)
    # Heavy easy negatives tied in score with positives (scores on a 0.05 grid).
    y = (rng.random(70) < 0.3).astype(int)
    s = np.round(rng.random(70) * 0.5 + 0.4 * y, 2)
    s = np.round(s * 20) / 20
    add(weighted_binary_case("heavy-weights-tied-with-positives", s, y, np.where(y == 0, np.where(s < 0.3, 1000.0, 1.0), 1.0)))
    # Zero weights, including the top-scoring sample (its threshold must vanish) and the only sample of a bin.
    s, y = draw(40, 0.4)
    w = rng.uniform(0.5, 2.0, 40)
    w[rng.random(40) < 0.3] = 0.0
    top = int(np.argmax(s))
    s[top], w[top] = 0.999, 0.0
    s[5], w[5] = 0.55, 0.0                  # alone in bin 8 ((8/15, 9/15])
    s = np.where((s > 8 / 15) & (s <= 9 / 15) & (np.arange(40) != 5), 0.5, s)
    case = weighted_binary_case("zero-weights", s, y, w)
    kept = w > 0
    assert_same(case["name"], case, weighted_binary_case("zero-weights (dropped)", s[kept], y[kept], w[kept]))
    add(case)
    y = (rng.random(60) < 0.4).astype(int)
    add(weighted_binary_case("ties-rounded-to-0.1", np.round(rng.random(60) * 0.6 + 0.4 * y, 1), y, rng.integers(0, 4, 60)), "repeats")
    s, y = draw(40, 0.5)
    case = weighted_binary_case("all-one-weights", s, y, np.ones(40))
    assert_same(case["name"], case, binary_case(case["name"], s, y))
    add(case)
    add(weighted_binary_case("bin-edges", [0.0, 1 / 15, 2 / 15, 0.5, 14 / 15, 1.0, 0.2, 0.8], [0, 0, 1, 1, 1, 1, 0, 1],
                             [3, 1, 2, 1, 5, 1, 4, 2]), "repeats")
    s, y = rng.random(50), (rng.random(50) < 0.5).astype(int)
    add(weighted_binary_case("threshold-0.3", s, y, rng.uniform(0.1, 10.0, 50), threshold=0.3))
    # Positives present but all of weight 0: no positive weight (sklearn's roc_auc_score returns NaN here, it does not raise).
    s, y = draw(20, 0.4)
    add(weighted_binary_case("positives-all-zero-weight", s, y, np.where(y == 1, 0.0, rng.uniform(0.5, 3.0, 20))))
    add(weighted_binary_case("only-negatives", rng.random(20), np.zeros(20, dtype=int), rng.uniform(0.1, 5.0, 20)))
    add(weighted_binary_case("saturated", [0.0, 1.0, 1.0, 0.0, 1e-300, 1 - 1e-16], [0, 1, 0, 1, 0, 1], [1000.0, 1.0, 2.0, 0.5, 7.0, 1.0]))
    # One sample carries all the weight.
    s, y = draw(12, 0.5)
    add(weighted_binary_case("one-sample-carries-all-weight", s, y, np.r_[2.5, np.zeros(11)]))
    s, y = draw(60, 0.3)
    add(weighted_binary_case("weights-from-1e-6-to-1e6", s, y, 10.0 ** rng.uniform(-6, 6, 60)))
    for c in cases:
        assert not any(isinstance(v, float) and np.isnan(v) for v in c.values()), c["name"]
    return cases


def main():
    rng = np.random.default_rng(20261127)
    binary = []
    for i, (n, rate) in enumerate([(40, 0.5), (200, 0.1), (500, 0.02), (60, 0.3), (300, 0.5)]):
        y = (rng.random(n) < rate).astype(int)
        y[0] = 1
        y[1] = 0
        logits = rng.normal(0, 1.5, n) + 1.2 * y
        binary.append(binary_case(f"random-{i}", 1 / (1 + np.exp(-logits)), y))
    y = (rng.random(120) < 0.4).astype(int)
    binary.append(binary_case("ties-rounded-to-0.1", np.round(rng.random(120) * 0.6 + 0.4 * y, 1), y))
    binary.append(binary_case("all-tied", np.full(10, 0.3), [1, 0, 0, 1, 0, 0, 0, 1, 0, 0]))
    binary.append(binary_case("bin-edges", [0.0, 1 / 15, 2 / 15, 0.5, 14 / 15, 1.0, 0.2, 0.8], [0, 0, 1, 1, 1, 1, 0, 1]))
    binary.append(binary_case("threshold-0.3", rng.random(50), (rng.random(50) < 0.5).astype(int), threshold=0.3))
    binary.append(binary_case("only-negatives", rng.random(20), np.zeros(20, dtype=int)))
    binary.append(binary_case("only-positives", rng.random(20), np.ones(20, dtype=int)))
    binary.append(binary_case("saturated", [0.0, 1.0, 1.0, 0.0, 1e-300, 1 - 1e-16], [0, 1, 0, 1, 0, 1]))
    binary.append(binary_case("perfect", [0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]))
    multiclass = []
    for i, (n, c) in enumerate([(60, 3), (200, 5), (30, 4)]):
        logits = rng.normal(0, 1.0, (n, c))
        y = rng.integers(0, c, n)
        logits[np.arange(n), y] += 1.5
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        multiclass.append(multiclass_case(f"random-{i}", p, y))
    p = np.full((6, 3), 1 / 3)
    multiclass.append(multiclass_case("uniform-ties-argmax-first", p, [0, 1, 2, 0, 1, 2]))
    multiclass.append(multiclass_case("class-absent", [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]], [0, 0, 1]))
    # Top-label confidences exactly on bin edges k/15 (k = 8..15), two classes, mixed right and wrong.
    edges = np.linspace(0.0, 1.0, 16)[8:]
    multiclass.append(multiclass_case("top-label-on-bin-edges", np.stack([edges, 1 - edges], axis=1),
                                      [0, 1, 0, 0, 1, 0, 0, 0]))
    # Same labels (60 % class 0, 40 % class 2, never class 1). Set a says 0.6 for class 0, exactly its
    # accuracy, but puts the rest on class 1, which never occurs; set b is overconfident in class 0 (0.9)
    # but spreads the rest evenly. Top-label ECE prefers a (0 vs 0.3), classwise ECE prefers b (0.267 vs 0.233).
    labels = [0, 0, 0, 2, 2]
    a = multiclass_case("rank-disagreement-a", [[0.6, 0.4, 0.0]] * 5, labels)
    b = multiclass_case("rank-disagreement-b", [[0.9, 0.05, 0.05]] * 5, labels)
    assert a["top_label_ece15"] < b["top_label_ece15"] and a["classwise_ece15"] > b["classwise_ece15"], (a, b)
    multiclass += [a, b]
    meta = {"generator": "make_metrics_reference.py", "sklearn": sklearn.__version__, "numpy": np.__version__}
    multilabel = multilabel_cases()
    weighted = weighted_binary_cases()
    with open("metrics_reference.json", "w") as f:
        json.dump({"meta": meta, "binary": binary, "multiclass": multiclass, "multilabel": multilabel,
                   "weighted_binary": weighted}, f, indent=1, allow_nan=False)
    print(f"wrote metrics_reference.json: {len(binary)} binary, {len(multiclass)} multi-class, "
          f"{len(multilabel)} multi-label, {len(weighted)} weighted binary cases (sklearn {sklearn.__version__})")


if __name__ == "__main__":
    main()
