#!/usr/bin/env python3
# The project's shared benchmark workload (shared/bench/gen_vault.py), kept here so that
# `make bench` works from a clone; copied as is, this comment aside (ruff leaves it alone).
"""Generate a synthetic Markdown-notes vault, in several tool syntaxes ("flavours").

Every flavour holds the SAME cards (same question/answer markdown), only the
card syntax differs, so tools can be compared on equal work.

Layout:  OUT/<flavour>/fNN/nNNNNN.md   (+ OUT/<flavour>/fNN/assets/fNN_imgK.png)
File stems are unique across the vault (markdown-anki-decks writes <stem>.apkg
into one flat output folder).

Flavours
  target       '#Question <q>' line, 'Answer:' line, answer lines; cards separated by '---'
  md2anki      '# Deck (id)' then '## Question (uuid)' + answer        (md2anki 3.x)
  mad          '# Deck' then '## Question' + answer                    (markdown-anki-decks)
  ankdown      front / '%' / back / '---'                              (ankdown)
  ankcompiler  frontmatter 'deck:', '---' blocks 'q ::: a' + [^uid]    (ankcompiler)
  cardforge    ':::card deck=..' / 'Q:' / 'A:' / ':::'                 (exam-cardforge, CSV only)

Usage: python gen_vault.py --notes 100 --folders 20 --cards-per-note 10 --out vault_1k
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import uuid

FLAVOURS = ["target", "md2anki", "mad", "ankdown", "ankcompiler", "cardforge"]

WORDS = ("cache latency buffer index shard replica quorum lease token parser lexer "
         "allocator heap stack closure iterator generator coroutine mutex semaphore "
         "barrier deadlock socket packet checksum digest cipher nonce schema migration "
         "transaction snapshot rollback journal compaction bloom filter trie graph "
         "vertex edge matrix vector tensor gradient kernel scheduler process thread "
         "signal handler pipeline stage queue broker topic partition offset").split()
TOPICS = ["Databases", "Networking", "Operating Systems", "Compilers", "Algorithms",
          "Cryptography", "Distributed Systems", "Machine Learning", "Concurrency",
          "Storage", "Linear Algebra", "Probability", "Web", "Security", "Graphics",
          "Type Systems", "Testing", "DevOps", "Embedded", "Numerics"]
FUNCS = ["flush", "compact", "rebalance", "hash_key", "encode", "decode", "schedule",
         "acquire", "release", "merge", "split", "resolve", "tokenize", "emit", "retry"]
N_IMAGES_PER_FOLDER = 5


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_card(rng, folder, note_idx, card_idx):
    """Return (question_md, answer_md, image_relpath_or_None). Deterministic via rng."""
    w = rng.choice(WORDS)
    f = rng.choice(FUNCS)
    qkind = rng.randrange(4)
    if qkind == 0:
        q = f"What does `{f}()` do to the **{w}** in {words(rng, 2)} (note {note_idx}, card {card_idx})?"
    elif qkind == 1:
        q = f"Why is a **{w}** needed for {words(rng, 3)}? [{note_idx}.{card_idx}]"
    elif qkind == 2:
        q = f"Name three properties of the {w} {rng.choice(WORDS)} ({note_idx}/{card_idx})."
    else:
        q = f"How does `{w}.{f}(x)` interact with the *{rng.choice(WORDS)}*? #{note_idx}-{card_idx}"

    lines = [f"The **{w}** {words(rng, 6)} using `{f}()`; see "
             f"[the {rng.choice(WORDS)} docs](https://example.org/{w}/{f}#{card_idx}).", ""]
    for _ in range(rng.randint(3, 5)):
        item = words(rng, rng.randint(3, 8))
        style = rng.randrange(3)
        if style == 0:
            item = f"**{rng.choice(WORDS)}**: {item}"
        elif style == 1:
            item = f"{item} via `{rng.choice(FUNCS)}({rng.randint(0, 99)})`"
        lines.append(f"- {item}")
    img = None
    if rng.random() < 0.30:  # fenced code block
        lines += ["", "```python", f"def {f}_{w}(items):",
                  f"    \"\"\"{words(rng, 5)}.\"\"\"", "    out = []",
                  "    for it in items:",
                  f"        if it.{rng.choice(WORDS)} > {rng.randint(1, 999)}:",
                  f"            out.append(it.{rng.choice(FUNCS)}())",
                  "    return out", "```"]
    if rng.random() < 0.10:  # local image
        k = rng.randrange(N_IMAGES_PER_FOLDER)
        img = f"assets/f{folder:02d}_img{k}.png"
        lines += ["", f"![{w} diagram]({img})"]
    lines += ["", f"Remember: *{words(rng, 4)}*."]
    return q, "\n".join(lines), img


def stable_int(s, bits=31):
    return int(hashlib.sha1(s.encode()).hexdigest(), 16) % (1 << bits)


def alnum10(s):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    h = int(hashlib.sha1(s.encode()).hexdigest(), 16)
    return "".join(alphabet[(h >> (6 * i)) % 62] for i in range(10))


def render(flavour, folder, note_name, title, cards):
    deck = f"f{folder:02d}"
    out = []
    if flavour == "target":
        out.append(f"<!-- {title} -->\n")
        blocks = [f"#Question {q}\nAnswer:\n{a}\n" for q, a, _ in cards]
        out.append("\n---\n\n".join(blocks))
    elif flavour == "md2anki":
        out.append(f"# {title} ({stable_int(note_name)})\n")
        for i, (q, a, _) in enumerate(cards):
            u = uuid.UUID(hashlib.md5(f"{note_name}/{i}".encode()).hexdigest())
            out.append(f"## {q} ({u})\n\n{a}\n")
    elif flavour == "mad":
        out.append(f"# {title}\n")
        for q, a, _ in cards:
            out.append(f"## {q}\n\n{a}\n")
    elif flavour == "ankdown":
        blocks = [f"{q}\n\n%\n\n{a}\n" for q, a, _ in cards]
        out.append("\n---\n\n".join(blocks))
    elif flavour == "ankcompiler":
        out.append(f"---\ndeck: {deck}\ntags: [bench]\n---\n\n# {title}\n")
        for i, (q, a, _) in enumerate(cards):
            out.append(f"---\n\n{q}\n:::\n{a}\n\n---\n[^uid]: {alnum10(note_name + str(i))}\n")
    elif flavour == "cardforge":
        out.append(f"# {title}\n")
        for q, a, _ in cards:
            out.append(f":::card tags=bench deck={deck}\nQ: {q}\nA:\n{a}\n:::\n")
    return "\n".join(out) + "\n"


def make_pngs(dirpath, folder):
    from PIL import Image, ImageDraw
    os.makedirs(dirpath, exist_ok=True)
    for k in range(N_IMAGES_PER_FOLDER):
        im = Image.new("RGB", (96, 64), (240, 240, 240))
        d = ImageDraw.Draw(im)
        d.rectangle([8 + k * 4, 8, 50 + k * 6, 40], outline=(20 * k, 60, 160), width=3)
        d.ellipse([52, 20 + k, 88, 56], fill=(200, 40 + 30 * k, 40))
        d.text((6, 46), f"f{folder:02d}/{k}", fill=(0, 0, 0))
        im.save(os.path.join(dirpath, f"f{folder:02d}_img{k}.png"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notes", type=int, required=True, help="total number of note files")
    ap.add_argument("--folders", type=int, default=20)
    ap.add_argument("--cards-per-note", type=int, default=10)
    ap.add_argument("--out", required=True)
    ap.add_argument("--flavours", default=",".join(FLAVOURS))
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    flavours = args.flavours.split(",")
    rng = random.Random(args.seed)
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    stats = {"notes": args.notes, "folders": args.folders, "cards": 0, "code_blocks": 0,
             "image_refs": 0, "bytes": {}}
    for fl in flavours:
        for folder in range(args.folders):
            make_pngs(os.path.join(args.out, fl, f"f{folder:02d}", "assets"), folder)
    for n in range(args.notes):
        folder = n % args.folders
        note_name = f"n{n:05d}"
        title = f"Note {n:05d} {TOPICS[folder % len(TOPICS)]}"
        cards = [make_card(rng, folder, n, c) for c in range(args.cards_per_note)]
        stats["cards"] += len(cards)
        stats["code_blocks"] += sum("```" in a for _, a, _ in cards)
        stats["image_refs"] += sum(img is not None for _, _, img in cards)
        for fl in flavours:
            text = render(fl, folder, note_name, title, cards)
            p = os.path.join(args.out, fl, f"f{folder:02d}", note_name + ".md")
            with open(p, "w", encoding="utf-8") as fh:
                fh.write(text)
            stats["bytes"][fl] = stats["bytes"].get(fl, 0) + len(text.encode())
    with open(os.path.join(args.out, "manifest.json"), "w") as fh:
        json.dump(stats, fh, indent=1)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
