"""Buy-till-you-die models: BG/NBD for repeat purchases, Gamma-Gamma for spend, and lifetime value.

BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"): while alive, a customer
buys at a Poisson rate λ ~ Gamma(r, α); after each purchase they drop out with probability
p ~ Beta(a, b). From each customer's calibration summary (x repeat purchases, the time t_x of the
last one and the time T since the first, in weeks) the model gives the expected number of
purchases in the next t weeks and the probability the customer is still active.
Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV") gives the expected value of a purchase
from a customer's average spend over x repeat purchases (p, q, γ).

Why our own maximum likelihood and not a library (measured, docs/INTELLIGENCE.md):
- ``lifetimes`` has been unmaintained since 2020.
- PyMC-Marketing's CLV module is maintained, but its releases since 0.19.3 need Python ≥ 3.12
  (the app env is 3.11) and 0.19.2 pulls in PyMC, PyTensor (which compiles C at run time),
  numba, pandas, xarray, arviz and matplotlib: about 35 packages for four parameters.
- The likelihoods are closed forms of a few lines on scipy (already in the app env); the fit is
  checked against the paper's parameters on CDNOW (``bench/clv.py``) and in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RFM:
    """One customer's calibration summary: repeat purchases, time of the last, age; in weeks."""

    frequency: FloatArray
    """x: purchases after the first (days with a purchase, minus one)."""
    recency: FloatArray
    """t_x: weeks from the first purchase to the last one (0 when x = 0)."""
    age: FloatArray
    """T: weeks from the first purchase to the end of the calibration period."""

    def __post_init__(self) -> None:
        x, tx, t = self.frequency, self.recency, self.age
        if not (len(x) == len(tx) == len(t)):
            raise ValueError("frequency, recency and age must have the same length")
        if len(x) == 0:
            raise ValueError("no customers to fit")
        if (x < 0).any() or (tx < 0).any() or (tx > t + 1e-9).any() or ((x == 0) & (tx > 0)).any():
            raise ValueError("each customer needs 0 ≤ recency ≤ age, and recency 0 without repeat purchases")


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")

    def expected_purchases(self, rfm: RFM, weeks: float) -> FloatArray:
        """E[purchases in the next ``weeks``] for each customer given their history (eq. 10 of the paper)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_cal = rfm.frequency, rfm.age
        z = weeks / (alpha + t_cal + weeks)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        head = (a + b + x - 1) / (a - 1)
        body = 1 - ((alpha + t_cal) / (alpha + t_cal + weeks)) ** (r + x) * hyp
        return np.asarray(head * body / self._dropout_odds(rfm), dtype=np.float64)

    def probability_alive(self, rfm: RFM) -> FloatArray:
        return np.asarray(1 / self._dropout_odds(rfm), dtype=np.float64)

    def expected_purchases_new(self, weeks: float) -> float:
        """E[X(t)] for a customer just acquired (the cumulative sales curve of the paper, eq. 9)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        hyp = special.hyp2f1(r, b, a + b - 1, weeks / (alpha + weeks))
        return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + weeks)) ** r * hyp))

    def _dropout_odds(self, rfm: RFM) -> FloatArray:
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, tx, t_cal = rfm.frequency, rfm.recency, rfm.age
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(x > 0, (a / (b + x - 1)) * ((alpha + t_cal) / (alpha + tx)) ** (r + x), 0.0)
        return np.asarray(1 + ratio, dtype=np.float64)


def bgnbd_log_likelihood(params: Sequence[float], rfm: RFM) -> FloatArray:
    """Per-customer log-likelihood (eq. 6 of the paper, in logs for numerical safety)."""
    r, alpha, a, b = params
    x, tx, t_cal = rfm.frequency, rfm.recency, rfm.age
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + t_cal)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx), -np.inf)
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=np.float64)


def fit_bgnbd(rfm: RFM, *, start: Sequence[float] = (1.0, 1.0, 1.0, 1.0)) -> BGNBD:
    """Maximum likelihood over log-parameters (all four are positive), L-BFGS-B then Nelder-Mead polish."""
    return BGNBD(*_fit(lambda p: bgnbd_log_likelihood(p, rfm), start))


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")

    def expected_spend(self, frequency: FloatArray, mean_spend: FloatArray) -> FloatArray:
        """E[value of a purchase] per customer; customers without repeat purchases get the population mean."""
        x, m = frequency, mean_spend
        population = self.p * self.gamma / (self.q - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            personal = (self.gamma + m * x) * self.p / (self.p * x + self.q - 1)
        return np.asarray(np.where(x > 0, personal, population), dtype=np.float64)


def gamma_gamma_log_likelihood(params: Sequence[float], frequency: FloatArray, mean_spend: FloatArray) -> FloatArray:
    p, q, gamma = params
    x, m = frequency, mean_spend
    return np.asarray(
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(gamma + m * x),
        dtype=np.float64,
    )


def fit_gamma_gamma(frequency: FloatArray, mean_spend: FloatArray) -> GammaGamma:
    """Fit on customers with at least one repeat purchase and a positive average spend."""
    keep = (frequency > 0) & (mean_spend > 0)
    if keep.sum() < 2:
        raise ValueError("Gamma-Gamma needs customers with repeat purchases and positive spend")
    x, m = frequency[keep], mean_spend[keep]
    return GammaGamma(*_fit(lambda p: gamma_gamma_log_likelihood(p, x, m), (1.0, 1.0, 1.0)))


def lifetime_value(
    bgnbd: BGNBD,
    spend: GammaGamma,
    rfm: RFM,
    mean_spend: FloatArray,
    *,
    months: int = 12,
    monthly_discount: float = 0.01,
    weeks_per_month: float = 52 / 12,
) -> FloatArray:
    """Discounted expected revenue over ``months``: each month's expected purchases × expected spend."""
    value_per_purchase = spend.expected_spend(rfm.frequency, mean_spend)
    total = np.zeros(len(rfm.frequency))
    previous = np.zeros(len(rfm.frequency))
    for month in range(1, months + 1):
        cumulative = bgnbd.expected_purchases(rfm, month * weeks_per_month)
        total += (cumulative - previous) * value_per_purchase / (1 + monthly_discount) ** month
        previous = cumulative
    return total


def _fit(log_likelihood: object, start: Sequence[float]) -> tuple[float, ...]:
    """Maximise a summed log-likelihood over positive parameters; returns (*params, log-likelihood)."""
    assert callable(log_likelihood)

    def negative(theta: FloatArray) -> float:
        value = float(np.sum(log_likelihood(np.exp(theta))))
        return -value if np.isfinite(value) else 1e300

    theta0 = np.log(np.asarray(start, dtype=float))
    first = optimize.minimize(negative, theta0, method="L-BFGS-B")
    polished = optimize.minimize(
        negative, first.x, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 20_000}
    )
    best = polished if polished.fun <= first.fun else first
    if not np.isfinite(best.fun) or best.fun >= 1e300:
        raise ValueError("the likelihood could not be maximised (degenerate data)")
    return (*(float(v) for v in np.exp(best.x)), -float(best.fun))
