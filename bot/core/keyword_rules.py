"""The classifier's compiled keyword rules: what each phrase means and the tuning settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.normalize import DialectFolding
from bot.core.types import Category, Flag


class ExtortionRole:
    """What a phrase contributes to recognising extortion."""

    DIRECT = "direct"  # extortion on its own: 差评师, 私了, 买个平安
    BENEFIT = "benefit"  # money or goods demanded: 赔我, 红包, 转我, keep the item
    REVIEW = "review"  # a review mentioned as the lever: 好评, 五星, 评价, feedback
    COMPLAINT = "complaint"  # a complaint as the lever: 投诉, 举报, 12315, chargeback, report
    REFUND = "refund"  # a full refund: a demand only where no problem justifies it
    CONDITION = "condition"  # ties the demand to the lever: 不然, 否则, 的话, otherwise


EXTORTION_ROLES = frozenset(
    {
        ExtortionRole.DIRECT,
        ExtortionRole.BENEFIT,
        ExtortionRole.REVIEW,
        ExtortionRole.COMPLAINT,
        ExtortionRole.REFUND,
        ExtortionRole.CONDITION,
    }
)


@dataclass(frozen=True, slots=True)
class PhraseRule:
    """Everything one phrase means to the classifier (merged from every rule that names it)."""

    categories: tuple[tuple[Category, float], ...] = ()
    flags: tuple[tuple[Flag, float], ...] = ()
    negation: bool = False
    negates_any: bool = False  # a negation of will (不想, 不用, 没必要): cancels any category
    hypothetical: bool = False  # opens a condition (如果, 万一): the rest of the clause may not be
    extortion: frozenset[str] = frozenset()
    prefix: bool = False  # Latin phrase that may be followed by more letters ("refund*")
    # A shop's override: these categories always win over learned weights when it matches.
    override: tuple[tuple[Category, float], ...] = ()
    # An object ("发票", "退款", "验证码"): keywords of `object_takes` next to it ("发票没收到",
    # "退款什么时候到") are about the object, so they count for `object_of` instead.
    object_of: Category | None = None
    object_takes: frozenset[Category] = frozenset()

    @property
    def meaningful(self) -> bool:
        """True when the phrase scores something (neutral phrases only swallow others)."""
        return bool(
            self.categories or self.flags or self.extortion or self.object_of or self.override
        )


@dataclass(frozen=True, slots=True)
class PunctuationSignal:
    """A run of at least `min_run` ! or ? adds `weight` to `flag`."""

    min_run: int
    flag: Flag
    weight: float


@dataclass(frozen=True, slots=True)
class Rules:
    """The classifier's compiled keyword rules (built by the phrasebook loader)."""

    phrases: Mapping[str, PhraseRule]
    remedies: frozenset[Category] = frozenset(
        {Category.RETURN_REFUND, Category.BAD_REVIEW, Category.COMPLAINT, Category.INQUIRY}
    )
    remedy_factor: float = 0.3
    cause_threshold: float = 1.0
    flag_threshold: float = 1.0
    category_threshold: float = 0.5
    min_confidence: float = 0.4
    tie_margin: float = 0.25
    negation_window_zh: int = 2
    negation_window_en: int = 12
    token_boundary_max_len: int = 1
    negatable: frozenset[Category] = frozenset(
        {
            Category.DAMAGED_MISSING,
            Category.WRONG_ITEM,
            Category.NOT_AS_DESCRIBED,
            Category.QUALITY,
        }
    )
    # Categories a negation of will does not cancel: "不用开发票了" is still about the invoice.
    will_keeps: frozenset[Category] = frozenset()
    # Which category wins an exact tie (categories not listed follow in taxonomy order).
    tie_order: tuple[Category, ...] = tuple(Category)
    own_cause: frozenset[str] = frozenset()
    topic: frozenset[str] = frozenset()
    topic_factor: float = 1.0
    topic_keeps_against: frozenset[Category] = frozenset()
    question_markers: tuple[str, ...] = ()
    question_bonus: float = 0.0
    hypothetical_factor: float = 1.0
    hypothetical_window: int = 20
    # How far (characters between them) an object may sit before / after the keyword it takes.
    object_gap_before_zh: int = 4
    object_gap_after_zh: int = 1
    object_gap_before_en: int = 12
    object_gap_after_en: int = 6
    punctuation: tuple[PunctuationSignal, ...] = ()
    angry_emoji_weight: float = 0.0
    angry_emoji: frozenset[str] = frozenset()
    shouting_min_words: int = 3
    shouting_weight: float = 0.0
    extortion_flags: frozenset[Flag] = frozenset({Flag.WANTS_COMPENSATION})
    # Short words that tie a demand to a lever only when both are present ("给我200我就删评"):
    # too common to be phrases of their own, so they are looked up as substrings.
    extortion_links: tuple[str, ...] = ()
    # Verbs that make a nearby number a demanded amount ("转我300", "pay me 40").
    demand_verbs: tuple[str, ...] = ()
    demand_gap: int = 4
    lever_words: tuple[str, ...] = ()  # review_levers and complaint_levers together
    review_levers: tuple[str, ...] = ()
    complaint_levers: tuple[str, ...] = ()
    # A good review promised for a benefit threatens no review ("返我10元就给好评"); a word
    # that names a review without saying good or bad leaves it to the rest of the message.
    promised_reviews: tuple[str, ...] = ()
    neutral_reviews: tuple[str, ...] = ()
    threat_intents: tuple[str, ...] = ()  # "I'll", "or I": a lever with one is a threat (en)
    # A near time (today, Saturday) and a need (for my, before, due) together: urgent (en).
    urgent_times: tuple[str, ...] = ()
    urgent_needs: tuple[str, ...] = ()
    review_changes: tuple[str, ...] = ()  # 改, 删: a good review "changed to" holds a bad one
    # "也不要你们赔什么", "I don't want any money": the message demands nothing.
    renounced: tuple[str, ...] = ()
    # A review or complaint the demand offers to take back ("转我88就删", "I'll close the
    # dispute"): already made, it is the price, not a threat — unless a new one is threatened.
    review_withdrawals: tuple[str, ...] = ()
    complaint_withdrawals: tuple[str, ...] = ()
    withdraw_verbs: tuple[str, ...] = ()  # 撤, withdraw: said of a complaint word close by
    new_threats: tuple[str, ...] = ()  # 不然, 否则, otherwise: what follows a refusal
    withdrawal_refusals: tuple[str, ...] = ()  # 不, won't: "差评不会删" keeps the threat
    number_labels: tuple[str, ...] = ()  # 尾号, order: the number after one is no price
    counted_units: tuple[str, ...] = ()
    link_max_length: int = 60
    max_demand_digits: int = 4
    extortion_max_length: int = 80
    # A money amount is a demand unless one of these stands just before it ("花了200块",
    # "paid $50") or one of `paid_after` right after it ("200块买的").
    paid_words: tuple[str, ...] = ()
    paid_after: tuple[str, ...] = ()
    dialect: DialectFolding = field(default_factory=DialectFolding)
    # Words a card never shows as the keywords that decided (的, 了, the, i): `explain`.
    quiet_words: frozenset[str] = frozenset()
    fallback: Category = Category.INQUIRY
    fallback_confidence: float = 0.3
    # Built from the fields above, never passed in (so `dataclasses.replace` rebuilds them).
    trie: dict[str, object] = field(init=False, compare=False, repr=False)
    tie_rank: dict[Category, int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        root: dict[str, object] = {}
        for phrase in self.phrases:
            node = root
            for char in phrase:
                child = node.get(char)
                if child is None:
                    child = {}
                    node[char] = child
                assert isinstance(child, dict)
                node = child
            node[""] = phrase
        object.__setattr__(self, "trie", root)
        ranked = dict.fromkeys([*self.tie_order, *Category])
        object.__setattr__(self, "tie_rank", {category: i for i, category in enumerate(ranked)})
