"""Reveals held back by their Prediction: a cell's answer shows only once the guess is committed.

A reveal cell computes at once (later cells may use its results), but what it prints or displays
is kept back while the Prediction before it is not committed; the moment it is, the output takes
the place of a short "commit first" line. Run All therefore spoils nothing, and a notebook run
top to bottom without anyone committing (nbmake, a grader) keeps every answer hidden.
"""

from __future__ import annotations

import contextlib

from IPython import get_ipython
from IPython.display import display
from IPython.utils.capture import capture_output

from memlab.widgets.prediction import latest_prediction

__all__ = ["Held", "reveal", "HIDDEN"]

#: What a held reveal shows until its prediction is committed.
HIDDEN = "(The answer appears here when you commit your prediction above.)"


class Held:
    """The outputs of one reveal, shown when ``prediction`` is committed.

    ``bundles`` are MIME bundles (printed text becomes ``text/plain``); ``shown`` says whether
    they have been shown.
    """

    def __init__(self, prediction) -> None:
        self.prediction = prediction
        self.bundles: list[dict] = []
        self.shown = prediction is None or prediction.committed
        self._handles: list = []

    @property
    def text(self) -> str:
        """The plain text of the held outputs."""
        return "".join(b.get("text/plain", "") for b in self.bundles)

    def _hold(self, captured) -> None:
        if captured.stdout:
            self.bundles.append({"text/plain": captured.stdout.rstrip("\n")})
        for out in captured.outputs:
            self.bundles.append(dict(out.data))
        if get_ipython() is None:
            print(HIDDEN)
        else:
            for i, _ in enumerate(self.bundles or [{}]):
                placeholder = {"text/plain": HIDDEN if i == 0 else ""}
                self._handles.append(display(placeholder, raw=True, display_id=True))
        self.prediction.when_committed(self._show)

    def _show(self) -> None:
        self.shown = True
        if not self._handles:
            for bundle in self.bundles:
                print(bundle.get("text/plain", ""))
            return
        for handle, bundle in zip(self._handles, self.bundles or [{"text/plain": ""}]):
            handle.update(bundle, raw=True)


@contextlib.contextmanager
def reveal(prediction=None):
    """Run the block now; hold what it prints or displays until ``prediction`` (by default the
    last Prediction made) is committed. Yields the ``Held`` outputs.

    >>> from memlab.widgets import Prediction
    >>> p = Prediction("2 + 2?", ["4", "5"], "4", "Count them: four.")
    >>> with reveal(p) as held:
    ...     answer = 2 + 2
    ...     print("2 + 2 =", answer)
    (The answer appears here when you commit your prediction above.)
    >>> answer, held.shown
    (4, False)
    >>> p.choices.value = "5"; p.commit_button.click()
    2 + 2 = 4
    """
    prediction = latest_prediction() if prediction is None else prediction
    held = Held(prediction)
    if held.shown:  # nothing to wait for
        yield held
        return
    shell = get_ipython()
    with capture_output(stdout=True, stderr=False, display=shell is not None) as captured:
        yield held  # an exception leaves here: an error is no answer, it shows at once
    held._hold(captured)
