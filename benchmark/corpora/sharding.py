"""How extraction walks a corpus: clips in groups through batched encoder calls, groups dealt to workers.

The clip table is cut into groups of ``clips_per_call`` consecutive clips; the audio and text encoders take a
whole group per call (padded, with attention masks), faces go through in frame batches clip by clip. A clip
that fails (unreadable media, ...) is told apart by retrying its group one clip at a time.

With several workers, whole groups are dealt round-robin into one shard per worker, on the executors runs use.
Each worker loads the encoders once and writes the part files of its own clips (atomic, resumable: a clip whose
part exists is skipped), with the torch thread count of the calling process, so every group is computed exactly
as a single process computes it. The caller then assembles the store from the parts in one streaming pass in
clip-table order, which makes the store byte-identical to a single-process extraction, whatever the number of
workers or the executor.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from avbench.corpora.clips import (Encoders, ExtractConfig, check_inputs, part_name, save_part, extract_clip,
                                   resolve_device)
from avbench.corpora.labels import CorpusLabels
from avbench.corpora.media import load_audio
from avbench.errors import UserError
from avbench.execution.executors import make_executor

ShardResult = tuple[int, int, dict[str, str], dict[str, dict[str, Any]]]  # extracted, reused, failures, specs
Progress = Callable[[int, int, str], None]


def _batched(encoder: Any, inputs: list[Any]) -> list[np.ndarray | Exception]:
    """``encoder.batch(inputs)``; when the group fails, each input alone, so one bad clip fails alone."""
    try:
        return encoder.batch(inputs)
    except UserError:
        raise
    except Exception:
        out: list[np.ndarray | Exception] = []
        for item in inputs:
            try:
                out.append(encoder.batch([item])[0])
            except UserError:
                raise
            except Exception as exc:  # recorded against its clip
                out.append(exc)
        return out


def extract_group(rows: list[pd.Series], encoders: Encoders, config: ExtractConfig) -> list[dict | Exception]:
    """Features of a group of clips (or the exception that stopped a clip): one audio and one text call."""
    results: list[dict | Exception | None] = [None] * len(rows)
    encoded: list[dict[str, Any]] = [{} for _ in rows]
    for i, row in enumerate(rows):
        try:
            check_inputs(row, config)
            if "audio" in config.modalities:
                encoded[i]["wav"] = load_audio(Path(row["audio_path"] or row["video_path"]))
        except UserError:
            raise
        except Exception as exc:  # the clip fails; the group goes on
            results[i] = exc
    ready = [i for i, r in enumerate(results) if r is None]
    inputs = {"audio": lambda i: encoded[i]["wav"], "text": lambda i: list(rows[i]["words"])}
    for modality in ("audio", "text"):
        if modality in config.modalities and ready:
            features = _batched(getattr(encoders, modality), [inputs[modality](i) for i in ready])
            for i, value in zip(ready, features, strict=True):
                encoded[i][modality] = value
    for i in ready:
        try:
            failed = [v for k, v in encoded[i].items() if isinstance(v, Exception)]
            if failed:
                raise failed[0]
            results[i] = extract_clip(rows[i], encoders, config, encoded[i])
        except UserError:
            raise
        except Exception as exc:
            results[i] = exc
    return results  # type: ignore[return-value]


def extract_parts(labels: CorpusLabels, parts: Path, config: ExtractConfig, encoders: Encoders,
                  clips_per_call: int = 8, on_progress: Progress | None = None) -> tuple[int, int, dict[str, str]]:
    """Write the part file of every clip of ``labels`` that lacks one: (extracted, reused, failures).

    ``on_progress(done, to_extract, clip_id)`` follows the clips extracted now (reused ones take no time)."""
    if clips_per_call < 1:
        raise UserError(f"--clips-per-call must be at least 1, got {clips_per_call}")
    failures: dict[str, str] = {}
    extracted = reused = 0
    rows = [row for _, row in labels.clips.iterrows()]
    n_todo = sum(not (parts / part_name(row["clip_id"])).is_file() for row in rows)
    for start in range(0, len(rows), clips_per_call):
        group = rows[start : start + clips_per_call]
        todo = [row for row in group if not (parts / part_name(row["clip_id"])).is_file()]
        reused += len(group) - len(todo)
        for row, result in zip(todo, extract_group(todo, encoders, config) if todo else [], strict=True):
            if isinstance(result, Exception):  # one bad clip must not stop a corpus-sized run
                failures[row["clip_id"]] = f"{type(result).__name__}: {result}"
            else:
                save_part(parts / part_name(row["clip_id"]), result)
                extracted += 1
        if on_progress is not None and todo:
            on_progress(extracted + len(failures), n_todo, todo[-1]["clip_id"])
    return extracted, reused, failures


def shards(labels: CorpusLabels, n: int, clips_per_call: int = 1) -> list[CorpusLabels]:
    """``labels`` cut into groups of ``clips_per_call`` clips, dealt round-robin into at most ``n`` shards.

    Whole groups travel together, so each worker batches exactly the clips one process would batch; dealing them
    round-robin evens out clip lengths across workers. No shard is empty.
    """
    n_groups = -(-len(labels.clips) // clips_per_call)
    count = max(1, min(n, n_groups))
    group_of = np.arange(len(labels.clips)) // clips_per_call
    out = []
    for k in range(count):
        shard = copy.copy(labels)
        shard.clips = labels.clips[group_of % count == k].reset_index(drop=True)
        out.append(shard)
    return out


def extract_shard(labels: CorpusLabels, parts: str, config: ExtractConfig, device: str, batch_size: int,
                  clips_per_call: int, threads: int) -> ShardResult:
    """One worker: load the encoders and write the part files of this shard's clips."""
    torch.set_num_threads(threads)
    encoders = Encoders.build(config, resolve_device(device), batch_size)
    extracted, reused, failures = extract_parts(labels, Path(parts), config, encoders, clips_per_call)
    return extracted, reused, failures, encoders.specs(config)


def extract_sharded(labels: CorpusLabels, parts: Path, config: ExtractConfig, device: str, batch_size: int,
                    executor: str, workers: int, clips_per_call: int = 8, on_progress: Progress | None = None,
                    ) -> ShardResult:
    """Every clip's part file written by ``workers`` workers on ``executor`` (local | ray | slurm)."""
    if workers < 1 or clips_per_call < 1:
        raise UserError(f"--workers and --clips-per-call must be at least 1, got {workers} and {clips_per_call}")
    cuda = resolve_device(device).type == "cuda"  # an unusable device fails here, before any worker starts
    pool = make_executor(executor, workers, parts, gpus_per_unit=1 if cuda else 0)
    extracted = reused = 0
    failures: dict[str, str] = {}
    specs: dict[str, dict[str, Any]] = {}
    total = sum(not (parts / part_name(c)).is_file() for c in labels.clips["clip_id"])
    done = 0
    try:
        futures: dict[Future, None] = {
            pool.submit(extract_shard, shard, str(parts), config, device, batch_size, clips_per_call,
                        torch.get_num_threads()): None for shard in shards(labels, workers, clips_per_call)}
        while futures:
            finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for future in finished:
                futures.pop(future)
                n_new, n_old, failed, specs = future.result()  # a worker's error is raised here
                extracted, reused = extracted + n_new, reused + n_old
                failures.update(failed)
                done += n_new + len(failed)
                if on_progress is not None and done:
                    on_progress(done, total, "")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    order = {clip: i for i, clip in enumerate(labels.clips["clip_id"])}
    return extracted, reused, dict(sorted(failures.items(), key=lambda kv: order[kv[0]])), specs
