"""Vault configuration: `ankigen.toml` at the vault root, so CI and a user's machine build the
same thing. The command line overrides it; an unknown key or a wrong type is an error naming
the file and line."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .records import Diagnostic

CONFIG_FILE = "ankigen.toml"
_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Option:
    """One key of ankigen.toml: its command-line flag and what it takes."""

    key: str
    flag: str  # the command-line option that overrides it
    kind: str  # for messages and the README: "text", "list of texts", …
    default: str  # as the README shows it
    help: str
    check: Callable[[Any], bool]


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _whole(low: int, high: int) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    return check


def _seconds(value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and math.isfinite(value) and 0 < value <= 3600


def _size(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
        isinstance(value, str)
    )


OPTIONS: tuple[Option, ...] = (
    Option("out", "-o/--out", "text (a path, relative to the vault)", "dist",
           "where the .apkg files (and preview/) are written", _text),
    Option("exclude", "--exclude", "list of texts (globs)", "[]",
           "vault paths to skip, e.g. [\"Drafts/*\"]", _texts),
    Option("syntax", "--syntax", "list of texts", "all",
           "the flashcard syntaxes read: seed, spaced-repetition, obsidian-to-anki, "
           "flashcards, callouts",
           _texts),
    Option("callout_cards", "--callout-cards", "list of texts", "[]",
           "callout names read as cards, e.g. [\"question\", \"faq\"]", _texts),
    Option("callout_cards_reversed", "--callout-cards-reversed", "list of texts", "[]",
           "callout names read as two cards each (front→back, back→front)", _texts),
    Option("new_notes", "--new-notes", "true or false", "false",
           "build cards with a plugin's Anki note id that adopt has not seen as new notes",
           _flag),
    Option("deck_prefix", "--deck-prefix", "text", '""',
           "put every folder's deck under this deck, e.g. \"Study\"", _text),
    Option("vault_name", "--vault-name", "text", "the name ankigen.lock recorded, else the "
           "folder's", "the vault's name in Obsidian (Source links, the root folder's deck)",
           _text),
    Option("max_image_width", "--max-image-width", "whole number 1–65535", "1600",
           "wider pictures are scaled down to this width", _whole(1, 65535)),
    Option("timeout", "--timeout", "seconds (0 < s ≤ 3600)", "10",
           "connect and read timeout for each picture download", _seconds),
    Option("jobs", "--jobs", "whole number 1–256", "32",
           "pictures downloaded at once", _whole(1, 256)),
    Option("jobs_per_host", "--jobs-per-host", "whole number 1–256", "16",
           "pictures downloaded at once from one server", _whole(1, 256)),
    Option("cache_max_size", "--cache-max-size", "size (\"500M\") or bytes", '"500M"',
           "the picture cache's size limit", _size),
    Option("offline", "--offline", "true or false", "false",
           "no network: cached pictures only", _flag),
    Option("lock", "--no-lock", "true or false", "true",
           "read and write ankigen.lock", _flag),
    Option("strict", "--strict", "true or false", "false",
           "warnings fail the build (exit 1)", _flag),
    Option("ignore", "--ignore", "list of texts (codes)", "[]",
           "diagnostic codes to silence, e.g. [\"AG401\"]", _texts),
)  # fmt: skip
BY_KEY = {option.key: option for option in OPTIONS}
# [plugins."<plugin id>"]: settings read instead of that plugin's data.json (same keys).
PLUGINS_TABLE = "plugins"


@dataclass(frozen=True)
class VaultConfig:
    values: dict[str, Any]
    plugins: dict[str, dict[str, Any]]
    path: Path | None = None  # the file read, None when the vault has none


class ConfigError(Exception):
    """ankigen.toml cannot be used: the diagnostic says where."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


def load_config(vault: Path) -> VaultConfig:
    """The vault's ankigen.toml ({} when there is none); ConfigError when it is not valid."""
    path = vault / CONFIG_FILE
    if not path.exists():
        return VaultConfig({}, {})

    def fail(line: int, message: str) -> ConfigError:
        return ConfigError(Diagnostic(CONFIG_FILE, line, "error", message))

    if not path.is_file():
        raise fail(0, "not a regular file")
    try:
        raw = path.read_bytes()[: _MAX_BYTES + 1]
        if len(raw) > _MAX_BYTES:
            raise fail(0, f"larger than {_MAX_BYTES // 1024} KB")
        text = raw.decode("utf-8-sig")
        data = tomllib.loads(text)
    except OSError as error:
        raise fail(0, f"cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise fail(0, "not valid UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", 0) or _line_in_message(str(error))
        raise fail(line, f"not valid TOML: {str(error).split(' (at', 1)[0]}") from None
    values: dict[str, Any] = {}
    plugins: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        line = key_line(text, key)
        if key == PLUGINS_TABLE:
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise fail(line, f"'{key}' must be tables: [plugins.\"<plugin id>\"]")
            plugins = {name: dict(settings) for name, settings in value.items()}
            continue
        option = BY_KEY.get(key)
        if option is None:
            known = ", ".join(sorted([*BY_KEY, PLUGINS_TABLE]))
            raise fail(line, f"unknown key '{key}' (known keys: {known})")
        if not option.check(value):
            raise fail(line, f"'{key}' must be {option.kind}, not {_shown(value)}")
        values[key] = value
    return VaultConfig(values, plugins, path)


def key_line(text: str, key: str) -> int:
    """The 1-based line where a top-level key (or table) is set; 0 when not found."""
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            table = stripped.strip("[] \t").split(".", 1)[0].strip("\"'")
            if table == key:
                return number
            continue
        if table:
            continue
        name = stripped.split("=", 1)[0].strip().strip("\"'")
        if "=" in stripped and (name == key or name.split(".", 1)[0] == key):
            return number
    return 0


def _line_in_message(message: str) -> int:
    marker = "line "
    at = message.rfind(marker)
    digits = ""
    for char in message[at + len(marker) :] if at >= 0 else "":
        if not char.isdigit():
            break
        digits += char
    return int(digits) if digits else 0


def _shown(value: Any) -> str:
    kind = {bool: "true/false", int: "a number", float: "a number", str: "a text"}
    name = kind.get(type(value), "a list" if isinstance(value, list) else "a table")
    text = repr(value)
    return f"{name} ({text[:40]}{'…' * (len(text) > 40)})"
