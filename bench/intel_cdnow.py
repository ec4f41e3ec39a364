"""CDNOW transactions in the standard protocol of Fader, Hardie & Lee (2005).

Calibration 1997-01-01 .. 1997-09-30 (39 weeks), holdout 1997-10-01 .. 1998-06-30 (39 weeks).
Purchases on the same day are one transaction (as in the paper's data); every customer made their
first purchase in the first quarter of 1997, so each has a calibration summary (x, t_x, T in weeks,
T measured to 1997-09-30 as in the published ``cdnow_customers`` summary: 38.86 for a first purchase
on 1 January) and a count of holdout transactions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from supportbot.intelligence.clv_model import RFM

FILE = "CDNOW_master.txt"
CALIBRATION_END = dt.date(1997, 9, 30)
HOLDOUT_END = dt.date(1998, 6, 30)
HOLDOUT_WEEKS = ((HOLDOUT_END - CALIBRATION_END).days) / 7  # 39.0


@dataclass(frozen=True)
class Cohort:
    ids: NDArray[np.int_]
    rfm: RFM
    mean_spend: NDArray[np.float64]
    """Average value of a calibration repeat purchase (0 without any)."""
    holdout: NDArray[np.float64]
    """Transactions (purchase days) in the holdout period."""
    holdout_mean_spend: NDArray[np.float64]
    """Average value of a holdout transaction (0 without any)."""
    weekly_holdout: NDArray[np.float64]
    """Total holdout transactions per holdout week (weeks 40..78)."""

    def subset(self, mask: NDArray[np.bool_]) -> Cohort:
        rfm = RFM(self.rfm.frequency[mask], self.rfm.recency[mask], self.rfm.age[mask])
        return Cohort(
            self.ids[mask],
            rfm,
            self.mean_spend[mask],
            self.holdout[mask],
            self.holdout_mean_spend[mask],
            self.weekly_holdout,
        )


def load(folder: Path) -> Cohort:
    days: dict[int, dict[dt.date, float]] = {}
    with (folder / FILE).open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) != 4 or not parts[0].isdigit():
                continue  # the header
            customer, date, value = int(parts[0]), dt.datetime.strptime(parts[1], "%Y%m%d").date(), float(parts[3])
            per_day = days.setdefault(customer, {})
            per_day[date] = per_day.get(date, 0.0) + value
    ids = np.array(sorted(days))
    x, tx, t_cal, spend, hold, hold_spend = (np.zeros(len(ids)) for _ in range(6))
    weekly = np.zeros(round(HOLDOUT_WEEKS))
    for i, customer in enumerate(ids):
        dates = sorted(days[customer])
        calibration = [d for d in dates if d <= CALIBRATION_END]
        first = calibration[0]
        x[i] = len(calibration) - 1
        tx[i] = (calibration[-1] - first).days / 7
        t_cal[i] = (CALIBRATION_END - first).days / 7
        spend[i] = sum(days[customer][d] for d in calibration[1:]) / x[i] if x[i] else 0.0
        later = [d for d in dates if d > CALIBRATION_END]
        hold[i] = len(later)
        hold_spend[i] = sum(days[customer][d] for d in later) / len(later) if later else 0.0
        for d in later:
            weekly[min((d - CALIBRATION_END).days - 1, len(weekly) * 7 - 1) // 7] += 1
    return Cohort(ids, RFM(x, tx, t_cal), spend, hold, hold_spend, weekly)
