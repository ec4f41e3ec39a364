"""``python -m supportbot.intelligence <command>``: segments, churn risk, lifetime value, next best actions.

- ``train-churn``: train a new churn model version on the store's history (refuses on too little).
- ``score-churn``: score every subscriber with the newest model.
- ``segments``: recompute segments and print their figures.
- ``clv``: fit the order models and store every customer's lifetime value.
- ``next-actions``: decide and log the next best action of every customer; print the counts.
- ``snapshot-usage``: copy today's feature usage into the snapshot table (training reads it later).
- ``refresh``: the daily job: snapshot, scores, segments, CLV, next best actions.
- ``show CUSTOMER``: one customer's segment, risk and reasons, lifetime value and next action.
- ``synthetic-history PATH``: write a synthetic, clearly labelled training store (never the live one).
- ``backfill --months N``: scores, lifetime value and segments as of the past N month ends (a trend).
- ``demo-prepare``: for the demo store (``make run``): a model from the synthetic history if there is
  none, a year of backfill, today's refresh; does nothing for any other store or a second time.

The database URL comes from ``SUPPORTBOT_DATABASE_URL`` (``--database-url`` overrides it); model
versions live in ``var/models/churn`` (``SUPPORTBOT_INTEL_MODEL_DIR`` or ``--model-dir``).
Expected failures end with a message and exit 1, not a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from supportbot.errors import SupportBotError
from supportbot.intelligence import jobs
from supportbot.intelligence.churn import churn_risk, default_model_dir, score_customers, train_churn
from supportbot.intelligence.clv import compute_clv
from supportbot.intelligence.demo_setup import prepare_demo
from supportbot.intelligence.next_action import decide_all, latest_decision
from supportbot.intelligence.segment_catalogue import SEGMENTS
from supportbot.intelligence.segments import compute_segments
from supportbot.intelligence.synthetic import build_synthetic_history
from supportbot.settings import PROJECT_ROOT, get_settings
from supportbot.store.db import make_engine, session_factory
from supportbot.store.intelligence_models import ClvScore, CustomerSegment, SegmentStat
from supportbot.store.migrate import upgrade_database

EXIT_OK, EXIT_FAILED = 0, 1
T = TypeVar("T")


def _as_of(args: argparse.Namespace) -> dt.datetime:
    if args.as_of:
        day = dt.date.fromisoformat(args.as_of)
        return dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


def _train(args: argparse.Namespace, url: str) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            report = train_churn(
                session=session,
                as_of=_as_of(args),
                model_dir=args.model_dir,
                horizon_days=args.horizon_days,
                cutoffs=args.cutoffs,
                origin=args.origin,
                n_jobs=args.jobs,
            )
    finally:
        engine.dispose()
    backtest = report.metadata["backtest"]
    print(
        f"churn model {report.version} ({report.metadata['origin']} history): {report.examples} examples, "
        f"{report.churned} ended; saved in {report.path}"
    )
    if backtest:
        print(
            f"backtest at {backtest['cutoff']}: AUC {backtest['auc']:.3f}, Brier {backtest['brier']:.3f} "
            f"(base rate {backtest['brier_of_base_rate']:.3f}), calibration error {backtest['ece']:.3f}"
        )
    else:
        print("backtest: too few examples at the newest cut-off to measure")
    return EXIT_OK


def _with_session(url: str, work: Callable[[Session], T]) -> T:
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            return work(session)
    finally:
        engine.dispose()


def _score(args: argparse.Namespace, url: str) -> int:
    n = _with_session(url, lambda s: score_customers(session=s, as_of=_as_of(args), model_dir=args.model_dir))
    print(f"{n} subscribers scored")
    return EXIT_OK


def _segments(args: argparse.Namespace, url: str) -> int:
    def work(session: Session) -> list[SegmentStat]:
        run = compute_segments(session=session, as_of=_as_of(args))
        return list(session.scalars(select(SegmentStat).where(SegmentStat.run_id == run.id)))

    stats = {s.segment: s for s in _with_session(url, work)}
    print(f"{'segment':24s} {'customers':>9s} {'CSAT':>5s} {'NPS':>6s} {'risk':>5s} {'MRR':>10s}  description")
    for segment in SEGMENTS:
        s = stats[segment.code]
        csat = f"{s.avg_csat:.1f}" if s.avg_csat is not None else "–"
        nps = f"{s.nps:+.0f}" if s.nps is not None else "–"
        risk = f"{s.mean_churn_risk:.0%}" if s.mean_churn_risk is not None else "–"
        print(
            f"{segment.name:24s} {s.customers:9d} {csat:>5s} {nps:>6s} {risk:>5s} "
            f"{s.monthly_recurring_cents / 100:10.2f}  {segment.description}"
        )
    return EXIT_OK


def _clv(args: argparse.Namespace, url: str) -> int:
    summary = _with_session(url, lambda s: compute_clv(session=s, as_of=_as_of(args)).summary)
    print(f"lifetime value stored: {summary}")
    return EXIT_OK


def _actions(args: argparse.Namespace, url: str) -> int:
    summary = _with_session(url, lambda s: decide_all(session=s, now=_as_of(args)).summary)
    print(f"next best actions decided and logged: {summary}")
    return EXIT_OK


def _snapshot(args: argparse.Namespace, url: str) -> int:
    n = _with_session(url, lambda s: jobs.take_usage_snapshot(session=s, as_of=_as_of(args)))
    print(f"{n} usage rows snapshotted" if n else "today's usage snapshot was already taken")
    return EXIT_OK


def _refresh(args: argparse.Namespace, url: str) -> int:
    now = _as_of(args).isoformat() if args.as_of else None
    for step, outcome in jobs.refresh_intelligence(url, str(args.model_dir), now).items():
        print(f"{step}: {outcome}")
    return EXIT_OK


def _show(args: argparse.Namespace, url: str) -> int:
    def work(s: Session) -> list[str]:
        lines = [f"customer {args.customer}"]
        seg = s.get(CustomerSegment, args.customer)
        lines.append(f"  segment: {seg.segment} ({seg.why})" if seg else "  segment: not computed")
        risk = churn_risk(session=s, customer_id=args.customer)
        lines.append(f"  churn risk: {risk[0]:.0%} — {'; '.join(risk[1])}" if risk else "  churn risk: not scored")
        clv = s.get(ClvScore, args.customer)
        if clv:
            lines.append(
                f"  lifetime value (12 months): orders {clv.order_clv_12m_cents / 100:.2f}, subscription "
                f"{clv.subscription_value_12m_cents / 100:.2f}; P(still buying) {clv.probability_alive:.0%}"
            )
        decision = latest_decision(session=s, customer_id=args.customer)
        lines.append(
            f"  next best action: {decision.action} — {decision.reason}"
            if decision
            else "  next best action: not decided"
        )
        return lines

    print("\n".join(_with_session(url, work)))
    return EXIT_OK


def _synthetic(args: argparse.Namespace, _url: str) -> int:
    path = Path(args.path)
    if path.exists():
        print(f"error: {path} exists; the synthetic history is written to a new file only", file=sys.stderr)
        return EXIT_FAILED
    target = f"sqlite:///{path}"
    upgrade_database(url=target)
    as_of = _as_of(args).date()
    n = _with_session(target, lambda s: build_synthetic_history(session=s, as_of=as_of, customers=args.customers))
    print(
        f"{n} SYNTHETIC customers with two years of history written to {path} (as of {as_of}); train with:\n"
        f"  python -m supportbot.intelligence --database-url {target} train-churn --origin synthetic"
    )
    return EXIT_OK


def _backfill(args: argparse.Namespace, url: str) -> int:
    now = _as_of(args).isoformat() if args.as_of else None
    for day, outcome in jobs.backfill(url, args.months, str(args.model_dir), now).items():
        print(f"as of {day}: {outcome}")
    return EXIT_OK


def _demo_prepare(args: argparse.Namespace, url: str) -> int:
    for line in prepare_demo(
        database_url=url, model_dir=args.model_dir, synthetic_path=Path(args.synthetic_store), now=_as_of(args)
    ):
        print(line)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m supportbot.intelligence", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="override SUPPORTBOT_DATABASE_URL for this run")
    parser.add_argument("--model-dir", type=Path, default=None, help="churn model versions (default var/models/churn)")
    parser.add_argument("--as-of", help="compute as of this day (YYYY-MM-DD, midnight UTC) instead of now")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train-churn", help="train a new churn model version")
    train.add_argument("--horizon-days", type=int, default=90, help="churn window after each cut-off (90)")
    train.add_argument("--cutoffs", type=int, default=12, help="monthly cut-offs to learn from (12)")
    train.add_argument("--origin", choices=("store", "synthetic"), default="store", help="recorded in the metadata")
    train.add_argument("--jobs", type=int, default=1, help="parallel fits during model selection")
    train.set_defaults(handler=_train)
    for name, handler, text in (
        ("score-churn", _score, "score every subscriber with the newest model"),
        ("segments", _segments, "recompute segments and print their figures"),
        ("clv", _clv, "store every customer's lifetime value"),
        ("next-actions", _actions, "decide and log every customer's next best action"),
        ("snapshot-usage", _snapshot, "snapshot today's feature usage"),
        ("refresh", _refresh, "the daily job: snapshot, scores, segments, CLV, next best actions"),
    ):
        commands.add_parser(name, help=text).set_defaults(handler=handler)
    show = commands.add_parser("show", help="one customer's segment, risk, value and next action")
    show.add_argument("customer")
    show.set_defaults(handler=_show)
    synthetic = commands.add_parser("synthetic-history", help="write a synthetic training store to a new file")
    synthetic.add_argument("path")
    synthetic.add_argument("--customers", type=int, default=1500)
    synthetic.set_defaults(handler=_synthetic)
    backfill = commands.add_parser("backfill", help="scores, lifetime value and segments as of past month ends")
    backfill.add_argument("--months", type=int, default=12, help="month ends to compute (12)")
    backfill.set_defaults(handler=_backfill)
    demo = commands.add_parser("demo-prepare", help="intelligence for the demo store on its first run")
    demo.add_argument(
        "--synthetic-store",
        default=str(PROJECT_ROOT / "var" / "intel-synthetic.db"),
        help="where the synthetic training history is kept (made if missing)",
    )
    demo.set_defaults(handler=_demo_prepare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.model_dir = args.model_dir or default_model_dir()
    url = args.database_url or get_settings().database_url
    if make_url(url).get_backend_name() == "sqlite" and args.command != "synthetic-history":
        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).is_file():
            print(f"error: no database at {database}; run `make run` or the importer first", file=sys.stderr)
            return EXIT_FAILED
    try:
        return int(args.handler(args, url))
    except (SupportBotError, SQLAlchemyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
