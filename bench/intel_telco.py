"""IBM's Telco churn sample as rows for ``supportbot.intelligence.churn_model``, and the published split.

The file: ``telco_churn/WA_Fn-UseC_-Telco-Customer-Churn.csv`` (7,043 customers; see its SOURCE.txt).
The split is the one the published figures use (DataTalksClub "Machine Learning Bookcamp", ch. 3–4):
``train_test_split(test_size=0.2, random_state=1)`` for full-train/test, then
``train_test_split(full_train, test_size=0.25, random_state=1)`` for train/validation: 60/20/20.
scikit-learn's shuffle depends only on the number of rows and the seed, so splitting row indices
gives exactly the rows the book's pandas code gets.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from supportbot.intelligence.churn_model import FeatureSpec, FeatureValue

FILE = "WA_Fn-UseC_-Telco-Customer-Churn.csv"
RAW_NUMERIC = ("tenure", "MonthlyCharges", "TotalCharges")
DERIVED_NUMERIC = ("services", "log_tenure", "avg_charge", "charge_change")
"""Derived from the raw columns of the same row (no label, no other row): how many services, the
log of tenure, the average monthly charge so far (TotalCharges / tenure) and how far this month's
charge is from it (a recent price change)."""
SERVICES = (
    "PhoneService",
    "MultipleLines",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
)
SKIP = ("customerID", "Churn", *RAW_NUMERIC)

Row = dict[str, FeatureValue]


def load(folder: Path) -> tuple[list[dict[str, str]], NDArray[np.int_]]:
    with (folder / FILE).open(newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    labels = np.array([r["Churn"] == "Yes" for r in records], dtype=int)
    return records, labels


def _total(record: dict[str, str]) -> float:
    """TotalCharges is blank for the 11 customers with tenure 0; the published code fills 0."""
    text = record["TotalCharges"].strip()
    return float(text) if text else 0.0


def raw_rows(records: list[dict[str, str]]) -> list[Row]:
    """The 19 columns as given (SeniorCitizen stays a number, as pandas reads it): the baseline's input."""
    rows: list[Row] = []
    for r in records:
        row: Row = {k: v for k, v in r.items() if k not in SKIP}
        row["SeniorCitizen"] = int(r["SeniorCitizen"])
        row.update(tenure=float(r["tenure"]), MonthlyCharges=float(r["MonthlyCharges"]), TotalCharges=_total(r))
        rows.append(row)
    return rows


def model_rows(records: list[dict[str, str]]) -> list[Row]:
    rows = raw_rows(records)
    for row, r in zip(rows, records, strict=True):
        tenure, monthly = float(r["tenure"]), float(r["MonthlyCharges"])
        average = _total(r) / tenure if tenure > 0 else monthly
        row.update(
            services=float(sum(r[s] == "Yes" for s in SERVICES)),
            log_tenure=math.log1p(tenure),
            avg_charge=average,
            charge_change=monthly - average,
        )
        row["SeniorCitizen"] = str(row["SeniorCitizen"])
    return rows


def model_spec(records: list[dict[str, str]]) -> FeatureSpec:
    categorical = tuple(k for k in records[0] if k not in SKIP)
    return FeatureSpec(numeric=RAW_NUMERIC + DERIVED_NUMERIC, categorical=categorical)


def published_split(n: int) -> tuple[NDArray[np.int_], NDArray[np.int_], NDArray[np.int_]]:
    """Row indices of (train, validation, test) of the 60/20/20 seed-1 split."""
    index = np.arange(n)
    full_train, test = train_test_split(index, test_size=0.2, random_state=1)
    train, validation = train_test_split(full_train, test_size=0.25, random_state=1)
    return train, validation, test
