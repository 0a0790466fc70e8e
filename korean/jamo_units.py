"""Syllables <-> jamo, as Park et al. (ACL 2018) feed Korean words to FastText.

Every Hangul syllable becomes exactly three units (초성, 중성, 종성); a syllable with no final
consonant gets ``empty_final`` as its third unit, so n-grams line up syllable by syllable
(``강아지`` -> ``ㄱㅏㅇㅇㅏeㅈㅣe``). Characters that are not Hangul syllables pass through.
The decomposition itself is done by the ``jamo`` package.
"""

from __future__ import annotations

import jamo as _jamo

EMPTY_FINAL = "e"
_FIRST, _LAST = 0xAC00, 0xD7A3  # 가 .. 힣: the 11,172 modern syllables


def is_syllable(ch: str) -> bool:
    return _FIRST <= ord(ch) <= _LAST


def decompose(text: str, empty_final: str | None = EMPTY_FINAL) -> str:
    """Hangul syllables -> compatibility jamo; with ``empty_final`` every syllable is 3 units."""
    out: list[str] = []
    for ch in text:
        if not is_syllable(ch):
            out.append(ch)
            continue
        units = _jamo.j2hcj(_jamo.h2j(ch))
        out.append(units)
        if empty_final and len(units) == 2:
            out.append(empty_final)
    return "".join(out)


def _position_maps() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Compatibility jamo -> conjoining jamo for each of the three positions."""
    leads, vowels, tails = {}, {}, {}
    for code in range(_FIRST, _LAST + 1):
        conj = _jamo.h2j(chr(code))
        for c, table in zip(conj, (leads, vowels, tails), strict=False):
            table.setdefault(_jamo.j2hcj(c), c)
    return leads, vowels, tails


_LEADS, _VOWELS, _TAILS = _position_maps()


def compose(units: str, empty_final: str | None = EMPTY_FINAL) -> str:
    """Inverse of ``decompose``: rebuild syllables from (initial, medial, final-or-marker) runs.

    With the marker, syllable boundaries are unambiguous; without it a final consonant is
    taken only when the next unit is not a vowel (the usual greedy rule).
    """
    out: list[str] = []
    i, n = 0, len(units)
    while i < n:
        lead = _LEADS.get(units[i])
        vowel = _VOWELS.get(units[i + 1]) if lead and i + 1 < n else None
        if not vowel:
            out.append(units[i])
            i += 1
            continue
        nxt = units[i + 2] if i + 2 < n else None
        if empty_final:
            if nxt == empty_final:
                out.append(_jamo.j2h(lead, vowel))
                i += 3
            elif nxt in _TAILS:
                out.append(_jamo.j2h(lead, vowel, _TAILS[nxt]))
                i += 3
            else:  # a lead + vowel with no third unit was not made by decompose(); keep as is
                out.append(units[i])
                i += 1
            continue
        after = units[i + 3] if i + 3 < n else None
        if nxt in _TAILS and after not in _VOWELS:
            out.append(_jamo.j2h(lead, vowel, _TAILS[nxt]))
            i += 3
        else:
            out.append(_jamo.j2h(lead, vowel))
            i += 2
    return "".join(out)
