"""Predict, then reveal: the student commits to an answer before seeing it."""

from __future__ import annotations

import html

import ipywidgets as w

__all__ = ["Prediction"]


class Prediction(w.VBox):
    """A question with choices; the answer and its explanation appear only after "Commit".

    >>> p = Prediction("Does free() give memory back?", ["always", "sometimes"], "sometimes",
    ...                "Only memory at the top of the heap, or an mmapped block.")
    >>> p.choices.value = "sometimes"; p.commit_button.click()
    >>> p.committed, p.correct
    (True, True)
    """

    def __init__(self, question: str, options, answer, explanation: str) -> None:
        options = [str(o) for o in options]
        if len(options) < 2:
            raise ValueError(f"a prediction needs at least two options, got {options!r}")
        if len(set(options)) != len(options):
            raise ValueError(f"options repeat: {options!r}")
        if isinstance(answer, int) and not isinstance(answer, bool):
            if not 0 <= answer < len(options):
                raise ValueError(f"answer index {answer} outside 0..{len(options) - 1}")
            answer = options[answer]
        if str(answer) not in options:
            raise ValueError(f"answer {answer!r} is not one of the options {options!r}")
        self._answer = str(answer)
        self._explanation = explanation
        self._question = w.HTML(f"<b>Predict:</b> {html.escape(question)}")
        self._choices = w.RadioButtons(options=options, value=None,
                                       layout={"width": "max-content"})
        self._button = w.Button(description="Commit", disabled=True, button_style="primary",
                                tooltip="lock in your prediction, then see the answer")
        self._reveal = w.HTML("")
        self._choices.observe(self._on_choice, names="value")
        self._button.on_click(self._on_commit)
        super().__init__([self._question, self._choices, self._button, self._reveal])

    @property
    def choices(self) -> w.RadioButtons:
        """The radio buttons the student picks from."""
        return self._choices

    @property
    def commit_button(self) -> w.Button:
        """The button that locks the choice and reveals the answer."""
        return self._button

    @property
    def answer(self) -> str:
        """The right option."""
        return self._answer

    @property
    def committed(self) -> bool:
        """Whether the student has committed a prediction."""
        return self._choices.disabled

    @property
    def correct(self) -> bool | None:
        """Whether the committed prediction is right (None before committing)."""
        return self._choices.value == self._answer if self.committed else None

    @property
    def revealed_text(self) -> str:
        """What the reveal line shows (empty before committing), as HTML."""
        return self._reveal.value

    def _on_choice(self, change) -> None:
        self._button.disabled = change["new"] is None or self.committed

    def _on_commit(self, _button) -> None:
        if self._choices.value is None or self.committed:
            return
        self._choices.disabled = True
        self._button.disabled = True
        verdict = "Right" if self.correct else "Not this time"
        self._reveal.value = (
            f"<p><b>{verdict}.</b> You predicted <i>{html.escape(self._choices.value)}</i>; "
            f"the answer is <b>{html.escape(self._answer)}</b>.</p>"
            f"<p>{html.escape(self._explanation)}</p>")
