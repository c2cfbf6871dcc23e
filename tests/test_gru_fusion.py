"""MDRE-GRU and MDREA-GRU: received-frame encoders, masked attention, training and edge cases."""
from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from avbench import models
from avbench.data.batching import Batch
from avbench.models.gru_fusion import ReceivedGRU, received_first
from test_word_chunk import edge_batches, even_words, make_batch

GRU_MODELS = ["mdre-gru", "mdrea-gru"]

torch.set_num_threads(1)



def test_received_first_keeps_order_and_zeroes_the_rest() -> None:
    x = torch.arange(1.0, 7.0).reshape(1, 6, 1).repeat(2, 1, 1)
    keep = torch.tensor([[False, True, False, True, True, False], [False] * 6])
    moved, counts = received_first(x, keep)
    assert counts.tolist() == [3, 0]
    assert moved[..., 0].tolist() == [[2.0, 4.0, 5.0, 0.0, 0.0, 0.0], [0.0] * 6]
    pooled, pooled_counts = received_first(x, keep, pool=2)  # windows of two received steps, the last one short
    assert pooled_counts.tolist() == [2, 0]
    assert pooled[..., 0].tolist() == [[3.0, 5.0, 0.0], [0.0] * 3]


def test_received_gru_final_state_equals_a_packed_run_over_received_steps() -> None:
    torch.manual_seed(0)
    encoder = ReceivedGRU(4, 6, dropout=0.0).eval()
    x = torch.randn(3, 9, 4)
    keep = torch.rand(3, 9) > 0.4
    keep[2] = False
    states, valid, final = encoder(x, keep)
    moved, counts = received_first(x, keep)
    for b in range(2):
        packed = pack_padded_sequence(moved[b : b + 1], counts[b : b + 1], batch_first=True)
        _, reference = encoder.gru(packed)
        assert torch.allclose(final[b], reference[0, 0], atol=1e-6)
        assert torch.allclose(states[b, int(counts[b]) - 1], final[b])
    assert valid.sum(1).tolist() == counts.tolist()
    assert final[2].abs().sum() == 0 and states[2].abs().sum() == 0  # nothing received encodes to zeros


def _with_lost_gap(batch: Batch) -> Batch:
    """``batch`` with 7 lost frames (random content) inserted into the audio after frame 20."""
    gap = torch.randn(2, 7, 5, 32)
    audio = torch.cat([batch.inputs["audio"][:, :20], gap, batch.inputs["audio"][:, 20:]], dim=1)
    keep = torch.cat([batch.masks["audio"][:, :20], torch.zeros(2, 7, dtype=torch.bool), batch.masks["audio"][:, 20:]],
                     dim=1)
    return Batch(**{**batch.__dict__, "inputs": {**batch.inputs, "audio": audio}, "masks": {**batch.masks, "audio": keep},
                    "lengths": {**batch.lengths, "audio": batch.lengths["audio"] + 7}})


def test_masked_variant_skips_lost_frames() -> None:
    """mdre-gru-masked: inserting lost frames anywhere (whatever their content) leaves the prediction unchanged."""
    model = models.get("mdre-gru-masked").eval()
    batch = make_batch([60, 45], [even_words(60, 4), even_words(45, 3)])
    with torch.no_grad():
        assert torch.allclose(model(batch), model(_with_lost_gap(batch)), atol=1e-5)


@pytest.mark.parametrize("name", GRU_MODELS)
def test_declared_baselines_read_lost_frames_as_zeros(name: str) -> None:
    """Yoon's GRUs step through every frame: a gap of lost (zero-filled) frames changes the prediction, exactly as
    the same zero frames marked as received would (the masks never reach a mask-blind model)."""
    assert not models.model_class(name).sees_masks
    model = models.get(name).eval()
    batch = make_batch([60, 45], [even_words(60, 4), even_words(45, 3)])
    lost = _with_lost_gap(batch)
    zero_filled = lost.with_masks(lost.masks)
    received = Batch(**{**zero_filled.__dict__, "masks": zero_filled.blinded().masks})
    with torch.no_grad():
        assert not torch.allclose(model(batch), model(zero_filled), atol=1e-4)
        torch.testing.assert_close(model(zero_filled), model(received))


def test_mdrea_attention_over_no_word_gives_a_zero_context() -> None:
    model = models.get("mdrea-gru").eval()
    batch = edge_batches()["no-words-anywhere"]
    with torch.no_grad():
        frames = model.frames(batch)
        _, _, audio = model.audio_encoder(frames["audio"], batch.blinded().masks["audio"])
        query = model.query(audio)
        expected = model.output(torch.cat([query, torch.zeros_like(query)], dim=-1))
        assert torch.allclose(model(batch), expected, atol=1e-6)


@pytest.mark.parametrize("name", GRU_MODELS)
def test_paper_config_runs_on_paper_size_inputs(name: str) -> None:
    model = models.get(name, "paper").eval()
    cls = models.model_class(name)
    assert cls.recipes["paper"].loss == "ccc" and cls.tasks == ("attributes", "emotion")
    batch = make_batch([150, 80], [even_words(150, 7), even_words(80, 2)], layers=25, dim=1024, text_dim=768)
    with torch.no_grad():
        out = model(batch)
    assert out.shape == (2, 3) and torch.isfinite(out).all()
