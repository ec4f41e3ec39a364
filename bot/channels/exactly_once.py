"""A message with a client's id is handled once, however often it is sent (rasa environment).

A client whose request failed (a replica killed under it: nginx answers 502; a timeout) cannot
know whether the message was handled. It sends it again with the same ``message_id``; this
module makes that safe. Under the conversation's lock (the one ``Agent.handle_message`` takes,
so a first attempt still being handled by another replica is finished, or not yet begun, when
we look) it reads the conversation from the tracker store:

- no user event carries the id: the message is handled now, as ``Agent.handle_message`` would
  (Rasa stores the id on the ``user`` event as ``message_id``);
- one does: the message is not handled again; the client gets the bot messages recorded for that
  turn (after the user event, up to the ``action_listen`` that ended the turn or the next user
  event), sent through the message's output channel as Rasa sends a fresh answer
  (``OutputChannel.send_response`` of each ``BotUttered.message()``, as
  ``MessageProcessor._send_bot_messages`` does): the same texts, buttons, images and custom
  payloads, in the same shape.

The lock is taken here and the processor called directly, not ``Agent.handle_message``: that
takes the lock again, and a ticket lock is not re-entrant (Rasa's ``LockStore.lock`` and ours,
``bot.lock_store``, both queue a new ticket behind the one held: it would wait for itself until
the lock's lifetime ran out). Apart from the lock, ``Agent.handle_message`` only checks that a
model is loaded, which is done here too.

The id is looked up in the conversation as the tracker store returns it (its latest session):
a resend comes within seconds or minutes, and a session only ends when a later message starts
a new one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, List, Optional, Tuple

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered

if TYPE_CHECKING:
    from rasa.core.agent import Agent

logger = logging.getLogger(__name__)


class MessageIdReused(ValueError):
    """The id was already used for a different text in this conversation (a client's bug)."""


class NotReady(RuntimeError):
    """The server has no model loaded (yet): nothing can be handled."""


def recorded_turn(events: List[Event], message_id: str) -> Optional[Tuple[UserUttered, List[BotUttered]]]:
    """(the user event carrying ``message_id``, the bot messages of its turn), or None if no user
    event carries it. The latest such event counts (there is only one, unless the id came from
    before this channel checked ids)."""
    user: Optional[UserUttered] = None
    for start in range(len(events) - 1, -1, -1):
        event = events[start]
        if isinstance(event, UserUttered) and event.message_id == message_id:
            user = event
            break
    if user is None:
        return None
    said: List[BotUttered] = []
    for event in events[start + 1 :]:
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME:
            break
        if isinstance(event, BotUttered):
            said.append(event)
    return user, said


async def handle_once(agent: "Agent", message: UserMessage, replay: Optional[OutputChannel] = None) -> bool:
    """Handle ``message`` (its ``message_id`` is the client's) unless its conversation already
    holds it; then send the recorded answer to ``replay`` (default: the message's output channel)
    instead. True if it was handled now, False if answered from the tracker. ``agent``: Rasa's
    ``Agent`` (``app.ctx.agent``). The widget's channel replays to the resending socket only,
    not to the conversation's room (``bot.channels.socketio``).
    Raises ``MessageIdReused`` for an id recorded with another text, ``NotReady`` without a model,
    and whatever handling raises (``LockError`` when the lock cannot be had)."""
    if not agent.is_ready() or agent.processor is None:
        raise NotReady("no model is loaded")
    conversation_id = message.sender_id
    async with agent.lock_store.lock(conversation_id):
        tracker = await agent.processor.tracker_store.retrieve(conversation_id)
        recorded = recorded_turn(list(tracker.events), message.message_id) if tracker is not None else None
        if recorded is None:
            await agent.processor.handle_message(message)
            return True
    user, said = recorded
    if user.text != message.text:
        raise MessageIdReused(
            f"`message_id` {message.message_id!r} was already used for another message in this conversation"
        )
    logger.info(
        "message %s of %s was already handled; answering it from the tracker", message.message_id, conversation_id
    )
    output = replay or message.output_channel
    for event in said:
        await output.send_response(conversation_id, event.message())
    return False
