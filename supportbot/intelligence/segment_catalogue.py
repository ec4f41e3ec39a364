"""The segments' names and descriptions (the rules are in ``segments``), in a module of their own.

Kept apart so that what only needs the catalogue (the outreach configuration validates an
``audience`` against these codes; the console shows their names) does not import the rules'
dependencies: the churn model brings numpy and scikit-learn, and every planner worker process
paid two seconds of CPU importing them for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

NEW_DAYS = 60
LOYAL_DAYS = 730
AT_RISK = 0.5
TOP_SPEND_SHARE = 0.1


@dataclass(frozen=True)
class Segment:
    code: str
    name: str
    description: str


SEGMENTS = (
    Segment("former", "Former customers", "No subscription running: cancelled or never converted."),
    Segment("newcomer", "Newcomers", f"Joined in the last {NEW_DAYS} days: onboarding help matters most."),
    Segment(
        "unhappy",
        "Unhappy or struggling",
        "Rated us 1–2 (CSAT) or 0–6 (NPS) in the last 180 days, or needed a person or reported a problem "
        "twice or more in 90 days.",
    ),
    Segment("at_risk", "At risk of leaving", f"The churn model gives them {AT_RISK:.0%} or more."),
    Segment("dormant", "Paying but not using", "Subscribed, but no feature used in the last 30 days."),
    Segment(
        "champion",
        "Champions",
        "Recommend us (NPS 9–10 in the last year), or buy often (3+ orders a year) and use the product a lot.",
    ),
    Segment("big_spender", "Big spenders", "Order spend in the last year among the top 10 % of customers."),
    Segment("loyal_regular", "Loyal regulars", "Customers for two years or more who still use the product."),
    Segment("steady", "Steady users", "Subscribed and using the product; nothing stands out."),
)
SEGMENTS_BY_CODE = {s.code: s for s in SEGMENTS}
