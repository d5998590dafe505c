"""Predict, then reveal: the student commits to an answer before seeing it, and cannot take it back."""

from __future__ import annotations

import html

import ipywidgets as w
import traitlets
from IPython.display import display

__all__ = ["Prediction", "latest_prediction"]

_latest: list = []


def latest_prediction():
    """The Prediction made last (None before the first): the one a reveal cell waits for."""
    return _latest[0] if _latest else None


class _Lockable:
    """A trait that refuses any new value, None included, once its widget is locked."""

    def _validate(self, obj, value):
        if getattr(obj, "_locked", False) and value != getattr(obj, self.name):
            raise traitlets.TraitError(f"this prediction is committed ({obj.value!r}); "
                                       f"its {self.name} cannot change")
        return super()._validate(obj, value)


class _LockableAny(_Lockable, traitlets.Any):
    pass


class _LockableUnicode(_Lockable, traitlets.Unicode):
    pass


class _LockableInt(_Lockable, traitlets.Int):
    pass


class _Choices(w.RadioButtons):
    """Radio buttons that refuse any change once locked (from code or from the page)."""

    value = _LockableAny(None, help="Selected value", allow_none=True)
    label = _LockableUnicode(None, help="Selected label", allow_none=True)
    index = _LockableInt(None, help="Selected index", allow_none=True).tag(sync=True)
    _locked = False

    def lock(self) -> None:
        self.disabled = True
        self._locked = True

    @traitlets.validate("options")
    def _validate_options(self, proposal):
        if self._locked:
            raise traitlets.TraitError("this prediction is committed; its options cannot change")
        return super()._validate_options(proposal)

    @traitlets.validate("disabled")
    def _validate_disabled(self, proposal):
        return True if self._locked else proposal.value


class Prediction(w.VBox):
    """A question with choices; the answer and its explanation appear only after "Commit".

    A committed choice is final: ``choices`` refuses any change afterwards, so ``choice`` and
    ``correct`` are what the student committed to. Cells that reveal the answer wait for the
    commit (``memlab.widgets.reveal``). In a notebook the committed prediction is then shown
    as plain HTML (question, choice, answer, explanation), readable without a kernel.

    >>> p = Prediction("Does free() give memory back?", ["always", "sometimes"], "sometimes",
    ...                "Only memory at the top of the heap, or an mmapped block.")
    >>> p.choices.value = "sometimes"; p.commit_button.click()
    >>> p.committed, p.correct, p.choice
    (True, True, 'sometimes')
    >>> p.choices.value = "always"
    Traceback (most recent call last):
    ...
    traitlets.traitlets.TraitError: this prediction is committed ('sometimes'); its value cannot change
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
        self._text = question
        self._options = tuple(options)
        self._answer = str(answer)
        self._explanation = explanation
        self._choice: str | None = None
        self._waiting: list = []
        self._handles: list = []
        self._question = w.HTML(f"<b>Predict:</b> {html.escape(question)}")
        self._choices = _Choices(options=options, value=None, layout={"width": "max-content"})
        self._button = w.Button(description="Commit", disabled=True, button_style="primary",
                                tooltip="lock in your prediction, then see the answer")
        self._reveal = w.HTML("")
        self._choices.observe(self._on_choice, names="value")
        self._button.on_click(self._on_commit)
        super().__init__([self._question, self._choices, self._button, self._reveal])
        _latest[:] = [self]

    @property
    def question(self) -> str:
        """The question asked."""
        return self._text

    @property
    def choices(self) -> w.RadioButtons:
        """The radio buttons the student picks from (locked once committed)."""
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
    def explanation(self) -> str:
        """Why the answer is right."""
        return self._explanation

    @property
    def committed(self) -> bool:
        """Whether the student has committed a prediction."""
        return self._choice is not None

    @property
    def choice(self) -> str | None:
        """The committed option (None before committing)."""
        return self._choice

    @property
    def correct(self) -> bool | None:
        """Whether the committed prediction is right (None before committing)."""
        return None if self._choice is None else self._choice == self._answer

    @property
    def revealed_text(self) -> str:
        """What the reveal line shows (empty before committing), as HTML."""
        return self._reveal.value

    def when_committed(self, callback) -> None:
        """Call ``callback()`` once the prediction is committed (at once if it is already)."""
        if self.committed:
            callback()
        else:
            self._waiting.append(callback)

    def record(self) -> dict:
        """The prediction as a plain MIME bundle (HTML and text): question, options, and once
        committed the choice, the answer and the explanation."""
        marks = []
        for option in self._options:
            mark = "(x)" if option == self._choice else "( )"
            marks.append((mark, option))
        lines = [f"Predict: {self._text}"] + [f"  {m} {o}" for m, o in marks]
        items = "".join(f"<li>{'&#9673;' if m == '(x)' else '&#9675;'} {html.escape(o)}</li>"
                        for m, o in marks)
        body = (f"<div><b>Predict:</b> {html.escape(self._text)}"
                f"<ul style='list-style:none;padding-left:1em'>{items}</ul>")
        if self.committed:
            lines += [self._verdict_text(), self._explanation]
            body += self._reveal.value
        else:
            lines.append("(not committed)")
            body += "<p><i>not committed</i></p>"
        return {"text/html": body + "</div>", "text/plain": "\n".join(lines)}

    def _ipython_display_(self) -> None:
        bundle = dict(self._repr_mimebundle_())
        bundle["text/plain"] = self.record()["text/plain"]
        self._handles.append(display(bundle, raw=True, display_id=True))

    def _verdict_text(self) -> str:
        verdict = "Right" if self.correct else "Not this time"
        return f"{verdict}. You predicted {self._choice}; the answer is {self._answer}."

    def _on_choice(self, change) -> None:
        self._button.disabled = change["new"] is None or self.committed

    def _on_commit(self, _button) -> None:
        if self._choices.value is None or self.committed:
            return
        self._choice = self._choices.value
        self._choices.lock()
        self._button.disabled = True
        verdict = "Right" if self.correct else "Not this time"
        self._reveal.value = (
            f"<p><b>{verdict}.</b> You predicted <i>{html.escape(self._choice)}</i>; "
            f"the answer is <b>{html.escape(self._answer)}</b>.</p>"
            f"<p>{html.escape(self._explanation)}</p>")
        for handle in self._handles:  # the live widget becomes its plain record
            handle.update(self.record(), raw=True)
        waiting, self._waiting = self._waiting, []
        for callback in waiting:
            callback()
