"""Interactive lessons (ipywidgets only): dashboards that replay a scenario as sliders move, and predictions.

    Dashboard      sliders, a release menu, a player and live charts     (dashboard)
    Prediction     a committed guess with its explanation                (prediction)
    reveal         a cell's output held back until its Prediction is committed (reveal)
    KNOBS          glibc's four mallopt knobs as sliders                 (controls)
"""

from memlab.widgets.controls import KNOBS
from memlab.widgets.dashboard import Dashboard
from memlab.widgets.prediction import Prediction
from memlab.widgets.reveal import reveal

__all__ = ["Dashboard", "Prediction", "reveal", "KNOBS"]
