#!/usr/bin/env python3
"""Build Anki decks from an Obsidian vault: `python build_deck.py [VAULT] [-o OUT]`."""

import sys

if __name__ == "__main__":
    import ankigen.__main__  # first: Ctrl-C while importing is one line, exit 130

    # The build imports its libraries when a stage needs them: look for each one now.
    needed = ("genanki", "mistune", "requests", "PIL", "nh3", "pygments", "yaml")
    needed += ("platformdirs", "zstandard", "regex")
    try:
        import importlib.util

        missing = next((name for name in needed if importlib.util.find_spec(name) is None), "")
        if missing:
            raise ImportError(name=missing)
        import ankigen.build
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
