"""REST channel with verified identity (rasa environment).

Same request and response format as Rasa's built-in ``rest`` channel
(``POST /webhooks/rest/webhook`` with ``{"sender", "message", "metadata"}``),
which it replaces. The differences are the point:

- ``metadata.customer_token`` is verified here; the conversation id becomes
  ``cust:<customer id>:<sender>`` only when it is valid, else ``anon:<sender>``.
  A client can therefore never address a verified conversation by choosing a
  sender id, and an anonymous visitor's conversation never carries profile data.
- The token is removed from the metadata before it reaches the tracker store:
  it is a credential, and transcripts are read by people.
- The client cannot choose the ``input_channel`` (linked messaging identities are
  looked up per channel, so a claimed channel name must not be trusted).
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput
from rasa.shared.exceptions import RasaException
from sanic.request import Request

from bot.identity import Identity, conversation_id_for, verify_token

SECRET_ENV = "CUSTOMER_TOKEN_SECRET"


def secret_from_environment() -> str:
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise RasaException(
            f"{SECRET_ENV} is not set. `make run` creates one in var/secrets.env; "
            f"export it before `rasa run` (see README, 'Customer tokens')."
        )
    return secret


class VerifiedRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "VerifiedRestInput":
        return cls(secret=secret_from_environment())

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def _client_metadata(self, request: Request) -> Dict[Text, Any]:
        body = request.json or {}
        metadata = body.get("metadata")
        return dict(metadata) if isinstance(metadata, dict) else {}

    def _identity(self, request: Request) -> Identity:
        cached = getattr(request.ctx, "customer_identity", None)
        if cached is None:
            token = self._client_metadata(request).get("customer_token")
            cached = verify_token(token, self._secret)
            request.ctx.customer_identity = cached
        return cached

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        return conversation_id_for(self._identity(req), (req.json or {}).get("sender"))

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        identity = self._identity(request)
        metadata = self._client_metadata(request)
        metadata.pop("customer_token", None)
        metadata["verified"] = identity.customer_id is not None
        if identity.problem:
            metadata["token_problem"] = identity.problem
        return metadata
