"""Offline feedback on a spoken homework answer: rules over the word diff the caller computed."""

from __future__ import annotations

from tutorhub.ai.backends.offline import offline_task


def _quote(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(f"“{w}”" for w in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@offline_task("speaking_feedback")
def speaking_feedback(messages, context, opts) -> str:
    score = float(context.get("similarity") or 0.0)
    missing = list(context.get("missing") or [])
    extra = list(context.get("extra") or [])
    substituted = [tuple(p) for p in context.get("substituted") or []]
    expected_words = int(context.get("expected_words") or 0)
    if not context.get("transcript"):
        return "No speech was recognised in the recording. Record again in a quiet place and speak clearly."
    if score >= 0.95:
        head = "Excellent! Your answer matches the expected text almost word for word."
    elif score >= 0.75:
        head = "Good work: most of the answer is right, with a few differences."
    elif score >= 0.5:
        head = "A fair attempt, but a good part of the answer differs from the expected text."
    else:
        head = "The answer is quite far from the expected text; listen to the model answer and try again."
    lines = [f"{head} (word match {score:.0%} of {expected_words} expected words)."]
    if substituted:
        pairs = ", ".join(f"“{said}” instead of “{exp}”" for exp, said in substituted[:6])
        lines.append(f"Check your pronunciation of these words: you said {pairs}.")
    if missing:
        lines.append(f"Missing words: {_quote(missing)}.")
    if extra:
        lines.append(f"Words that are not in the expected answer: {_quote(extra)}.")
    if score < 0.95:
        lines.append("Tip: read the text aloud slowly a few times, then record it in one go.")
    return "\n".join(lines)
