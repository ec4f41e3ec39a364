"""BG/NBD and Gamma-Gamma: parameters recovered from data simulated with known ones, and sane predictions."""

from __future__ import annotations

import numpy as np
import pytest

from supportbot.intelligence.clv_model import (
    BGNBD,
    RFM,
    GammaGamma,
    bgnbd_log_likelihood,
    fit_bgnbd,
    fit_gamma_gamma,
    lifetime_value,
)

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}


def _simulate(n: int, seed: int, holdout: float = 39.0) -> tuple[RFM, np.ndarray]:
    """The BG/NBD story: Poisson purchases at rate λ ~ Gamma(r, α), dropping out after each with p ~ Beta(a, b)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], n)
    p = rng.beta(TRUE["a"], TRUE["b"], n)
    age = rng.uniform(27, 39, n)
    x, tx, future = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t, alive = 0.0, True
        while alive:
            t += rng.exponential(1 / lam[i])
            if t > age[i] + holdout:
                break
            if t <= age[i]:
                x[i], tx[i] = x[i] + 1, t
            else:
                future[i] += 1
            alive = rng.random() >= p[i]
    return RFM(x, tx, age), future


def test_fit_recovers_the_parameters_it_was_simulated_with() -> None:
    rfm, _ = _simulate(6000, 1)
    fitted = fit_bgnbd(rfm)
    assert fitted.r == pytest.approx(TRUE["r"], rel=0.2)
    assert fitted.alpha == pytest.approx(TRUE["alpha"], rel=0.3)
    assert fitted.a == pytest.approx(TRUE["a"], rel=0.35)
    assert fitted.b == pytest.approx(TRUE["b"], rel=0.45)
    truth = np.sum(bgnbd_log_likelihood(list(TRUE.values()), rfm))
    assert fitted.log_likelihood >= truth - 1e-6  # the maximum is at least as likely as the truth


def test_expected_holdout_purchases_track_what_the_simulated_customers_did() -> None:
    rfm, future = _simulate(6000, 2)
    predicted = BGNBD(**TRUE).expected_purchases(rfm, 39.0)
    assert predicted.sum() == pytest.approx(future.sum(), rel=0.1)
    naive = rfm.frequency / rfm.age * 39.0
    assert np.mean(np.abs(predicted - future)) < np.mean(np.abs(naive - future))


def test_a_customer_silent_for_long_is_less_likely_alive_and_expected_to_buy_less() -> None:
    model = BGNBD(**TRUE)
    rfm = RFM(np.array([4.0, 4.0, 0.0]), np.array([38.0, 5.0, 0.0]), np.array([39.0, 39.0, 39.0]))
    alive = model.probability_alive(rfm)
    expected = model.expected_purchases(rfm, 10.0)
    assert alive[0] > alive[1] and alive[2] == 1.0
    assert expected[0] > expected[1]
    assert model.expected_purchases_new(52.0) > model.expected_purchases_new(26.0) > 0


def test_gamma_gamma_recovers_spend_parameters_and_shrinks_towards_the_mean() -> None:
    rng = np.random.default_rng(3)
    p, q, gamma = 6.0, 4.0, 15.0
    n = 4000
    nu = rng.gamma(q, 1 / gamma, n)
    x = rng.integers(1, 8, n).astype(float)
    mean_spend = np.array([rng.gamma(p, 1 / nu[i], int(x[i])).mean() for i in range(n)])
    fitted = fit_gamma_gamma(x, mean_spend)
    assert fitted.p == pytest.approx(p, rel=0.2)
    assert fitted.q == pytest.approx(q, rel=0.2)
    assert fitted.gamma == pytest.approx(gamma, rel=0.3)
    model = GammaGamma(p, q, gamma)
    population = p * gamma / (q - 1)
    one, many = model.expected_spend(np.array([1.0, 20.0, 0.0]), np.array([200.0, 200.0, 0.0]))[:2]
    assert population < one < many < 200.0  # one purchase says less about a customer than twenty
    assert model.expected_spend(np.array([0.0]), np.array([0.0]))[0] == pytest.approx(population)


def test_lifetime_value_grows_with_the_horizon_and_is_discounted() -> None:
    rfm = RFM(np.array([3.0]), np.array([30.0]), np.array([39.0]))
    purchases, spend = BGNBD(**TRUE), GammaGamma(6.0, 4.0, 15.0)
    short = lifetime_value(purchases, spend, rfm, np.array([30.0]), months=6)
    long = lifetime_value(purchases, spend, rfm, np.array([30.0]), months=12)
    undiscounted = lifetime_value(purchases, spend, rfm, np.array([30.0]), months=12, monthly_discount=0.0)
    assert 0 < short[0] < long[0] < undiscounted[0]


@pytest.mark.parametrize(
    ("x", "tx", "t"),
    [([1.0], [5.0], [4.0]), ([0.0], [2.0], [10.0]), ([-1.0], [0.0], [10.0])],
    ids=["last purchase after the end", "recency without a repeat purchase", "negative frequency"],
)
def test_impossible_summaries_are_refused(x: list[float], tx: list[float], t: list[float]) -> None:
    with pytest.raises(ValueError, match="0 ≤ recency ≤ age"):
        RFM(np.array(x), np.array(tx), np.array(t))


def test_gamma_gamma_without_repeat_buyers_is_refused() -> None:
    with pytest.raises(ValueError, match="repeat purchases"):
        fit_gamma_gamma(np.zeros(5), np.zeros(5))
