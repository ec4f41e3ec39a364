"""Every table of the profile store in one metadata, for Alembic and schema tests.

Tables live in modules by area (``models`` for customers and accounts; later
modules for outreach and feedback), all on the same ``Base``. Import this module,
not the parts, wherever the whole schema is needed.
"""

from __future__ import annotations

import supportbot.helpcentre.models  # help-centre answers, for content gaps
import supportbot.store.console_models
import supportbot.store.feedback_models  # noqa: F401  (feedback and themes tables)
from supportbot.store import models, outreach_models  # noqa: F401  (importing registers the tables)
from supportbot.store.models import Base

__all__ = ["Base", "models"]
