"""What Obsidian draws inside a card's text, put into its Markdown before it is rendered.

- ``![[Note]]``, ``![[Note#Heading]]``, ``![[Note#^block]]``, ``![[Note#Heading|alias]]``: the
  note, its section or its block, in place, as an ``embed`` callout naming its source
  (resolved like pictures: next to the note, from the vault root, then by name anywhere,
  shortest path first, case-folded last). Nested embeds are expanded down to MAX_DEPTH; a
  note already being expanded (a cycle) is a warning.
- ``![[Drawing.excalidraw]]``: the Excalidraw plugin's exported SVG or PNG beside the drawing,
  else the scene drawn by excalidraw.py.
- ```` ```mermaid ```` blocks: drawn by mermaid.py into an SVG picture.

Generated pictures go in as ``<img src="data:…">``: the media stage puts them in the package
under a name made from their content, so two diagrams on one card never clash. The expanded
Markdown is what the render cache is keyed by, so a changed embedded note renders again; the
notes read here are returned so the build stamps them (state.py).
"""

from __future__ import annotations

import base64
import posixpath
import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from html import escape
from pathlib import Path
from urllib.parse import quote

from . import atomic, obsidian
from .records import Diagnostic, Vault

# Obsidian draws nested embeds several levels deep and stops on its own; the depth it stops at
# is not documented, so ours is stated: an embed inside an embed inside … at most MAX_DEPTH.
MAX_DEPTH = 4  # embeds inside the card's own: 4 levels of notes shown
MAX_EMBEDS = 100  # embeds expanded in one field, all depths together
MAX_EMBED_CHARS = 200_000  # text one field may take in from other notes
MAX_NOTE_BYTES = 5 * 1024 * 1024  # an embedded note larger than this is not read

_LIST_PREFIX = re.compile(r"[ \t>]*+(?:(?:[-*+]|\d{1,9}[.)])[ \t]++)?")
# Characters Obsidian drops from a heading when it makes a link to it.
_HEADING_NOISE = re.compile(r"[#|^:%\[\]\\]")
_BLOCK_ID_END = re.compile(r"(?:^|[ \t])\^([A-Za-z0-9-]++)[ \t]*+$")


_Listing = tuple[tuple[str, ...], tuple[str, ...], str]  # notes, other files, attachment folder
_LISTINGS: dict[tuple[Path, tuple[str, ...], int], _Listing] = {}


@dataclass(frozen=True)
class EmbedContext:
    """What the render stage needs to expand embeds: where the vault is, the picture cache.

    It travels to every worker with each folder, so it stays small: the vault's list of notes
    and files is the build's own (remembered in this process, inherited by forked workers) or,
    in a worker that has not got it, found again once when an embed first needs it."""

    root: Path
    exclude: tuple[str, ...] = ()
    cache_dir: Path | None = None  # generated pictures are remembered here (None: not at all)
    mermaid: bool = True  # draw ```mermaid blocks
    build: int = 0  # which build: a listing is never used by another build
    listing: _Listing | None = None  # given outright (tests), else as above

    @classmethod
    def of(cls, vault: Vault, exclude: tuple[str, ...], cache_dir: Path | None) -> EmbedContext:
        """The context of this build, its vault's listing remembered for its workers."""
        context = cls(vault.root, exclude, cache_dir, build=time.time_ns())
        notes = tuple(note.rel for folder in vault.folders for note in folder.notes)
        _LISTINGS.clear()
        _LISTINGS[context._key] = (notes, vault.attachments, vault.attachment_folder)
        return context

    @property
    def _key(self) -> tuple[Path, tuple[str, ...], int]:
        return (self.root, self.exclude, self.build)

    def _listing(self) -> _Listing:
        if self.listing is not None:
            return self.listing
        found = _LISTINGS.get(self._key)
        if found is None:  # a worker that was not forked from the build: find the files again
            from .discover import discover_vault

            vault, _ = discover_vault(self.root, self.exclude)
            notes = tuple(note.rel for folder in vault.folders for note in folder.notes)
            found = (notes, vault.attachments, vault.attachment_folder)
            _LISTINGS.clear()
            _LISTINGS[self._key] = found
        return found

    @cached_property
    def _note_vault(self) -> Vault:
        # media._locate finds a file among a vault's attachments: here the notes are the files.
        notes, _, folder = self._listing()
        return Vault(self.root, "", (), tuple(sorted(notes)), folder)

    @cached_property
    def _file_vault(self) -> Vault:
        _, files, folder = self._listing()
        return Vault(self.root, "", (), files, folder)

    def find_note(self, from_rel: str, target: str) -> str | None:
        """The note a link names, as Obsidian resolves it (None when there is none)."""
        from .media import _locate

        if not target.lower().endswith(".md"):
            found, _ = _locate(self._note_vault, from_rel, target + ".md")
            if found:
                return found
        found, _ = _locate(self._note_vault, from_rel, target)
        return found if found and found.lower().endswith(".md") else None

    def find_file(self, from_rel: str, target: str) -> str | None:
        from .media import _locate

        return _locate(self._file_vault, from_rel, target)[0]


@dataclass
class Expansion:
    """One field's Markdown with its embeds expanded, and what that read and found."""

    markdown: str
    diagnostics: set[Diagnostic] = field(default_factory=set)
    depends_on: set[str] = field(default_factory=set)  # vault files read (notes, drawings)
    missing: bool = False  # an embed's note was not found: it may be there next time


class _Budget:
    def __init__(self) -> None:
        self.embeds = 0
        self.chars = 0
        self.warned = False  # the budget ran out: said once a field


def expand(context: EmbedContext, note_rel: str, markdown: str, first_line: int) -> Expansion:
    """The field's Markdown with embeds, drawings and Mermaid diagrams in place."""
    result = Expansion(markdown)
    if "![[" not in markdown and "mermaid" not in markdown:
        return result  # most fields: nothing to do
    result.markdown = _expand(
        context, note_rel, markdown, first_line, (note_rel,), _Budget(), result
    )
    return result


def _expand(
    context: EmbedContext,
    note_rel: str,
    text: str,
    first_line: int,
    chain: tuple[str, ...],
    budget: _Budget,
    result: Expansion,
) -> str:
    lines = text.split("\n")
    out: list[str] = []
    fence = ""
    fence_start = -1
    for index, line in enumerate(lines):
        if fence:
            if obsidian.fence_closes(line, fence):
                fence = ""
                block = lines[fence_start : index + 1]
                if _is_mermaid(block[0]):
                    block = _mermaid(context, note_rel, first_line + fence_start, block, result)
                out.extend(block)
            continue
        opened = obsidian.fence_open(line)
        if opened:
            fence, fence_start = opened, index
            continue
        if "![[" not in line:
            out.append(line)
            continue
        out.extend(_expand_line(context, note_rel, line, first_line + index, chain, budget, result))
    if fence:  # an unclosed fence runs to the end of the field
        out.extend(lines[fence_start:])
    return "\n".join(out)


def _expand_line(
    context: EmbedContext,
    note_rel: str,
    line: str,
    line_number: int,
    chain: tuple[str, ...],
    budget: _Budget,
    result: Expansion,
) -> list[str]:
    masked = obsidian.mask_code_spans(line)
    prefix_match = _LIST_PREFIX.match(line)
    assert prefix_match is not None  # the pattern matches the empty string
    lead = prefix_match.group(0)
    inner = re.sub(r"[-*+0-9.)]", " ", lead) if lead.strip(" \t>") else lead
    out: list[str] = []
    current, base = "", lead  # the output line being made, and its container prefix
    pos = 0
    for start, end, link in obsidian.wikilinks(masked):
        if not link.embed:
            continue
        block = _embed(context, note_rel, link, line_number, chain, budget, result)
        if block is None:
            continue  # not a note (a picture, a sound …) or not found: the link stays
        current += line[pos:start]
        if current[len(base) :].strip():  # text before the embed: a paragraph of its own
            out.extend([current.rstrip(), inner.rstrip()])
            head = inner
        else:
            head = current or lead
        out.append(head + block[0])
        out.extend((inner + quoted) if quoted.strip() else inner.rstrip() for quoted in block[1:])
        out.append(inner.rstrip())
        current, base = inner, inner
        pos = end
    if not out:
        return [line]
    rest = line[pos:]
    if rest.strip():
        out.append(inner + rest.lstrip())
    return out


def _embed(
    context: EmbedContext,
    note_rel: str,
    link: obsidian.Wikilink,
    line: int,
    chain: tuple[str, ...],
    budget: _Budget,
    result: Expansion,
) -> list[str] | None:
    """The quoted lines an embed becomes, or None to keep it as written."""
    path = link.path
    if not path:  # ![[#Heading]]: a section of this very note
        path = note_rel
    lower = path.lower()
    from .mdplugins import is_image_path, is_sound_path

    if is_image_path(path) or is_sound_path(path):
        return None
    if lower.endswith(".excalidraw") or lower.endswith(".excalidraw.md"):
        return _drawing(context, note_rel, path, link, line, result)
    if "." in posixpath.basename(path) and not lower.endswith(".md"):
        # ![[doc.pdf]] or another file that is no note: Obsidian shows a viewer.
        return None
    found = _embedded_note(context, note_rel, path, link, line, chain, budget, result)
    if found is None:
        return None
    subpath = link.target[len(link.target.split("#", 1)[0]) :]
    part = _embedded_part(context, note_rel, found, subpath, link, line, budget, result)
    if part is None:
        return None
    first, body = part
    body = _rebase_pictures(body, found, note_rel)
    body = _expand(context, found, body, first + 1, (*chain, found), budget, result)
    alias = link.options[0].strip() if link.options else ""
    title = alias or obsidian.wikilink_label(link.target if link.path else found + subpath)
    lines = [f"> [!embed] {_title(title)}"]
    lines += ["> " + quoted if quoted.strip() else ">" for quoted in body.split("\n")]
    return lines


def _embedded_note(
    context: EmbedContext,
    note_rel: str,
    path: str,
    link: obsidian.Wikilink,
    line: int,
    chain: tuple[str, ...],
    budget: _Budget,
    result: Expansion,
) -> str | None:
    """The vault path of the note an embed shows; None (warned) when it is past the embed
    budget, not found, one of the notes embedding it, or nested too deep."""
    where = obsidian.wikilink_label(link.target)
    budget.embeds += 1  # found or not: a line of a thousand embeds costs one warning
    if budget.embeds > MAX_EMBEDS:
        if not budget.warned:
            budget.warned = True
            message = f"more than {MAX_EMBEDS} embeds in one card; {where!r} and the embeds "
            _warn(result, note_rel, line, message + "after it not expanded")
        return None
    found = context.find_note(note_rel, path) if link.path else note_rel
    if found is None:
        result.missing = True
        _warn(result, note_rel, line, f"embedded note {where!r} not found; shown as a link")
        return None
    if found in chain:
        _warn(result, note_rel, line, f"embed of {where!r} leads back to itself; not expanded")
        return None
    if len(chain) > MAX_DEPTH:
        message = f"embed of {where!r} nested more than {MAX_DEPTH} deep; not expanded"
        _warn(result, note_rel, line, message)
        return None
    return found


def _embedded_part(
    context: EmbedContext,
    note_rel: str,
    found: str,
    subpath: str,
    link: obsidian.Wikilink,
    line: int,
    budget: _Budget,
    result: Expansion,
) -> tuple[int, str] | None:
    """(line index, text) of the part of note `found` the embed shows (all of it, or the
    heading's section or block `subpath` names); None (warned) when the note cannot be read,
    the part is not there, or the embeds took in too much text."""
    result.depends_on.add(found)
    text = _read_note(context, found)
    if text is None:
        _warn(result, note_rel, line, f"embedded note {found} cannot be read; shown as a link")
        return None
    note_lines = text.split("\n")
    start = obsidian.frontmatter(note_lines).end
    part = _part(note_lines, start, subpath)
    if part is None:
        what = "block" if "^" in subpath else "heading"
        _warn(result, note_rel, line, f"{what} {subpath.lstrip('#')!r} not found in {found}")
        return None
    budget.chars += len(part[1])
    if budget.chars > MAX_EMBED_CHARS:
        if not budget.warned:
            budget.warned = True
            where = obsidian.wikilink_label(link.target)
            message = f"embeds take in more than {MAX_EMBED_CHARS:,} characters; {where!r} "
            _warn(result, note_rel, line, message + "and the embeds after it left out")
        return None
    return part


def _title(text: str) -> str:
    return " ".join(text.replace("[", "\\[").replace("]", "\\]").split())


def _warn(result: Expansion, rel: str, line: int, message: str) -> None:
    result.diagnostics.add(Diagnostic(rel, line, "warning", message))


def _read_note(context: EmbedContext, rel: str) -> str | None:
    try:
        data = atomic.read_regular(context.root / rel, MAX_NOTE_BYTES)
    except (OSError, ValueError):
        return None
    return obsidian.clean_text(data.decode("utf-8", errors="replace"))


def _part(lines: list[str], start: int, subpath: str) -> tuple[int, str] | None:
    """(0-based first line, text) of the whole note, a heading's section or a block."""
    subpath = subpath.strip()
    if not subpath or subpath == "#":
        return start, "\n".join(lines[start:]).strip("\n")
    headings = _headings(lines, start)
    if subpath.startswith("#^") or subpath.startswith("^"):
        return _block(lines, start, subpath.lstrip("#^").strip())
    wanted = [_heading_key(h) for h in subpath.split("#") if h.strip()]
    begin, end, level = start, len(lines), 0
    for key in wanted:
        found = next(
            (
                (i, lvl)
                for i, lvl, text in headings
                if begin <= i < end and _heading_key(text) == key
            ),
            None,
        )
        if found is None:
            return None
        begin, level = found
        end = next((i for i, lvl, _ in headings if i > begin and lvl <= level), len(lines))
    return begin, "\n".join(lines[begin:end]).strip("\n")


def _headings(lines: list[str], start: int) -> list[tuple[int, int, str]]:
    """(index, level, text) of every heading outside fenced code."""
    found = []
    for index, line in obsidian.outside_fences(lines, start):
        if "#" not in line:
            continue
        head = obsidian.heading(line)
        if head:
            found.append((index, head[0], head[1]))
    return found


def _heading_key(text: str) -> str:
    return " ".join(_HEADING_NOISE.sub(" ", text).split()).casefold()


def _block(lines: list[str], start: int, block_id: str) -> tuple[int, str] | None:
    """The paragraph or list item that ends with ``^block_id`` (or the block above it)."""
    for index, line in obsidian.outside_fences(lines, start):
        if "^" not in line:
            continue
        m = _BLOCK_ID_END.search(line)
        if m is None or m.group(1) != block_id:
            continue
        if not line[: m.start()].strip():  # the id alone on its line: the block above
            end = index
            while end > start and not lines[end - 1].strip():
                end -= 1
            if end == start:
                return None
            last = end - 1
        else:
            last, end = index, index + 1
        if obsidian.is_list_item(lines[last]):
            first = last
            indent = len(obsidian.indentation(lines[last]))
            body = [lines[last].lstrip()]
            body += [ln[indent:] for ln in lines[last + 1 : end]]
        else:
            first = last
            while (
                first > start
                and lines[first - 1].strip()
                and not obsidian.heading(lines[first - 1])
            ):
                first -= 1
            body = lines[first:end]
        text = "\n".join(body)
        return first, text[: len(text) - len(m.group(0))] if last == index else text
    return None


# ![alt](relative/path.png) in an embedded note is relative to that note's folder.
_MD_PICTURE = re.compile(r"(!\[[^\]\n]*+\]\()([^)\s]++)(\))")


def _rebase_pictures(text: str, from_rel: str, to_rel: str) -> str:
    """Relative Markdown picture paths of `from_rel` made to work from `to_rel`."""
    source_dir = posixpath.dirname(from_rel)
    if source_dir == posixpath.dirname(to_rel) or "](" not in text:
        return text

    def rebase(m: re.Match[str]) -> str:
        url = m.group(2)
        if obsidian.url_scheme(url) or url.startswith(("/", "#", "<")):
            return m.group(0)
        return m.group(1) + "/" + posixpath.join(source_dir, url) + m.group(3)

    return _MD_PICTURE.sub(rebase, text)


# ---------------------------------------------------------------- generated pictures


def picture_html(svg_or_png: bytes, mime: str, alt: str, cls: str) -> str:
    """An <img> of a generated picture (a data: URL; the media stage names and stores it)."""
    data = base64.b64encode(svg_or_png).decode("ascii")
    alt_text = escape(alt, quote=True).replace("\n", "&#10;")
    return f'<img class="{cls}" src="data:{mime};base64,{data}" alt="{alt_text}">'


def _is_mermaid(fence_line: str) -> bool:
    info = fence_line.strip().lstrip("`~").strip().split(None, 1)
    return bool(info) and info[0].lower() == "mermaid"


def _mermaid(
    context: EmbedContext, note_rel: str, line: int, block: list[str], result: Expansion
) -> list[str]:
    """A ```mermaid block as a picture; the block itself when it cannot be drawn."""
    if not context.mermaid:
        return block
    from . import mermaid

    prefix = obsidian.indentation(block[0])
    source = "\n".join(ln[len(prefix) :] if ln.startswith(prefix) else ln for ln in block[1:-1])
    svg, problem = mermaid.draw(source, context.cache_dir)
    if svg is None:
        _warn(result, note_rel, line, f"Mermaid diagram not drawn: {problem}; shown as code")
        return block
    return ["", prefix + picture_html(svg, "image/svg+xml", source, "mermaid"), ""]


def _drawing(
    context: EmbedContext,
    note_rel: str,
    path: str,
    link: obsidian.Wikilink,
    line: int,
    result: Expansion,
) -> list[str] | None:
    """An Excalidraw drawing as a picture: its exported SVG/PNG, else the scene drawn."""
    from . import excalidraw

    base = path[:-3] if path.lower().endswith(".md") else path
    width = next((o.strip() for o in link.options if o.strip().isdigit()), "")
    size = f' width="{width}"' if width else ""
    for ext in ("svg", "png"):
        exported = context.find_file(note_rel, f"{base}.{ext}")
        if exported:
            src = quote("/" + exported, safe="/")
            alt = escape(posixpath.basename(base), quote=True)
            return ["", f'<img class="excalidraw" src="{src}" alt="{alt}"{size}>', ""]
    found = context.find_note(note_rel, base + ".md") or context.find_file(note_rel, base)
    if found is None:
        result.missing = True
        _warn(result, note_rel, line, f"drawing {base!r} not found; shown as a link")
        return None
    result.depends_on.add(found)
    try:
        data = atomic.read_regular(context.root / found, excalidraw.MAX_FILE_BYTES)
    except (OSError, ValueError) as error:
        _warn(result, note_rel, line, f"drawing {found} cannot be read ({error}); shown as a link")
        return None

    def find_picture(name: str) -> str | None:  # a picture pasted into the drawing
        rel = context.find_file(found, name)
        if rel:
            result.depends_on.add(rel)
        return rel

    svg, problems = excalidraw.draw_file(data, context.cache_dir, context.root, find_picture)
    for problem in problems:
        _warn(result, note_rel, line, f"drawing {found}: {problem}")
    if svg is None:
        return None
    alt = posixpath.basename(base)
    return [
        "",
        picture_html(svg, "image/svg+xml", alt, "excalidraw").replace("<img ", f"<img{size} ", 1),
        "",
    ]
