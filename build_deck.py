#!/usr/bin/env python3
"""Build Anki decks from an Obsidian vault: `python build_deck.py [VAULT] [-o OUT]`."""

import sys

if __name__ == "__main__":
    import ankigen.__main__  # first: Ctrl-C while importing is one line, exit 130

    try:
        import ankigen.build  # imports every dependency
        from ankigen.cli import run
    except ImportError as error:
        print(
            f"build_deck.py: ankigen's dependencies are not installed for {sys.executable} "
            f"({error.name or error}).\n"
            "Run `make deck` (it creates .venv), then use `.venv/bin/python build_deck.py …` "
            "or `.venv/bin/ankigen …`, or `source .venv/bin/activate` first.",
            file=sys.stderr,
        )
        sys.exit(2)
    from ankigen.cli import stop_quietly_on_interrupt

    stop_quietly_on_interrupt()
    ankigen.__main__.exit_with(run(sys.argv[1:], prog="build_deck.py"))
