#!/usr/bin/python3
"""Reference values for the workbench's metrics, computed by scikit-learn.

Writes metrics_reference.json = {"meta": {...}, "binary": [...], "multiclass": [...], "multilabel": [...]}.
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

Usage: /usr/bin/python3 make_metrics_reference.py   (Debian: apt-get install python3-sklearn)
"""
import json

import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                             brier_score_loss, f1_score, log_loss, precision_recall_curve,
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
    with open("metrics_reference.json", "w") as f:
        json.dump({"meta": meta, "binary": binary, "multiclass": multiclass, "multilabel": multilabel}, f, indent=1)
    print(f"wrote metrics_reference.json: {len(binary)} binary, {len(multiclass)} multi-class, "
          f"{len(multilabel)} multi-label cases (sklearn {sklearn.__version__})")


if __name__ == "__main__":
    main()
