"""Reading an answer to "How did we do today? Reply with a number from 1 (poor) to 5 (great)"
(bot/domain/survey.py): plain scores with or without a comment are answers; anything that may
be a time, an amount, a count, a question or business for the assistant is not."""

from __future__ import annotations

import pytest

from bot.domain.survey import MAX_LENGTH, SurveyAnswer, parse_answer


@pytest.mark.parametrize(
    ("text", "score", "comment"),
    [
        ("5", 5, None),
        ("1", 1, None),
        (" 3 ", 3, None),
        ("5!", 5, None),
        ("4.", 4, None),
        ("5 :)", 5, None),
        ("4 thanks!", 4, "thanks!"),
        ("4 great service", 4, "great service"),
        ("4  Thanks so much", 4, "Thanks so much"),
        ("5 - quick and easy", 5, "quick and easy"),
        ("5 – quick and easy", 5, "quick and easy"),
        ("4, thanks", 4, "thanks"),
        ("2: too slow", 2, "too slow"),
        ("1 sucks", 1, "sucks"),
        ("5 fabulous", 5, "fabulous"),
        ("5 👍", 5, "👍"),
        ("5 - the agent was great", 5, "the agent was great"),
        ("five", 5, None),
        ("Four!", 4, None),
        ("FIVE", 5, None),
        ("one", 1, None),
        ("three - it was ok", 3, "it was ok"),
        ("3/5", 3, None),
        ("3 / 5", 3, None),
        ("3/5 pretty good", 3, "pretty good"),
        ("4 out of 5", 4, None),
        ("four out of five", 4, None),
        ("3 of 5", 3, None),
        ("4 stars", 4, None),
        ("5 stars!!! thank you", 5, "thank you"),
        ("5*", 5, None),
        ("5 star service", 5, "star service"),
        ("⭐⭐⭐⭐", 4, None),
        ("★★★", 3, None),
        ("⭐ ⭐ ⭐ ⭐ ⭐", 5, None),
        ("⭐️⭐️", 2, None),  # with variation selectors, as phones send them
        ("⭐⭐⭐⭐ nice", 4, "nice"),
        ("4️⃣", 4, None),  # a keycap digit
        ("４", 4, None),  # a full-width digit
        ("I'd say 4", 4, None),
        ("I’d give it a 5", 5, None),
        ("i would give you guys a 5 - lovely", 5, "lovely"),
        ("rating: 4", 4, None),
        ("my score is 2", 2, None),
    ],
)
def test_a_plain_score_is_an_answer(text: str, score: int, comment: str | None) -> None:
    assert parse_answer(text) == SurveyAnswer(score, comment)
    assert parse_answer(text) == (score, comment)  # a plain tuple too


@pytest.mark.parametrize(
    "text",
    [
        # not a score at all, or out of the scale
        "",
        "   ",
        "yes",
        "thanks",
        "great service",
        "0",
        "6",
        "10",
        "-1",
        "⭐⭐⭐⭐⭐⭐",
        # a score glued to more: a time, an ordinal, an amount, a decimal, a date, a range
        "2pm",
        "5th",
        "5k",
        "5%",
        "$5",
        "#5",
        "4.5",
        "4,5",
        "3/4",
        "3/5/2026",
        "5:30",
        "1-5",
        "1 - 5",
        "4-5",
        "5+",
        "3 of 4",
        # a number that counts or times something
        "2 pm",
        "5 am",
        "5 o'clock",
        "5 dollars",
        "5 bucks",
        "2 weeks",
        "3 months",
        "5 min",
        "1 sec",
        "1 more question",
        "1 thing",
        "3 kids and no job",
        "2 payments left",
        "4 works for me",
        "3 or 4",
        "5 on friday",
        "5 by friday",
        "5 at noon",
        "one more thing",
        "one sec",
        "five dollars",
        "two weeks",
        "one moment please",
        "four stars for the bot and one for you",  # a word score: a comment only after punctuation
        # a number that is not first
        "can I pay 5 on friday",
        "I can do 5",
        "Great service, 5",
        "give me 5 minutes",
        # a question wants an answer
        "5?",
        "4, but why the fee?",
        "what does 5 mean?",
        # a comment with an amount, a date, or business for the assistant
        "5 i can pay 50",
        "4 - took 2 minutes",
        "5 tomorrow",
        "5 - see you monday",
        "4 thanks, i'll pay on the 15th",
        "1 this is not my debt",
        "1 - not mine",
        "1 wrong number",
        "2 i already paid",
        "1 the balance is wrong",
        "1 stop",
        "2 need more time",
        "1 i lost my job",
        "1 i want to file a complaint",
        "3 please call me",
        "1 - can you email me the proof",
        "1 who is this",
        "4 when is my next payment",
    ],
)
def test_anything_that_may_be_something_else_is_not_an_answer(text: str) -> None:
    assert parse_answer(text) is None


def test_a_very_long_message_is_not_an_answer() -> None:
    assert parse_answer("5 " + "great " * 60) is None
    assert parse_answer("5 " + "x" * (MAX_LENGTH - 3)) == (5, "x" * (MAX_LENGTH - 3))
