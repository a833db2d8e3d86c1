"""Split stage: how a note's lines become cards."""

from __future__ import annotations

import textwrap

from ankigen.shown import shows_nothing
from ankigen.syntax import SyntaxSettings, read_note

SEED_ONLY = SyntaxSettings(enabled=("seed",))


def split_note(rel: str, text: str):  # type: ignore[no-untyped-def]
    """The seed reader's reading of a note, through read_note (the build's one call)."""
    return read_note(rel, text, SEED_ONLY, shows_nothing)


def cards_of(text: str):
    note, diagnostics = split_note("Folder/Note.md", textwrap.dedent(text).lstrip("\n"))
    return note, note.cards, diagnostics


def test_seed_note_gives_five_questions_and_two_use_cases(seed_text):
    note, diagnostics = split_note("AWS/ASG.md", seed_text)
    questions = [c for c in note.cards if c.kind == "question"]
    use_cases = [c for c in note.cards if c.kind == "usecase"]
    assert diagnostics == []
    assert [c.question for c in questions] == [
        "What does an Auto Scaling Group do?",
        "What does a launch template hold and how are its versions used?",
        "How to take an instance out of service without terminating it?",
        "How can you stop a group from terminating a busy instance?",
        "An Auto Scaling Group in Ireland [Region](Region.md) eu-west-1 can launch an [[EC2]] "
        "instance in any AWS [[Region]]. True or False?",
    ]
    assert [c.question for c in use_cases] == [
        "for scaling on a schedule",
        "for scaling on queue depth*",
    ]
    first = questions[0]
    assert first.answer.startswith("An Auto Scaling Group adds and removes EC2 instances")
    assert "- steady web tier that heals itself." in first.answer  # the #UseCase tag is lifted
    assert "#UseCase" not in first.answer and first.tags == ("UseCase",)
    assert first.context == ("ASG Details",)
    assert questions[1].see[0].title == "Launch templates UG"
    assert questions[1].see[0].url.endswith("launch-templates.html")
    assert questions[1].answer.endswith("beside On-Demand capacity to save on cost.")
    assert questions[2].answer.splitlines() == [
        "Put it in `Standby` so that it stays in the group.",
        "![[ASG Standby Lifecycle.png]]",
        "Fig. Standby instances keep running",
    ]
    assert questions[3].see == ()  # "See:" with nothing after it
    assert questions[3].answer.startswith("By turning on scale-in protection")
    assert questions[4].answer == "False. A group lives in one Region; its subnets choose the AZs."
    assert use_cases[0].answer.endswith("images/auto_scaling_lifecycle.png)")
    assert use_cases[0].context == ("ASG Launch Templates", "Use Cases")
    assert use_cases[1].answer.splitlines()[-2:] == [
        "![[sqs_backlog_scaling.png]]",
        "Fig. Scaling on the SQS backlog",
    ]
    assert all("UseCase" in c.tags for c in use_cases)
    assert note.references == (
        "1. https://docs.aws.amazon.com/autoscaling/ec2/userguide/what-is-amazon-ec2-auto-scaling.html"
    )


def test_seed_line_numbers_point_at_markers_and_answers(seed_text):
    note, _ = split_note("AWS/ASG.md", seed_text)
    lines = seed_text.splitlines()
    for card in note.cards:
        marker = lines[card.line - 1]
        assert marker.startswith("#Question" if card.kind == "question" else "#UseCase")
        first_answer_line = card.answer.splitlines()[0]
        assert first_answer_line.strip() in lines[card.answer_line - 1]


def test_answer_on_same_line_and_following_lines():
    _, cards, _ = cards_of(
        """
        #Question Same line?
        Answer: yes, here.

        #Question Next lines?
        Answer:
        first
        second
        """
    )
    assert [(c.question, c.answer) for c in cards] == [
        ("Same line?", "yes, here."),
        ("Next lines?", "first\nsecond"),
    ]
    assert cards[1].answer_line == 6


def test_answer_marker_variants():
    _, cards, _ = cards_of(
        """
        #Question one
          Answer: indented
        #Question two
        **Answer:** bold colon inside
        #Question three
        **Answer**: bold colon outside
        #Question four
        answer: lower case
        #Question five
        ANSWER:   **bold** answer text
        """
    )
    assert [c.answer for c in cards] == [
        "indented",
        "bold colon inside",
        "bold colon outside",
        "lower case",
        "**bold** answer text",
    ]


def test_quoted_answer_strips_the_quote_from_following_lines():
    _, cards, _ = cards_of(
        """
        #Question Quoted?
        > Answer: first line
        > second line
        """
    )
    assert cards[0].answer == "first line\nsecond line"


def test_multi_line_question_and_choices_belong_to_the_question():
    _, cards, _ = cards_of(
        """
        #Q Which storage class is cheapest
        for data read once a year?
        A. Standard
        B. Glacier Deep Archive
        Answer: B
        """
    )
    assert cards[0].question.splitlines() == [
        "Which storage class is cheapest",
        "for data read once a year?",
        "A. Standard",
        "B. Glacier Deep Archive",
    ]
    assert cards[0].answer == "B"


def test_q_marker_needs_a_word_boundary():
    _, cards, _ = cards_of(
        """
        #Quiz not a card
        #Q real card
        Answer: yes
        """
    )
    assert [c.question for c in cards] == ["real card"]


def test_without_answer_marker_first_line_is_question_rest_is_answer():
    _, cards, _ = cards_of(
        """
        #Question What is S3?

        Object storage.
        Eleven nines of durability.
        """
    )
    assert cards[0].question == "What is S3?"
    assert cards[0].answer == "Object storage.\nEleven nines of durability."
    assert cards[0].answer_line == 3


def test_question_without_answer_is_no_card_and_warns():
    _, cards, diagnostics = cards_of(
        """
        #Question Lonely question?

        ## Next section
        #Question Has one
        Answer: yes
        """
    )
    assert [c.question for c in cards] == ["Has one"]
    assert [(d.path, d.line, d.severity) for d in diagnostics] == [("Folder/Note.md", 1, "warning")]
    assert "no answer" in diagnostics[0].message


def test_cards_end_at_markers_headings_rules_references_and_eof():
    note, cards, _ = cards_of(
        """
        #Question a
        Answer: 1
        #Question b
        Answer: 2
        # Heading
        stray text after heading
        #Question c
        Answer: 3
        ---
        text after rule
        #Question d
        Answer: 4

        **References**
        1. https://example.com/ref
        #Question no answer, after the references
        """
    )
    assert [(c.question, c.answer) for c in cards] == [
        ("a", "1"),
        ("b", "2"),
        ("c", "3"),
        ("d", "4"),
    ]
    assert note.references == "1. https://example.com/ref"
    assert note.references_line == 15  # the references' own first line


def test_references_heading_ends_cards_and_later_heading_ends_references():
    note, cards, _ = cards_of(
        """
        #Question a
        Answer: 1
        ## References
        - [Guide](https://example.com)
        ## More questions
        #Question b
        Answer: 2
        """
    )
    assert [c.answer for c in cards] == ["1", "2"]
    assert note.references == "- [Guide](https://example.com)"


def test_marker_inside_fenced_code_is_text():
    _, cards, _ = cards_of(
        """
        #Question Show a script
        Answer:
        ```bash
        #Question not a card
        # not a heading
        ---
        ```
        after the fence
        """
    )
    assert len(cards) == 1
    assert "#Question not a card" in cards[0].answer
    assert "# not a heading" in cards[0].answer
    assert cards[0].answer.endswith("after the fence")
    assert cards[0].tags == ()


def test_marker_inside_comment_is_not_a_card():
    _, cards, _ = cards_of(
        """
        %%
        #Question hidden draft
        Answer: no
        %%
        #Question visible
        Answer: yes
        """
    )
    assert [c.question for c in cards] == ["visible"]


def test_see_links_between_question_and_answer():
    _, cards, _ = cards_of(
        """
        #Question Linked?
        See: [Guide](https://example.com/guide) and [API](https://example.com/api)
        See: https://example.com/bare
        See:
        Answer: yes
        """
    )
    assert [(s.title, s.url) for s in cards[0].see] == [
        ("Guide", "https://example.com/guide"),
        ("API", "https://example.com/api"),
        ("https://example.com/bare", "https://example.com/bare"),
    ]
    assert cards[0].question == "Linked?"


def test_use_case_cards_and_list_item_use_case_is_a_tag():
    _, cards, _ = cards_of(
        """
        #Question q
        Answer:
        - #UseCase this is a tag, not a card
        #UseCase for a migration
        1. step one
        2. step two
        #UseCase with nothing after it
        """
    )
    assert [(c.kind, c.question) for c in cards] == [
        ("question", "q"),
        ("usecase", "for a migration"),
    ]
    assert cards[0].answer == "- this is a tag, not a card"
    assert cards[1].answer == "1. step one\n2. step two"
    assert cards[1].tags == ("UseCase",)


def test_inline_tags_become_anki_tags_and_leave_the_text():
    _, cards, _ = cards_of(
        """
        #Question Which tags? #exam/tip
        Answer: Tags #aws/ec2 here, not `#code` nor https://x.org/#frag nor C# or #123.
        #important
        """
    )
    card = cards[0]
    assert card.tags == ("exam::tip", "aws::ec2", "important")
    assert card.question == "Which tags?"
    assert card.answer == "Tags here, not `#code` nor https://x.org/#frag nor C# or #123."


def test_frontmatter_tags_and_line_numbers():
    note, cards, diagnostics = cards_of(
        """
        ---
        tags: [aws, exam/tip]
        aliases: x
        ---
        #Question after frontmatter
        Answer: yes
        """
    )
    assert note.tags == ("aws", "exam::tip")
    assert cards[0].line == 5
    assert diagnostics == []


def test_frontmatter_tags_as_string_and_broken_yaml_warns():
    note, _, _ = cards_of("---\ntags: 'aws, #compute'\n---\n#Q a\nAnswer: b\n")
    assert note.tags == ("aws", "compute")
    note, cards, diagnostics = cards_of("---\ntags: [unclosed\n---\n#Q a\nAnswer: b\n")
    assert note.tags == ()
    assert len(cards) == 1
    assert diagnostics[0].severity == "warning" and "frontmatter" in diagnostics[0].message


def test_context_is_the_heading_path():
    _, cards, _ = cards_of(
        """
        # Top
        ## Section [[Link|Alias]]
        ### Sub **bold**
        #Question deep
        Answer: x
        ## Other
        #Question shallow
        Answer: y
        """
    )
    assert cards[0].context == ("Top", "Section Alias", "Sub bold")
    assert cards[1].context == ("Top", "Other")


def test_windows_line_endings():
    note, diagnostics = split_note(
        "n.md", "---\r\ntags: [a]\r\n---\r\n#Q one?\r\nAnswer:\r\nx\r\ny\r\n"
    )
    assert [(c.question, c.answer, c.line) for c in note.cards] == [("one?", "x\ny", 4)]
    assert note.tags == ("a",) and diagnostics == []
