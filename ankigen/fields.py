"""The note's fields beside the rendered Markdown: Context, See, Source."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from .model import SeeLink
from .obsidian import is_link_url

FIELD_NAMES = ("Question", "Answer", "Context", "See", "References", "Source")


def context_html(title: str, headings: tuple[str, ...]) -> str:
    """ "AMI › AMI Image Builder › Use Cases": where the card stands in its note."""
    return escape(" › ".join((title, *headings)), quote=False)


def see_html(links: tuple[SeeLink, ...]) -> str:
    """The card's See: links; anything that is not a web link is shown as text."""
    items = []
    for link in links:
        title = escape(link.title, quote=False)
        if is_link_url(link.url):
            items.append(f'<a href="{escape(link.url)}">{title}</a>')
        else:
            items.append(f'<span class="wikilink">{title}</span>')
    return " · ".join(items)


def source_html(vault_name: str, rel: str, line: int) -> str:
    """Where the card was written, with a link that opens the note in Obsidian."""
    file = rel[:-3] if rel.lower().endswith(".md") else rel
    url = f"obsidian://open?vault={quote(vault_name, safe='')}&file={quote(file, safe='')}"
    return f'<a href="{escape(url)}">{escape(rel, quote=False)}:{line}</a>'
