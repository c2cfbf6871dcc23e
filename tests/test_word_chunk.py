"""Chunk boundaries, temporal pyramid pooling and the word-chunk transformers (Align-VW/FW/MultiScaleW, SER)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch

from avbench import models
from avbench.data.batching import Batch, Collator, Labelled, Targets
from avbench.corruptions.clocks import span_mask
from avbench.errors import UserError
from avbench.models.chunking import (
    ChunkBounds,
    fw_bounds,
    multiscale_bounds,
    nearest_frame,
    temporal_pyramid_pool,
    vw_bounds,
    word_counts,
)
from avbench.data.store import StoreWriter

torch.set_num_threads(1)

WORD_CHUNK = ["align-vw", "align-fw", "align-multiscalew", "align-vw-ser", "align-fw-ser", "align-multiscalew-ser",
              "align-vw-ownquery", "align-fw-ownquery", "align-multiscalew-ownquery"]
AUDIO_TEXT = [*WORD_CHUNK, "mdre-gru", "mdrea-gru"]  # every model of the audio-text family
RATE = 50.0


def make_labelled(n_frames: Sequence[int], words: Sequence[Sequence[tuple[float, float]]], layers: int = 5,
                  dim: int = 32, text_dim: int = 32, seed: int = 0) -> Labelled:
    """A padded batch with random features, the given audio lengths and word alignments, and its targets; the
    attributes depend on the features so that a model can fit them."""
    g = torch.Generator().manual_seed(seed)
    b = len(n_frames)
    t, w = max(1, max(n_frames)), max(1, max(len(ws) for ws in words))
    lengths = {"audio": torch.tensor(list(n_frames)), "text": torch.tensor([len(ws) for ws in words])}
    masks = {m: torch.arange(n)[None, :] < lengths[m][:, None] for m, n in (("audio", t), ("text", w))}
    inputs = {"audio": torch.randn(b, t, layers, dim, generator=g) * masks["audio"][..., None, None],
              "text": torch.randn(b, w, text_dim, generator=g) * masks["text"][..., None]}
    word_times = torch.zeros(b, w, 2)
    for i, ws in enumerate(words):
        if ws:
            word_times[i, : len(ws)] = torch.tensor(ws)
    audio_mean = inputs["audio"][:, :, -1, :3].sum(1) / lengths["audio"].clamp(min=1)[:, None]
    text_mean = inputs["text"][:, :, :3].sum(1) / lengths["text"].clamp(min=1)[:, None]
    attributes = audio_mean + text_mean
    return Labelled(Batch(inputs=inputs, masks=masks, lengths=lengths, word_times=word_times,
                          durations=lengths["audio"] / RATE, rates={"audio": RATE, "text": 0.0}),
                    Targets(labels=torch.softmax(attributes, -1), attributes=attributes))


def make_batch(*args, **kwargs) -> Batch:
    """:func:`make_labelled` without the targets."""
    return make_labelled(*args, **kwargs).batch


def even_words(n_frames: int, n_words: int) -> list[tuple[float, float]]:
    edges = np.linspace(0.0, n_frames / RATE, n_words + 1)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]


def training_batch(seed: int = 0) -> Labelled:
    rng = np.random.default_rng(seed)
    frames = [int(rng.integers(40, 160)) for _ in range(8)]
    return make_labelled(frames, [even_words(n, int(rng.integers(1, 8))) for n in frames], seed=seed)


def ccc_criterion(outputs: torch.Tensor, targets: Targets) -> torch.Tensor:
    """Mean over the attributes of 1 - CCC (population statistics), the paper's eq. 3."""
    target = targets.attributes
    mp, mt = outputs.mean(0), target.mean(0)
    cov = ((outputs - mp) * (target - mt)).mean(0)
    ccc = 2 * cov / (outputs.var(0, unbiased=False) + target.var(0, unbiased=False) + (mp - mt) ** 2 + 1e-8)
    return (1 - ccc).mean()


def loss_falls(model: models.EmotionModel, steps: int = 40, lr: float = 3e-3) -> tuple[float, float]:
    """Eval-mode loss on a fixed batch before and after ``steps`` training steps on it."""
    data = training_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(ccc_criterion(model(data.batch), data.targets))

    before = eval_loss()
    model.train()
    for _ in range(steps):
        model.train_step(data.batch, data.targets, ccc_criterion, optimizer)
    return before, eval_loss()


def edge_batches() -> dict[str, Batch]:
    """Clips with one word, words shorter than a frame, clips shorter than 1 s, no words, all words dropped,
    all audio lost, and everything lost."""
    base = make_batch([120, 100, 30, 80, 12], [
        [(0.1, 2.3)],  # one word
        [(0.20, 0.205), (0.5, 0.51), (1.2, 1.9)],  # words shorter than a frame
        [(0.0, 0.3), (0.3, 0.6)],  # clip shorter than the 1 s chunk
        [],  # no words at all
        [(0.0, 0.1), (0.1, 0.24)],  # a 12-frame clip
    ])
    no_text = {"text": torch.zeros_like(base.masks["text"])}
    no_audio = {"audio": torch.zeros_like(base.masks["audio"])}
    spans = vw_bounds(base.word_times, base.lengths["text"], base.lengths["audio"], RATE)
    in_words = torch.zeros_like(base.masks["audio"])
    for b in range(base.size):
        for k in range(int(base.lengths["text"][b])):
            in_words[b, int(spans.starts[b, k]): int(spans.ends[b, k])] = True
    words_dropped = base.with_masks({**no_text, "audio": ~in_words})  # word drop also loses the words' frames
    return {
        "clean": base,
        "all-words-dropped": words_dropped,
        "all-audio-lost": base.with_masks(no_audio),
        "all-text-lost": base.with_masks(no_text),
        "no-words-anywhere": make_batch([60, 30], [[], []]),
    }


# -- chunk boundaries ------------------------------------------------------------------------------------------------
def test_nearest_frame_rounds_to_the_closest_frame_and_ties_go_earlier() -> None:
    seconds = torch.tensor([0.0, 0.01, 0.011, 0.03, 0.031, 0.049], dtype=torch.float64)
    assert nearest_frame(seconds, RATE).tolist() == [0, 0, 1, 1, 2, 2]


def test_vw_bounds_follow_each_word_span_inclusive_of_its_end_frame() -> None:
    words = torch.tensor([
        [[0.0, 0.2], [0.25, 0.5], [0.51, 0.512]],  # the last word is shorter than a frame
        [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],  # no words
        [[0.1, 0.3], [2.0, 2.5], [0.0, 0.0]],  # the second word lies past the end of the audio: last frame
    ])
    bounds = vw_bounds(words, torch.tensor([3, 0, 2]), torch.tensor([30, 40, 30]), RATE)
    assert bounds.counts.tolist() == [3, 1, 2]
    assert bounds.starts.tolist() == [[0, 12, 25], [0, 0, 0], [5, 29, 0]]
    assert bounds.ends.tolist() == [[11, 26, 27], [40, 0, 0], [16, 30, 0]]


def test_vw_chunks_are_exactly_the_frames_word_drop_removes() -> None:
    rng = np.random.default_rng(4)
    n_frames = 90
    starts = np.sort(rng.uniform(-0.05, 2.0, size=40))
    times = np.stack([starts, starts + rng.uniform(0.0, 0.4, size=40)], axis=1).astype(np.float32)
    bounds = vw_bounds(torch.from_numpy(times)[None], torch.tensor([40]), torch.tensor([n_frames]), RATE)
    frame_clock = np.arange(n_frames) / RATE
    for k, (start, end) in enumerate(times):
        dropped = np.flatnonzero(span_mask(frame_clock, np.array([start]), np.array([end])))
        assert (int(bounds.starts[0, k]), int(bounds.ends[0, k])) == (dropped[0], dropped[-1] + 1)


def test_fw_bounds_follow_eq1_with_exact_integer_shift() -> None:
    n_frames = torch.tensor([250, 120, 120, 120, 30, 173])
    n_words = torch.tensor([5, 4, 1, 0, 3, 4])
    bounds = fw_bounds(n_words, n_frames, width=50)
    # C = max(2, words); shift (T - W) / (C - 1): 200/4 = 50, 70/3 = 23.3 (floored per chunk), 70/1, 70/1
    assert bounds.counts.tolist() == [5, 4, 2, 2, 3, 4]
    assert bounds.starts.tolist() == [[0, 50, 100, 150, 200], [0, 23, 46, 70, 0], [0, 70, 0, 0, 0],
                                      [0, 70, 0, 0, 0], [0, 0, 0, 0, 0], [0, 41, 82, 123, 0]]
    assert bounds.ends.tolist() == [[50, 100, 150, 200, 250], [50, 73, 96, 120, 0], [50, 120, 0, 0, 0],
                                    [50, 120, 0, 0, 0], [30, 30, 30, 0, 0], [50, 91, 132, 173, 0]]
    capped = fw_bounds(torch.tensor([10]), torch.tensor([250]), width=50, max_chunks=3)
    assert capped.counts.tolist() == [3] and capped.starts.tolist() == [[0, 100, 200]]


def test_multiscale_crops_stay_inside_their_chunk_with_a_width_from_the_set() -> None:
    parent = fw_bounds(torch.tensor([6, 3, 2]), torch.tensor([240, 150, 20]), width=50)
    widths = [10, 20, 30, 40, 50]
    crops = multiscale_bounds(parent, widths, torch.Generator().manual_seed(1))
    valid = parent.valid()
    assert torch.equal(crops.counts, parent.counts)
    assert bool(((crops.starts >= parent.starts) & (crops.ends <= parent.ends))[valid].all())
    width = (crops.ends - crops.starts)[valid]
    parent_width = (parent.ends - parent.starts)[valid]
    assert bool((width <= parent_width).all())
    assert all(int(w) in widths or int(w) == int(p) for w, p in zip(width, parent_width))  # p: the 20-frame clip
    assert not bool((crops.starts * ~valid).any() or (crops.ends * ~valid).any())
    again = multiscale_bounds(parent, widths, torch.Generator().manual_seed(1))
    other = multiscale_bounds(parent, widths, torch.Generator().manual_seed(2))
    assert torch.equal(again.starts, crops.starts) and torch.equal(again.ends, crops.ends)
    assert not (torch.equal(other.starts, crops.starts) and torch.equal(other.ends, crops.ends))


def test_word_counts_read_the_zero_padded_word_times() -> None:
    times = torch.tensor([[[0.0, 0.3], [0.3, 0.5], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],
                          [[0.2, 0.3], [0.4, 0.5], [0.6, 0.9]]])
    assert word_counts(times).tolist() == [2, 0, 3]


# -- temporal pyramid pooling ----------------------------------------------------------------------------------------
def test_tpp_on_arange_gives_the_pyramid_means_in_order() -> None:
    x = torch.stack([torch.arange(20.0), 2 * torch.arange(20.0)], dim=-1)[None]  # (1, 20, 2)
    bounds = ChunkBounds(torch.tensor([[0, 3, 5]]), torch.tensor([[10, 7, 5]]), torch.tensor([3]))
    pooled = temporal_pyramid_pool(x, bounds).reshape(1, 3, 7, 2)
    # chunk [0, 10): whole, halves at 5, quarters at 2/4/6 with the remainder in the last one
    assert pooled[0, 0, :, 0].tolist() == [4.5, 2.0, 7.0, 0.5, 2.5, 4.5, 7.5]
    assert pooled[0, 0, :, 1].tolist() == [9.0, 4.0, 14.0, 1.0, 5.0, 9.0, 15.0]
    assert pooled[0, 1, :, 0].tolist() == [4.5] * 7  # 4 frames < 5: the global mean repeated
    assert pooled[0, 2].abs().sum() == 0  # an empty chunk pools to zeros


def test_tpp_matches_a_direct_per_chunk_computation() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 90, 4, generator=g)
    starts = torch.randint(0, 60, (3, 5), generator=g)
    ends = starts + torch.randint(0, 31, (3, 5), generator=g)
    pooled = temporal_pyramid_pool(x, ChunkBounds(starts, ends, torch.tensor([5, 5, 5]))).reshape(3, 5, 7, 4)
    for b in range(3):
        for k in range(5):
            s, e = int(starts[b, k]), int(ends[b, k])
            n = e - s
            if n == 0:
                expected = [torch.zeros(4)] * 7
            elif n < 5:
                expected = [x[b, s:e].mean(0)] * 7
            else:
                h, q = n // 2, n // 4
                cuts = [(s, e), (s, s + h), (s + h, e), (s, s + q), (s + q, s + 2 * q), (s + 2 * q, s + 3 * q),
                        (s + 3 * q, e)]
                expected = [x[b, lo:hi].mean(0) for lo, hi in cuts]
            assert torch.allclose(pooled[b, k], torch.stack(expected), atol=1e-5)


# -- models ----------------------------------------------------------------------------------------------------------
def test_registry_names_resolve_to_the_word_chunk_classes() -> None:
    for name in WORD_CHUNK:
        cls = models.model_class(name)
        assert cls.name == name
        assert cls.tasks[0] == "attributes" and "emotion" in cls.tasks
        assert cls.modalities == (("audio",) if name.endswith("-ser") else ("audio", "text"))
        assert cls.recipes["paper"].loss == "ccc" and cls.recipes["paper"].lr == 1e-4
        assert cls.recipes["paper"].batch_size == 128


@pytest.mark.parametrize("name", ["align-vw", "align-fw", "align-multiscalew"])
def test_co_attention_queries_come_from_the_other_modality_by_default(name: str) -> None:
    """Paper §3.3: in a co-attention layer the audio stream's keys and values are its own tokens and its queries are
    the text tokens, so the audio ``<SUM>`` output depends on the text only through the text ``<SUM>`` (position
    0); with MulT's direction (the ``-ownquery`` variant) every text token reaches it."""
    torch.manual_seed(0)
    streams = {"audio": torch.randn(2, 6, 32), "text": torch.randn(2, 4, 32)}
    padding = {"audio": torch.zeros(2, 6, dtype=torch.bool), "text": torch.tensor([[False] * 4, [False] * 3 + [True]])}
    changed = {**streams, "text": torch.cat([streams["text"][:, :1], torch.randn(2, 3, 32)], dim=1)}
    for variant, text_reaches_audio_sum in ((name, False), (f"{name}-ownquery", True)):
        model = models.get(variant).eval()
        assert model.query_from == ("own" if text_reaches_audio_sum else "other")
        with torch.no_grad():
            before = model.co_attend("audio", 0, streams, padding)[:, 0]
            after = model.co_attend("audio", 0, changed, padding)[:, 0]
        assert torch.allclose(before, after, atol=1e-6) != text_reaches_audio_sum, variant


def test_multiscale_crops_change_between_training_calls_but_not_in_eval() -> None:
    torch.manual_seed(0)
    model = models.get("align-multiscalew")
    batch = training_batch().batch
    n_words = batch.lengths["text"]
    model.train()
    first, second = model.chunk_bounds(batch, n_words), model.chunk_bounds(batch, n_words)
    assert not torch.equal(first.starts, second.starts) or not torch.equal(first.ends, second.ends)
    model.eval()
    evaluated = model.chunk_bounds(batch, n_words)
    fixed = fw_bounds(n_words, batch.lengths["audio"], 50, max_chunks=127)
    assert torch.equal(evaluated.starts, fixed.starts) and torch.equal(evaluated.ends, fixed.ends)
    with torch.no_grad():
        assert torch.equal(model(batch), model(batch))


def test_multiscale_training_is_deterministic_given_the_torch_seed() -> None:
    batch, targets = training_batch().batch, training_batch().targets
    outputs = []
    for _ in range(2):
        torch.manual_seed(5)
        model = models.get("align-multiscalew")
        model.train_step(batch, targets, ccc_criterion, torch.optim.Adam(model.parameters(), lr=1e-3))
        model.eval()
        with torch.no_grad():
            outputs.append(model(batch))
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize("name", AUDIO_TEXT)
def test_each_model_trains_and_its_loss_falls(name: str) -> None:
    torch.manual_seed(0)
    before, after = loss_falls(models.get(name))
    assert after < 0.7 * before, (before, after)


@pytest.mark.parametrize("name", AUDIO_TEXT)
def test_outputs_and_gradients_are_finite_on_edge_cases(name: str) -> None:
    torch.manual_seed(0)
    for task, n_outputs in (("attributes", 3), ("emotion", 6)):
        model = models.get(name, task=task)
        for label, batch in edge_batches().items():
            model.train()
            out = model(batch)
            assert out.shape == (batch.size, n_outputs)
            out.square().sum().backward()
            assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None), label
            model.zero_grad()
            model.eval()
            with torch.no_grad():
                assert torch.isfinite(model(batch)).all(), label


def test_text_reaches_the_bimodal_models_only() -> None:
    batch = training_batch().batch
    changed = Batch(**{**batch.__dict__, "inputs": {**batch.inputs, "text": torch.randn_like(batch.inputs["text"])}})
    for name, uses_text in (("align-fw", True), ("align-fw-ser", False)):
        model = models.get(name).eval()
        with torch.no_grad():
            assert torch.equal(model(batch), model(changed)) is not uses_text


def test_ser_variant_reads_word_times_from_a_batch_without_text(tmp_path) -> None:
    writer = StoreWriter(tmp_path / "store", "t", ["a", "b"], {"audio": {"rate": 50.0, "shape": (5, 8)},
                                                                "text": {"rate": 0.0, "shape": (8,)}})
    rng = np.random.default_rng(0)
    for i, (frames, n_words) in enumerate([(120, 3), (40, 0), (90, 1)]):
        times = np.array(even_words(frames, n_words), np.float32).reshape(-1, 2)
        writer.add(f"c{i}", "s", "train", frames / RATE,
                   {"audio": rng.normal(size=(frames, 5, 8)), "text": rng.normal(size=(n_words, 8))},
                   labels=np.array([0.5, 0.5]), attributes=rng.normal(size=3), word_times=times)
    store = writer.close()
    batch = Collator(store, ["audio"])([0, 1, 2])
    assert "text" not in batch.inputs and word_counts(batch.word_times).tolist() == [3, 0, 1]
    model = models.get("align-vw-ser", dims=models.FeatureDims({"audio": (5, 8)})).eval()
    bounds = model.chunk_bounds(batch, word_counts(batch.word_times))
    assert bounds.counts.tolist() == [3, 1, 1] and bounds.ends[1, 0] == 40
    with torch.no_grad():
        assert torch.isfinite(model(batch)).all()


def test_bad_configuration_is_a_user_error() -> None:
    with pytest.raises(UserError, match="chunk strategy"):
        models.get("align-fw", strategy="words")
    with pytest.raises(UserError, match="query source"):
        models.get("align-fw", query_from="both")
    with pytest.raises(UserError, match="divisible"):
        models.get("align-fw", heads=5)
    with pytest.raises(UserError, match="multi-scale"):
        models.get("align-multiscalew", scales=(0.5, 2.0))
    with pytest.raises(UserError, match="needs modality text"):
        models.get("align-vw", dims=models.FeatureDims({"audio": (5, 32)}))


@pytest.mark.parametrize("name", WORD_CHUNK)
def test_paper_config_runs_on_paper_size_inputs(name: str) -> None:
    model = models.get(name, "paper").eval()
    assert model.num_parameters() > 10 * models.get(name, "tiny").num_parameters()
    batch = make_batch([150, 80], [even_words(150, 7), even_words(80, 2)], layers=25, dim=1024, text_dim=768)
    with torch.no_grad():
        out = model(batch)
    assert out.shape == (2, 3) and torch.isfinite(out).all()
