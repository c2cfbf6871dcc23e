"""What a paper-scale run costs: measured rates at the paper configurations, projected to real corpora.

Measured on this machine (``--device cpu`` or ``cuda``):

* extraction clips/s per encoder, through avbench's own encoder code where it can run offline: the speech
  encoders are randomly initialised from ``transformers`` configs of the real architectures (WavLM-large,
  wav2vec2-large-robust) with fewer transformer layers — timed at 1 and ``layers`` layers and extrapolated
  linearly to their full 24 — on a clip of the corpus's mean duration; RoBERTa-base is timed the same way on a
  fixed token count and extrapolated to its 12 layers; faces are MTCNN detection (on smooth face-free frames) plus
  the MobileNetV2 trunk on 480 × 360 frames, 30 per second of clip.
* training steps/s and peak memory per model, at its ``paper`` configuration and a chosen batch size on
  ``synthetic-paper`` (the papers' feature sizes), through the real training loop (prefetch, modality dropout,
  autocast, the model's own ``train_step``). Each model runs in a fresh process, so its peak memory is its own
  (CPU: the process's peak resident set; CUDA: ``max_memory_allocated``).
* evaluation clips × levels/s: the real evaluation path over the test split under the ten Markov levels.

Projection: per-clip costs scale with the corpus's mean clip duration over the measured one (linear in length),
train/dev/test shares are those of ``synthetic-paper``, epochs are the recipes' and training goes at the measured
clips/s. Random weights time the same arithmetic as trained ones; what the projection leaves out (disk, decoding
video, start-up) is named in the printed notes.
"""
from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from avbench.output import terminal
from avbench.errors import UserError
from avbench.speed.timing import best_of
import tempfile
from avbench.tasks import get as get_task

console = terminal.console()  # off a terminal, tables at their natural width: nothing cut in a log
progress = terminal.console(stderr=True)
STORE = "synthetic-paper"
FULL_LAYERS = {"wavlm-large": 24, "wav2vec2-large-robust": 24, "roberta-base": 12}  # transformer layers


@dataclass(frozen=True)
class CorpusScale:
    """A corpus as the projection sees it: clip count, mean duration and the encoders its store needs."""

    name: str
    clips: int
    mean_seconds: float
    modalities: tuple[str, ...]
    encoders: tuple[str, ...]
    source: str


CORPORA = (
    CorpusScale("crema-d", 7442, 2.54, ("audio", "video"), ("wavlm-large", "faces"),
                "RAVER §IV-A: 7,442 clips, mean 2.54 s"),
    CorpusScale("msp-podcast", 104267, 166 * 3600 / 104267, ("audio", "text"),
                ("wav2vec2-large-robust", "roberta-base"), "ICMI 2023 §4.1: v1.10, 104,267 clips, ≈166 h"),
)
# The corruptions avbench runs from the RAVER paper on an audio-visual corpus (Figs. 3, 5, Table 3, Sec. V-A-2).
RAVER_SWEEP = ("random-audio", "random-video", "random-all", "markov", "async", "modality")
TEXT_TOKENS = 32  # tokens per clip for RoBERTa: a 5–6 s speaking turn has roughly 15–20 words
VIDEO_SIZE = (360, 480)  # CREMA-D frames (height, width)


# -- extraction --------------------------------------------------------------------------------------------------
def _speech_encoder(kind: str, layers: int, device: Any, folder: str) -> Any:
    """avbench's AudioEncoder on a randomly initialised large speech model saved to ``folder``."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model, WavLMConfig, WavLMModel  # deferred: transformers
    from transformers.utils import logging as hf_logging  # deferred: transformers

    hf_logging.disable_progress_bar()

    from avbench.corpora.encoders import AudioEncoder  # deferred: av, pandas, torch

    large = {"hidden_size": 1024, "num_hidden_layers": layers, "num_attention_heads": 16, "intermediate_size": 4096,
             "feat_extract_norm": "layer", "do_stable_layer_norm": True}
    model = WavLMModel(WavLMConfig(**large)) if kind == "wavlm-large" else Wav2Vec2Model(Wav2Vec2Config(**large))
    model.save_pretrained(folder)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return AudioEncoder(folder, "all" if kind == "wavlm-large" else "last", device)


def _extrapolated(time_at: Callable[[int], float], layers: int, full: int) -> float:
    """Seconds per clip of the ``full``-layer model from timings at 1 and ``layers`` layers (linear in depth)."""
    one, more = time_at(1), time_at(layers)
    per_layer = max(0.0, (more - one) / (layers - 1))
    return one + per_layer * (full - 1)


def _speech_rate(kind: str, seconds: float, device: Any, layers: int, repeats: int) -> float:

    from avbench.corpora.media import SAMPLE_RATE  # deferred: av, pandas

    wav = np.random.default_rng(0).standard_normal(int(seconds * SAMPLE_RATE)).astype(np.float32) * 0.1

    def time_at(n_layers: int) -> float:
        with tempfile.TemporaryDirectory() as folder:
            encoder = _speech_encoder(kind, n_layers, device, folder)
            return best_of(lambda: encoder(wav), repeats, warm_up=True)

    return 1.0 / _extrapolated(time_at, layers, FULL_LAYERS[kind])


def _text_rate(device: Any, layers: int, repeats: int) -> float:
    import torch  # deferred: torch
    from transformers import RobertaConfig, RobertaModel  # deferred: transformers

    ids = torch.randint(5, 50000, (1, TEXT_TOKENS), generator=torch.Generator().manual_seed(0)).to(device)

    def time_at(n_layers: int) -> float:
        model = RobertaModel(RobertaConfig(num_hidden_layers=n_layers)).to(device).eval()
        with torch.no_grad():
            return best_of(lambda: model(input_ids=ids).last_hidden_state.float().cpu(), repeats, warm_up=True)

    return 1.0 / _extrapolated(time_at, layers, FULL_LAYERS["roberta-base"])


def _face_rate(seconds: float, device: Any, repeats: int) -> float:
    """Clips/s of MTCNN + MobileNetV2 on smooth face-free frames (30 fps); the trunk's cost does not depend on
    the weights, the detector's later stages run on few candidates, as with one real face."""
    import torch  # deferred: torch
    from facenet_pytorch import MTCNN  # deferred: facenet_pytorch
    from torchvision.models import mobilenet_v2  # deferred: torchvision

    n = max(1, round(seconds * 30))
    rows, cols = np.mgrid[0 : VIDEO_SIZE[0], 0 : VIDEO_SIZE[1]]
    smooth = (127 + 60 * np.sin(rows / 40.0)[..., None] * np.cos(cols / 55.0)[..., None]).astype(np.uint8)
    frames = np.repeat(np.repeat(smooth, 3, axis=2)[None], n, axis=0)  # no face: the detector's baseline cost
    detector = MTCNN(select_largest=True, device=device)
    trunk = mobilenet_v2(weights=None).features.to(device).eval()
    crops = torch.rand(n, 3, 224, 224, device=device)

    def clip() -> None:
        for start in range(0, n, 32):
            detector.detect(frames[start : start + 32], landmarks=True)
            with torch.no_grad():
                trunk(crops[start : start + 32]).mean(dim=(2, 3)).cpu()

    return 1.0 / best_of(clip, repeats, warm_up=True)


def extraction_rates(encoders: Sequence[str], device: Any, layers: int, repeats: int) -> dict[str, float]:
    """Clips/s of each encoder on a clip of the mean duration of the corpus that uses it."""
    seconds = {e: c.mean_seconds for c in CORPORA for e in c.encoders}
    rates = {}
    for name in encoders:
        if name in ("wavlm-large", "wav2vec2-large-robust"):
            rates[name] = _speech_rate(name, seconds[name], device, layers, repeats)
        elif name == "roberta-base":
            rates[name] = _text_rate(device, layers, repeats)
        else:
            rates[name] = _face_rate(seconds[name], device, repeats)
    return rates


ENCODERS = tuple(e for c in CORPORA for e in c.encoders)


# -- training and evaluation ---------------------------------------------------------------------------------------
def _peak_memory_mib(device: str) -> float:
    """CUDA: peak allocated tensor memory; CPU: the process's peak resident set (Python and torch included)."""
    import torch  # deferred: torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    import resource  # deferred: resource (POSIX only; `avbench --help` must import on Windows too)

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_model(name: str, device: str, precision: str, steps: int, batch_size: int) -> dict[str, float]:
    """Steps/s, peak memory and evaluation clips × levels/s of one model at its paper config (run in a child)."""
    import torch  # deferred: torch

    from avbench.data.batching import Collator, prefetch  # deferred: pandas, torch
    from avbench.models.base import visible  # deferred: pandas, torch
    from avbench.corruptions import get as get_corruption  # deferred: pandas
    from avbench.data.datasets import open_dataset  # deferred: pandas
    from avbench.execution.training import TrainSpec, autocast, build_model, make_optimizer  # deferred: pandas, safetensors, torch
    from avbench.protocols.base import recipe_dropout  # deferred: torch
    from avbench.protocols.augment import drop_one_modality  # deferred: torch
    from avbench.execution.units import predict_under_corruption, set_threads  # deferred: pandas, safetensors, torch

    set_threads()
    store = open_dataset(STORE)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    spec = TrainSpec(name, config="paper", precision=precision)
    torch.manual_seed(0)
    model = build_model(spec, store).to(device)
    recipe = type(model).recipes["paper"]
    size = batch_size or recipe.batch_size  # 0 = the recipe's
    criterion = get_task(model.task).criterion(recipe.loss, store, recipe.cb_beta).to(device)
    optimizer = make_optimizer(model, recipe)
    collator = Collator(store, type(model).modalities)
    rng = np.random.default_rng(0)
    train = store.split_indices("train")
    chunks = [rng.choice(train, size=size, replace=True) for _ in range(steps + 1)]  # the first is a warm-up
    model.train()
    start = time.perf_counter()
    for i, item in enumerate(prefetch(chunks, collator.labelled, device)):
        if i == 1:
            start = time.perf_counter()
        with autocast(device, precision):
            model.train_step(visible(model, drop_one_modality(item.batch, recipe_dropout(recipe), rng)),
                             item.targets, criterion, optimizer, recipe.grad_clip)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    step_s = (time.perf_counter() - start) / steps
    peak = _peak_memory_mib(device)
    markov = get_corruption("markov")
    evaluate = lambda: predict_under_corruption(model, store, markov, 0, device, precision=precision)  # noqa: E731
    eval_s = best_of(evaluate, 1, warm_up=True)
    n_test = len(store.split_indices("test"))
    durations = store.clips["duration"].to_numpy()
    return {"steps_per_s": 1.0 / step_s, "batch_size": size, "peak_mib": peak, "epochs": recipe.epochs,
            "recipe_batch_size": recipe.batch_size,
            "eval_clip_levels_per_s": n_test * len(markov.levels) / eval_s,
            "mean_seconds": float(np.mean(durations)), "parameters": model.num_parameters()}


def measure_models(models: Sequence[str], device: str, precision: str, steps: int,
                   batch_size: int) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Each model in a fresh spawned process, one at a time (its peak memory is then its own).

    Returns the rates, and the models whose process died (typically out of memory) with the reason.
    """
    results, failed = {}, {}
    context = multiprocessing.get_context("spawn")
    for name in models:
        progress.print(f"measuring {name} at its paper config …", style="dim")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            try:
                results[name] = pool.submit(measure_model, name, device, precision, steps, batch_size).result()
            except BrokenProcessPool:
                failed[name] = f"the measuring process died (out of memory at batch {batch_size or 'recipe'}?)"
    return results, failed


# -- projection ----------------------------------------------------------------------------------------------------
def _split_shares() -> dict[str, float]:
    from avbench.data.datasets import open_dataset  # deferred: pandas

    store = open_dataset(STORE)
    total = len(store.clips)
    return {split: len(store.split_indices(split)) / total for split in ("train", "dev", "test")}


def project_model(m: dict[str, float], corpus: CorpusScale, shares: dict[str, float],
                  levels: int) -> dict[str, float]:
    """Seconds to train (recipe epochs, dev selection each epoch) and to evaluate ``levels`` levels on a corpus.

    Training goes at the measured clips/s (steps/s × measured batch), whatever batch was measured.
    """
    scale = corpus.mean_seconds / m["mean_seconds"]
    n_train, n_dev, n_test = (corpus.clips * shares[s] for s in ("train", "dev", "test"))
    clean_eval_rate = m["eval_clip_levels_per_s"]  # per clip and level; one clean pass costs about one level
    train_s = m["epochs"] * (n_train / (m["steps_per_s"] * m["batch_size"]) + n_dev / clean_eval_rate)
    return {"train_s": train_s * scale, "eval_s": n_test * levels / clean_eval_rate * scale}


def _fits(model: str, corpus: CorpusScale) -> bool:
    from avbench.models import model_class  # deferred: pandas, torch

    return set(model_class(model).modalities) <= set(corpus.modalities)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def raver_sweep_s(models: dict[str, dict[str, float]], extraction: dict[str, float], shares: dict[str, float],
                  seeds: int) -> tuple[float | None, list[str]]:
    """Extraction of CREMA-D + every measured audio-visual model × seeds trained and run under the RAVER sweep."""
    from avbench.corruptions import get as get_corruption  # deferred: pandas

    crema = CORPORA[0]
    levels = sum(len(get_corruption(c).levels) for c in RAVER_SWEEP)
    av = [name for name in models if _fits(name, crema)]
    if not av or any(e not in extraction for e in crema.encoders):
        return None, av
    total = sum(crema.clips / extraction[e] for e in crema.encoders)
    for name in av:
        p = project_model(models[name], crema, shares, levels)
        total += seeds * (p["train_s"] + p["eval_s"])
    return total, av


def signal_loss_s(extraction: dict[str, float], shares: dict[str, float],
                  concealments: int = 3) -> tuple[float, int] | None:
    """``extract --signal-loss gilbert-elliott`` on CREMA-D: every lossy level × concealment re-encodes the test
    split's audio and video (an upper bound: a modality a clip loses nothing of is copied; the clean level is)."""
    from avbench.corruptions import get as get_corruption  # deferred: pandas

    crema = CORPORA[0]
    if any(e not in extraction for e in crema.encoders):
        return None
    stores = concealments * sum(lv.x > 0 for lv in get_corruption("gilbert-elliott").levels)
    return stores * crema.clips * shares["test"] * sum(1 / extraction[e] for e in crema.encoders), stores


def report(device: str, precision: str, extraction: dict[str, float], models: dict[str, dict[str, float]],
           failed: dict[str, str], seeds: int, layers: int) -> None:
    shares = _split_shares()
    columns = ("encoder", "layers", "clip length", "clips/s", *(f"{c.name} ({c.clips:,} clips)" for c in CORPORA))
    table = terminal.readable_table(*columns, right=columns[1:],
                                    title=f"extraction on {device} (random weights, timings at 1 and {layers} "
                                          "layers extrapolated to the encoder's layers)")
    for name, rate in extraction.items():
        corpus = next(c for c in CORPORA if name in c.encoders)
        cells = [_duration(c.clips / rate) if name in c.encoders else "–" for c in CORPORA]
        table.add_row(name, str(FULL_LAYERS.get(name, "–")), f"{corpus.mean_seconds:.2f} s", f"{rate:.2f}", *cells)
    if extraction:
        console.print(table)
    columns = ("model", "params", "batch", "steps/s", "peak MiB", "eval clips×levels/s", *(c.name for c in CORPORA))
    table = terminal.readable_table(*columns, right=columns[1:],
                                    title=f"training and evaluation on {device}, {precision}, paper configs on "
                                          f"{STORE}; projected: train (recipe epochs) + one Markov sweep")
    for name, m in models.items():
        cells = []
        for corpus in CORPORA:
            p = project_model(m, corpus, shares, 10) if _fits(name, corpus) else None
            cells.append(_duration(p["train_s"] + p["eval_s"]) if p else "–")
        table.add_row(name, f"{m['parameters']:,}", str(m["batch_size"]), f"{m['steps_per_s']:.3f}",
                      f"{m['peak_mib']:.0f}", f"{m['eval_clip_levels_per_s']:.1f}", *cells)
    for name in failed:
        table.add_row(name, *["–"] * (5 + len(CORPORA)))
    if models or failed:
        console.print(table)
    for name, reason in failed.items():
        console.print(f"{name}: {reason}")
    total, av = raver_sweep_s(models, extraction, shares, seeds)
    if total is not None:
        console.print(f"full RAVER sweep on CREMA-D ({', '.join(RAVER_SWEEP)}; {len(av)} audio-visual models × "
                      f"{seeds} seed(s), extraction included): {_duration(total)} on one {device} process")
    signal = signal_loss_s(extraction, shares)
    if signal is not None:
        console.print(f"signal-level loss on CREMA-D (extract --signal-loss gilbert-elliott: {signal[1]} stores, the "
                      f"lossy levels × zero, repeat, interpolate, each re-encoding the test split): "
                      f"{_duration(signal[0])} on one {device} process, beside the clean extraction")
    console.print("notes: projections scale per-clip costs linearly with mean clip length "
                  f"({', '.join(c.source for c in CORPORA)}); splits as in {STORE}; video decoding, disk and "
                  "start-up are not included; a loaded machine gives lower rates.")


def measure(models: Sequence[str], encoders: Sequence[str], device: str = "cpu", precision: str = "fp32",
            steps: int = 2, batch_size: int = 8, layers: int = 2, repeats: int = 1,
            seeds: int = 1) -> dict[str, Any]:
    """Measure, print the tables and return the raw rates."""
    import torch  # deferred: torch

    from avbench.execution.training import check_precision  # deferred: pandas, safetensors, torch

    check_precision(precision)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda requested but no CUDA device is available")
    if steps < 1 or layers < 2 or repeats < 1 or seeds < 1 or batch_size < 0:
        raise UserError("--steps, --repeats and --seeds must be at least 1, --layers at least 2, --batch-size ≥ 0")
    unknown = [e for e in encoders if e not in ENCODERS]
    if unknown:
        raise UserError(f"unknown encoder {unknown[0]!r}; choose from {', '.join(ENCODERS)}")
    extraction = extraction_rates(encoders, torch.device(device), layers, repeats)
    rates, failed = measure_models(models, device, precision, steps, batch_size)
    report(device, precision, extraction, rates, failed, seeds, layers)
    return {"extraction": extraction, "models": rates, "failed": failed}
