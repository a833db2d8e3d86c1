"""What rendered Markdown shows: the renderer's answer, handed to the readers by the render stage
(a reader imports no renderer)."""

from __future__ import annotations

from .htmltext import html_to_text


def shows_nothing(markdown: str) -> bool:
    """Whether the Markdown renders to nothing visible: no picture, no text outside tags
    ("---" shows nothing, "✓" itself)."""
    from .render import render_markdown

    html = render_markdown(markdown)
    return "<img" not in html and not html_to_text(html, entities=False)
