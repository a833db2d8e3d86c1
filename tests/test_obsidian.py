"""obsidian.py: the one home of Obsidian's syntax facts, which every reader calls."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ankigen import obsidian


def test_lines_are_counted_as_an_editor_counts_them():
    text = obsidian.clean_text("\ufeffa\u2028still a\r\nb\x0cc\x1fd\rx\n")
    assert obsidian.lines(text) == ["a\u2028still a", "bcdx", ""]


def test_code_spans_follow_commonmark():
    line = "a `x` b ``y ` z`` c ```unclosed d `e`"
    spans = [line[s:e] for s, e in obsidian.code_spans(line)]
    assert spans == ["`x`", "``y ` z``", "`e`"]
    masked = obsidian.mask_code_spans("50%% `%%` x")
    assert len(masked) == len("50%% `%%` x") and masked.count("%%") == 1


def test_comments_inline_across_blank_lines_unclosed_and_not_in_code():
    scan = obsidian.scan(
        obsidian.lines("keep %%x%% this\n%%\n\nhidden\n%% back\n```\n%%\n```\n`%%` and 50%% gone")
    )
    visible = [line.visible for line in scan.lines]
    assert visible == ["keep  this", "", "", "", " back", "```", "%%", "```", "`%%` and 50"]
    assert [line.code for line in scan.lines] == [False] * 5 + [True] * 3 + [False]
    assert scan.lines[3].hidden and scan.lines[3].comment_line == 2
    assert scan.unclosed_comment == 9
    assert obsidian.strip_comments("a %%b%% c") == "a  c"


def test_fences_tilde_quoted_indented_in_lists_and_unclosed():
    text = "~~~\n#Q in code\n~~~\n> ```\n> x\n> ```\n- item\n    ```\n    code\n    ```\n"
    text += "after the list\n\t```\nnot code"
    scan = obsidian.scan(obsidian.lines(text))
    code = [line.code for line in scan.lines]
    # Four columns in a list item is a fence; a tab after a paragraph outside lists is not.
    assert code == [True] * 6 + [False] + [True] * 3 + [False] * 3
    assert obsidian.scan(["```", "never closed"]).unclosed_fence == 1


def test_tags_follow_obsidians_rules():
    line = "#tag a/#b c#d #1984 #y1984 #a/b `#code` #_x http://x.org/#frag"
    assert [name for _, _, name in obsidian.line_tags(line)] == ["tag", "y1984", "a/b", "_x"]
    text, tags = obsidian.lift_tags("# Heading #h\ntext #t\n```\n#c\n```\n#only #tags")
    assert text == "# Heading #h\ntext\n```\n#c\n```\n"
    assert tags == ["t", "only", "tags"]
    assert obsidian.anki_tag("exam/tip") == "exam::tip"


def test_wikilinks_and_schemes():
    (start, end, link), _ = obsidian.wikilinks("[[Note#Head|alias]] ![[pic.png|300]]")
    assert (start, end, link.path, link.label, link.embed) == (0, 19, "Note", "alias", False)
    assert obsidian.wikilink_label("Note#A#B") == "Note › A › B"
    assert obsidian.wikilink_label("Note#^block") == "Note"
    assert obsidian.is_link_url("https://x") and obsidian.is_link_url("obsidian://open")
    assert not obsidian.is_link_url("javascript:alert(1)") and not obsidian.is_link_url("a.md")


def test_headings_and_plain_text():
    assert obsidian.heading("## Title ##") == (2, "Title")
    assert obsidian.heading("# a" + " " * 5000 + "b") == (1, "a" + " " * 5000 + "b")
    assert obsidian.heading("#tag") is None
    assert obsidian.plain_text("**[[Route 53|R53]]** and [link](x) `code`") == "R53 and link code"


def test_frontmatter_safe_bounded_and_located():
    good = obsidian.frontmatter(["---", "tags: [a, b]", "---", "body"])
    assert good.end == 3 and obsidian.frontmatter_tags(good.data) == ("a", "b")
    bad = obsidian.frontmatter(["---", "a: [", "---"])
    assert bad.end == 3 and bad.data == {} and bad.problem and bad.problem_line >= 2
    bomb = ["---", "a: &a [x,x,x,x,x,x,x,x,x]"]
    bomb += [
        f"{n}: &{n} [{','.join(['*' + p] * 9)}]" for p, n in zip("abcde", "bcdef", strict=True)
    ]
    found = obsidian.frontmatter([*bomb, "---"])
    assert found.problem == "its aliases expand too far" and found.data == {}
    unsafe = obsidian.frontmatter(["---", "x: !!python/object/apply:os.system ['true']", "---"])
    assert unsafe.data == {} and unsafe.problem


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from("%`~>-# \t\na\u00a0"), max_size=80))
def test_scanning_any_text_is_total_and_stripping_is_stable(text: str) -> None:
    lines = obsidian.lines(text)
    scan = obsidian.scan(lines)
    assert [line.text for line in scan.lines] == lines
    stripped = obsidian.strip_comments(text)
    assert len(obsidian.lines(stripped)) == len(lines)  # line numbers never move
    assert obsidian.strip_comments(stripped) == stripped
    for line in lines:
        for start, end in obsidian.code_spans(line):
            assert line[start] == "`" and line[end - 1] == "`"


def test_outside_fences_skips_fenced_code_and_its_fence_lines():
    from ankigen.obsidian import outside_fences

    # A longer fence closes a shorter one of its kind; a shorter one does not; one left
    # open hides the rest.
    lines = ["# A", "```py", "# not a heading", "````", "b", "~~~~", "~~~", "c", "~~~~", "d"]
    lines += ["```", "open to the end"]
    assert list(outside_fences(lines)) == [(0, "# A"), (4, "b"), (9, "d")]
    assert list(outside_fences(lines, start=4)) == [(4, "b"), (9, "d")]
    assert list(outside_fences([])) == []
