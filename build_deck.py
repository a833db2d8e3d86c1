#!/usr/bin/env python3
"""Build Anki decks from an Obsidian vault: `python build_deck.py [VAULT] [-o OUT]`."""

import sys

from ankigen.cli import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:], prog="build_deck.py"))
