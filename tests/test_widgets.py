"""Widgets driven as a student would: sliders to their ends, play to the end, predictions."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from memlab.glibc import Malloc
from memlab.replay import Replayer
from memlab.scenarios import DYNAMIC_THRESHOLD, SMALL_REQUESTS, TWO_SOURCES
from memlab.trace import parse_trace
import traitlets

from memlab.widgets import KNOBS, Dashboard, Prediction, reveal
from memlab.widgets.reveal import HIDDEN


def one_block(size):
    return f"a 0 {size}\nw 0\nf 0\n"


ONE_BLOCK = [("size", 16, 400_000, 16, 1024, "bytes asked for")]


def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)


def play_to_end(d):
    d.play.value = 0
    for v in range(d.play.max + 1):
        d.play.value = v  # the Play widget is linked to the operation slider
    assert d.step == d.step_slider.max


@pytest.fixture(scope="module")
def dash():
    return Dashboard(TWO_SOURCES.text, TWO_SOURCES.params, title="two sources", prefetch=False)


class TestDashboardDrivenLikeAStudent:
    def test_every_slider_to_its_ends_then_play_to_the_end(self, dash):
        """Each scenario slider and knob at min and max replays and plays through."""
        for slider in [*dash.sliders.values(), *dash.knobs.values()]:
            ends = ((slider.min, slider.max) if hasattr(slider, "min")
                    else (slider.options[0][1], slider.options[-1][1]))
            for end in ends:
                renders = dash.renders
                slider.value = end
                assert dash.renders > renders
                play_to_end(dash)
            slider.value = ends[0] if slider.description not in dash.knobs else \
                next(k.default for k in KNOBS if k.name == slider.description)

    def test_moving_a_slider_changes_the_picture(self, dash):
        """A bigger first block changes the charts' data and the picture."""
        dash.set(size=4096)
        before, heap_before = dash.png, dash.charts["heap"].picture
        dash.set(size=1_048_576)
        assert dash.png != before
        assert dash.charts["heap"].picture != heap_before
        assert list(dash.charts["timeline"].lines["held"].get_ydata()) == list(dash.timeline.held)

    def test_knob_at_default_adds_no_mallopt(self, dash):
        """Knobs at glibc's defaults leave the trace alone."""
        dash.reset_knobs()
        assert dash.settings == {}
        assert all(op.kind != "mallopt" for op in dash.ops)

    def test_moved_knob_prepends_mallopt_and_changes_the_path(self, dash):
        """A 256 KiB mmap threshold puts a 200,704-byte block on the heap instead of a mapping."""
        dash.set(size=200_704)
        dash.step = 1
        assert dash.timeline.hblkhd[1] > 0  # default: its own mapping
        dash.set(M_MMAP_THRESHOLD=262_144)
        assert str(dash.ops[0]) == "o M_MMAP_THRESHOLD 262144"
        assert dash.step == 1 and dash.timeline.hblkhd[1] == 0
        assert dash.timeline.arena[1] > 200_704
        dash.reset_knobs()

    def test_going_back_to_a_configuration_uses_the_cache(self, dash):
        """A configuration seen before is not replayed again."""
        dash.set(size=8192)
        dash.set(size=12288)
        built = dash.runs_built
        dash.set(size=8192)
        assert dash.runs_built == built

    def test_unknown_slider_name_is_refused(self, dash):
        """set() names the unknown slider and lists the known ones."""
        with pytest.raises(ValueError, match="no slider named nope"):
            dash.set(nope=1)


class TestExplainLine:
    def test_says_which_path_with_the_models_numbers(self):
        """The line for malloc(200000) shows the model's own note for that call."""
        d = Dashboard(one_block, ONE_BLOCK, charts=("timeline",))
        d.set(size=200_000)
        d.step = 1
        m = Malloc()
        m.malloc(200_000)
        assert m.last_note.text in d.explanation and "a 0 200000" in d.explanation
        assert "mmap threshold" in d.explanation or "mapping" in d.explanation
        d.step = 2  # bytes 16..200,015 of the mapping: 49 pages, the first already resident
        assert "writes" in d.explanation and "+48 pages" in d.explanation
        d.step = 0
        assert d.explanation.startswith("before operation 1")

    def test_bad_trace_is_reported_and_the_last_picture_kept(self):
        """A factory error shows in the explain line; the dashboard keeps its state."""
        def factory(size):
            if size == 32:
                raise ValueError("no size 32 here")
            return one_block(size)

        d = Dashboard(factory, ONE_BLOCK, charts=("heap",))
        png = d.png
        d.set(size=32)
        assert "no size 32 here" in d.explain.value and d.png == png


class TestModelAtAStep:
    def test_any_step_equals_a_fresh_replay_to_that_step(self):
        """Stepping back and forth (checkpoints) gives the state a fresh replay reaches."""
        d = Dashboard(SMALL_REQUESTS.text, SMALL_REQUESTS.params, charts=("bins",))
        d.set(n=400, size=40)
        ops = parse_trace(SMALL_REQUESTS.text(n=400, size=40))
        for k in (800, 5, 300, 299, 700, 0, 513, 256):
            d.step = k
            r = Replayer(ops, Malloc())
            r.run(k)
            assert d.model.mallinfo2() == r.malloc.mallinfo2(), k
            assert list(d.model.chunks()) == list(r.malloc.chunks()), k


def ten_small_blocks(n):
    """n malloc(24), then all freed in order: tcache takes its count, fastbins the rest."""
    return "".join(f"a {i} 24\n" for i in range(n)) + "".join(f"f {i}\n" for i in range(n))


TEN_SMALL = [("n", 1, 20, 1, 10, "blocks")]


@pytest.fixture
def fake_release(monkeypatch):
    """A made-up release '9.99' whose tcache keeps 2 chunks per bin, added to RELEASES."""
    import dataclasses

    from memlab.glibc.release import GLIBC_2_36, RELEASES

    fake = dataclasses.replace(GLIBC_2_36, name="9.99", tcache_count=2)
    monkeypatch.setitem(RELEASES, "9.99", fake)
    return fake


class TestReleaseSelector:
    def test_menu_offers_exactly_the_modelled_releases(self, fake_release):
        """The release menu lists RELEASES' keys, in order, and starts at 2.36."""
        from memlab.glibc.release import RELEASES

        d = Dashboard(ten_small_blocks, TEN_SMALL, charts=("bins",))
        assert tuple(d.release.options) == tuple(RELEASES)
        assert "9.99" in d.release.options
        assert d.release.value == d.glibc == "2.36"
        assert "glibc 2.36 model" in d.config.value

    def test_selecting_a_release_replays_on_that_release(self, fake_release):
        """Choosing a release rebuilds the model with it, redraws, and names it in the config."""
        d = Dashboard(ten_small_blocks, TEN_SMALL, charts=("bins", "timeline"), prefetch=False)
        # glibc 2.36: 7 of the 10 freed 32-byte chunks go to tcache, 3 to a fastbin
        assert d.model.release.name == "2.36" and d.model.mallinfo2().smblks == 3
        built, png, counts = d.runs_built, d.png, d.charts["bins"].counts
        d.release.value = "9.99"  # what a student's click does
        assert d.model.release.name == "9.99"
        assert d.model.mallinfo2().smblks == 8  # a tcache of 2 leaves 8 for the fastbin
        assert d.charts["bins"].counts.tcache_chunks[0] == 2
        assert "glibc 9.99 model" in d.config.value
        assert d.runs_built == built + 1 and d.png != png
        d.glibc = "2.36"  # back: from the cache, the same data as before (the axes may have
        assert d.runs_built == built + 1 and d.model.mallinfo2().smblks == 3  # kept their scale)
        assert d.charts["bins"].counts == counts

    def test_release_is_part_of_the_configuration(self, fake_release):
        """Sliders keep their values across a release change, and each pair is cached."""
        d = Dashboard(ten_small_blocks, TEN_SMALL, charts=("bins",))
        d.set(n=4)
        d.glibc = "9.99"
        assert d.values == {"n": 4} and d.model.mallinfo2().smblks == 2
        d.set(n=10)
        assert d.model.mallinfo2().smblks == 8 and d.glibc == "9.99"

    @pytest.mark.parametrize("name", sorted(__import__("memlab.glibc.release",
                                                      fromlist=["RELEASES"]).RELEASES))
    def test_each_modelled_release_equals_a_fresh_model_of_it(self, name):
        """For every release the model has, the dashboard shows a fresh Malloc(glibc=name)'s state."""
        d = Dashboard(TWO_SOURCES.text, TWO_SOURCES.params, charts=("bins",))
        d.glibc = name
        r = Replayer(parse_trace(TWO_SOURCES.text(size=200_000)), Malloc(glibc=name))
        r.run()
        assert d.model.release.name == name
        assert d.model.mallinfo2() == r.malloc.mallinfo2()

    def test_unknown_release_is_refused(self):
        """A release the model does not have is an error naming the known ones."""
        with pytest.raises(ValueError, match="modelled releases"):
            Dashboard(one_block, ONE_BLOCK, glibc="2.39")
        d = Dashboard(one_block, ONE_BLOCK, charts=("bins",))
        with pytest.raises(ValueError, match="2.39"):
            d.glibc = "2.39"
        assert d.glibc == "2.36"


class TestChartsChoice:
    def test_subset_of_charts(self):
        """charts= picks which charts are drawn."""
        d = Dashboard(DYNAMIC_THRESHOLD.text, DYNAMIC_THRESHOLD.params, charts=("timeline",))
        assert set(d.charts) == {"timeline"} and len(d.figure.axes) == 1

    def test_unknown_chart_is_refused(self):
        """A chart name that does not exist is an error naming the choices."""
        with pytest.raises(ValueError, match="charts must be some of"):
            Dashboard(one_block, ONE_BLOCK, charts=("pie",))


class TestFastFrames:
    def test_cached_layers_give_the_same_picture_as_a_full_draw(self):
        """A frame assembled from cached layers matches savefig of the same figure."""
        d = Dashboard(TWO_SOURCES.text, TWO_SOURCES.params)
        for size in (4096, 1_048_576, 200_704):
            d.set(size=size)
            for step in (1, 3, 5):
                d.step = step
                buf = io.BytesIO()
                d.figure.savefig(buf, format="png", dpi=d.figure.dpi)
                fast, full = pixels(d.png), pixels(buf.getvalue())
                assert fast.shape == full.shape
                differ = np.mean(np.abs(fast - full).max(axis=2) > 60)
                assert differ < 0.002, (size, step, differ)


class TestPrediction:
    def make(self):
        return Prediction("Where does malloc(200000) come from?", ["brk heap", "mmap"], "mmap",
                          "200,016 bytes is above the 131,072-byte threshold.")

    def test_answer_hidden_until_committed(self):
        """Nothing is revealed, and Commit is disabled, until a choice is made and committed."""
        p = self.make()
        assert p.revealed_text == "" and p.commit_button.disabled and p.correct is None
        p.choices.value = "brk heap"
        assert not p.commit_button.disabled and p.revealed_text == ""
        p.commit_button.click()
        assert p.committed and p.correct is False
        assert "mmap" in p.revealed_text and "131,072" in p.revealed_text

    def test_committed_choice_is_locked(self):
        """After committing, the choice cannot change."""
        p = self.make()
        p.choices.value = "mmap"
        p.commit_button.click()
        assert p.choices.disabled and p.commit_button.disabled and p.correct is True

    def test_committed_prediction_cannot_change_from_code(self):
        """Teachers read choice and correct: no assignment after the commit changes them."""
        p = self.make()
        p.choices.value = "brk heap"
        p.commit_button.click()
        for name, value in (("value", "mmap"), ("index", 1), ("label", "mmap"),
                            ("options", ["mmap", "brk heap"]), ("value", None)):
            with pytest.raises(traitlets.TraitError, match="committed"):
                setattr(p.choices, name, value)
        p.choices.disabled = False
        p.commit_button.disabled = False
        p.commit_button.click()
        assert p.choices.disabled and p.choices.value == "brk heap" and p.choices.index == 0
        assert (p.choice, p.correct, p.committed) == ("brk heap", False, True)
        assert p.revealed_text.count("Not this time") == 1

    def test_committed_prediction_cannot_change_from_the_page(self):
        """A change sent by the page (a comm message's state) is refused the same way."""
        p = self.make()
        p.choices.set_state({"index": 1})
        assert p.choices.value == "mmap"
        p.commit_button.click()
        with pytest.raises(traitlets.TraitError):
            p.choices.set_state({"index": 0})
        with pytest.raises(traitlets.TraitError):
            p.choices.set_state({"disabled": False, "index": 0})
        assert (p.choice, p.correct, p.choices.index, p.choices.disabled) == ("mmap", True, 1, True)

    def test_record_is_readable_without_a_kernel(self):
        """The plain bundle shows the question and choices, and once committed the choice."""
        p = self.make()
        before = p.record()
        assert "Where does malloc(200000)" in before["text/plain"] and "200,016" not in str(before)
        p.choices.value = "mmap"
        p.commit_button.click()
        after = p.record()
        assert "(x) mmap" in after["text/plain"] and "200,016" in after["text/plain"]
        assert "Right" in after["text/html"]

    def test_answer_by_index_and_bad_answers(self):
        """The answer may be an index; an answer outside the options is refused."""
        assert Prediction("q", ["a", "b"], 1, "e").answer == "b"
        with pytest.raises(ValueError, match="not one of the options"):
            Prediction("q", ["a", "b"], "c", "e")
        with pytest.raises(ValueError, match="at least two options"):
            Prediction("q", ["a"], "a", "e")


class TestReveal:
    """A reveal computes at once and shows its output only when its prediction is committed."""

    def test_output_held_until_commit_then_shown_once(self, capsys):
        p = TestPrediction().make()
        with reveal() as held:  # the last Prediction made
            value = 200_016
            print(f"chunk {value:,}")
        assert value == 200_016 and not held.shown and held.prediction is p
        assert capsys.readouterr().out == HIDDEN + "\n"
        p.choices.value = "mmap"
        assert capsys.readouterr().out == ""
        p.commit_button.click()
        assert held.shown and capsys.readouterr().out == "chunk 200,016\n"
        p.commit_button.click()
        assert capsys.readouterr().out == ""

    def test_after_commit_a_reveal_shows_at_once(self, capsys):
        p = TestPrediction().make()
        p.choices.value = "brk heap"
        p.commit_button.click()
        capsys.readouterr()
        with reveal(p) as held:
            print("now")
        assert held.shown and capsys.readouterr().out == "now\n"

    def test_an_error_is_not_held(self):
        TestPrediction().make()
        with pytest.raises(ZeroDivisionError):
            with reveal():
                print(1 / 0)


class TestInAHeadlessNotebook:
    def test_run_all_spoils_nothing_and_commit_shows_the_answer(self):
        """Run top to bottom by nbclient: the reveal's output is the placeholder; a commit
        (made here from code, as the page's button does) replaces it with the answer and turns
        the prediction into a plain record, so the saved notebook has no widget to lose."""
        import nbformat
        from nbclient import NotebookClient

        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) for c in (
            "from memlab.widgets import Prediction, reveal\n"
            "Prediction('Where?', ['heap', 'mmap'], 'mmap', 'Because 4,242 is large.')",
            "# Reveal\nwith reveal():\n    secret = 40 + 2\n    print('the answer is', secret)",
            "print(secret)",
        )]
        repo = Path(__file__).resolve().parents[1]

        def run(cells):
            NotebookClient(nb, timeout=120, kernel_name="python3",
                           resources={"metadata": {"path": str(repo)}}).execute()
            return [json.dumps(c.outputs) for c in cells]

        asked, held, used = run(nb.cells)
        assert "widget-view+json" in asked and "4,242" not in asked
        assert HIDDEN in held and "the answer is" not in held and "42" in used
        nb.cells.append(nbformat.v4.new_code_cell(
            "from memlab.widgets.prediction import latest_prediction\n"
            "p = latest_prediction(); p.choices.value = 'heap'; p.commit_button.click()"))
        asked, held, _, _ = run(nb.cells)
        assert "widget-view+json" not in asked and "4,242" in asked and "(x) heap" in asked
        assert "the answer is 42" in held and HIDDEN not in held


    def test_picture_is_saved_in_the_notebook_and_updated_in_place(self, tmp_path):
        """Run by nbclient: the dashboard's image output is replaced, not appended, on change,
        and the saved notebook holds the latest picture."""
        import base64
        import hashlib

        import nbformat
        from nbclient import NotebookClient

        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(
                "%matplotlib inline\n"
                "from memlab.widgets import Dashboard\n"
                "from memlab.scenarios import TWO_SOURCES\n"
                "d = Dashboard(TWO_SOURCES.text, TWO_SOURCES.params)\nd"),
            nbformat.v4.new_code_cell(
                "import hashlib\nd.set(size=1048576)\nd.step = 1\n"
                "print(hashlib.sha256(d.png).hexdigest())"),
        ]
        repo = Path(__file__).resolve().parents[1]  # the kernel imports memlab from here
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(repo)}}).execute()
        first, second = nb.cells
        images = [o for o in first.outputs if "image/png" in o.get("data", {})]
        widgets = [o for o in first.outputs
                   if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert len(images) == 1 and len(widgets) == 1
        shown = base64.b64decode(images[0]["data"]["image/png"])
        assert hashlib.sha256(shown).hexdigest() == second.outputs[0]["text"].strip()
        nbformat.write(nb, str(tmp_path / "saved.ipynb"))
        again = nbformat.read(str(tmp_path / "saved.ipynb"), as_version=4)
        assert any("image/png" in o.get("data", {}) for o in again.cells[0].outputs)


class TestPlayerControls:
    """Jump to the trace's labelled moments, step by tens and thousands, play at a chosen speed."""

    def test_jump_to_labelled_moments_and_step(self):
        from memlab.scenarios import VECVEC

        d = Dashboard(VECVEC.text, VECVEC.params)
        n = d.values["n"]
        assert [b.description for b in d.moment_buttons][0] == "start"
        d.jump("built")
        assert d.step == 2 + 2 * n  # the outer block and its write, n inner mallocs and writes
        assert str(d._run.op(d.step + 1)).startswith("f ")  # and the next operation frees
        d.jump("start")
        assert d.step == 0
        d.step_buttons[-1].click()                       # +1,000
        d.step_buttons[-2].click()                       # +10
        assert d.step == 1010
        d.step_buttons[0].click(), d.step_buttons[0].click()   # -1,000 twice: stops at 0
        assert d.step == 0
        d.jump("end")
        assert d.step == d.step_slider.max
        with pytest.raises(ValueError, match="no moment 'nope'"):
            d.jump("nope")

    def test_play_speed_sets_the_players_step(self):
        d = Dashboard(TWO_SOURCES.text, TWO_SOURCES.params)
        d.speed.value = 1000
        assert d.play.step == 1000 and d.play.interval <= 250

    def test_a_range_over_decades_gets_a_log_slider(self):
        from memlab.scenarios import PUSH_BACK

        d = Dashboard(PUSH_BACK.text, PUSH_BACK.params, charts=("timeline",))
        values = [v for _, v in d.sliders["n"].options]
        assert values[0] == 1 and values[-1] == 10_000_000 and 100_000 in values
        middle = values[len(values) // 2]
        assert 1_000 <= middle <= 10_000  # the middle of the track is a middle decade
        d.set(n=123_457)                  # a value between the marks
        assert d.values["n"] == 123_457
        assert isinstance(Dashboard(TWO_SOURCES.text, TWO_SOURCES.params).sliders["size"],
                          __import__("ipywidgets").IntSlider)  # 3 decades, steps of 1,000


class TestPrefetch:
    """The configurations one keyboard step away are replayed while the student looks."""

    def test_next_value_is_ready_before_the_move(self):
        import time

        d = Dashboard(TWO_SOURCES.text, TWO_SOURCES.params, charts=("timeline",))
        slider = d.sliders["size"]
        after = d._key({"size": slider.value + slider.step})
        deadline = time.monotonic() + 60
        while after not in d._runs and time.monotonic() < deadline:
            time.sleep(0.05)
        assert after in d._runs
        built = d.runs_built
        slider.value += slider.step
        assert d.runs_built == built  # taken from the prefetched runs, not replayed again
        fresh = Dashboard(TWO_SOURCES.text, TWO_SOURCES.params, charts=("timeline",),
                          prefetch=False)
        fresh.set(size=slider.value)
        assert fresh.timeline == d.timeline

    def test_a_prefetch_not_started_is_dropped_and_errors_stay_in_the_background(self):
        from memlab.widgets.run import Runs

        made = []

        def make(key):
            if key == ("bad",):
                raise ValueError("bad configuration")
            made.append(key)
            return key

        runs = Runs(make, size=4)
        runs.prefetch([("bad",), ("a",)])
        assert runs.get(("a",)) == ("a",)
        with pytest.raises(ValueError, match="bad configuration"):
            runs.get(("bad",))
        assert made.count(("a",)) == 1
