"""The churn classifier: features in, a calibrated probability and the reasons behind it out.

One class, :class:`ChurnModel`, is trained on the store's own history
(``supportbot.intelligence.churn``) and, unchanged, on public data (``bench/churn.py`` on IBM's
Telco churn sample), so the benchmark measures the code that runs in production.

Why this shape (measured in docs/BENCHMARKS.md and docs/INTELLIGENCE.md, chosen on validation
data and inner cross-validation of training data only):

- **Logistic regression over cubic splines of the numbers and one-hot categories.** Churn
  hazards bend with tenure and price (the first months are the riskiest; very low and very high
  charges behave differently), which a straight line in ``tenure`` cannot follow; splines give
  the linear model that freedom while keeping every prediction a sum of per-feature terms.
- **Optionally blended with scikit-learn's histogram gradient boosting and extremely randomised
  trees** (a weighted logit average): trees catch interactions the additive model misses, and the
  two kinds of trees err differently (boosting fits residuals, the randomised forest averages
  deep, decorrelated trees), so half of each beat either alone in cross-validation of Telco's
  train+validation rows (docs/BENCHMARKS.md). ``boosted_weight = forest_weight = 0`` keeps the
  model purely additive.
- **Reasons come from the additive part**: each feature's term minus its average over the
  training rows, in log-odds; the largest positive terms are "why this customer is at risk".
  They are exact for the linear model and an explanation of its share of a blend.
- **Calibration by Platt scaling on out-of-fold scores** of the training rows: a monotone map,
  so it changes no ranking (ROC AUC) and turns the blend's scores into probabilities whose
  reliability is reported (Brier score, reliability table).

scikit-learn is the field's standard and already in the app env; LightGBM/XGBoost were not
needed to reach the goal (the histogram booster is scikit-learn's LightGBM-style implementation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, SplineTransformer, StandardScaler

FeatureValue = float | int | str | bool | None
Row = Mapping[str, FeatureValue]
MISSING = "(missing)"
EPS = 1e-6


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a model reads: numbers (finite floats) and categories (any value, as text)."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


@dataclass(frozen=True)
class ChurnSettings:
    """Hyperparameters; chosen by :func:`select_settings` on training data, never on a test split."""

    c: float = 0.1
    """Inverse L2 strength of the logistic regression."""
    spline_knots: int = 7
    """Knots of each number's cubic spline; 0 uses the standardised number itself."""
    boosted_weight: float = 0.0
    """Weight of the boosted trees in the logit blend (0 = additive model only, 1 = equal)."""
    boosted_learning_rate: float = 0.03
    boosted_iterations: int = 300
    boosted_max_depth: int = 3
    boosted_min_leaf: int = 40
    forest_weight: float = 0.0
    """Weight of scikit-learn's ExtraTreesClassifier (on one-hot categories) in the blend; 0 = none."""
    forest_trees: int = 500
    forest_min_leaf: int = 10
    forest_max_features: float = 0.4
    calibration_folds: int = 5
    seed: int = 0

    def label(self) -> str:
        text = f"C={self.c:g}, knots={self.spline_knots}"
        if self.boosted_weight:
            text += (
                f", trees×{self.boosted_weight:g} (lr {self.boosted_learning_rate:g}, {self.boosted_iterations} it,"
                f" depth {self.boosted_max_depth}, leaf ≥{self.boosted_min_leaf})"
            )
        if self.forest_weight:
            text += (
                f", extra trees×{self.forest_weight:g} ({self.forest_trees}, leaf ≥{self.forest_min_leaf},"
                f" features {self.forest_max_features:g})"
            )
        return text


@dataclass(frozen=True)
class Reason:
    """One feature's push on a customer's risk, in log-odds against the average customer."""

    feature: str
    value: FeatureValue
    contribution: float


def to_matrix(rows: Sequence[Row], spec: FeatureSpec) -> NDArray[Any]:
    """An object matrix, numbers first (as float) then categories (as text), in ``spec`` order.

    Raises ``ValueError`` naming the feature and row when a number is missing or not finite:
    a model silently fed a zero for an unknown value would score the wrong customer.
    """
    out = np.empty((len(rows), len(spec.names)), dtype=object)
    for i, row in enumerate(rows):
        for j, name in enumerate(spec.numeric):
            value = row.get(name)
            if isinstance(value, bool):
                value = float(value)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"row {i}: feature {name!r} must be a finite number, got {value!r}")
            out[i, j] = float(value)
        for j, name in enumerate(spec.categorical, start=len(spec.numeric)):
            value = row.get(name)
            out[i, j] = MISSING if value is None else str(value)
    return out


def _additive(spec: FeatureSpec, settings: ChurnSettings) -> Pipeline:
    parts: list[tuple[str, Any, list[int]]] = []
    for j, name in enumerate(spec.numeric):
        numeric: Any = StandardScaler()
        if settings.spline_knots:
            numeric = make_pipeline(StandardScaler(), SplineTransformer(n_knots=settings.spline_knots, degree=3))
        parts.append((f"n:{name}", numeric, [j]))
    for j, name in enumerate(spec.categorical, start=len(spec.numeric)):
        parts.append((f"c:{name}", OneHotEncoder(handle_unknown="ignore", sparse_output=False), [j]))
    encode = ColumnTransformer(parts, sparse_threshold=0)
    return Pipeline([("encode", encode), ("fit", LogisticRegression(C=settings.c, max_iter=5000))])


def _boosted(spec: FeatureSpec, settings: ChurnSettings) -> Pipeline:
    n_num, n_cat = len(spec.numeric), len(spec.categorical)
    encode = ColumnTransformer(
        [
            ("n", "passthrough", list(range(n_num))),
            (
                "c",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                list(range(n_num, n_num + n_cat)),
            ),
        ],
        sparse_threshold=0,
    )
    trees = HistGradientBoostingClassifier(
        learning_rate=settings.boosted_learning_rate,
        max_iter=settings.boosted_iterations,
        max_depth=settings.boosted_max_depth,
        min_samples_leaf=settings.boosted_min_leaf,
        categorical_features=list(range(n_num, n_num + n_cat)) or None,
        early_stopping=False,
        random_state=settings.seed,
    )
    return Pipeline([("encode", encode), ("fit", trees)])


def _forest(spec: FeatureSpec, settings: ChurnSettings) -> Pipeline:
    n_num, n_cat = len(spec.numeric), len(spec.categorical)
    encode = ColumnTransformer(
        [
            ("n", "passthrough", list(range(n_num))),
            ("c", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(range(n_num, n_num + n_cat))),
        ],
        sparse_threshold=0,
    )
    trees = ExtraTreesClassifier(
        n_estimators=settings.forest_trees,
        min_samples_leaf=settings.forest_min_leaf,
        max_features=settings.forest_max_features,
        n_jobs=1,
        random_state=settings.seed,
    )
    return Pipeline([("encode", encode), ("fit", trees)])


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    p = np.clip(p, EPS, 1 - EPS)
    return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


class BlendScorer(ClassifierMixin, BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types
    """The uncalibrated score: additive model, optionally blended with trees in log-odds.

    A scikit-learn estimator so that cross-validation helpers can clone and fit it.
    """

    def __init__(self, spec: FeatureSpec, settings: ChurnSettings) -> None:
        self.spec = spec
        self.settings = settings

    def fit(self, x: NDArray[Any], y: NDArray[np.int_]) -> BlendScorer:
        self.classes_ = np.array([0, 1])
        self.additive_ = _additive(self.spec, self.settings).fit(x, y)
        self.boosted_ = _boosted(self.spec, self.settings).fit(x, y) if self.settings.boosted_weight else None
        self.forest_ = _forest(self.spec, self.settings).fit(x, y) if self.settings.forest_weight else None
        return self

    def decision_function(self, x: NDArray[Any]) -> NDArray[np.float64]:
        z = np.asarray(self.additive_.decision_function(x), dtype=np.float64)
        total = 1.0
        forest = getattr(self, "forest_", None)  # a model saved before the forest existed has none
        for trees, w in ((self.boosted_, self.settings.boosted_weight), (forest, self.settings.forest_weight)):
            if trees is not None:
                z = z + w * _logit(trees.predict_proba(x)[:, 1])
                total += w
        return z / total

    def predict_proba(self, x: NDArray[Any]) -> NDArray[np.float64]:
        p = 1 / (1 + np.exp(-self.decision_function(x)))
        return np.column_stack([1 - p, p])

    def predict(self, x: NDArray[Any]) -> NDArray[np.int_]:
        return (self.decision_function(x) > 0).astype(int)


@dataclass
class ChurnModel:
    """A fitted, calibrated churn model; picklable (``joblib``) with its spec and settings."""

    spec: FeatureSpec
    settings: ChurnSettings = field(default_factory=ChurnSettings)
    scorer: BlendScorer | None = None
    platt: tuple[float, float] = (1.0, 0.0)
    """Calibration ``p = sigmoid(a·score + b)``, fitted on out-of-fold scores of the training rows."""
    baseline_terms: dict[str, float] = field(default_factory=dict)

    def fit(self, rows: Sequence[Row], labels: Sequence[int], *, groups: Sequence[str] | None = None) -> ChurnModel:
        """Fit on ``rows``; ``groups`` (e.g. customer ids) keeps one customer's rows in one calibration fold."""
        x, y = to_matrix(rows, self.spec), np.asarray(labels, dtype=int)
        if len(set(y.tolist())) < 2:
            raise ValueError("training needs both churned and retained examples")
        self.scorer = BlendScorer(self.spec, self.settings).fit(x, y)
        self.platt = _fit_platt(out_of_fold_scores(x, y, self.spec, self.settings, groups=groups), y)
        terms = self._terms(x)
        self.baseline_terms = {name: float(terms[name].mean()) for name in terms}
        return self

    def score(self, rows: Sequence[Row]) -> NDArray[np.float64]:
        """The uncalibrated score (log-odds of the blend); ranks exactly like :meth:`predict_proba`."""
        return self._fitted().decision_function(to_matrix(rows, self.spec))

    def predict_proba(self, rows: Sequence[Row]) -> NDArray[np.float64]:
        """Calibrated probability of churn for each row."""
        a, b = self.platt
        return np.asarray(1 / (1 + np.exp(-(a * self.score(rows) + b))), dtype=np.float64)

    def reasons(self, rows: Sequence[Row], *, top: int = 3) -> list[list[Reason]]:
        """The ``top`` features pushing each row's risk up the most (positive contributions only)."""
        terms = self._terms(to_matrix(rows, self.spec))
        out: list[list[Reason]] = []
        for i, row in enumerate(rows):
            pushes = [(name, terms[name][i] - self.baseline_terms[name]) for name in terms]
            pushes = sorted((p for p in pushes if p[1] > 1e-9), key=lambda p: -p[1])[:top]
            out.append([Reason(name, row.get(name), round(float(c), 4)) for name, c in pushes])
        return out

    def describe(self) -> dict[str, Any]:
        return {"features": asdict(self.spec), "settings": asdict(self.settings), "platt": list(self.platt)}

    def _fitted(self) -> BlendScorer:
        if self.scorer is None:
            raise RuntimeError("the churn model is not fitted yet")
        return self.scorer

    def _terms(self, x: NDArray[Any]) -> dict[str, NDArray[np.float64]]:
        """Each feature's additive term (log-odds) per row, from the additive model's coefficients."""
        additive = self._fitted().additive_
        encode: ColumnTransformer = additive.named_steps["encode"]
        coef = additive.named_steps["fit"].coef_[0]
        z = encode.transform(x)
        terms = {}
        for key, cols in encode.output_indices_.items():
            if key == "remainder" or cols.stop == cols.start:
                continue
            terms[key.split(":", 1)[1]] = np.asarray(z[:, cols] @ coef[cols], dtype=np.float64)
        return terms


def out_of_fold_scores(
    x: NDArray[Any],
    y: NDArray[np.int_],
    spec: FeatureSpec,
    settings: ChurnSettings,
    *,
    groups: Sequence[str] | None = None,
) -> NDArray[np.float64]:
    """Scores of every training row by a model that did not see it (stratified K-fold, grouped if asked)."""
    folds = min(settings.calibration_folds, int(np.bincount(y).min()))
    if folds < 2:
        raise ValueError("calibration needs at least two examples of each outcome")
    scores = np.zeros(len(y))
    splitter = stratified_folds(folds, seed=settings.seed, grouped=groups is not None)
    for train, held in splitter.split(x, y, groups):
        scorer = clone(BlendScorer(spec, settings)).fit(x[train], y[train])
        scores[held] = scorer.decision_function(x[held])
    return scores


def stratified_folds(folds: int, *, seed: int, grouped: bool) -> StratifiedKFold | StratifiedGroupKFold:
    """Stratified K-fold; grouped when one customer has several rows (several cut-offs)."""
    if grouped:
        return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)


def _fit_platt(scores: NDArray[np.float64], y: NDArray[np.int_]) -> tuple[float, float]:
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(scores.reshape(-1, 1), y)
    return float(platt.coef_[0, 0]), float(platt.intercept_[0])
