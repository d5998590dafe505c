"""LiveChart redraws its figure when a slider moves; the lesson dashboards built on it respond."""

from __future__ import annotations

import pytest

from memlab.errors import MemlabError
from memlab.scenarios.overcommit import Machine
from memlab.units import GiB
from memlab.widgets.live import LiveChart, int_slider
from memlab.widgets.lesson_dashboards import overcommit_dashboard


def bars(fig, n):
    if n == 5:
        raise MemlabError("five is refused")
    fig.clear()
    fig.add_subplot().bar([0], [n])
    return f"n = {n}"


class TestLiveChart:
    """Each slider move redraws once; an error is shown and the last picture kept."""

    def test_redraws_on_change(self):
        live = LiveChart(bars, {"n": int_slider("n", 0, 9, 1)})
        first = live.png
        live.set(n=8)
        assert live.renders == 2 and live.text == "n = 8" and live.png != first

    def test_error_keeps_the_picture(self):
        live = LiveChart(bars, {"n": int_slider("n", 0, 9, 1)})
        before = live.png
        live.set(n=5)
        assert live.text == "error: five is refused" and live.png == before

    def test_unknown_slider(self):
        live = LiveChart(bars, {"n": int_slider("n", 0, 9, 1)})
        with pytest.raises(TypeError, match="no slider named m"):
            live.set(m=1)


class TestOvercommitDashboard:
    """The sliders reach the model: mode, RAM and the written share change the outcome."""

    def test_sliders(self):
        d = overcommit_dashboard(Machine(ram=16 * GiB), request_gib=12)
        assert d.text.startswith("malloc(12.0 GiB): memory")
        d.set(ram_gib=8)
        assert d.text.startswith("malloc(12.0 GiB): NULL")
        d.set(written_pct=100)
        assert "OOM kill" in d.text
        d.set(swap_gib=8)
        assert "OOM kill" not in d.text and "SWAP 4.0 GiB" in d.text


class TestTopDashboard:
    """The RAM line is drawn where the RAM slider puts it, not at the highest RES seen: pages
    swapped out while the vector grew stay in swap, so its stages' RES sit below the line."""

    def test_ram_line_is_the_ram_given(self):
        from memlab.scenarios.pressure import peak, ram_for
        from memlab.widgets.lesson_dashboards import top_dashboard

        d = top_dashboard("vector", 2**16)
        d.set(ram_percent=95)
        (line,) = [ln for ln in d.figure.axes[0].get_lines() if ln.get_linestyle() == "--"]
        assert line.get_ydata()[0] == ram_for("vector", 2**16, 95)
        assert ram_for("vector", 2**16, 95) > 0.9 * peak("vector", 2**16)
        assert "RAM 95 %" in d.text
