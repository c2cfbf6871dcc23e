"""Reliability findings of issues 15 and 29, each through the real CLI entry point (``avbench.cli.main``, in process
so the suite stays fast): bad input is one line and exit code 2 with nothing written; a machine fault (full disk,
read-only cache, file-size limit, killed worker) is one line and exit code 1, leaves run.json ``failed`` and lets
the corrected command run; stores are verified from their content; runs lock and clean up after themselves; pool
workers never outlive their run; and a submission is verified by re-inferring its checkpoints."""
from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import resource
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from filelock import FileLock, Timeout

import avbench
from avbench import cache as cache_module
from avbench import runner, validate
from avbench.atomic import HOST, owner_tag, process_start
from avbench.corruptions import get as get_corruption
from avbench.data.datasets import open_dataset
from avbench.data.store import StoreWriter
from avbench.errors import UserError
from avbench.execution.training import TrainSpec, checkpoint_dir
from avbench.leaderboards.schema import load_entries
from avbench.leaderboards.submit import submit_run
from avbench.rundir import predictions
from conftest import run_avbench

CREMA_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "crema-d"


def tree(path: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``path`` with its size and modification time (to prove nothing changed)."""
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns) for p in path.rglob("*") if p.is_file()}


def tiny_store(path: Path) -> Path:
    writer = StoreWriter(path, "tiny", ["a", "b"], {"audio": {"rate": 50.0, "shape": [2, 4]},
                                                   "text": {"rate": 0.0, "shape": [4]}})
    for i, split in enumerate(["train", "dev", "test"] * 2):
        writer.add(f"c{i}", f"s{i % 3}", split, 1.0, {"audio": np.full((50, 2, 4), i), "text": np.zeros((1, 4))},
                   labels=np.array([1.0, 0.0]), word_times=np.array([[0.1, 0.5]]))
    writer.close()
    return path


# -- damaged stores: each edit of a fresh copy of a valid store -----------------------------------------------------
def _truncate(name: str, keep: int):
    return lambda p: (p / name).write_bytes((p / name).read_bytes()[:keep])


def _edit_clips(old: str, new: str):
    def edit(p: Path) -> None:
        (p / "clips.csv").write_text((p / "clips.csv").read_text().replace(old, new, 1))
    return edit


def _drop_column(p: Path) -> None:
    lines = (p / "clips.csv").read_text().splitlines()
    (p / "clips.csv").write_text("\n".join(",".join(line.split(",")[:-1]) for line in lines) + "\n")


STORE_DAMAGE = {
    "truncated audio.bin": _truncate("audio.bin", 100),
    "truncated labels.npy": _truncate("labels.npy", 90),
    "non-numeric clips.csv value": _edit_clips(",1.0,", ",one,"),
    "dropped column": _drop_column,
    "offsets past the end": _edit_clips(",0,50,", ",900,50,"),
    "bad meta.json": lambda p: (p / "meta.json").write_text("{not json"),
    "missing labels.npy": lambda p: (p / "labels.npy").unlink(),
    "object labels.npy": lambda p: np.save(p / "labels.npy", np.array([[1, "x"]] * 6, dtype=object),
                                           allow_pickle=True),
    "altered content": lambda p: (p / "audio.bin").write_bytes(bytes((p / "audio.bin").stat().st_size)),
}


def _crema(edit):
    def build(root: Path) -> Path:
        shutil.copytree(CREMA_FIXTURE, root)
        edit(root)
        return root
    return build


CORPUS_DAMAGE = {
    "empty CSV": lambda r: (r / "VideoDemographics.csv").write_text(""),
    "non-numeric row id": lambda r: ((r / "finishedResponses.csv").unlink(),  # the tabulated votes are read
                                     _replace_first_field(r / "processedResults" / "tabulatedVotes.csv", "x1")),
    "Age=forty": lambda r: _replace_cell(r / "VideoDemographics.csv", "Age", "forty"),
    "short clip name": lambda r: _replace_cell(r / "SentenceFilenames.csv", "Filename", "1001_DFA"),
    "binary file": lambda r: (r / "SentenceFilenames.csv").write_bytes(bytes(range(256)) * 4),
}


def _replace_first_field(path: Path, value: str) -> None:
    lines = path.read_text().splitlines()
    lines[1] = ",".join([value, *lines[1].split(",")[1:]])
    path.write_text("\n".join(lines) + "\n")


def _replace_cell(path: Path, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    index = [c.strip('"') for c in lines[0].split(",")].index(column)
    cells = lines[1].split(",")
    cells[index] = value
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def test_every_hostile_input_is_one_line_exit_2_and_writes_nothing(tmp_path, cli, monkeypatch, session_cache):
    monkeypatch.chdir(tmp_path)
    good = tiny_store(tmp_path / "good")
    out = str(tmp_path / "out")
    run = ["run", "--models", "ser", "--corruption", "modality", "--out", out]
    cases: list[list[str]] = [
        [*run, "--seed-list", "-1"], [*run, "--seed-list", "0,0"], [*run, "--mask-seed", "-1"],
        [*run, "--workers", "-1"], [*run, "--workers", "0"], [*run, "--epochs", "-2"], [*run, "--epochs", "0"],
        [*run, "--device", "cuda:7"], [*run, "--device", "tpu"], [*run, "--models", "raver", "--set", "n_ctx=-3"],
        [*run, "--set", "unknown_key=1"], [*run, "--config", "huge"], [*run, "--bootstrap", "0"],
        [*run, "--bootstrap", "-5"], [*run, "--models", "ser,ser"], [*run, "--corruption", "markov,markov"],
        ["train", "--model", "ser", "--epochs", "0"], ["train", "--model", "ser", "--seed", "-1"],
        ["leaderboard", "--out", str(tmp_path / "missing" / "board.md")],
        # issue 29: bounds of integer options, outputs refused before any work, for every command that writes
        [*run, "--seeds", str(10**20)], [*run, "--seed-list", f"0,{2**40}"], [*run, "--mask-seed", str(10**20)],
        [*run, "--bootstrap", str(10**11)], [*run, "--epochs", str(10**9)], [*run, "--workers", str(10**9)],
        ["train", "--model", "ser", "--seed", str(10**20)], [*run[:-2], "--out", ""],
        [*run[:-2], "--out", str(tmp_path / ("r" * 300))], [*run[:-2], "--out", str(tmp_path / "a-file")],
        [*run[:-2], "--out", "/proc/avbench-run"], [*run, "--ray-address", "127.0.0.1:6379"],
        ["report", "all", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "a-file")],
        ["compare", str(tmp_path / "good"), str(tmp_path / "good"), "--out", "/proc/avbench-compare"],
        ["compare", str(tmp_path / "good"), str(tmp_path / "good"), "--out", ""],
        ["leaderboard", "--out", ""], ["leaderboard", "--out", "/proc/board.md"],
        ["leaderboard", "--out", str(tmp_path / ("b" * 300))],
    ]
    (tmp_path / "a-file").write_text("not a directory")
    if not __import__("torch").cuda.is_available():
        cases.append([*run, "--device", "cuda"])
    for name, damage in STORE_DAMAGE.items():
        broken = tmp_path / f"store-{name.replace(' ', '-')}"
        shutil.copytree(good, broken)
        damage(broken)
        cases.append([*run, "--dataset", str(broken)])
    for name, damage in CORPUS_DAMAGE.items():
        root = _crema(damage)(tmp_path / f"crema-{name.replace(' ', '-').replace('=', '-')}")
        cases.append(["datasets", "info", "crema-d", "--root", str(root)])
    # submissions: a truncated predictions file, a non-integer bootstrap, a binary claims file
    submission = tmp_path / "submission"
    (submission / "predictions" / "ser" / "seed0").mkdir(parents=True)
    (submission / "predictions" / "ser" / "seed0" / "modality.npz").write_bytes(b"PK\x03\x04trunc")
    record = {"status": "complete", "dataset": "synthetic", "dataset_fingerprint": "", "models": ["ser"],
              "model_tasks": {"ser": "emotion"}, "corruptions": {"modality": []}, "seeds": [0], "mask_seed": 0,
              "bootstrap": "abc"}
    (submission / "run.json").write_text(json.dumps(record))
    (submission / "results.csv").write_text("model,seed,corruption,level,metric,value\n")
    binary = tmp_path / "claims.csv"
    binary.write_bytes(bytes(range(256)))
    entries = tmp_path / "entries"
    entries.mkdir()
    cases += [["submit", str(submission), "--entries", str(entries)],
              ["submit", str(submission), "--claimed", str(binary), "--entries", str(entries)]]
    truncated = tmp_path / "submission-truncated"
    shutil.copytree(submission, truncated)
    cases.append(["submit", str(truncated), "--entries", str(entries)])
    # this one reaches the predictions file: its record must otherwise be valid for the real embedded dataset
    record.update(bootstrap=1000, dataset_fingerprint=open_dataset("synthetic").fingerprint,
                  corruptions={"modality": [lv.label for lv in get_corruption("modality").levels]})
    (truncated / "run.json").write_text(json.dumps(record))
    before = tree(tmp_path)
    failures = []
    for args in cases:
        code, err = cli(*args)
        lines = [line for line in err.strip().splitlines() if not line.startswith("warning:")]
        if code != 2 or len(lines) != 1 or "Traceback" in err:
            failures.append((" ".join(args), code, err))
    assert not failures, failures
    assert tree(tmp_path) == before and not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()
    assert not (tmp_path / "missing").exists()


MSP_FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _first_file(folder: str, data: bytes):
    def damage(root: Path) -> None:
        sorted((root / folder).iterdir())[0].write_bytes(data)
    return damage


MSP_DAMAGE = {
    "msp-podcast: binary consensus": lambda r: (r / "Labels" / "labels_consensus.csv").write_bytes(
        bytes(range(256)) * 4),
    "msp-podcast: empty consensus": lambda r: (r / "Labels" / "labels_consensus.csv").write_text(""),
    "msp-podcast: EmoAct=high": lambda r: _replace_cell(r / "Labels" / "labels_consensus.csv", "EmoAct", "high"),
    "msp-podcast: binary detailed labels": lambda r: (r / "Labels" / "labels_detailed.csv").write_bytes(
        bytes(range(256)) * 4),
    "msp-podcast: transcript not UTF-8": _first_file("Transcripts", bytes(range(256))),
    "msp-improv: A:abc": lambda r: (r / "Evaluation.txt").write_text(
        (r / "Evaluation.txt").read_text().replace("A:3.938309", "A:abc", 1)),
    "msp-improv: binary Evaluation.txt": lambda r: (r / "Evaluation.txt").write_bytes(bytes(range(256)) * 4),
}


@pytest.mark.parametrize("case", list(MSP_DAMAGE))
def test_damaged_msp_tables_are_one_error_line(case: str, tmp_path, cli):
    corpus = case.split(":")[0]
    root = tmp_path / corpus
    shutil.copytree(MSP_FIXTURES / corpus, root)
    MSP_DAMAGE[case](root)
    code, err = cli("datasets", "info", "--dataset", corpus, "--root", str(root))
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == errors[0]  # nothing after it


def test_cache_whose_checkpoint_directory_is_a_file(tmp_path, cli, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "checkpoints").write_text("not a directory")
    monkeypatch.setenv("AVBENCH_CACHE", str(cache))
    code, err = cli("run", "--models", "ser", "--out", str(tmp_path / "out"))
    assert code == 2 and "checkpoint cache" in err and not (tmp_path / "out").exists()


# -- finding 1: content verified, the embedded cache regenerated ----------------------------------------------------
def test_altered_store_is_named_and_embedded_cache_is_regenerated(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("AVBENCH_CACHE", str(tmp_path / "cache"))
    store = tiny_store(tmp_path / "store")
    open_dataset(str(store))  # verified once: the sidecar remembers the files' sizes and times
    frames = bytearray((store / "audio.bin").read_bytes())
    frames[:4] = b"\1\1\1\1"
    (store / "audio.bin").write_bytes(bytes(frames))
    code, err = cli("run", "--dataset", str(store), "--models", "ser", "--out", str(tmp_path / "out"))
    assert code == 2 and "audio.bin" in err and not (tmp_path / "out").exists()
    meta = json.loads((store / "meta.json").read_text())
    del meta["files"], meta["hash_order"]  # a store written before per-file digests: the fingerprint itself
    (store / "meta.json").write_text(json.dumps(meta))
    code, err = cli("run", "--dataset", str(store), "--models", "ser", "--out", str(tmp_path / "out"))
    assert code == 2 and "content fingerprint" in err  # one digest over every file: no file to name

    genuine = open_dataset("synthetic")
    audio = genuine.path / "audio.bin"
    stamp = audio.stat()
    audio.write_bytes(bytes(audio.stat().st_size))  # zeros: same size, other content …
    os.utime(audio, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # … and the old time (`touch -r`)
    with pytest.warns(UserWarning, match="regenerating"):
        again = open_dataset("synthetic")
    assert again.fingerprint == genuine.fingerprint and np.asarray(again.frames("audio", 0)).any()
    assert again.path.name == genuine.path.name + ".2"  # a new copy: never rewritten under a reader
    assert genuine.path.is_dir()  # this process opened the damaged copy: kept while it lives …
    assert open_dataset("synthetic").path == again.path
    for marker in genuine.path.parent.glob(f".{genuine.path.name}.*.tmp"):
        marker.unlink()  # … and removed by the first command that opens the dataset once no one uses it
    open_dataset("synthetic")
    assert not genuine.path.exists()


# -- findings 6, 8, 9: nothing written before validation, stale temporaries removed, one writer per --out ------------
def test_run_removes_stale_temporaries_and_holds_a_lock(tmp_path, cli, session_cache):
    out = tmp_path / "out"
    args = ["run", "--models", "ser", "--corruption", "modality", "--epochs", "1", "--workers", "1",
            "--bootstrap", "100", "--out", str(out)]
    code, err = cli(*args[:-2], "--bootstrap", "0", "--out", str(out))
    assert code == 2 and not out.exists()  # the failed run left nothing that could block the corrected one
    stale = out / "predictions" / "ser" / "seed0" / ".modality.npz.abc123.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a file")
    with open(out / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, err = cli(*args)
        assert code == 2 and "another avbench run" in err and stale.exists()
        assert not (out / "run.json").exists()
    code, err = cli(*args)
    assert code == 0, err
    assert not stale.exists() and json.loads((out / "run.json").read_text())["status"] == "complete"


# -- finding 7: pool workers exit when the run is killed ------------------------------------------------------------
PARENT = """
import os, sys, time
from pathlib import Path
from avbench.execution.executors import make_executor

if __name__ == "__main__":
    pool = make_executor("local", 2, Path("."))
    print(pool.submit(os.getpid).result(), flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_pool_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    worker = int(parent.stdout.readline())
    assert _alive(worker)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 30
    while _alive(worker) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(worker)


# -- findings 3, 4 and 10 at the validators (the CLI paths are in test_submit) --------------------------------------
def test_statistics_limits():
    with pytest.raises(validate.UserError, match="at least 100"):
        validate.run_record({"bootstrap": 1}, "run.json")
    with pytest.raises(validate.UserError, match="more than once"):
        validate.run_record({"bootstrap": 1000, "seeds": [0, 0]}, "run.json")
    with pytest.raises(validate.UserError, match="excludes its point"):
        validate.interval_contains(0.7401, 0.7435, 0.7435, "late-fusion macro_f1")
    assert validate.claim_tolerance("1", "x") == pytest.approx(5e-4)
    assert validate.claim_tolerance("0.74012", "x") == pytest.approx(5e-6)


def test_npz_with_extra_or_oversized_arrays_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "p.npz"
    np.savez(path, outputs=np.zeros(10, np.float32), bomb=np.zeros(10))
    with pytest.raises(validate.UserError, match="unexpected array"):
        validate.npz_members(path, ["outputs"], "x")
    np.savez(path, outputs=np.zeros(1000, np.float32))
    monkeypatch.setattr(validate, "MAX_NPZ_BYTES", 1000)
    with pytest.raises(validate.UserError, match="uncompressed"):
        validate.npz_members(path, ["outputs"], "x")
    monkeypatch.setattr(validate, "MAX_NPZ_BYTES", 10**6)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**8,)})
    with zipfile.ZipFile(path, "w") as archive:  # the header declares 10^8 floats, the member holds 16 bytes
        archive.writestr("outputs.npy", header.getvalue() + bytes(16))
    with pytest.raises(validate.UserError, match="declares more data"):
        validate.npz_members(path, ["outputs"], "x")


# == issue 29: every fault is one line with nothing left behind; verified means re-inferred ========================
RUN = ["run", "--models", "ser", "--corruption", "modality", "--epochs", "1", "--workers", "1", "--bootstrap", "100"]


def error_line(code: int, err: str, expected: int) -> str:
    """The one line a failed command printed (warnings aside), after checking its exit code."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]  # the rest: warnings and progress lines
    assert code == expected and len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in err, (code, err)
    return errors[0]


def record(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


def leftovers(root: Path) -> list[Path]:
    """Temporaries an interrupted write could leave (``.<name>.<owner>.<random>.tmp``)."""
    return sorted(root.rglob(".*.tmp"))


def lock_is_free(out: Path) -> bool:
    lock = FileLock(str(out / ".lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return False
    lock.release()
    return True


def test_a_resume_redoes_predictions_that_other_weights_made(tmp_path, cli, warm):
    """Predictions are kept on resume only when they came from the checkpoint cached now: a run directory resumed
    with another cache (another machine's, or retrained weights) is evaluated again, never scored from the old
    weights' outputs under the new provenance."""
    out = tmp_path / "run"
    shutil.copytree(warm, out)
    (out / "run.json").write_text(json.dumps({**record(out), "status": "running"}))  # as if killed
    npz = out / "predictions" / "ser" / "seed0" / "modality.npz"
    original = npz.read_bytes()
    with np.load(npz) as data:
        arrays = {key: data[key] for key in data.files}
    assert predictions.made_by(npz) == str(arrays[predictions.WEIGHTS_KEY])
    arrays["outputs"] = np.full_like(arrays["outputs"], 0.5)  # what other weights would have predicted
    arrays[predictions.WEIGHTS_KEY] = np.array("0" * 64)
    np.savez_compressed(npz, **arrays)
    assert predictions.is_complete(npz, len(arrays["levels"]))
    assert not predictions.is_current(npz, len(arrays["levels"]), None)  # nothing cached: nothing to keep
    code, err = cli(*RUN, "--out", str(out))
    assert code == 0 and record(out)["status"] == "complete", err
    assert npz.read_bytes() == original  # evaluated again with the cached weights, byte for byte
    assert (out / "results.csv").read_bytes() == (warm / "results.csv").read_bytes()


def assert_failed_and_resumable(out: Path, reason: str) -> None:
    """The state a fault leaves: run.json failed with the reason, the lock released, no temporary left."""
    info = record(out)
    assert info["status"] == "failed" and reason in info["error"] and "holder" not in info, info
    assert lock_is_free(out) and not leftovers(out)


@pytest.fixture(scope="module")
def warm(session_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded dataset and ``ser``'s one-epoch checkpoint in the cache, and a finished run to compare with:
    the fault tests then exercise only the run's own writes."""
    out = tmp_path_factory.mktemp("warm") / "run"
    assert run_avbench(*RUN, "--out", str(out)) == 0
    return out


@contextlib.contextmanager
def mounted(path: Path, *commands: list[str]):
    """Run ``mount`` commands on ``path`` (a small tmpfs, a read-only view); skipped where that is not allowed."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root: a full disk or a read-only cache is simulated with mount")
    path.mkdir(parents=True, exist_ok=True)
    for command in commands:
        if subprocess.run(command, capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
            pytest.skip(f"{' '.join(command[:3])} is not permitted here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def small_disk(path: Path, size: str):
    return mounted(path, ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)])


def test_full_disk_is_one_line_exit_1_and_the_corrected_command_runs(tmp_path, cli, monkeypatch, warm):
    with small_disk(tmp_path / "disk", "1m") as disk:  # --out on a disk with 40 kB left: the predictions do not fit
        out = disk / "run"
        filler = disk / "filler"
        filler.write_bytes(bytes(shutil.disk_usage(disk).free - 40_000))
        code, err = cli(*RUN, "--out", str(out))
        assert "no space left" in error_line(code, err, 1)
        assert_failed_and_resumable(out, "no space left")
        filler.unlink()  # space freed: the same command resumes
        code, err = cli(*RUN, "--out", str(out))
        assert code == 0 and record(out)["status"] == "complete", err
        assert (out / "results.csv").read_bytes() == (warm / "results.csv").read_bytes()
    with small_disk(tmp_path / "cache", "2m") as cache:  # a cache too small for the embedded dataset
        monkeypatch.setenv("AVBENCH_CACHE", str(cache))
        code, err = cli(*RUN, "--out", str(tmp_path / "never"))
        assert "no space left" in error_line(code, err, 1)
        assert not leftovers(cache) and not (tmp_path / "never").exists()


def test_read_only_cache_that_holds_everything_runs(tmp_path, cli, monkeypatch, warm, session_cache):
    view = tmp_path / "read-only-cache"
    with mounted(view, ["mount", "--bind", str(session_cache), str(view)],
                 ["mount", "-o", "remount,bind,ro", str(view)]):
        monkeypatch.setenv("AVBENCH_CACHE", str(view))
        code, err = cli(*RUN, "--out", str(tmp_path / "run"))
        assert code == 0, err
        assert (tmp_path / "run" / "results.csv").read_bytes() == (warm / "results.csv").read_bytes()


def test_file_size_limit_is_one_line_exit_1_and_the_run_resumes(tmp_path, cli, warm):
    out = tmp_path / "run"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (32_000, hard))  # the predictions file (57 kB) exceeds it
    try:
        code, err = cli(*RUN, "--out", str(out))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert "file too large" in error_line(code, err, 1)
    assert_failed_and_resumable(out, "file too large")
    assert cli(*RUN, "--out", str(out))[0] == 0 and record(out)["status"] == "complete"


def _grandchildren() -> list[int]:
    """Processes whose parent is a child of this one: the pool's workers, forked from the fork server."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    children = {pid for pid, parent in parents.items() if parent == os.getpid()}
    return [pid for pid, parent in parents.items() if parent in children]


def test_a_killed_worker_is_one_line_exit_1_and_the_run_resumes(tmp_path, cli, warm):
    if not Path("/proc/self/stat").exists():
        pytest.skip("finds the pool's workers through /proc")
    out = tmp_path / "run"
    args = [*RUN[:-4], "--workers", "2", "--bootstrap", "100", "--out", str(out)]
    killed: list[int] = []

    def kill_a_worker() -> None:
        deadline = time.time() + 120
        while not killed and time.time() < deadline:
            for pid in _grandchildren():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_a_worker, daemon=True)
    killer.start()
    code, err = cli(*args)
    killer.join()
    assert killed and "a worker process died" in error_line(code, err, 1)
    assert_failed_and_resumable(out, "a worker process died")
    code, err = cli(*RUN, "--out", str(out))  # resumed (here in one process: the pool is not what is tested)
    assert code == 0 and record(out)["status"] == "complete", err


def test_a_missing_extra_is_one_line_with_its_install_hint(tmp_path, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as where the extra is not installed
    code, err = cli(*RUN, "--executor", "ray", "--out", str(tmp_path / "run"))
    assert "pip install 'avbench[ray]'" in error_line(code, err, 2) and not (tmp_path / "run").exists()
    code, err = cli(*RUN, "--models", "raver[n_ctx=16]", "--out", str(tmp_path / "run"))
    assert "NAME[key=value] form is not supported" in error_line(code, err, 2)


def test_a_broken_checkpoint_layout_is_rebuilt(tmp_path, cli, warm, synthetic):
    directory = checkpoint_dir(TrainSpec("ser", epochs=1), synthetic)
    breakages = {"checkpoint.json is a directory": lambda: ((directory / "checkpoint.json").unlink(),
                                                             (directory / "checkpoint.json").mkdir()),
                 "its directory is a file": lambda: (shutil.rmtree(directory), directory.write_text("x"))}
    for name, breakage in breakages.items():
        breakage()
        with pytest.warns(UserWarning, match="removing it and retraining"):
            code, err = cli(*RUN, "--out", str(tmp_path / name.replace(" ", "-")))
        assert code == 0, (name, err)
        assert (directory / "checkpoint.json").is_file() and (directory / "weights.safetensors").is_file()


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_a_resume_leaves_nothing_behind_and_redoes_an_oversized_file(tmp_path, cli, warm, session_cache):
    out = tmp_path / "run"
    shutil.copytree(warm, out)
    (out / "run.json").write_text(json.dumps({**record(out), "status": "running"}))  # as if killed
    dead, alive = f"{owner_tag().rpartition('-')[0]}-{_dead_pid()}", owner_tag()
    checkpoints = session_cache / "checkpoints"
    debris = [checkpoints / f".weights.safetensors.{dead}.k1ll3d.tmp",
              session_cache / f".unit-seconds.json.{dead}.x.tmp",
              session_cache / "datasets" / f".synthetic-tiny-seed0-v3.{dead}.part.tmp" / "audio.bin",
              out / "predictions" / "ser" / "seed0" / f".modality.npz.{dead}.y.tmp"]
    for path in debris:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half written")
    in_progress = checkpoints / f".checkpoint.json.{alive}.busy.tmp"  # a live writer's: never touched
    in_progress.write_bytes(b"being written")
    npz = out / "predictions" / "ser" / "seed0" / "modality.npz"
    with np.load(npz) as data:
        arrays = {key: data[key] for key in data.files}
    with zipfile.ZipFile(npz, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, value)
            extra = bytes(20 * 2**20) if key == "outputs" else b""  # 20 MB of zeros beyond what the header declares
            archive.writestr(f"{key}.npy", buffer.getvalue() + extra)
    cache_module._SWEPT.clear()  # a new command: it sweeps the cache it touches
    code, err = cli(*RUN, "--out", str(out))
    assert code == 0 and record(out)["status"] == "complete", err
    assert not any(path.exists() for path in debris) and not (debris[2].parent).exists()
    assert in_progress.exists() and not leftovers(out)
    assert npz.stat().st_size < 2**20 and (out / "results.csv").read_bytes() == (warm / "results.csv").read_bytes()
    in_progress.unlink()


def test_deleting_the_lock_file_does_not_let_a_second_run_in(tmp_path, cli, warm):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out.mkdir()
        (out / "run.json").write_text(json.dumps({  # what a running run records; its .lock file was deleted
            "status": "running", "spec_hash": "0" * 16, "spec": {},
            "holder": {"host": HOST, "pid": holder.pid, "started": process_start(holder.pid)}}))
        code, err = cli(*RUN, "--out", str(out))
        assert f"pid {holder.pid}" in error_line(code, err, 2) and record(out)["status"] == "running"
    finally:
        holder.kill()
        holder.wait()
    code, err = cli(*RUN, "--out", str(out))  # its holder gone (killed), the directory is taken over
    assert code == 0 and record(out)["status"] == "complete", err


def test_a_store_changed_during_a_run_aborts_it(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("AVBENCH_CACHE", str(tmp_path / "cache"))
    store = tiny_store(tmp_path / "store")
    real_score = runner.score_run

    def zero_then_score(*args, **kwargs):  # another process zeroes audio.bin while the run evaluates
        audio = store / "audio.bin"
        stamp = audio.stat()
        with open(audio, "r+b") as fh:
            fh.write(bytes(stamp.st_size))
        os.utime(audio, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        return real_score(*args, **kwargs)

    monkeypatch.setattr(runner, "score_run", zero_then_score)
    out = tmp_path / "run"
    code, err = cli(*RUN, "--dataset", str(store), "--out", str(out))
    assert "audio.bin changed during the run" in error_line(code, err, 2)
    assert_failed_and_resumable(out, "changed during the run")
    assert not (out / "results.csv").exists() and not (out / "summary.csv").exists()


# -- verified means re-inferred ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pair_run(session_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """late-fusion and ser, one epoch each: the material of a forged relabel."""
    out = tmp_path_factory.mktemp("pair") / "run"
    return avbench.run(avbench.RunSpec(models=["ser", "late-fusion"], corruptions=["modality"], epochs=1,
                                       bootstrap=100, workers=1, out=out), progress=False)


def _relabel(run: Path) -> None:
    """late-fusion's predictions submitted as ser's, with ser's real weights digest copied in."""
    late, ser = (predictions.path(run, label, 0, "modality") for label in ("late-fusion", "ser"))
    with np.load(late) as forged, np.load(ser) as genuine:
        arrays = {**{key: forged[key] for key in forged.files}, "weights_sha256": genuine["weights_sha256"]}
    with open(ser, "wb") as fh:
        np.savez(fh, **arrays)


def test_a_forged_relabel_is_refused(pair_run, tmp_path, cli):
    run, entries = tmp_path / "forged", tmp_path / "entries"
    shutil.copytree(pair_run, run)
    _relabel(run)
    code, err = cli("submit", str(run), "--entries", str(entries))
    line = error_line(code, err, 2)
    assert "ser seed 0 modality: re-inferring its checkpoint does not reproduce" in line and "first mismatch" in line
    assert not entries.exists()
    info = record(run)  # another epochs setting: no cached checkpoint, so it is trained here, and is another one
    (run / "run.json").write_text(json.dumps({**info, "epochs": 2}))
    code, err = cli("submit", str(run), "--entries", str(entries))
    assert "were not made by the ser checkpoint" in error_line(code, err, 2) and not entries.exists()


def test_concurrent_submits_are_serialised(pair_run, tmp_path):
    other = avbench.run(avbench.RunSpec(models=["ser"], corruptions=["modality"], epochs=2, bootstrap=100,
                                        workers=1, out=tmp_path / "other"), progress=False)  # other weights
    entries = tmp_path / "entries"
    outcomes: dict[str, object] = {}
    start = threading.Barrier(2)

    def submit(name: str, run: Path) -> None:
        start.wait()
        try:
            outcomes[name] = submit_run(run, entries_dir=entries)
        except UserError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=submit, args=item) for item in (("pair", pair_run), ("other", other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [name for name, outcome in outcomes.items() if isinstance(outcome, UserError)]
    assert len(refused) == 1 and "--replace" in str(outcomes[refused[0]]), outcomes
    winner = other if refused == ["pair"] else pair_run
    (ser,) = [entry for entry in load_entries(entries) if entry.model.label == "ser"]
    assert ser.model.checkpoint_hash == record(winner)["checkpoint_hashes"]["ser"]


def test_a_byte_order_mark_in_results_csv_is_read(pair_run, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(pair_run, run)
    results = run / "results.csv"
    results.write_bytes(b"\xef\xbb\xbf" + results.read_bytes())  # as a spreadsheet saves it
    code, err = cli("submit", str(run), "--entries", str(tmp_path / "entries"))
    assert code == 0, err
    assert {e.model.label for e in load_entries(tmp_path / "entries")} == {"ser", "late-fusion"}
