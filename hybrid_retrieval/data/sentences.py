"""Sentences with their character spans, split by a segmenter that knows the scripts we evaluate.

sentencex (Wikimedia's rule-based segmenter, ~300 languages with fallbacks)
ends sentences at the Bengali danda and at Arabic, Korean and Telugu
punctuation; the spans are what tie an answer offset to its sentence.  Used
by TyDi GoldP evaluation (sentence candidates) and training (answer sentence
as positive), so both cut text the same way.
"""

from __future__ import annotations


def split_sentences(text: str, lang: str) -> list[tuple[int, int, str]]:
    """``(start, end, stripped text)`` of each non-empty sentence; [start, end) covers the stripped text."""
    from sentencex import segment

    out, pos = [], 0
    for piece in segment(lang, text):
        at = text.find(piece, pos)
        if at < 0:  # sentencex returns exact substrings in order; guard anyway
            at = pos
        pos = at + len(piece)
        lead = len(piece) - len(piece.lstrip())
        body = piece.strip()
        if body:
            out.append((at + lead, at + lead + len(body), body))
    return out
