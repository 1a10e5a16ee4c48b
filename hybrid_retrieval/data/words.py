"""Word spans for code-switching and lexicon induction, for scripts with and without spaces.

Words are runs of letters, marks and digits (marks included, so Devanagari or
Arabic words are not cut at vowel signs).  Scripts written without spaces are
handled as documented in docs/recipes.md:

- Han, Hiragana, Katakana (zh, ja): every character is a word.  Chinese
  characters are morphemes, so single-character entries make a usable lexicon;
  no word segmenter is needed offline.
- Thai: no segmenter is available offline, so a Thai run is one "word"; it is
  practically never in a lexicon, so Thai text is left as it is (Thai words can
  still be inserted as translations from a MUSE lexicon).

Lexicon look-ups use the casefolded word.
"""

from __future__ import annotations

import regex

_CHAR_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}"
WORD = regex.compile(
    rf"[{_CHAR_SCRIPTS}]"  # one character per word
    r"|\p{Thai}+"  # unsegmented Thai run
    rf"|(?:(?![{_CHAR_SCRIPTS}\p{{Thai}}])[\p{{L}}\p{{M}}\p{{N}}])+"  # any other word
)
NO_SPACE_LANGUAGES = ("zh", "ja", "th")


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every word of ``text``."""
    return [m.span() for m in WORD.finditer(text)]


def words(text: str) -> list[str]:
    """The casefolded words of ``text`` (what lexicons are keyed by)."""
    return [text[a:b].casefold() for a, b in word_spans(text)]
