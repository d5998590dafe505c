"""Charts: artists hold exactly the model's data, stay bounded in number, and update in place."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from memlab.charts import (
    COLORS, MAX_RUNS, STATES, BinCounts, HeapPicture, bin_chart, heap_map, nice_limit,
    timeline_chart,
)
from memlab.charts.heap import _covered  # the bucket arithmetic, checked against a plain loop

KiB = 1024
BASE = 0x5555_5555_9000
#: A hand-made heap of 10 chunks (4 KiB each, so each is many pixels wide), then top.
TEN = [(BASE + i * 4 * KiB, 4 * KiB, st) for i, st in enumerate(
    ["in_use", "tcache", "in_use", "fastbin", "in_use", "unsorted", "in_use", "small",
     "in_use", "large"])]
TEN_TOP = (BASE + 40 * KiB, 24 * KiB, "top")
MMAP = (0x7FFF_F7F0_0000, 200_704)


def ten_chunk_picture(resident=((BASE, BASE + 8 * KiB),)):
    return HeapPicture.from_chunks(BASE, BASE + 64 * KiB, TEN + [TEN_TOP], [MMAP], resident)


def extents(collection):
    return [tuple(np.round(p.get_extents().bounds, 6)) for p in collection.get_paths()]


def artist_count(ax):
    return len(ax.get_children())


class TestHeapPicture:
    def test_adjacent_chunks_of_one_state_merge_into_one_run(self):
        """Two touching in-use chunks become one run; a different state starts a new one."""
        p = HeapPicture.from_chunks(0, 96, [(0, 32, "in_use"), (32, 32, "in_use"), (64, 32, "top")])
        assert p.runs == ((0, 64, "in_use"), (64, 96, "top"))

    def test_chunks_with_a_gap_between_do_not_merge(self):
        """Runs cover only what the chunks cover."""
        p = HeapPicture.from_chunks(0, 128, [(0, 32, "tcache"), (64, 32, "tcache")])
        assert p.runs == ((0, 32, "tcache"), (64, 96, "tcache"))

    def test_unknown_state_is_rejected_by_name(self):
        """A state the charts do not know is an error naming it."""
        with pytest.raises(ValueError, match="'weird'"):
            HeapPicture.from_chunks(0, 64, [(0, 32, "weird")])

    def test_picture_of_the_real_model(self):
        """malloc(200000) on glibc 2.36: heap of 135,168 bytes and one 200,704-byte mapping."""
        from memlab.glibc import Malloc

        m = Malloc()
        m.malloc(200_000)
        p = HeapPicture.of(m)
        assert p.brk - p.heap_start == 135_168
        assert [e - s for s, e in p.mmapped] == [200_704]
        assert p.runs[-1][2] == "top" and p.runs[-1][1] == p.brk


class TestHeapMap:
    def test_ten_chunks_give_ten_rectangles_at_their_offsets(self):
        """One rectangle per run, spanning exactly the run's bytes from the heap start."""
        h = heap_map(ten_chunk_picture())
        want = [(i * 4 * KiB, 2.0, 4 * KiB, 1.0) for i in range(10)] + [(40 * KiB, 2.0, 24 * KiB, 1.0)]
        assert extents(h.runs) == want
        assert not h.image.get_visible()

    def test_rectangles_are_coloured_by_state(self):
        """Face colours follow COLORS for each run's state."""
        from matplotlib.colors import to_rgba

        h = heap_map(ten_chunk_picture())
        states = [st for _, _, st in TEN] + ["top"]
        got = [tuple(c) for c in h.runs.get_facecolors()]
        assert got == [to_rgba(COLORS[st]) for st in states]

    def test_break_mmapped_and_resident_marks(self):
        """The brk line sits at the break; the mapping and resident pages are drawn to size."""
        h = heap_map(ten_chunk_picture(resident=((BASE, BASE + 8 * KiB),
                                                 (MMAP[0], MMAP[0] + 4096))))
        assert list(h.brk_line.get_xdata()) == [64 * KiB, 64 * KiB]
        (x0, _, width, _), = extents(h.mmapped)
        assert (x0, width) == (0, 200_704)
        assert [(b[0], b[2]) for b in extents(h.resident)] == [(0, 8 * KiB), (0, 4096)]

    def test_same_rectangles_as_plain_broken_barh(self):
        """The runs match what ax.broken_barh draws for the same byte ranges."""
        h = heap_map(ten_chunk_picture())
        ref = Figure().add_subplot().broken_barh(
            [(s - BASE, e - s) for s, e, _ in ten_chunk_picture().runs], (2.0, 1.0))
        assert extents(h.runs) == extents(ref)

    def test_update_replaces_data_without_new_artists(self):
        """update() keeps the same artists and changes what they show."""
        h = heap_map(ten_chunk_picture())
        before = list(h.ax.get_children())
        h.update(HeapPicture.from_chunks(BASE, BASE + 8 * KiB, [(BASE, 8 * KiB, "top")]))
        assert list(h.ax.get_children()) == before
        assert extents(h.runs) == [(0, 2.0, 8 * KiB, 1.0)]
        assert len(h.mmapped.get_paths()) == 0

    def test_100000_chunks_are_bucketed_not_drawn_one_by_one(self):
        """Above MAX_RUNS runs the strip is one image; the artist count does not grow."""
        h = heap_map(ten_chunk_picture())
        count = artist_count(h.ax)
        chunks = [(BASE + 32 * i, 32, "in_use" if i % 2 else "tcache") for i in range(100_000)]
        h.update(HeapPicture.from_chunks(BASE, BASE + 32 * 100_000, chunks))
        assert len(h.picture.runs) == 100_000 > MAX_RUNS
        assert artist_count(h.ax) == count
        assert len(h.runs.get_paths()) == 0 and h.image.get_visible()
        image = np.asarray(h.image.get_array())
        assert image.shape[1] <= 4000  # pixel buckets, not chunks
        # half the bytes are in use, half in tcache: each column stacks the two halves
        from matplotlib.colors import to_rgba

        column = image[:, image.shape[1] // 2, :]
        share = np.mean(np.all(np.isclose(column, to_rgba(COLORS["in_use"])), axis=1))
        assert share == pytest.approx(0.5, abs=0.05)

    def test_back_to_few_runs_after_bucketing(self):
        """Returning to a small heap hides the image and draws rectangles again."""
        h = heap_map(HeapPicture.from_chunks(
            BASE, BASE + 32 * 5000, [(BASE + 32 * i, 32, STATES[i % 2]) for i in range(5000)]))
        assert h.image.get_visible()
        h.update(ten_chunk_picture())
        assert not h.image.get_visible() and len(h.runs.get_paths()) == 11

    def test_save_png_and_svg(self, tmp_path):
        """handle.save writes a PNG or an SVG file by suffix."""
        h = heap_map(ten_chunk_picture())
        assert h.save(str(tmp_path / "a.png")) == str(tmp_path / "a.png")
        h.save(str(tmp_path / "a.svg"))
        assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (tmp_path / "a.svg").read_bytes()[:1000]

    def test_given_axes_is_used(self):
        """With ax given, the chart draws there and .figure is that axes' figure."""
        ax = Figure().add_subplot()
        h = heap_map(ten_chunk_picture(), ax=ax)
        assert h.ax is ax and h.figure is ax.figure


class TestCovered:
    def test_matches_a_plain_loop(self):
        """Bytes of disjoint intervals below each edge, as a loop over intervals computes."""
        rng = np.random.default_rng(7)
        cuts = np.sort(rng.choice(10_000, size=60, replace=False)).astype(float)
        starts, ends = cuts[0::2], cuts[1::2]
        edges = np.linspace(-5, 10_005, 37)
        want = [sum(max(0.0, min(e, x) - s) for s, e in zip(starts, ends)) for x in edges]
        assert np.allclose(_covered(starts, ends, edges), want)


def real_timeline(text):
    from memlab.glibc import Malloc
    from memlab.replay import timeline

    return timeline(text, Malloc)


class TestTimelineChart:
    def test_lines_hold_the_timeline_columns(self):
        """Each line's y data is exactly its Timeline column, x the operation number."""
        t = real_timeline("a 0 200000\nw 0\na 1 1\nf 0\n")
        h = timeline_chart(t)
        for name, line in h.lines.items():
            assert list(line.get_ydata()) == list(getattr(t, name)), name
            assert list(line.get_xdata()) == list(range(len(t.op)))
        # glibc 2.36: the mapping is 200,704 bytes, then unmapped by free
        assert t.hblkhd[1] == 200_704 and t.hblkhd[4] == 0 and t.munmapped[4] == 200_704

    def test_same_lines_as_plain_plot(self):
        """The held line matches ax.plot of the same column."""
        t = real_timeline("a 0 100\na 1 200\nf 0\n")
        ref = Figure().add_subplot().plot(range(len(t.op)), t.held)[0]
        h = timeline_chart(t)
        assert list(h.lines["held"].get_ydata()) == list(ref.get_ydata())

    def test_cursor_moves_and_rejects_bad_steps(self):
        """The cursor line sits at the given step; a step outside the timeline is refused."""
        h = timeline_chart(real_timeline("a 0 100\nf 0\n"), cursor=None)
        assert not h.cursor_line.get_visible()
        h.set_cursor(2)
        assert list(h.cursor_line.get_xdata()) == [2, 2] and h.cursor_line.get_visible()
        with pytest.raises(ValueError, match="cursor 3"):
            h.set_cursor(3)

    def test_update_in_place_and_csv(self):
        """update() changes the lines' data, not the lines; to_csv is the Timeline's CSV."""
        h = timeline_chart(real_timeline("a 0 100\n"))
        lines = h.lines
        t = real_timeline("a 0 100\na 1 5000\nf 1\n")
        h.update(t)
        assert h.lines == lines and list(lines["held"].get_ydata()) == [0, 100, 5100, 100]
        assert h.to_csv() == t.to_csv()


class TestBinChart:
    def test_counts_per_class(self):
        """tcache bin i holds 32 + 16 i byte chunks; other classes are counted as wholes."""
        b = BinCounts.from_chunks([(0, 32, "tcache"), (32, 1040, "tcache"), (2000, 80, "fastbin"),
                                   (3000, 5000, "large"), (9000, 100, "in_use")])
        assert b.tcache_chunks[0] == 1 and b.tcache_chunks[63] == 1
        assert b.chunks == {"fastbin": 1, "unsorted": 0, "small": 0, "large": 1}
        assert b.bytes["large"] == 5000

    def test_bars_and_dots_from_the_real_model(self):
        """Three freed malloc(24) go to tcache's 32-byte bin: 96 bytes, 3 chunks."""
        from memlab.glibc import Malloc

        m = Malloc()
        ps = [m.malloc(24) for _ in range(3)]
        for p in ps:
            m.free(p)
        h = bin_chart(m)
        assert h.bars[0].get_height() == 96 and h.dots.get_ydata()[0] == 3
        assert sum(bar.get_height() for bar in h.bars) == 96

    def test_update_in_place(self):
        """update() sets new bar heights on the same bars."""
        h = bin_chart(BinCounts.from_chunks([]))
        bars = list(h.bars)
        h.update(BinCounts.from_chunks([(0, 2000, "unsorted")]))
        assert list(h.bars) == bars and h.bars[65].get_height() == 2000

    def test_chunk_too_big_for_tcache_is_an_error(self):
        """A tcache chunk above 1040 bytes cannot exist."""
        with pytest.raises(ValueError, match="1056"):
            BinCounts.from_chunks([(0, 1056, "tcache")])


class TestLimits:
    def test_nice_limits_cover_and_round(self):
        """nice_limit is at least x and within 25% of it."""
        for x in (1.5, 7, 100, 4097, 135_168, 10**9):
            assert x <= nice_limit(x) <= 1.25 * x + 1e-9

    def test_grow_only_keeps_the_wider_scale(self):
        """With grow_only, a smaller heap keeps the axis; without, it narrows."""
        h = heap_map(ten_chunk_picture())
        wide = h.ax.get_xlim()[1]
        small = HeapPicture.from_chunks(BASE, BASE + 8 * KiB, [(BASE, 8 * KiB, "top")])
        h.grow_only = True
        h.update(small)
        assert h.ax.get_xlim()[1] == wide
        h.grow_only = False
        h.update(small)
        assert h.ax.get_xlim()[1] == nice_limit(8 * KiB) < wide


class TestReadable:
    """What a student must be able to see: the empty bins say so, the program's line is on top,
    the last operation is inside the frame."""

    def test_empty_bins_say_no_free_chunks(self):
        from memlab.charts import BinCounts, bin_chart

        h = bin_chart(BinCounts.from_chunks([]))
        assert h.empty_note.get_visible() and h.empty_note.get_text() == "no free chunks"
        h.update(BinCounts.from_chunks([(0, 32, "tcache")]))
        assert not h.empty_note.get_visible()

    def test_held_line_drawn_over_the_others_and_last_operation_inside(self):
        from memlab.charts import timeline_chart
        from memlab.replay import timeline

        h = timeline_chart(timeline("a 0 200000\nf 0\n"))
        lines = h.lines
        assert all(lines["held"].get_zorder() > l.get_zorder() for k, l in lines.items()
                   if k != "held")
        assert lines["held"].get_linewidth() > lines["hblkhd"].get_linewidth()
        last = len(h.timeline.op) - 1
        assert h.ax.get_xlim()[1] > last * 1.02

    def test_a_timeline_draws_the_series_asked_for(self):
        from memlab.charts import timeline_chart
        from memlab.replay import timeline
        from memlab.scenarios import TWO_SOURCES
        from memlab.widgets import Dashboard

        h = timeline_chart(timeline("a 0 100\n"), series=("held", "arena"))
        assert sorted(h.lines) == ["arena", "held"]
        with pytest.raises(ValueError, match="no series nope"):
            timeline_chart(timeline("a 0 100\n"), series=("nope",))
        d = Dashboard(TWO_SOURCES.text, TWO_SOURCES.params, charts=("timeline",), prefetch=False)
        assert "madvised" not in d.charts["timeline"].lines  # this scenario never madvises
        legend = d.charts["timeline"].ax.get_legend().get_texts()
        assert not any("madvise" in t.get_text() for t in legend)
