"""The AddressSpace API under arbitrary arguments: a call works and check() holds, or it raises a
documented exception and nothing changes.

Documented: TypeError (not an int, or a bool), ValueError (an int no 64-bit register holds, or a
negative length for touch/read) leave everything as it was, call counts and event log included;
SyscallError leaves the state as it was and adds one call and one event with its errno;
SegmentationFault (touch/read of unmapped bytes) changes nothing.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from memlab.errors import SyscallError
from memlab.space import AddressSpace, SegmentationFault

from strategies import BASE, HEAP, addresses, advice, deltas, hostile_values, lengths

#: The API's calls and how many arguments each takes (mremap's may_move and touch's length optional).
CALLS = {"sbrk": (1, 1), "mmap": (1, 1), "munmap": (2, 2), "mremap": (3, 4), "madvise": (3, 3),
         "touch": (1, 2), "read": (1, 2)}

near = st.one_of(addresses(), lengths(), deltas(), advice())


def observe(space: AddressSpace):
    return space.state(), dict(space.calls), space.events


class HostileCalls(RuleBasedStateMachine):
    @initialize(log=st.booleans())
    def start(self, log):
        self.space = AddressSpace(heap_start=HEAP, mmap_base=BASE, log=log)

    @rule(length=lengths())
    def mmap(self, length):          # valid-looking calls keep the space populated
        self.attempt("mmap", [length])

    @rule(delta=deltas())
    def sbrk(self, delta):
        self.attempt("sbrk", [delta])

    @rule(addr=addresses(), length=st.integers(0, 3 * 4096))
    def touch(self, addr, length):
        self.attempt("touch", [addr, length])

    @rule(data=st.data(), name=st.sampled_from(sorted(CALLS)))
    def hostile(self, data, name):
        low, high = CALLS[name]
        count = data.draw(st.integers(low, high) | st.integers(0, high + 1))
        args = data.draw(st.lists(hostile_values(near), min_size=count, max_size=count))
        self.attempt(name, args)

    def attempt(self, name, args):
        space = self.space
        state, calls, events = observe(space)
        try:
            getattr(space, name)(*args)
        except SyscallError as e:
            assert name in calls, f"{name}{args}: SyscallError from a call that is no system call"
            after_state, after_calls, after_events = observe(space)
            assert after_state == state, f"{name}{args} failed with {e} but changed the state"
            assert after_calls == {**calls, name: calls[name] + 1}
            if space.events or events:
                assert after_events[:-1] == events and after_events[-1].errno == e.errno
        except (TypeError, ValueError, SegmentationFault) as e:
            assert observe(space) == (state, calls, events), f"{name}{args} raised {e!r} after a change"
        space.check()

    @invariant()
    def holds(self):
        self.space.check()


HostileCalls.TestCase.settings = settings(max_examples=300, stateful_step_count=30)
TestHostileCalls = HostileCalls.TestCase


def test_types_are_refused_before_counting():
    """The issue's examples: a float length, a str address, None, a bool: TypeError, nothing counted."""
    space = AddressSpace()
    p = space.mmap(8192)
    before = observe(space)
    for call, args in [("mmap", [4096.0]), ("munmap", ["0x1000", 4096]), ("madvise", [p, None, 4]),
                       ("sbrk", [True]), ("mremap", [p, 4096, 8192, "yes"]), ("touch", [float(p)]),
                       ("read", [p, 1.5])]:
        try:
            getattr(space, call)(*args)
        except TypeError:
            pass
        else:
            raise AssertionError(f"{call}{args} was accepted")
        assert observe(space) == before
    space.check()


def test_addresses_beyond_47_bits_are_refused_at_construction():
    import pytest

    for kw in ({"mmap_base": 1 << 47 + 0}, {"mmap_base": 1 << 48}, {"heap_start": 1 << 47, "mmap_base": 1 << 48}):
        with pytest.raises(ValueError, match="47-bit"):
            AddressSpace(**kw)
    AddressSpace(mmap_base=(1 << 47) - 4096)   # the top of the user address space itself is fine
