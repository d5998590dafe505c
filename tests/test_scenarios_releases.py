"""One scenario on several releases: the table reads each release's model, the chart shows it."""

import dataclasses

import pytest

from memlab.charts import release_chart
from memlab.glibc.release import GLIBC_2_36, RELEASES
from memlab.scenarios import SMALL_REQUESTS, VECVEC
from memlab.scenarios.releases import bracket, compare_releases, modelled, release_note

#: Measured on the real libraries with memlab's C replayer (replay_native; 2.41 and 2.43 via
#: ensure_release): vecvec n=10,000 at its 'end' snapshot.
REAL_VECVEC_10K = {
    "2.36": {"brk": 405_504, "uordblks": 880, "fordblks": 404_624, "ordblks": 1,
             "smblks": 9_993, "rss": 323_584},
    "2.41": {"brk": 405_504, "uordblks": 880, "fordblks": 404_624, "ordblks": 1,
             "smblks": 9_993, "rss": 323_584},
    "2.43": {"brk": 405_504, "uordblks": 1_280, "fordblks": 404_224, "ordblks": 2,
             "smblks": 0, "rss": 323_584},
}
#: Free chunks per place at the end, from the same runs (2.43: 16 per tcache bin, no fastbins,
#: the other 9,984 chunks merged into one).
REAL_PLACES_10K = {"2.36": (7, 9_993, 0), "2.41": (7, 9_993, 0), "2.43": (16, 0, 1)}


@pytest.fixture
def fake_release(monkeypatch):
    """A made-up release '9.99' with 16 chunks per tcache bin, added to RELEASES."""
    fake = dataclasses.replace(GLIBC_2_36, name="9.99", tcache_count=16)
    monkeypatch.setitem(RELEASES, "9.99", fake)
    return fake


class TestCompareReleases:
    def test_glibc_236_end_matches_the_real_library(self):
        """On 2.36, the end of vecvec n=10,000 has the real glibc's numbers."""
        c = compare_releases(VECVEC, ("2.36",), n=10_000)
        assert {f: c.value("2.36", f) for f in REAL_VECVEC_10K["2.36"]} == REAL_VECVEC_10K["2.36"]
        places = tuple(c.value("2.36", p) for p in ("tcache", "fastbin", "bins"))
        assert places == REAL_PLACES_10K["2.36"]

    @pytest.mark.parametrize("name", ["2.41", "2.43"])
    def test_other_releases_match_the_real_libraries_once_modelled(self, name):
        """Each newer release, when the model has it, ends vecvec as the real library does."""
        if name not in RELEASES:
            pytest.skip(f"glibc {name} is not modelled yet")
        c = compare_releases(VECVEC, ("2.36", name), n=10_000)
        assert {f: c.value(name, f) for f in REAL_VECVEC_10K[name]} == REAL_VECVEC_10K[name]
        assert tuple(c.value(name, p) for p in ("tcache", "fastbin", "bins")) == \
            REAL_PLACES_10K[name]

    def test_each_release_gets_its_own_model(self, fake_release):
        """A release with 16 chunks per tcache bin keeps 16 there and 9 fewer in fastbins."""
        c = compare_releases(VECVEC, ("2.36", "9.99"), n=10_000)
        assert c.releases == ("2.36", "9.99") and c.missing == ()
        assert (c.value("2.36", "tcache"), c.value("9.99", "tcache")) == (7, 16)
        assert (c.value("2.36", "smblks"), c.value("9.99", "smblks")) == (9_993, 9_984)
        assert "smblks" in c.differences and "brk" not in c.differences
        assert "9.99" in c.report().splitlines()[1]

    def test_values_above_the_slider_are_allowed(self):
        """n may exceed the dashboard slider's maximum (10,000)."""
        c = compare_releases(SMALL_REQUESTS, ("2.36",), n=20_000, size=24)
        assert c.values == (("n", 20_000), ("size", 24))
        assert c.value("2.36", "fastbin") == 19_993

    def test_missing_release_is_an_error_or_skipped_on_request(self):
        """A release the model lacks is refused by name, or skipped and listed."""
        with pytest.raises(ValueError, match="0.1 not modelled"):
            compare_releases(SMALL_REQUESTS, ("2.36", "0.1"), n=2, size=8)
        c = compare_releases(SMALL_REQUESTS, ("2.36", "0.1"), skip_missing=True, n=2, size=8)
        assert c.releases == ("2.36",) and c.missing == ("0.1",)
        assert c.report().endswith("not modelled here (yet): glibc 0.1")
        with pytest.raises(ValueError, match="none of"):
            compare_releases(SMALL_REQUESTS, ("0.1",), skip_missing=True, n=2, size=8)

    def test_modelled_reads_releases(self, fake_release):
        """modelled() lists RELEASES' keys, and filters a wish list in its order."""
        assert modelled() == tuple(RELEASES)
        assert modelled(("9.99", "2.43", "2.36")) == tuple(
            r for r in ("9.99", "2.43", "2.36") if r in RELEASES)


class TestReleaseChart:
    def test_bars_hold_the_tables_numbers(self, fake_release):
        """Left bars are the chunk counts per place, right bars the bytes kept, per release."""
        c = compare_releases(VECVEC, ("2.36", "9.99"), n=1_000)
        h = release_chart(c)
        assert h.heights("left") == {r: [c.value(r, p) for p in ("tcache", "fastbin", "bins")]
                                     for r in c.releases}
        assert h.heights("right") == {r: [c.value(r, f) for f in ("brk", "uordblks", "rss")]
                                      for r in c.releases}
        assert len(h.figure.axes) == 2

    def test_update_in_place_and_refuse_other_releases(self, fake_release):
        """update changes the same bars; a comparison of other releases is refused."""
        h = release_chart(compare_releases(VECVEC, ("2.36", "9.99"), n=100))
        bars = h.dynamic_artists
        h.update(compare_releases(VECVEC, ("2.36", "9.99"), n=1_000))
        assert h.dynamic_artists == bars
        assert h.heights("left")["2.36"][1] == 993
        with pytest.raises(ValueError, match="shows releases"):
            h.update(compare_releases(VECVEC, ("2.36",), n=100))


class TestReleaseNote:
    def test_bracket_compares_versions_as_numbers(self):
        """2.100 is newer than 2.9: versions compare part by part, not as text."""
        assert bracket("2.39", ("2.9", "2.100", "2.36")) == ("2.36", "2.100")
        assert bracket("3.0", ("2.36", "2.43")) == ("2.43", None)

    def test_note_for_binders_release_reads_the_models_profiles(self, fake_release):
        """The note for 2.39 names the profiles on each side that RELEASES holds."""
        below, above = bracket("2.39")
        assert below == "2.36"
        assert above == min((r for r in RELEASES if r in ("2.41", "2.43", "9.99")),
                            key=lambda r: tuple(map(int, r.split("."))))
        assert release_note("2.39").endswith(f"the profiles 2.36 and {above} bracket it.")

    def test_bad_version_is_refused(self):
        """A version that is not dotted numbers is an error quoting it."""
        with pytest.raises(ValueError, match="'two'"):
            release_note("two")
