"""The audio-visual models: learning, finiteness under every mask, the frontend/fuse split,
independence from batch composition, paper-size configs, and VAVL's three-update training step."""
from __future__ import annotations

import pytest
import torch

import avbench.models as models
from avbench.data.batching import Batch, Labelled, Targets
from avbench.errors import UserError
from avbench.models import FeatureDims
from avbench.models.base import frontend_frames, fuse_view

torch.set_num_threads(1)

# every registered model of the audio-visual family (emotion first; the generic contract over all registered models
# is in test_registries.py; the word-chunk and GRU families have their own files)
AV_MODELS = [n for n in models.names() if models.model_class(n).tasks[0] == "emotion"]
TINY = FeatureDims({"audio": (5, 32), "video": (32,)})


def soft_ce(outputs: torch.Tensor, targets: Targets) -> torch.Tensor:
    return -(targets.labels * torch.log_softmax(outputs, dim=-1)).sum(-1).mean()


def make_batch(audio_lengths: list[int], video_lengths: list[int], dims: FeatureDims = TINY, seed: int = 0,
               zero_fill: bool = True) -> Labelled:
    """Random padded batch and its targets; labels depend on the inputs so that there is something to learn."""
    g = torch.Generator().manual_seed(seed)
    lengths = {"audio": torch.tensor(audio_lengths), "video": torch.tensor(video_lengths)}
    inputs, masks = {}, {}
    for m, lens in lengths.items():
        steps = max(1, int(lens.max()))
        masks[m] = torch.arange(steps)[None, :] < lens[:, None]
        x = torch.randn(len(lens), steps, *dims.shapes[m], generator=g)
        inputs[m] = x * masks[m].view(*masks[m].shape, *([1] * (x.dim() - 2))) if zero_fill else x
    b = len(audio_lengths)
    evidence = inputs["audio"].mean((1, 2))[:, :6] + inputs["video"].mean(1)[:, :6]
    return Labelled(Batch(inputs=inputs, masks=masks, lengths=lengths, word_times=torch.zeros(b, 1, 2),
                          durations=torch.ones(b)),
                    Targets(labels=torch.softmax(8 * evidence, -1), attributes=torch.randn(b, 3, generator=g)))


def lose(batch: Batch, audio: torch.Tensor | None = None, video: torch.Tensor | None = None) -> Batch:
    """The batch with extra frames lost (keep-masks ANDed, lost inputs zeroed), as the runner does it."""
    extra = {m: keep for m, keep in (("audio", audio), ("video", video)) if keep is not None}
    return batch.with_masks(extra)


@pytest.fixture(scope="module")
def labelled() -> Labelled:
    return make_batch([60, 23, 1, 40], [36, 14, 1, 24])


@pytest.fixture(scope="module")
def batch(labelled: Labelled) -> Batch:
    return labelled.batch


@pytest.mark.parametrize("name", AV_MODELS)
def test_training_lowers_the_loss(name: str) -> None:
    torch.manual_seed(0)
    data = make_batch([50, 44, 30, 12, 50, 7, 26, 38], [30, 26, 18, 7, 30, 4, 16, 22], seed=1)
    model = models.get(name, dims=TINY)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(soft_ce(model(data.batch), data.targets))

    before = eval_loss()
    model.train()
    for _ in range(30):
        assert torch.isfinite(torch.tensor(model.train_step(data.batch, data.targets, soft_ce, optimizer,
                                                            grad_clip=1.0)))
    assert eval_loss() < 0.9 * before


def _mask_cases(batch: Batch) -> dict[str, Batch]:
    g = torch.Generator().manual_seed(3)
    none = {m: torch.zeros_like(k) for m, k in batch.masks.items()}
    return {
        "all frames lost": lose(batch, none["audio"], none["video"]),
        "audio lost": lose(batch, audio=none["audio"]),
        "video lost": lose(batch, video=none["video"]),
        "random": lose(batch, *(torch.rand(batch.masks[m].shape, generator=g) < 0.3 for m in ("audio", "video"))),
        "length-1 clips": make_batch([1, 1], [1, 1]).batch,
    }


@pytest.mark.parametrize("name", AV_MODELS)
def test_finite_under_every_mask(name: str, batch: Batch) -> None:
    targets = make_batch([60, 23, 1, 40], [36, 14, 1, 24]).targets
    torch.manual_seed(0)
    model = models.get(name, dims=TINY)
    for label, case in _mask_cases(batch).items():
        model.eval()
        with torch.no_grad():
            assert torch.isfinite(model(case)).all(), label
        model.train()
        model.zero_grad()
        model.loss(case, Targets(targets.labels[: case.size], targets.attributes[: case.size]), soft_ce).backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), label


@pytest.mark.parametrize("name", AV_MODELS)
def test_frontend_split_equals_zero_filling(name: str) -> None:
    """fuse on the frames of the raw inputs with lost frames replaced must equal the model on zero-filled inputs."""
    torch.manual_seed(0)
    model = models.get(name, dims=TINY).eval()
    raw = make_batch([30, 17], [18, 10], zero_fill=False).batch
    g = torch.Generator().manual_seed(5)
    masks = {m: k & (torch.rand(k.shape, generator=g) < 0.6) for m, k in raw.masks.items()}
    raw = Batch(raw.inputs, masks, raw.lengths, raw.word_times, raw.durations)
    zeroed = raw.with_masks(masks)
    with torch.no_grad():
        split = model.fuse(model.frames(raw), fuse_view(model, raw))
        filled = model(zeroed)
    torch.testing.assert_close(split, filled, rtol=1e-5, atol=1e-5)


def test_raver_projection_has_a_bias() -> None:
    """The split test above is only meaningful for RAVER because a zero frame's frontend is not zero there."""
    model = models.get("raver", dims=TINY)
    zero = frontend_frames(model, {"video": torch.zeros(1, 1, 32)})[1]["video"]
    assert zero.abs().sum() > 0


@pytest.mark.parametrize("name", AV_MODELS)
def test_outputs_do_not_depend_on_batch_padding(name: str, batch: Batch) -> None:
    torch.manual_seed(0)
    model = models.get(name, dims=TINY).eval()
    lossy = lose(batch, *(torch.rand(batch.masks[m].shape, generator=torch.Generator().manual_seed(7)) < 0.5
                          for m in ("audio", "video")))
    with torch.no_grad():
        together = model(lossy)
        for i in range(lossy.size):
            alone = Batch({m: x[i: i + 1, : int(lossy.lengths[m][i]) or 1] for m, x in lossy.inputs.items()},
                          {m: k[i: i + 1, : int(lossy.lengths[m][i]) or 1] for m, k in lossy.masks.items()},
                          {m: n[i: i + 1] for m, n in lossy.lengths.items()}, lossy.word_times[i: i + 1],
                          lossy.durations[i: i + 1])
            torch.testing.assert_close(model(alone)[0], together[i], rtol=1e-4, atol=1e-5)


def test_bad_configs_are_user_errors() -> None:
    with pytest.raises(UserError, match="frame_pool"):
        models.get("mult", dims=TINY, frame_pool=(2,))
    with pytest.raises(UserError, match="bad override"):
        models.get("raver", dims=TINY, n_context=4)
    with pytest.raises(UserError, match="needs modality video"):
        models.get("raver", dims=FeatureDims({"audio": (5, 32)}))


def test_auxformer_averages_its_three_branches(labelled: Labelled) -> None:
    torch.manual_seed(0)
    model = models.get("auxformer", dims=TINY).eval()
    batch, targets = labelled.batch, labelled.targets
    with torch.no_grad():
        branches = model.branches(model.frames(batch), fuse_view(model, batch))
        torch.testing.assert_close(model(batch), torch.stack(branches).mean(0))
        expected = torch.stack([soft_ce(out, targets) for out in branches]).mean()
        torch.testing.assert_close(model.loss(batch, targets, soft_ce), expected)


def _grad_owners(model: torch.nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_vavl_updates_only_what_each_step_should(labelled: Labelled) -> None:
    torch.manual_seed(0)
    batch, targets = labelled.batch, labelled.targets
    model = models.get("vavl", dims=TINY, out_dropout=0.0).train()
    video = model.unimodal_loss("video", batch, targets, soft_ce)
    video.backward()
    owners = _grad_owners(model)
    assert any(n.startswith("encoders.video") for n in owners) and any(n.startswith("shared.") for n in owners)
    assert not any("audio" in n or n.startswith("fusion") for n in owners)
    model.zero_grad(set_to_none=True)

    running = model.encoders["audio"].blocks[0].conv.bn.running_mean.clone()
    first, second = model.fusion_loss(batch, targets, soft_ce), model.fusion_loss(batch, targets, soft_ce)
    assert torch.equal(first, second)  # encoders (with dropout) ran in eval mode
    assert torch.equal(running, model.encoders["audio"].blocks[0].conv.bn.running_mean)
    first.backward()
    assert {n.split(".")[0] for n in _grad_owners(model)} == {"fusion"}
    assert all(module.training for module in model.modules())

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    assert torch.isfinite(torch.tensor(model.train_step(batch, targets, soft_ce, optimizer)))
    changed = {n.split(".")[0] for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {"front", "encoders", "shared", "shared_norm", "heads", "reconstruct", "fusion"}
    assert all(p.grad is None for p in model.parameters())


def test_paper_configs_run_on_paper_sized_inputs() -> None:
    """One eval forward per model at the papers' shapes (audio 25×1024 at ~200 frames, video 1280 at ~120)."""
    dims = models.default_dims("paper")
    data = make_batch([200, 150], [120, 90], dims=dims).batch
    torch.manual_seed(0)
    for name in AV_MODELS:
        model = models.get(name, config="paper").eval()
        with torch.no_grad():
            out = model(data)
        assert out.shape == (2, 6) and torch.isfinite(out).all(), name
        del model
