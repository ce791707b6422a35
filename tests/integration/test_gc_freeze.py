"""A run freezes the garbage collector's view of the heap while scenarios run, and gives it back.

The plugin freezes the heap after collection (the collector then skips the loaded scenarios) and
unfreezes it with pytest's last clean-up. A pytest run inside a longer-lived process (an IDE, a
test of our own) must not leave everything it allocated frozen, out of the collector's reach.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from conformance.engine.embedded import EmbeddedServer
from tests.support.runs import DISTINCTIVE_TOKEN, REPO, embedded_target


def test_an_in_process_run_leaves_the_heap_unfrozen(
    scim_server: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("SCIM_TOKEN", DISTINCTIVE_TOKEN)
    frozen: list[int] = []

    class Probe:
        @pytest.hookimpl(trylast=True)
        def pytest_runtest_call(self) -> None:
            frozen.append(gc.get_freeze_count())

    profile = embedded_target(scim_server.base_url, tmp_path)
    scenario = REPO / "scenarios" / "rfc" / "users-create.scenario.yaml"
    before = gc.get_freeze_count()
    code = pytest.main([str(scenario), "--scim-target", profile, "--alluredir", str(tmp_path / "results"),
                        "-p", "no:cacheprovider", "-q", "--assert=plain"], plugins=[Probe()])
    assert code == 0
    assert frozen and min(frozen) > before  # frozen while the scenarios ran
    assert gc.get_freeze_count() == before  # and given back at the end
