"""From retrieved passages to what the assistant says: a short answer with its link, or "not sure".

Pure functions over ``retrieval.Hit`` lists, so the wording, the threshold and the
mixed-question rule are tested without a model. The assistant never writes an answer of
its own: every sentence of an answer is a passage of the article it links to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from supportbot.helpcentre.lexical import terms
from supportbot.helpcentre.retrieval import Hit

MAX_ANSWER_CHARS = 420
HANDOFF_PAYLOAD = "/human_handoff"

_ACCOUNT_CUE = re.compile(
    r"\b(?:my|our)\s+(?:last|latest|recent|current|next|own|new|yearly|monthly|\w+ed)?\s*"
    r"(?:order|orders|plan|subscription|account|points|renewal|invoice|payment|card|parcel|package|"
    r"delivery|pen|tier|rewards?|refund|balance)\b"
    r"|\bcan (?:i|we) (?:get|have) (?:one|a refund|mine|it)\b"
    r"|\b(?:for|to) me\b",
    re.IGNORECASE,
)
"""Words that point at the customer's own account ("my last order", "can I get one")."""


def mentions_own_account(question: str) -> bool:
    return _ACCOUNT_CUE.search(question) is not None


_HOW_TO_CUE = re.compile(
    r"\bhow\s+(?:do|does|did|can|could|should|would|will|is|are|to|long|often|soon|far|come)\b"
    r"|\bhow\s+much\s+(?:does|do)\s+(?!my\b|our\b)"
    r"|\bwhat\s+(?:happens|if|kinds?|sorts?|types?|options?|ways?|do|does|can|should|will|would)\b"
    r"|\bwhat(?:'s|\s+is|\s+are)\s+(?:the|your|a|an)\b"
    r"|\b(?:can|could|may|should|must)\s+(?:i|we)\b"
    r"|\b(?:do|did|will|would)\s+(?:i|we)\s+(?:need|get|earn|pay|qualify|lose|keep|have\s+to)\b"
    r"|\b(?:is|are)\s+there\b|\bis\s+it\s+(?:possible|safe|free|ok|okay|allowed)\b"
    r"|\b(?:do|does|will|would)\s+(?:you|lumen|it|they|the|your)\b"
    r"|\b(?:where|when)\s+(?:can|do|does|should|will|would)\s+(?:i|we|you)\b"
    r"|\bwhy\s+(?:does|do|is|are|can't|cannot|won't|isn't|doesn't|don't|did|would)\b"
    r"|\b(?:policy|policies|instructions|steps|guide|tutorial|allowed)\b"
    r"|\b(?:tell|show)\s+me\s+(?:how|about|what|where|why)\b"
    r"|\b(?:any|a|the)\s+way\s+to\b|\bam\s+i\s+able\b|\bwant\s+to\s+know\b|\bwondering\b|\bexplain\b",
    re.IGNORECASE,
)
"""Question forms that ask how something works or what the rules are ("how do I ...", "can I
...", "is there ...", "do you ...", "what happens if ..."), whatever the topic."""
_REQUEST = re.compile(
    r"(?:(?:actually|ok|okay|oh|but|and|wait|hmm|no)[,.!]?\s+)*"
    r"(?:(?:can|could)\s+(?:you|u)|please|pls|plz|go ahead|keep|stop|send|cancel|renew|switch|change|turn|give|"
    r"update|set|remove|delete|add|make|unsubscribe|resume|pause)\b",
    re.IGNORECASE,
)
"""A request to the assistant ("can you renew it now", "actually keep the renewal reminders"): no
bare topic."""
_PERSONAL = re.compile(r"\b(?:i|i'm|im|i'd|i've|i'll|me|my|mine|we|we're|our|ours|us)\b", re.IGNORECASE)


def speaks_of_self(text: str) -> bool:
    """Whether the message names the customer ("I", "my", "we", "our"...)."""
    return _PERSONAL.search(text.replace("\u2019", "'")) is not None


def asks_how_or_policy(text: str) -> bool:
    """Whether a message asks how something works or what the policy is, rather than asking for
    the customer's own data ("when does my plan renew") or for a change ("cancel my plan").

    True for a how-to or policy question form, and for a bare topic of two words or more
    that names no one ("loyalty tiers", "refund policy for the pen"); False for "cancel my subscription",
    "what's my plan", "how many points do I have". A flow that a question lands in (the
    cancellation offer, the plan options) quotes the help centre only when this is True
    (``actions.help_quotes``); a problem description is always worth a troubleshooting article.
    """
    words = text.replace("\u2019", "'").strip()
    if not words or words.startswith("/"):
        return False
    if _HOW_TO_CUE.search(words):
        return True
    return _PERSONAL.search(words) is None and _REQUEST.match(words) is None and len(words.split()) >= 2


_CLAUSE_BREAK = re.compile(
    r"[?;]\s+|,?\s+(?:and|but|also|plus)\s+(?=(?:what|how|when|where|why|which|who|can|could|do|does|is|are|will|would)\b)",
    re.IGNORECASE,
)


def how_to_part(text: str) -> str | None:
    """The part of a message that asks how or what the policy is, or None.

    "How many points do I have and what can I get with them?" asks for the customer's own data
    first and a how-to second: a help-centre quote beside the points balance should look up the
    second question only, not the whole message (whose best passage was about *earning* points).
    A message of one clause is returned whole when it asks how (``asks_how_or_policy``).
    """
    parts = [p.strip() for p in _CLAUSE_BREAK.split(text) if p and p.strip()]
    if len(parts) <= 1:
        return text if asks_how_or_policy(text) else None
    for part in parts:
        if _HOW_TO_CUE.search(part):
            return part
    return None


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class HelpReply:
    kind: Literal["answer", "not_sure"]
    text: str
    buttons: tuple[Button, ...] = ()
    article_slug: str | None = None
    """The article answered from (``answer``), or the closest one (``not_sure``)."""
    offered: tuple[str, ...] = field(default_factory=tuple)
    """Slugs of the articles offered."""
    cosine: float = 0.0
    account_step: str | None = None
    """The account intent offered for a mixed question."""
    article_url: str | None = None
    """The link of the article answered from (``answer`` only)."""


def excerpt(text: str, *, limit: int = MAX_ANSWER_CHARS, query_terms: set[str] | None = None) -> str:
    """The passage, or as much of it as fits in ``limit`` characters.

    A passage too long to quote whole keeps its opening line and then the lines that share
    most words with the question, in their own order ("the UK" row of a delivery table).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if sum(len(line) + 1 for line in lines) <= limit:
        return "\n".join(lines)
    if len(lines) > 1 and query_terms:
        overlap = [len(query_terms & set(terms(line))) for line in lines]
        ranked = sorted(range(1, len(lines)), key=lambda i: (-overlap[i], i))
        keep = {0}
        used = len(lines[0]) + 1
        for i in ranked:
            if used + len(lines[i]) + 1 <= limit:
                keep.add(i)
                used += len(lines[i]) + 1
        if len(keep) > 1 and not _breaks_a_step_list(lines, keep):
            return "\n".join(lines[i] for i in sorted(keep))
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) <= limit:
            out.append(line)
            used += len(line) + 1
            continue
        if not out:
            kept = ""
            for sentence in re.split(r"(?<=[.!?])\s+", line):
                if len(kept) + len(sentence) + 1 > limit:
                    break
                kept = f"{kept} {sentence}".strip()
            out.append(kept or line[:limit].rsplit(" ", 1)[0] + "\u2026")
        break
    return "\n".join(out)


_STEP = re.compile(r"^\s*(\d+)[.)]\s")


def _breaks_a_step_list(lines: Sequence[str], keep: set[int]) -> bool:
    """Whether the kept lines include a numbered step without the step before it ("4. Choose
    Plus" without steps 1-3): steps are quoted from the start of their list, or not picked out."""
    for i in keep:
        step = _STEP.match(lines[i])
        if step and int(step.group(1)) > 1 and (i - 1 not in keep or not _STEP.match(lines[i - 1])):
            return True
    return False


def lead_of(hits: Sequence[Hit]) -> float:
    """How far the best article's fused score is ahead of the runner-up's."""
    return hits[0].score - hits[1].score if len(hits) > 1 else float("inf")


def is_confident(hits: Sequence[Hit], *, threshold: float, lead: float = 0.0) -> bool:
    """Sure when the best passage's cosine reaches ``threshold``, or (``lead`` > 0) when the best
    article is that far ahead of every other one: "how do I turn on two factor" matches the
    two-factor article only moderately (cosine 0.47) but nothing else comes close."""
    if not hits:
        return False
    return hits[0].cosine >= threshold or bool(lead and lead_of(hits) >= lead)


def compose_reply(
    question: str,
    hits: Sequence[Hit],
    *,
    url_for: Callable[[str], str],
    threshold: float,
    lead: float = 0.0,
    verified: bool,
    account_step: bool = True,
) -> HelpReply:
    """An answer from the best article when retrieval is confident, else "not sure" with the two closest."""
    if not is_confident(hits, threshold=threshold, lead=lead):
        return not_sure_reply(hits, url_for=url_for)
    best = hits[0]
    article = best.article
    quoted = excerpt(best.excerpt.text, query_terms=set(terms(question)))
    if best.excerpt.heading:
        quoted = f"{best.excerpt.heading}:{chr(10) if chr(10) in quoted else ' '}{quoted}"
    parts = [quoted, f"More in \u201c{article.title}\u201d: {url_for(article.slug)}"]
    buttons: list[Button] = []
    step = None
    if account_step and article.account_intent and article.account_label and mentions_own_account(question):
        step = article.account_intent
        if verified:
            parts.append("For your own account, I can check that for you:")
        else:
            parts.append("For your own account, sign in on the website first; then I can check it:")
        buttons.append(Button(title=article.account_label, payload=f"/{article.account_intent}"))
    return HelpReply(
        kind="answer",
        text="\n\n".join(parts),
        buttons=tuple(buttons),
        article_slug=article.slug,
        offered=(article.slug,),
        cosine=best.cosine,
        account_step=step,
        article_url=url_for(article.slug),
    )


def not_sure_reply(hits: Sequence[Hit], *, url_for: Callable[[str], str]) -> HelpReply:
    closest = list(hits[:2])
    if closest:
        lines = "\n".join(f"- {h.article.title}: {url_for(h.article.slug)}" for h in closest)
        text = (
            "I'm not sure the help centre answers that, and I'd rather not guess. "
            f"These articles are the closest:\n{lines}\nOr shall I pass you to a person?"
        )
    else:
        text = "I'm not sure the help centre answers that, and I'd rather not guess. Shall I pass you to a person?"
    return HelpReply(
        kind="not_sure",
        text=text,
        buttons=(Button(title="Talk to a person", payload=HANDOFF_PAYLOAD),),
        article_slug=closest[0].article.slug if closest else None,
        offered=tuple(h.article.slug for h in closest),
        cosine=closest[0].cosine if closest else 0.0,
    )
