"""ankigen: turn a vault of Obsidian study notes into Anki decks."""

__version__ = "0.1.0"
