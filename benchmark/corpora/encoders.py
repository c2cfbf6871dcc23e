"""Frozen speech and text encoders from ``transformers``.

Speech: 16 kHz waveform → every hidden state (``output_hidden_states``: the CNN/projection output plus each
transformer layer — 25 × 1024 for WavLM-large, as RAVER uses) or only the last one (wav2vec2 for the word-chunk
models); frames are 20 ms apart. Several clips go through one call, padded, with an attention mask so that the
padding changes no clip's features beyond float rounding; models whose convolutional front end normalises over
time (group norm, as in wav2vec2-base) would see the padding, so they encode one clip per call.
For WavLM-large under transformers 5 the last of the 25 states is layer 24's output before the encoder's final
LayerNorm (transformers 4 returned it after); the store's meta.json records the library versions.

Text: one vector per aligned word, the mean of the last-layer vectors of the word's sub-word tokens. Words are
joined into one sentence so every word is encoded in context, and tokens are mapped back to words through the
tokenizer's character offsets (works for RoBERTa's byte-level BPE and BERT WordPiece alike).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from avbench.corpora.media import SAMPLE_RATE, ClipError
from avbench.corpora.weights import content_digest, load_pretrained
from avbench.errors import UserError

AUDIO_LAYERS = ("all", "last")
AUDIO_RATE = 50.0  # frames per second of wav2vec2 / WavLM (20 ms hop)
MIN_SAMPLES = 400  # the convolutional front end needs one 25 ms window


class AudioEncoder:
    def __init__(self, spec: str, layers: str, device: torch.device) -> None:
        from transformers import AutoFeatureExtractor, AutoModel  # deferred: transformers

        if layers not in AUDIO_LAYERS:
            raise UserError(f"--audio-layers must be one of {', '.join(AUDIO_LAYERS)}, got {layers!r}")
        self.spec, self.layers, self.device = spec, layers, device
        self.model = load_pretrained(spec, "audio", "--audio-model", AutoModel).to(device).eval()
        self.processor = load_pretrained(spec, "audio feature extractor", "--audio-model", AutoFeatureExtractor,
                                         needs=("preprocessor_config.json",))
        config = self.model.config
        self.shape = ((config.num_hidden_layers + 1) if layers == "all" else 1, config.hidden_size)
        self.digest = content_digest({"model": self.model}, {"processor": self.processor.to_dict(), "layers": layers})

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """(frames, layers, dim) float32 features of one clip."""
        return self.batch([wav])[0]

    @torch.no_grad()
    def batch(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Features of several clips, through one padded, masked call when the model allows it."""
        for wav in wavs:
            if wav.shape[0] < MIN_SAMPLES:
                raise ClipError(f"audio is {wav.shape[0] / SAMPLE_RATE * 1000:.0f} ms long; the encoder needs 25 ms")
        if len(wavs) > 1 and getattr(self.model.config, "feat_extract_norm", "group") != "layer":
            return [self.batch([wav])[0] for wav in wavs]
        inputs = self.processor(list(wavs), sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True,
                                return_attention_mask=True)
        mask = inputs["attention_mask"]
        out = self.model(inputs["input_values"].to(self.device),
                         attention_mask=mask.to(self.device) if len(wavs) > 1 else None,
                         output_hidden_states=self.layers == "all")
        frames = torch.stack(out.hidden_states, dim=2) if self.layers == "all" else out.last_hidden_state.unsqueeze(2)
        lengths = self.model._get_feat_extract_output_lengths(mask.sum(-1)).tolist()
        return [frames[i, : int(n)].float().cpu().numpy() for i, n in enumerate(lengths)]


class TextEncoder:
    def __init__(self, spec: str, device: torch.device) -> None:
        from transformers import AutoModel, AutoTokenizer  # deferred: transformers

        self.spec, self.device = spec, device
        self.model = load_pretrained(spec, "text", "--text-model", AutoModel).to(device).eval()
        self.tokenizer = load_pretrained(spec, "text tokenizer", "--text-model", AutoTokenizer,
                                         needs=("tokenizer.json", "tokenizer_config.json"))
        if not getattr(self.tokenizer, "is_fast", False):
            raise UserError(f"--text-model {spec}: needs a fast tokenizer (tokenizer.json) to map tokens to words")
        self.shape = (self.model.config.hidden_size,)
        self.max_tokens = int(getattr(self.model.config, "max_position_embeddings", 512))
        self.digest = content_digest({"model": self.model}, {"tokenizer": self.tokenizer.backend_tokenizer.to_str(),
                                                            "special": self.tokenizer.special_tokens_map})

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        """(words, dim) float32: mean of each word's sub-word vectors."""
        return self.batch([words])[0]

    @torch.no_grad()
    def batch(self, clips: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Word vectors of several clips' sentences through one padded call (right padding, attention mask)."""
        out: list[np.ndarray] = [np.zeros((0, *self.shape), np.float32) for _ in clips]
        spoken = [i for i, words in enumerate(clips) if words]
        if not spoken:
            return out
        encoded = self.tokenizer([" ".join(clips[i]) for i in spoken], return_offsets_mapping=True,
                                 return_special_tokens_mask=True, padding=True, return_tensors="pt")
        counts = encoded["attention_mask"].sum(-1).tolist()
        for i, n_tokens in zip(spoken, counts, strict=True):
            if n_tokens > self.max_tokens:
                raise ClipError(f"{len(clips[i])} words give {n_tokens} tokens, more than the text model's "
                                f"{self.max_tokens}")
        offsets = encoded.pop("offset_mapping").tolist()
        special = encoded.pop("special_tokens_mask").tolist()
        hidden = self.model(**{k: v.to(self.device) for k, v in encoded.items()}).last_hidden_state.float().cpu()
        for row, i in enumerate(spoken):
            out[i] = _word_vectors(clips[i], offsets[row], special[row], hidden[row].numpy(), self.shape)
        return out


def _word_vectors(words: Sequence[str], offsets: list[list[int]], special: list[int], hidden: np.ndarray,
                  shape: tuple[int, ...]) -> np.ndarray:
    """Mean of each word's sub-word vectors; tokens map to words through their character offsets."""
    spans, cursor = [], 0
    for word in words:
        spans.append((cursor, cursor + len(word)))
        cursor += len(word) + 1
    starts = np.array([s for s, _ in spans])
    owner = np.full(len(offsets), -1)
    for t, ((begin, end), is_special) in enumerate(zip(offsets, special, strict=True)):
        if not is_special and end > begin:
            # the token's last character is inside its word even when offsets include a leading space
            owner[t] = int(np.searchsorted(starts, end - 1, side="right")) - 1
    vectors = np.zeros((len(words), *shape), np.float32)
    for w in range(len(words)):
        rows = owner == w
        if not rows.any():
            raise ClipError(f"word {words[w]!r} produced no token")
        vectors[w] = hidden[rows].mean(axis=0)
    return vectors
