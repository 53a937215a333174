"""`kefu console`: a terminal where you type as a buyer and see what an agent would see."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory

from bot.cli.present import analysis_lines, problem_lines
from bot.core.labels import CardLabel, corrected
from bot.core.types import Category, Flag, Language
from bot.storage import labels as label_store
from bot.storage import migrate
from bot.storage.copilot import case_buyer, open_platform_case
from bot.storage.database import Database
from bot.storage.evidence import append_message
from bot.storage.models import utcnow
from bot.understanding import Analysis, Understanding

QUIT = {"/quit", "/exit", "/q"}
HELP = "/help"
WRONG = "/wrong"
CONFIRM = {"y", "yes"}


def is_command(line: str) -> bool:
    """A console command: one word starting with `/`, or `/wrong` with its arguments; anything
    else is a buyer's message."""
    words = line.split()
    return line.startswith("/") and (len(words) == 1 or words[0] == WRONG)


_Named = TypeVar("_Named", Category, Flag)
Reader = Callable[[str], str]
Writer = Callable[[str, str], None]


class ConsoleLog:
    """Logs console exchanges as evidence, like copilot pastes: one case per console session."""

    def __init__(self, database_url: str, *, mode: str, where: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.db = Database.open(database_url)
        self.case_id: int | None = None
        self.message_id: int | None = None  # the last buyer message logged
        self.mode = mode  # "practice" or "recording": the console.* wording key saying which
        self.where = where

    def buyer(self, analysis: Analysis) -> int:
        """Log a buyer message typed at the console; returns the case number."""
        return self.loop.run_until_complete(self._log("in", analysis.text, analysis, None))

    def correct(
        self, original: CardLabel, revision: int, category: Category, flags: frozenset[Flag]
    ) -> label_store.CorrectionOutcome:
        """Correct the last buyer message's category and flags (a chained correction record)."""
        return self.loop.run_until_complete(self._correct(original, revision, category, flags))

    async def _correct(
        self, original: CardLabel, revision: int, category: Category, flags: frozenset[Flag]
    ) -> label_store.CorrectionOutcome:
        assert self.message_id is not None
        assert self.case_id is not None
        async with self.db.transaction() as session:
            outcome = await label_store.claim_correction(
                session=session,
                target=label_store.message_target(self.message_id),
                message_id=self.message_id,
                original=original,
                expected_revision=revision,
                category=category,
                flags=flags,
                actor_telegram_id=None,
                extra={"via": "console"},
            )
            if outcome.written:
                await label_store.file_case_under(
                    session=session, conversation_id=self.case_id, category=category
                )
        return outcome

    def agent(self, text: str, analysis: Analysis, index: int | None) -> None:
        """Log the reply the agent picked or wrote."""
        self.loop.run_until_complete(self._log("out", text, analysis, index))

    async def _log(self, direction: str, text: str, analysis: Analysis, index: int | None) -> int:
        verdict = analysis.classification
        async with self.db.transaction() as session:
            if self.case_id is None:
                case = await open_platform_case(
                    session=session,
                    platform="other",
                    buyer_label="kefu console",
                    order_id=next(iter(verdict.entities.order_ids), None),
                    agent_id=None,
                )
                self.case_id = case.id
                buyer_id = case.buyer_id
            else:
                buyer_id = (await case_buyer(session=session, conversation_id=self.case_id)) or 0
            stored = await append_message(
                session=session,
                conversation_id=self.case_id,
                buyer_id=buyer_id,
                direction=direction,
                text=text,
                content_type="console",
                sent_at=utcnow(),
                category=verdict.category.value,
                confidence=verdict.confidence if direction == "in" else None,
                flags=verdict.sorted_flags() if direction == "in" else "",
                suggestion_index=index,
                suggestion_edited=False if index is not None else None,
            )
            if direction == "in":
                self.message_id = stored.id
        return self.case_id

    def close(self) -> None:
        """Release the database connections."""
        self.loop.run_until_complete(self.db.close())
        self.loop.close()


PRACTICE_DATABASE = "practice.db"


def practice_log(data_dir: Path) -> ConsoleLog:
    """The console's own practice database in the data dir, created and migrated on open."""
    path = data_dir / PRACTICE_DATABASE
    url = f"sqlite+aiosqlite:///{path.resolve()}"
    migrate.upgrade(url)
    return ConsoleLog(url, mode="practice", where=str(path))


def recording_log(database_url: str, *, where: str) -> ConsoleLog:
    """A log into the real evidence database (already checked to be there and migrated)."""
    return ConsoleLog(database_url, mode="recording", where=where)


def run_console(
    understanding: Understanding,
    *,
    ui: Language,
    history_path: Path,
    interactive: bool,
    log: ConsoleLog | None = None,
) -> None:
    """Run the console until /quit or end of input; plain lines when stdin is not a terminal."""
    if interactive:
        session: PromptSession[str] = PromptSession(history=FileHistory(str(history_path)))

        def read(prompt: str) -> str:
            return session.prompt(prompt)

        def write(text: str, style: str = "") -> None:
            print_formatted_text(FormattedText([(style, text)]))

    else:

        def read(prompt: str) -> str:
            return input()

        def write(text: str, style: str = "") -> None:
            print(text, flush=True)

    try:
        ConsoleLoop(understanding, ui=ui, read=read, write=write, log=log).run()
    finally:
        if log is not None:
            log.close()


class _Quit(Exception):
    """The user typed /quit (or input ended)."""


class ConsoleLoop:
    """Alternates buyer messages and agent answers: a number picks a suggestion, text is checked."""

    def __init__(
        self,
        understanding: Understanding,
        *,
        ui: Language,
        read: Reader,
        write: Writer,
        log: ConsoleLog | None = None,
    ):
        self.understanding = understanding
        self.log = log
        self.ui = ui
        self.read = read
        self.write = write
        self.words = understanding.phrasebook.wording
        self.current: Analysis | None = None  # the buyer message being answered, as shown
        self.original = CardLabel(None, frozenset())  # Kefu's own verdict on it
        self.label = self.original  # where it stands after the agent's corrections

    def text(self, key: str, **variables: object) -> str:
        """Console wording in the agent's language."""
        return self.words.text(self.ui, f"console.{key}", **variables)

    def run(self) -> None:
        """Loop until the user quits or input ends."""
        self.write(self.text("banner"), "ansicyan")
        if self.log is not None:
            self.write(self.text(self.log.mode, path=self.log.where), "ansiyellow")
        try:
            while True:
                message = self.ask(self.text("prompt"))
                if message:
                    self.buyer_turn(message)
        except (_Quit, EOFError, KeyboardInterrupt):
            pass
        self.write(self.text("bye"), "")

    def ask(self, prompt: str) -> str:
        """Read a line; console commands are handled here and never reach the log."""
        while True:
            line = self.read(prompt).strip()
            if not is_command(line):
                return line
            if line in QUIT:
                raise _Quit
            if line == HELP:
                self.write(self.text("help"), "ansicyan")
            elif line.split()[0] == WRONG:
                self.wrong(line.split()[1:])
            else:
                self.write(self.text("unknown_command", command=line), "ansiyellow")

    def buyer_turn(self, message: str) -> None:
        """Show the agent's view of a buyer message, log it, then take the agent's answer."""
        analysis = self.understanding.analyse(message)
        verdict = analysis.classification
        self.current = analysis
        self.original = self.label = CardLabel(verdict.category, verdict.flags)
        self.show(analysis)
        if self.log is not None:
            case = self.log.buyer(analysis)
            self.write(self.text("logged", case=case), "ansibrightblack")
        while True:
            answer = self.ask(self.text("agent_prompt"))  # may be corrected meanwhile (/wrong)
            if self.answer(self.current, answer):
                return

    def wrong(self, words: list[str]) -> None:
        """`/wrong CATEGORY [+FLAG] [-FLAG]`: correct the last buyer message, show its suggestions.

        Unknown words, or no buyer message yet, are refused in one line and nothing is logged.
        """
        if self.current is None:
            self.write(self.text("wrong_nothing"), "ansiyellow")
            return
        wanted = self.parse_wrong(words)
        if wanted is None:
            return
        category, flags = wanted
        if category is self.label.category and flags == self.label.flags:
            self.write(self.text("wrong_unchanged", category=self.name(category)), "ansiyellow")
            return
        label = CardLabel(category, flags, self.label.revision + 1)
        if self.log is not None and self.log.message_id is not None:
            outcome = self.log.correct(self.original, self.label.revision, category, flags)
            if not outcome.written:
                self.write(self.text("wrong_unchanged", category=self.name(category)), "ansiyellow")
                return
            label = outcome.label
        self.write(
            self.text("corrected", old=self.name(self.label.category), new=self.name(category)),
            "ansigreen",
        )
        self.label = label
        self.current = self.understanding.recompose(
            self.current, corrected(self.current.classification, label)
        )
        self.show(self.current)

    def name(self, category: Category | None) -> str:
        """A category's name in the agent's language."""
        return self.words.text(self.ui, f"category_names.{category}") if category else "-"

    def parse_wrong(self, words: list[str]) -> tuple[Category, frozenset[Flag]] | None:
        """The category and flags `/wrong` asks for; None (said why) when they are not clear."""
        categories = ", ".join(category.value for category in Category)
        flag_ids = ", ".join(flag.value for flag in Flag)
        if not words:
            self.write(
                self.text("wrong_usage", categories=categories, flags=flag_ids), "ansiyellow"
            )
            return None
        category = self.lookup(words[0], "category_names", Category)
        flags = set(self.label.flags)
        unknown = None if category is not None else words[0]
        for word in words[1:]:
            flag = self.lookup(word[1:], "flag_names", Flag) if word[:1] in "+-" else None
            if flag is None:
                unknown = unknown or word
            elif word.startswith("+"):
                flags.add(flag)
            else:
                flags.discard(flag)
        if category is None or unknown is not None:
            self.write(
                self.text("wrong_unknown", word=unknown, categories=categories, flags=flag_ids),
                "ansiyellow",
            )
            return None
        return category, frozenset(flags)

    def lookup(self, word: str, section: str, kind: type[_Named]) -> _Named | None:
        """A category or flag by its id or its name in any of the agent languages."""
        folded = word.strip().casefold()
        for member in kind:
            names = {member.value} | {
                self.words.text(language, f"{section}.{member.value}") for language in Language
            }
            if folded and folded in {name.casefold() for name in names}:
                return member
        return None

    def show(self, analysis: Analysis) -> None:
        """Print the agent's view, warnings in red."""
        for line in analysis_lines(analysis, understanding=self.understanding, ui=self.ui):
            warning = line.startswith(self.text("warnings"))
            self.write(line, "ansired bold" if warning else "")

    def answer(self, analysis: Analysis, answer: str) -> bool:
        """Handle the agent's answer; False when it was not used and the agent should answer again.

        A number picks that suggestion, other text is the agent's own reply, Enter skips. A reply
        the check finds problems in is logged only after the agent confirms it.
        """
        if not answer:
            return True
        draft, index = self.draft(analysis, answer)
        if draft is None:
            return False
        problems = self.understanding.check(draft, buyer=analysis.classification, language=self.ui)
        if problems:
            self.write(self.text("check_problems"), "ansiyellow bold")
            for line in problem_lines(problems):
                self.write(line, "ansiyellow")
            if self.ask(self.text("confirm")).lower() not in CONFIRM:
                self.write(self.text("cancelled"), "ansiyellow")
                return False
        else:
            self.write(self.text("check_ok"), "ansigreen")
        if self.log is not None:
            self.log.agent(draft, analysis, index)
        return True

    def draft(self, analysis: Analysis, answer: str) -> tuple[str | None, int | None]:
        """The reply an answer stands for and its suggestion number; (None, None) for no such one."""
        if not answer.isdigit():
            return answer, None
        suggestions = analysis.composition.suggestions
        index = int(answer)
        if not 1 <= index <= len(suggestions):
            self.write(
                self.text("no_such_suggestion", n=answer, count=len(suggestions)), "ansiyellow"
            )
            return None, None
        draft = suggestions[index - 1].text
        self.write(self.text("picked", n=index), "ansigreen")
        self.write(f"  {draft}", "")
        return draft, index
