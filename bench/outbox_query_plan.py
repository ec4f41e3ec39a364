"""The outbox-history queries of one planning batch, as SQLite plans and times them (not a test).

    PYTHONPATH=. .venvs/app/bin/python bench/outbox_query_plan.py DB [--first B0900000]

DB is a database kept by ``bench/outreach_plan.py --keep-db`` after (part of) a plan run, so
``outreach_outbox`` holds planned rows. Each query is run with ``status`` bare (as before the
fix in ``supportbot.outreach.facts._status``) and wrapped in ``coalesce`` (as now), for the
batch of 5,000 customers starting at ``--first``: the query plan SQLite picks and the median
of 5 runs. Before the fix the plan is ``USING INDEX ix_outreach_outbox_due (status=?)``,
a scan of every planned row for every batch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import statistics
import time
from pathlib import Path

PENDING = "('planned', 'sending')"


def queries(status: str, first: str, last: str) -> dict[str, tuple[str, tuple[object, ...]]]:
    return {
        "tips (load_facts)": (
            "SELECT customer_id, content_ref, status, local_day FROM outreach_outbox"
            f" WHERE customer_id BETWEEN ? AND ? AND campaign = 'usage_tip'"
            f" AND {status} IN ('planned', 'sending', 'sent', 'skipped')"
            f" AND ({status} IN {PENDING} OR local_day >= ?)",
            (first, last, "2026-03-01"),
        ),
        "caps (load_histories)": (
            "SELECT customer_id, status, sent_at, local_day FROM outreach_outbox"
            f" WHERE customer_id BETWEEN ? AND ? AND (({status} = 'sent' AND sent_at >= ?)"
            f" OR ({status} IN {PENDING} AND local_day BETWEEN ? AND ?))",
            (first, last, "2026-03-03 00:00:00.000000", "2026-03-04", "2026-03-10"),
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db", type=Path)
    parser.add_argument("--first", default="B0900000")
    args = parser.parse_args()
    number = int(args.first[1:])
    last = f"B{number + 4999:07d}"
    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    rows = db.execute("SELECT count(*) FROM outreach_outbox").fetchone()[0]
    print(f"{args.db}: {rows:,} outbox rows; batch {args.first}..{last}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    for label, status in (("bare status (before)", "status"), ("coalesce(status, '') (now)", "coalesce(status, '')")):
        for name, (sql, params) in queries(status, args.first, last).items():
            plan = "; ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, params))
            times = []
            for _ in range(5):
                started = time.perf_counter()
                db.execute(sql, params).fetchall()
                times.append(time.perf_counter() - started)
            print(f"{label:<28}{name:<24}{statistics.median(times) * 1000:9.1f} ms   {plan}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
