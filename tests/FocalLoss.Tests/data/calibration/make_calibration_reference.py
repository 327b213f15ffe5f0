#!/usr/bin/python3
"""Reference temperatures (SciPy) and Platt fits (scikit-learn) for the workbench's recalibration.

Writes calibration_reference.json = {"meta": {...}, "binary": [...], "multiclass": [...]}.
Each case holds logits (binary: [N]; multi-class: [N][C]) and labels drawn from sigmoid(z / t0) or
softmax(z / t0), and:
  temperature      exp(u*), u* = scipy.optimize.minimize_scalar of the mean NLL over u = ln T in [-5, 5]
                   (method="bounded", xatol=1e-12), cross-checked against method="brent" to 1e-7;
  temperature_root 1 / beta*, beta* = scipy.optimize.brentq's root of the NLL's derivative in beta = 1/T
                   (binary: mean(-m sigmoid(-beta m)), m = +-z; softmax: mean(E_softmax(beta z)[z] - z_y)),
                   to machine precision: the minimiser without minimize_scalar's ~1e-8 flatness limit;
  nll, nll_at_one  mean NLL (nats) at that temperature and at T = 1;
  t0               the temperature the labels were drawn from (informative only: a sample's fit differs);
  platt_a, platt_b binary only: Platt scaling p = sigmoid(a z + b), the maximum-likelihood logistic regression
                   on the one feature z: sklearn LogisticRegression(penalty=None, solver="newton-cg",
                   tol=1e-12), cross-checked against scipy.optimize.minimize(method="trust-exact") to 1e-8;
                   null for "single-class", where no finite fit exists.
The NLL is written here from its definition with numpy/scipy.special (logaddexp, logsumexp), independent
of the C# code. "single-class" has only label 1 but logits of both signs, so it still has a finite minimum.

Usage: /usr/bin/python3 make_calibration_reference.py   (Debian: apt-get install python3-scipy python3-sklearn)
"""
import json

import warnings

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.special import expit, logsumexp, softmax


def binary_nll(z, y, t):
    s = np.where(y == 1, 1.0, -1.0)
    return float(np.mean(np.logaddexp(0.0, -s * z / t)))


def softmax_nll(z, y, t):
    zt = z / t
    return float(np.mean(logsumexp(zt, axis=1) - zt[np.arange(len(y)), y]))


def binary_slope(z, y, beta):
    m = np.where(y == 1, z, -z)
    return float(np.mean(-m * expit(-beta * m)))


def softmax_slope(z, y, beta):
    p = softmax(beta * z, axis=1)
    return float(np.mean((p * z).sum(axis=1) - z[np.arange(len(y)), y]))


def slope_root(slope, t):
    """1 / the root of the NLL's slope in beta = 1/T, bracketed around the minimize_scalar result t."""
    beta = brentq(slope, 0.5 / t, 2.0 / t, xtol=1e-300, rtol=8.9e-16, maxiter=500)
    root = 1 / beta
    assert abs(root / t - 1) < 1e-6, (root, t)
    return root


def fit(nll):
    """argmin over T of nll(T), searched in ln T on [-5, 5] as the C# fit does."""
    f = lambda u: nll(np.exp(u))
    bounded = minimize_scalar(f, bounds=(-5.0, 5.0), method="bounded", options={"xatol": 1e-12, "maxiter": 10000})
    brent = minimize_scalar(f, bracket=(-1.0, 1.0), method="brent", tol=1e-12)
    assert bounded.success and brent.success
    t = float(np.exp(bounded.x))
    assert abs(t / np.exp(brent.x) - 1) < 1e-7, (t, np.exp(brent.x))
    assert -5 + 1e-3 < bounded.x < 5 - 1e-3, "reference cases must have an interior minimum"
    for factor in (1 - 1e-4, 1 + 1e-4):            # a minimum, not a stationary point elsewhere
        assert nll(t) <= nll(t * factor)
    return t


def platt(z, y):
    """(a, b) of the maximum-likelihood sigmoid(a z + b), by scikit-learn, checked against SciPy."""
    if len(np.unique(y)) < 2:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=1e-12 is below what newton-cg certifies
        model = LogisticRegression(penalty=None, solver="newton-cg", tol=1e-12, max_iter=1000).fit(z[:, None], y)
    a, b = float(model.coef_[0, 0]), float(model.intercept_[0])
    s = 2 * y - 1

    def nll(ab):
        return np.mean(np.logaddexp(0.0, -s * (ab[0] * z + ab[1])))

    def grad(ab):
        r = expit(ab[0] * z + ab[1]) - y
        return np.array([np.mean(r * z), np.mean(r)])

    def hess(ab):
        p = expit(ab[0] * z + ab[1])
        w = p * (1 - p)
        return np.array([[np.mean(w * z * z), np.mean(w * z)], [np.mean(w * z), np.mean(w)]])

    check = minimize(nll, [0.0, 0.0], jac=grad, hess=hess, method="trust-exact", options={"gtol": 1e-14})
    assert np.allclose(check.x, [a, b], rtol=1e-8, atol=1e-10), (check.x, a, b)
    return a, b


def binary_case(name, z, y, t0):
    z = np.round(np.asarray(z, dtype=float), 6)      # six decimals: exact in JSON, identical doubles in C#
    y = np.asarray(y, dtype=int)
    t = fit(lambda t: binary_nll(z, y, t))
    a, b = platt(z, y)
    return {"name": name, "t0": t0, "platt_a": a, "platt_b": b, "logits": z.tolist(), "labels": y.tolist(),
            "temperature": t, "temperature_root": slope_root(lambda b: binary_slope(z, y, b), t), "nll": binary_nll(z, y, t), "nll_at_one": binary_nll(z, y, 1.0)}


def multiclass_case(name, z, y, t0):
    z = np.round(np.asarray(z, dtype=float), 6)
    y = np.asarray(y, dtype=int)
    t = fit(lambda t: softmax_nll(z, y, t))
    return {"name": name, "t0": t0, "logits": z.tolist(), "labels": y.tolist(),
            "temperature": t, "temperature_root": slope_root(lambda b: softmax_slope(z, y, b), t), "nll": softmax_nll(z, y, t), "nll_at_one": softmax_nll(z, y, 1.0)}


def draw_binary(rng, n, t0, scale=3.0, shift=0.0):
    z = rng.normal(shift, scale, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z / t0))).astype(int)
    return z, y


def draw_multiclass(rng, n, c, t0, scale=3.0):
    z = rng.normal(0.0, scale, (n, c))
    p = np.exp(z / t0 - logsumexp(z / t0, axis=1, keepdims=True))
    y = (rng.random((n, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
    return z, np.minimum(y, c - 1)


def main():
    rng = np.random.default_rng(20260601)
    binary = [binary_case(f"t0-{t0}", *draw_binary(rng, n, t0), t0) for n, t0 in [(400, 0.5), (300, 1.0), (400, 2.5)]]
    binary.append(binary_case("imbalanced-t0-1.7", *draw_binary(rng, 300, 1.7, scale=2.0, shift=-3.0), 1.7))
    z = rng.normal(1.0, 2.0, 60)
    binary.append(binary_case("single-class", z, np.ones(60, dtype=int), None))
    multiclass = [multiclass_case(f"c{c}-t0-{t0}", *draw_multiclass(rng, n, c, t0), t0)
                  for n, c, t0 in [(300, 4, 0.5), (300, 4, 2.5), (200, 10, 1.3)]]
    z, y = draw_multiclass(rng, 150, 5, 0.8)
    keep = y != 4                                    # class 4 never occurs as a label
    multiclass.append(multiclass_case("c5-class-absent", z[keep], y[keep], 0.8))
    meta = {"generator": "make_calibration_reference.py", "scipy": scipy.__version__, "sklearn": sklearn.__version__,
            "numpy": np.__version__}
    with open("calibration_reference.json", "w") as f:
        json.dump({"meta": meta, "binary": binary, "multiclass": multiclass}, f, indent=1)
    for c in binary + multiclass:
        print(f"{c['name']:>20}: t0 {c['t0']}, T {c['temperature']:.10g} (root {c['temperature_root']:.14g}), NLL {c['nll']:.6f} (T=1: {c['nll_at_one']:.6f})"
              + (f", Platt a {c['platt_a']:.10g} b {c['platt_b']:.10g}" if c.get("platt_a") is not None else ""))


if __name__ == "__main__":
    main()
