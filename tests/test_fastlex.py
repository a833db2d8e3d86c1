"""The joined-rule lexer loop (fastlex.py) gives Pygments' own token stream, for any lexer and
any code, and the highlighted HTML of a field is the same with it."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pygments.lexer import RegexLexer
from pygments.lexers import get_all_lexers, get_lexer_by_name

from ankigen import render
from ankigen.fastlex import _join, speed_up

EXAMPLES = int(os.environ.get("ANKIGEN_FUZZ_EXAMPLES", "300"))

LEXERS = [
    *("python", "pycon", "js", "typescript", "c", "cpp", "csharp", "java", "kotlin", "go"),
    *("rust", "bash", "console", "powershell", "html", "xml", "css", "scss", "sql", "json"),
    *("yaml", "toml", "ini", "diff", "latex", "ruby", "php", "haskell", "lisp", "markdown"),
    *("make", "docker", "nginx", "lua", "perl", "r", "swift", "scala", "elixir", "erlang"),
    *("ocaml", "fsharp", "clojure", "vim", "dart", "graphql", "protobuf", "text", "rst"),
]
CODE = st.lists(
    st.one_of(
        st.sampled_from(list("<>&\"'`=#$%\\/*-+ \t\n{}[]();:.,!?@^|~_aZ09")),
        st.sampled_from(
            ["def ", "class ", "f'{x}'", 'r"\\d"', "/* c */", "-- c", "<!-- x -->", "0x1F"]
        ),
        st.sampled_from(["if ", '"""doc\n"""', "$x", "@dec", "é", "\r", "日本", "end"]),
    ),
).map("".join)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LEXERS), CODE)
def test_joined_loop_gives_pygments_tokens(name: str, code: str) -> None:
    fast = speed_up(get_lexer_by_name(name))
    assert list(fast.get_tokens(code)) == list(get_lexer_by_name(name).get_tokens(code))


SAMPLE = (
    "#!/bin/sh\n# comment\ndef f(x, *a, **k):\n    '''doc'''\n    return f\"{x!r:>3}\" + 'a\\n'\n"
    '<div class="x">&amp; <b>b</b></div>\n/* c */ int main() { return 0x1F; } // end\n'
    "SELECT * FROM t WHERE a = 'b';\n@decorator\n$var = @(1, 2)\n{\"k\": [1, 2.5e3, null]}\n"
    "-- lua comment\n(defun f (x) (* x 2))\n\\begin{x} $a^2$ \\end{x}\n"
)


@pytest.mark.parametrize(
    "name", sorted({aliases[0] for _, aliases, _, _ in get_all_lexers() if aliases})
)
def test_every_lexer_gives_the_same_tokens_on_a_sample(name: str) -> None:
    try:
        expected = list(get_lexer_by_name(name).get_tokens(SAMPLE))
    except Exception:  # a lexer that needs options or fails on this input: not ours to test
        pytest.skip("lexer needs options")
    assert list(speed_up(get_lexer_by_name(name)).get_tokens(SAMPLE)) == expected


def test_python_states_are_joined() -> None:
    """The joined path is taken (else the tests above would prove nothing)."""
    lexer = get_lexer_by_name("python")
    assert isinstance(lexer, RegexLexer)
    assert _join(lexer._tokens["root"]) is not None  # type: ignore[attr-defined]
    assert speed_up(lexer).get_tokens_unprocessed is not None
    assert "get_tokens_unprocessed" in vars(lexer)


def test_render_uses_the_joined_loop_with_the_same_html(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "def f(items):\n    return [i for i in items if i > 3]  # 'x' \"y\"\n"
    lexer = render._lexer("python")
    assert lexer is not None and "get_tokens_unprocessed" in vars(lexer)
    field = f"Words.\n\n```python\n{code}```\n\n- and `x`"
    html = render.render_markdown(field)
    monkeypatch.setattr(render, "_lexer", get_lexer_by_name)  # Pygments' own loop
    assert render.render_markdown(field) == html
    assert 'class="highlight"' in html
