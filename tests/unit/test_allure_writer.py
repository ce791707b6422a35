"""The attachment writer: every attachment lands in allure-results, and a file that cannot be
written is reported, never silently dropped."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conformance.reporting.allure_writer import BackgroundFileLogger, Deferred

pytestmark = pytest.mark.timeout(60)


def _attach(logger: BackgroundFileLogger, body: object, name: str) -> None:
    logger.report_attached_data(body=body, file_name=name)


def test_every_attachment_is_written_with_its_body_before_drain_returns(tmp_path: Path):
    logger = BackgroundFileLogger(tmp_path)
    bodies = {f"{i}-attachment.txt": f"GET /Users/{i} -> 200\n{'x' * (i * 37)}" for i in range(300)}
    for name, body in bodies.items():
        _attach(logger, Deferred(lambda body=body: body), name)
    _attach(logger, b"\x00binary", "bytes-attachment.bin")
    assert logger.drain() is None
    for name, body in bodies.items():
        assert (tmp_path / name).read_text(encoding="utf-8") == body
    assert (tmp_path / "bytes-attachment.bin").read_bytes() == b"\x00binary"
    assert not list(tmp_path.glob("*.tmp"))


def test_a_body_is_rendered_only_when_it_is_written(tmp_path: Path):
    rendered: list[str] = []
    body = Deferred(lambda: rendered.append("once") or "text")
    assert rendered == []
    logger = BackgroundFileLogger(tmp_path)
    _attach(logger, body, "a-attachment.txt")
    logger.drain()
    assert rendered == ["once"]


def test_files_the_writer_could_not_write_are_counted_and_named(tmp_path: Path):
    logger = BackgroundFileLogger(tmp_path / "gone")
    shutil.rmtree(tmp_path / "gone")  # e.g. a clean-up job removed it during the run
    _attach(logger, "lost", "second-attachment.txt")
    _attach(logger, "lost too", "third-attachment.txt")
    problem = logger.drain()
    assert problem is not None
    assert problem.startswith("2 Allure attachment file(s) could not be written; the first: second-attachment.txt")


def test_a_rendering_error_is_counted_and_the_run_goes_on(tmp_path: Path):
    logger = BackgroundFileLogger(tmp_path)
    _attach(logger, Deferred(lambda: 1 / 0), "broken-attachment.txt")
    _attach(logger, "fine", "fine-attachment.txt")
    problem = logger.drain()
    assert problem is not None and "broken-attachment.txt: ZeroDivisionError" in problem
    assert (tmp_path / "fine-attachment.txt").read_text(encoding="utf-8") == "fine"


def test_when_the_writer_process_is_gone_attachments_are_written_in_process(tmp_path: Path):
    logger = BackgroundFileLogger(tmp_path)
    child = logger._child
    assert child is not None
    child.kill()
    child.wait(timeout=10)
    for i in range(50):  # enough to get past the pipe's buffer and see the broken pipe
        _attach(logger, "x" * 100_000, f"{i}-attachment.txt")
    problem = logger.drain()
    # What went into the pipe before the writer died is lost with it: the report says so. From
    # the broken pipe on, every file is written here.
    assert problem is not None and "the writer process ended with -9" in problem
    written = {p.name for p in tmp_path.glob("*-attachment.txt")}
    assert "49-attachment.txt" in written
    assert os.path.getsize(tmp_path / "49-attachment.txt") == 100_000


def test_ctrl_c_to_the_process_group_does_not_stop_the_writer(tmp_path: Path):
    import signal
    import time

    logger = BackgroundFileLogger(tmp_path)
    child = logger._child
    assert child is not None
    _attach(logger, "before", "before-attachment.txt")
    child.stdin.flush()  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while not (tmp_path / "before-attachment.txt").exists():  # past its start-up, signals set
        assert time.monotonic() < deadline, "the writer wrote nothing in 30 s"
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    child.send_signal(signal.SIGTERM)
    _attach(logger, "after", "after-attachment.txt")
    assert logger.drain() is None
    assert (tmp_path / "after-attachment.txt").read_text(encoding="utf-8") == "after"


def _written_by_both(
    tmp_path: Path, reports: list[tuple[str, object]], *, in_process: bool = False
) -> tuple[Path, Path]:
    """The folders a `BackgroundFileLogger` and allure-commons' own file logger write for the same
    hook calls (`reports`: hook name, item)."""
    from allure_commons.logger import AllureFileLogger

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    logger, reference = BackgroundFileLogger(ours), AllureFileLogger(theirs)
    if in_process:
        assert logger.drain() is None  # from here on, every file is written in this process
    for hook, item in reports:
        getattr(logger, hook)(item)
        getattr(reference, hook)(item)
    assert logger.drain() is None
    return ours, theirs


def _assert_same_files(ours: Path, theirs: Path, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        (mine,), (expected,) = list(ours.glob(pattern)), list(theirs.glob(pattern))
        assert mine.read_bytes() == expected.read_bytes()


@pytest.mark.parametrize("indent", ["", "1"])
def test_results_and_containers_are_written_as_allure_commons_writes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, indent: str
):
    from allure_commons.model2 import Label, Parameter, Status, StatusDetails, TestResult, TestResultContainer

    monkeypatch.setenv("ALLURE_INDENT_OUTPUT", indent)  # the child inherits it, as in a run
    result = TestResult(
        uuid="r1", name="okta-push-new-user[okta] — ü", status=Status.FAILED, start=1, stop=2,
        statusDetails=StatusDetails(message="expected status 201, got 200", flaky=False),
        labels=[Label(name="suite", value="okta")], parameters=[Parameter(name="idp", value="okta")],
    )
    container = TestResultContainer(uuid="c1", children=["r1"], befores=[])
    ours, theirs = _written_by_both(tmp_path, [("report_result", result), ("report_container", container)])
    _assert_same_files(ours, theirs, ("*-result.json", "*-container.json"))
    assert not list(ours.glob("*.tmp"))


@pytest.mark.parametrize("in_process", [False, True], ids=["writer process", "writer gone"])
def test_globals_and_results_written_here_are_those_allure_commons_writes(tmp_path: Path, in_process: bool):
    from allure_commons.model2 import GlobalError, Globals, Status, TestResult

    result = TestResult(uuid="r2", name="entra-delete-user[entra]", status=Status.PASSED, start=1, stop=2)
    globals_item = Globals(errors=[GlobalError(message="no token", timestamp=3)])
    ours, theirs = _written_by_both(tmp_path, [("report_result", result), ("report_globals", globals_item)],
                                    in_process=in_process)
    _assert_same_files(ours, theirs, ("*-result.json", "*-globals.json"))


def test_an_attached_file_is_copied(tmp_path: Path):
    source = tmp_path / "source.txt"
    source.write_text("a file attached by path", encoding="utf-8")
    logger = BackgroundFileLogger(tmp_path / "results")
    logger.report_attached_file(source=source, file_name="c-attachment.txt")
    assert logger.drain() is None
    assert (tmp_path / "results" / "c-attachment.txt").read_text(encoding="utf-8") == "a file attached by path"


def test_the_logger_implements_only_hooks_allure_commons_declares():
    """Allure results go through allure-commons' public reporting hooks, nothing of its loggers' own."""
    import allure_commons
    from allure_commons.logger import AllureFileLogger

    assert not issubclass(BackgroundFileLogger, AllureFileLogger)
    hooks = [name for name in dir(BackgroundFileLogger) if name.startswith("report_")]
    assert set(hooks) == {"report_result", "report_container", "report_globals", "report_attached_data",
                          "report_attached_file"}
    for name in hooks:
        assert getattr(allure_commons.plugin_manager.hook, name).spec is not None, name


def test_install_takes_the_place_of_allure_pytests_logger_for_the_session_only(tmp_path: Path):
    import allure_commons
    from allure_commons.logger import AllureFileLogger

    from conformance.reporting.allure_writer import install

    class Config:
        """What `install` uses of pytest's config."""

        def __init__(self) -> None:
            self.cleanups: list[object] = []

        def getoption(self, name: str, default: object = None) -> object:
            return str(tmp_path / "results") if name == "allure_report_dir" else default

        def add_cleanup(self, cleanup: object) -> None:
            self.cleanups.append(cleanup)

    manager = allure_commons.plugin_manager
    original = AllureFileLogger(tmp_path / "results")
    manager.register(original, name="allure-file-logger")
    try:
        config = Config()
        background = install(config)  # type: ignore[arg-type]
        assert isinstance(background, BackgroundFileLogger)
        assert background.report_dir == tmp_path / "results"
        assert manager.get_plugin("allure-file-logger") is background and not manager.is_registered(original)
        (restore,) = config.cleanups
        restore()  # type: ignore[operator]
        assert manager.get_plugin("allure-file-logger") is original and not manager.is_registered(background)
    finally:
        for plugin in (original,):
            if manager.is_registered(plugin):
                manager.unregister(plugin)


def test_the_file_names_are_those_of_allure_commons():
    from allure_commons.model2 import Globals, TestResult, TestResultContainer

    from conformance.reporting.allure_writer import CONTAINER_FILE, GLOBALS_FILE, RESULT_FILE

    assert (RESULT_FILE, CONTAINER_FILE, GLOBALS_FILE) == (
        TestResult.file_pattern, TestResultContainer.file_pattern, Globals.file_pattern)
