"""Every table of the profile store in one metadata, for Alembic and schema tests.

Tables live in modules by area (``models`` for customers and accounts; later
modules for outreach and feedback), all on the same ``Base``. Import this module,
not the parts, wherever the whole schema is needed.
"""

from __future__ import annotations

import supportbot.helpcentre.models  # help-centre answers, for content gaps
import supportbot.store.console_models
import supportbot.store.demo_models  # (the demo data mark)
import supportbot.store.dialogue_models
import supportbot.store.feedback_models  # (feedback and themes tables)
import supportbot.store.growth_models  # (referral codes and referrals)
import supportbot.store.perk_models  # noqa: F401  (perks granted, loyalty ledger, subscription discounts)
from supportbot.store import intelligence_models, models, outreach_models  # noqa: F401  (importing registers the tables)
from supportbot.store.models import Base

__all__ = ["Base", "models"]
