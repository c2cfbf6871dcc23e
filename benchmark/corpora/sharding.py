"""Extraction spread over workers: the clips are dealt into shards, one per worker, on the executors runs use.

Each worker loads the encoders once and writes the part files of its own clips (atomic, resumable: a clip whose
part exists is skipped), with the torch thread count of the calling process, so a clip's features are computed
exactly as a single process would compute them. The caller then assembles the store from the parts in one
streaming pass in clip-table order, which makes the store byte-identical to a single-process extraction,
whatever the number of workers or the executor.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

import torch

from avbench.corpora.extract import Encoders, ExtractConfig, extract_parts, resolve_device
from avbench.corpora.labels import CorpusLabels
from avbench.errors import UserError
from avbench.executors import make_executor

ShardResult = tuple[int, int, dict[str, str], dict[str, dict[str, Any]]]  # extracted, reused, failures, specs


def shards(labels: CorpusLabels, n: int) -> list[CorpusLabels]:
    """``labels`` dealt round-robin into at most ``n`` non-empty shards (clip lengths even out across them)."""
    count = max(1, min(n, len(labels.clips)))
    out = []
    for k in range(count):
        shard = copy.copy(labels)
        shard.clips = labels.clips.iloc[k::count].reset_index(drop=True)
        out.append(shard)
    return out


def extract_shard(labels: CorpusLabels, parts: str, config: ExtractConfig, device: str, batch_size: int,
                  threads: int) -> ShardResult:
    """One worker: load the encoders and write the part files of this shard's clips."""
    torch.set_num_threads(threads)
    encoders = Encoders.build(config, resolve_device(device), batch_size)
    extracted, reused, failures = extract_parts(labels, Path(parts), config, encoders)
    return extracted, reused, failures, encoders.specs(config)


def extract_sharded(labels: CorpusLabels, parts: Path, config: ExtractConfig, device: str, batch_size: int,
                    executor: str, workers: int, on_progress: Callable[[int, int, str], None] | None = None,
                    ) -> ShardResult:
    """Every clip's part file written by ``workers`` workers on ``executor`` (local | ray | slurm)."""
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    cuda = resolve_device(device).type == "cuda"  # an unusable device fails here, before any worker starts
    pool = make_executor(executor, workers, parts, gpus_per_unit=1 if cuda else 0)
    extracted = reused = 0
    failures: dict[str, str] = {}
    specs: dict[str, dict[str, Any]] = {}
    total, done = len(labels.clips), 0
    try:
        futures: dict[Future, int] = {
            pool.submit(extract_shard, shard, str(parts), config, device, batch_size, torch.get_num_threads()):
                len(shard.clips) for shard in shards(labels, workers)}
        while futures:
            finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for future in finished:
                done += futures.pop(future)
                n_new, n_old, failed, specs = future.result()  # a worker's error is raised here
                extracted, reused = extracted + n_new, reused + n_old
                failures.update(failed)
                if on_progress is not None:
                    on_progress(done, total, "")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    order = {clip: i for i, clip in enumerate(labels.clips["clip_id"])}
    return extracted, reused, dict(sorted(failures.items(), key=lambda kv: order[kv[0]])), specs
