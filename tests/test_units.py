"""Tests of memlab.units: page arithmetic and byte formatting."""

import pytest

from memlab.units import GiB, KiB, MiB, PAGE, align_down, align_up, fmt_bytes, is_aligned


class TestConstants:
    """The sizes are the binary ones and a page is 4 KiB, as on x86-64 Linux."""

    def test_values(self):
        assert (PAGE, KiB, MiB, GiB) == (4096, 1024, 1024**2, 1024**3)


class TestAlign:
    """align_up/align_down round to the alignment; is_aligned tests it."""

    @pytest.mark.parametrize("n, up, down", [(0, 0, 0), (1, 4096, 0), (4095, 4096, 0),
                                             (4096, 4096, 4096), (4097, 8192, 4096)])
    def test_pages(self, n, up, down):
        assert align_up(n) == up and align_down(n) == down
        assert is_aligned(up) and is_aligned(down)

    def test_other_alignment(self):
        assert align_up(24, 16) == 32 and align_down(24, 16) == 16 and not is_aligned(24, 16)

    @pytest.mark.parametrize("bad", [0, -16, 24])
    def test_bad_alignment_is_named(self, bad):
        with pytest.raises(ValueError, match=str(bad)):
            align_up(10, bad)


class TestFmtBytes:
    """Exact counts with separators below 1 MiB, one decimal in binary units above."""

    @pytest.mark.parametrize("n, text", [(0, "0 B"), (200_704, "200,704 B"), (MiB - 1, "1,048,575 B"),
                                         (MiB, "1.0 MiB"), (3 * GiB + GiB // 5, "3.2 GiB"),
                                         (-MiB, "-1.0 MiB")])
    def test_examples(self, n, text):
        assert fmt_bytes(n) == text
