"""`kefu console`: a terminal where you type as a buyer and see what an agent would see."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory

from bot.cli.present import analysis_lines, problem_lines
from bot.core.types import Language
from bot.understanding import Analysis, Understanding

QUIT = {"/quit", "/exit", "/q"}

Reader = Callable[[str], str]
Writer = Callable[[str, str], None]


def run_console(
    understanding: Understanding, *, ui: Language, history_path: Path, interactive: bool
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

    ConsoleLoop(understanding, ui=ui, read=read, write=write).run()


class ConsoleLoop:
    """Alternates buyer messages and agent answers: a number picks a suggestion, text is checked."""

    def __init__(self, understanding: Understanding, *, ui: Language, read: Reader, write: Writer):
        self.understanding = understanding
        self.ui = ui
        self.read = read
        self.write = write
        self.words = understanding.phrasebook.wording

    def text(self, key: str, **variables: object) -> str:
        """Console wording in the agent's language."""
        return self.words.text(self.ui, f"console.{key}", **variables)

    def run(self) -> None:
        """Loop until the user quits or input ends."""
        self.write(self.text("banner"), "ansicyan")
        try:
            while True:
                message = self.read(self.text("prompt")).strip()
                if message in QUIT:
                    break
                if not message:
                    continue
                analysis = self.understanding.analyse(message)
                self.show(analysis)
                answer = self.read(self.text("agent_prompt")).strip()
                if answer in QUIT:
                    break
                self.answer(analysis, answer)
        except (EOFError, KeyboardInterrupt):
            pass
        self.write(self.text("bye"), "")

    def show(self, analysis: Analysis) -> None:
        """Print the agent's view, warnings in red."""
        for line in analysis_lines(analysis, understanding=self.understanding, ui=self.ui):
            warning = line.startswith(self.text("warnings"))
            self.write(line, "ansired bold" if warning else "")

    def answer(self, analysis: Analysis, answer: str) -> None:
        """A number sends that suggestion; other text is the agent's own reply and is checked."""
        suggestions = analysis.composition.suggestions
        if answer.isdigit() and 1 <= int(answer) <= len(suggestions):
            draft = suggestions[int(answer) - 1].text
            self.write(self.text("picked", n=answer), "ansigreen")
            self.write(f"  {draft}", "")
        elif answer:
            draft = answer
        else:
            return
        problems = self.understanding.check(draft, buyer=analysis.classification, language=self.ui)
        if problems:
            self.write(self.text("check_problems"), "ansiyellow bold")
            for line in problem_lines(problems):
                self.write(line, "ansiyellow")
        else:
            self.write(self.text("check_ok"), "ansigreen")
