"""No input string makes the whole understanding path (classify, compose, check) raise."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.types import Language
from bot.understanding import load_understanding

UNDERSTANDING = load_understanding(DEFAULT_PHRASEBOOK_DIR)
# Every {variable} the shipped replies use: none may be left unfilled in a suggestion.
PLACEHOLDERS = sorted(
    {
        f"{{{name}}}"
        for path in (DEFAULT_PHRASEBOOK_DIR / "replies").glob("*.yaml")
        for name in re.findall(r"\{([a-z_][a-z0-9_]*)\}", path.read_text(encoding="utf-8"))
    }
)

odd_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=50),
    st.text(alphabet="还没收到货破损退款差评给我钱元！？!?😡🙏 \n\t", max_size=200),
    st.just(""),
    st.just("差" * 10_000),
    st.just("💢" * 2_000),
    st.just("Where is my order 還沒收到 [订单x] [金额x] #E-s[数字x] \u200b\u202e"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(buyer=odd_text, draft=odd_text)
def test_analyse_and_check_never_raise(buyer: str, draft: str) -> None:
    analysis = UNDERSTANDING.analyse(buyer, variables={"buyer_name": draft[:20] or None})
    assert 0.0 <= analysis.classification.confidence <= 1.0
    assert 2 <= len(analysis.composition.suggestions) <= 3
    for suggestion in analysis.composition.suggestions:
        # (the buyer's name may hold braces itself; spacing around it may be tidied)
        text = suggestion.text.replace(draft[:20].strip(), "")
        assert [p for p in PLACEHOLDERS if p in text] == []
    problems = UNDERSTANDING.check(draft, buyer=analysis.classification, language=Language.EN)
    assert all(problem.reason for problem in problems)
