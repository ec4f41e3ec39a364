"""Four small, clearly distinct groups of feedback that a theme rebuild must keep whole.

A small shop's first weeks of feedback come in groups this size (4-6 texts). Two uses:
``tests/feedback/test_real_models.py`` rebuilds themes from them with the real models and the
production settings, and ``bench.theme_threshold`` only chooses among settings that keep them
as four whole, pure themes. Written by hand for the project; not from any benchmark data set.
"""

from __future__ import annotations

LOGIN = [
    "I can't log in to my account",
    "Login fails with my correct password",
    "Can't sign in since the last update",
    "My password is rejected when I try to log in",
    "The login page says my credentials are wrong but they are right",
    "I am unable to sign in to the app",
]
# Near LOGIN in wording, a different problem: the theme granularity chosen on BANKING77 (whose 77
# intents are this fine) keeps the two apart, and each whole.
LOGOUT = [
    "The app keeps logging me out every few minutes",
    "I get signed out all the time and have to log in again",
    "It logs me out whenever I switch to another app",
    "My session expires constantly and I am kicked out",
]
BILLING = [
    "I was charged twice for my subscription this month",
    "You billed my card two times for the same plan",
    "Double charge on my credit card, please refund one",
    "There are two identical payments for my renewal",
    "My monthly fee was taken twice",
    "Duplicate charge on my bank statement for the subscription",
]
SYNC = [
    "I love the sync feature, my notes are everywhere instantly",
    "Syncing between my phone and laptop works beautifully",
    "The sync is brilliant, everything stays up to date on all devices",
    "Great sync across devices, best feature of the app",
    "Sync between desktop and mobile is fast and reliable",
    "Really love how my notes sync across all my devices",
]

GROUPS = {"login": LOGIN, "logout": LOGOUT, "billing": BILLING, "sync": SYNC}
