"""Word-chunk segmentation of an audio frame sequence and temporal pyramid pooling (Lin, Goncalves & Busso, ICMI'23).

Every function works on a whole padded batch at once, so chunking costs a handful of tensor operations rather
than a Python loop over clips or frames. A segmentation is a :class:`ChunkBounds`: per clip, chunk k covers the
frames ``[starts[b, k], ends[b, k])`` for ``k < counts[b]``; slots past ``counts[b]`` are empty (start = end = 0)
and are padding for the transformer.

Decisions where the paper and the authors' code leave room (see ``shared/reference/authors-code-facts.md`` §2.1):

* nearest frame: a time ``t`` maps to the frame whose time ``i / rate`` is closest, ties going to the earlier
  frame as an ``argmin`` over frame times does; the authors' word drop zeroes the same inclusive span, so a
  dropped word's Align-VW chunk is exactly its zeroed frames when the word-drop corruption uses this rule;
* Align-FW: chunk k starts at ``floor(k (T - W) / (C - 1))`` in exact integer arithmetic, so the last chunk ends
  on the last frame as eq. 1 intends; the authors' ``k * int(step)`` would leave up to C - 2 final frames
  uncovered. C = max(2, words) as in the authors' code, and clips shorter than W get C chunks that all cover the
  whole clip;
* multi-scale crops keep ``min(width, chunk length)`` frames from a uniformly drawn start inside the chunk.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

TPP_SEGMENTS = 7  # pyramid levels 1, 2, 4
TPP_MIN_FRAMES = 5  # shorter chunks repeat their global mean 7 times (authors' rule)


class ChunkBounds(NamedTuple):
    """Chunk k of clip b is frames ``[starts[b, k], ends[b, k])``; only the first ``counts[b]`` chunks exist."""

    starts: torch.Tensor  # (B, C) long
    ends: torch.Tensor  # (B, C) long
    counts: torch.Tensor  # (B,) long

    def valid(self) -> torch.Tensor:
        """(B, C) True for chunks that exist."""
        return torch.arange(self.starts.shape[1], device=self.starts.device) < self.counts[:, None]


def nearest_frame(seconds: torch.Tensor, rate: float) -> torch.Tensor:
    """Index of the frame (time i / rate) nearest to ``seconds``; a tie picks the earlier frame."""
    return torch.ceil(seconds.double() * rate - 0.5).long()


def word_counts(word_times: torch.Tensor) -> torch.Tensor:
    """Words per clip from zero-padded (B, W, 2) word times, for models that do not load the text modality.

    Padding rows are (0, 0) and sit after the last word, so the count is the position of the last row with a
    non-zero time; a lone word aligned to (0, 0) has no duration and counts as no word.
    """
    real = (word_times != 0).any(dim=-1).long()
    position = torch.arange(1, word_times.shape[1] + 1, device=word_times.device)
    return torch.cat([real.new_zeros(len(real), 1), real * position], dim=1).amax(dim=1)


def vw_bounds(word_times: torch.Tensor, n_words: torch.Tensor, n_frames: torch.Tensor, rate: float) -> ChunkBounds:
    """Align-VW: one chunk per word, from the frame nearest its start through the frame nearest its end.

    Times snap to the nearest *existing* frame, as in the word-drop corruption, so a dropped word's chunk is
    exactly the frames that corruption zeroes: a word shorter than a frame still gets one frame, and a word aligned
    past the end of the audio gets the last frame. A clip with no words gets one chunk spanning the whole clip, as
    the authors' loader gives such clips a single pseudo-word; a clip without audio frames gets empty chunks.
    """
    if word_times.shape[1] == 0:  # a batch without any word still needs one chunk slot per clip
        word_times = word_times.new_zeros(len(n_frames), 1, 2)
    n_frames = n_frames.long()
    n_words = n_words.long()
    no_words = n_words == 0
    first = nearest_frame(word_times[..., 0], rate)
    last = nearest_frame(word_times[..., 1], rate)
    last_frame = (n_frames[:, None] - 1).clamp(min=0)
    starts = torch.minimum(first.clamp(min=0), last_frame)
    ends = torch.minimum(torch.minimum(torch.maximum(last, starts), last_frame) + 1, n_frames[:, None])
    starts = torch.where(no_words[:, None], torch.zeros_like(starts), starts)
    ends = torch.where(no_words[:, None], n_frames[:, None].expand_as(ends), ends)
    counts = torch.where(no_words, torch.ones_like(n_words), n_words)
    return _clear_padding(ChunkBounds(starts, ends, counts))


def fw_bounds(n_words: torch.Tensor, n_frames: torch.Tensor, width: int, max_chunks: int | None = None) -> ChunkBounds:
    """Align-FW: C = max(2, words) chunks of ``width`` frames with shift (T - W) / (C - 1) (paper eq. 1).

    ``max_chunks`` caps C (the transformer's maximum sequence length). When T < W every chunk is the whole clip.
    """
    n_frames = n_frames.long()
    counts = n_words.long().clamp(min=2)
    if max_chunks is not None:
        counts = counts.clamp(max=max_chunks)
    n_chunks = int(counts.max())
    k = torch.arange(n_chunks, device=n_frames.device)[None, :]
    span = (n_frames - width).clamp(min=0)[:, None]
    starts = k * span // (counts[:, None] - 1).clamp(min=1)
    ends = torch.minimum(starts + width, n_frames[:, None])
    return _clear_padding(ChunkBounds(starts, ends, counts))


def multiscale_bounds(bounds: ChunkBounds, widths: Sequence[int],
                      generator: torch.Generator | None = None) -> ChunkBounds:
    """Align-MultiScaleW: crop every chunk to a random width from ``widths`` (frames) at a uniform random start.

    Each chunk of each clip draws independently, so calling this again (the next epoch) gives new crops.
    ``generator`` defaults to torch's global generator, which the harness seeds.
    """
    starts, ends, counts = bounds
    device = generator.device if generator is not None else starts.device
    choice = torch.randint(len(widths), starts.shape, generator=generator, device=device).to(starts.device)
    where = torch.rand(starts.shape, generator=generator, device=device, dtype=torch.float64).to(starts.device)
    length = ends - starts
    crop = torch.minimum(torch.as_tensor(list(widths), device=starts.device)[choice], length)
    offset = (where * (length - crop + 1)).long().clamp(max=(length - crop).clamp(min=0))
    new_starts = starts + offset
    return _clear_padding(ChunkBounds(new_starts, new_starts + crop, counts))


def temporal_pyramid_pool(x: torch.Tensor, bounds: ChunkBounds) -> torch.Tensor:
    """Temporal pyramid pooling of each chunk of ``x`` (B, T, D) → (B, C, 7·D).

    The 7 means are [whole, first half, second half, quarters 1–4]; halves split at floor(L/2) and quarters at
    multiples of floor(L/4), the remainder going to the last quarter. A chunk of fewer than 5 frames repeats its
    global mean 7 times, and an empty chunk pools to zeros. All frames inside a chunk are averaged, lost ones
    included: they arrive as zeros (the training mean), so heavy loss pulls the chunk toward 0 as in the authors'
    set-up. Means come from differences of one cumulative sum over the padded batch.
    """
    batch, _, dim = x.shape
    starts, ends = bounds.starts, bounds.ends
    n_chunks = starts.shape[1]
    length = (ends - starts).clamp(min=0)
    half, quarter = length // 2, length // 4
    lo = torch.stack([starts, starts, starts + half, starts, starts + quarter, starts + 2 * quarter,
                      starts + 3 * quarter], dim=-1)
    hi = torch.stack([ends, starts + half, ends, starts + quarter, starts + 2 * quarter, starts + 3 * quarter,
                      ends], dim=-1)
    short = (length < TPP_MIN_FRAMES)[..., None]
    lo = torch.where(short, starts[..., None], lo)
    hi = torch.where(short, ends[..., None], hi)
    cumulative = torch.cat([x.new_zeros(batch, 1, dim), x.cumsum(dim=1)], dim=1)

    def at(index: torch.Tensor) -> torch.Tensor:
        return cumulative.gather(1, index.reshape(batch, -1, 1).expand(-1, -1, dim))

    counts = (hi - lo).clamp(min=1).reshape(batch, -1, 1).to(x.dtype)
    means = (at(hi) - at(lo)) / counts
    return means.reshape(batch, n_chunks, TPP_SEGMENTS * dim)


def _clear_padding(bounds: ChunkBounds) -> ChunkBounds:
    """Set the chunk slots past each clip's count to the empty range [0, 0)."""
    valid = bounds.valid()
    return ChunkBounds(bounds.starts * valid, bounds.ends * valid, bounds.counts)
