"""Scheduled intelligence work (docs/INTELLIGENCE.md), as jobs of the scheduler process.

Module-level functions without arguments (APScheduler pickles the job: a database URL in its
arguments would put credentials into the job store's table); each reads the settings.

- ``intelligence-refresh``, daily: usage snapshot, segments, churn scores with the current
  model, lifetime value and the next best action per customer;
- ``intelligence-retrain``, weekly: retrains the churn model on the store's own history (it
  keeps the previous model, and says why, when the history is too thin to train on).
"""

from __future__ import annotations

import logging

from supportbot.intelligence import jobs
from supportbot.settings import get_settings

logger = logging.getLogger(__name__)

REFRESH_JOB_ID = "intelligence-refresh"
RETRAIN_JOB_ID = "intelligence-retrain"


def refresh_job() -> dict[str, str]:
    result = jobs.refresh_intelligence(get_settings().database_url)
    logger.info("intelligence refreshed: %s", result)
    return result


def retrain_job() -> str:
    result = jobs.retrain_churn(get_settings().database_url)
    logger.info("churn model: %s", result)
    return result
