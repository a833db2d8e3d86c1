"""Shortcuts of the text build's main process give what the long way gives."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen import fields, package
from ankigen.ankilimits import without_controls
from ankigen.media import neutralise_sounds

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "0")) or 300

# Text with the characters Anki refuses, the ones it keeps and Unicode beyond.
TEXT = st.text(
    st.one_of(
        st.sampled_from("\x00\x01\x08\t\n\x0b\x0c\r\x0e\x1f\x7f\x80\xa0\ud800\udfff a<"),
        st.characters(),
    ),
    max_size=12,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(TEXT)
def test_a_field_without_refused_characters_is_kept_as_it_is(text: str) -> None:
    kept = without_controls(text) if package._REFUSED_CHARS.search(text) else text
    assert kept == without_controls(text)
    assert bool(package._REFUSED_CHARS.search(text)) == (without_controls(text) != text)


NAME = st.lists(
    st.sampled_from(["a", "[", "sound", ":", "[sound:", "&", "<", " ", ".md", "é"]), max_size=6
).map("".join)


@settings(max_examples=EXAMPLES, deadline=None)
@given(NAME, NAME, st.integers(1, 10**6))
def test_the_source_field_per_note_head_is_the_source_field(
    vault: str, rel: str, line: int
) -> None:
    whole = neutralise_sounds(fields.source_html(vault, rel, line))
    assert neutralise_sounds(fields._source_head(vault, rel)) + f"{line}</a>" == whole
