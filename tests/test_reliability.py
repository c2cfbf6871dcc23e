"""Reliability findings of issue 15, each through the real CLI entry point (``avbench.cli.main``, in process so
the suite stays fast): bad input is one line and exit code 2 with nothing written, stores are verified from their
content, runs lock and clean up after themselves, and pool workers never outlive their run."""
from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from avbench import validate
from avbench.corruptions import get as get_corruption
from avbench.data.datasets import open_dataset
from avbench.data.store import StoreWriter

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
            failures.append((args, code, err))
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
