"""Decoding media (PyAV), face detection and alignment (MTCNN), MobileNetV2 weights loading.

Real speech comes from the shared RAVDESS sample (read in place, never copied; CC BY-NC-SA 4.0) and the real
face from scikit-image's astronaut image.
"""
from __future__ import annotations

import math
import pickle
import wave
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from skimage import data

from avbench.corpora.faces import FEATURE_DIM, FaceEncoder, aligned_crop
from avbench.corpora.media import SAMPLE_RATE, ClipError, load_audio, video_frames
from avbench.corpora.weights import load_state_dict, strip_prefix
from avbench.errors import UserError

RAVDESS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess-sample"


def write_video(path: Path, frames: list[np.ndarray], fps: int = 30, codec: str = "flv") -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def face_image(size: int = 160) -> np.ndarray:
    return np.asarray(Image.fromarray(data.astronaut()).resize((size, size)))


@pytest.fixture(scope="module")
def mobilenet_weights(tmp_path_factory) -> Path:
    from torchvision.models import mobilenet_v2

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v2_affectnet.safetensors"
    save_file({k: v.contiguous() for k, v in mobilenet_v2(weights=None, num_classes=8).state_dict().items()}, path)
    return path


@pytest.mark.skipif(not RAVDESS.is_dir(), reason="shared RAVDESS sample not present")
def test_real_speech_is_resampled_to_16k_mono():
    path = RAVDESS / "03-01-01-01-01-01-01.wav"
    with wave.open(str(path)) as fh:
        seconds = fh.getnframes() / fh.getframerate()
        assert fh.getframerate() == 48000
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.shape[0] - seconds * SAMPLE_RATE) <= 16
    assert 0.001 < float(np.abs(audio).mean()) < 0.5


def test_stereo_44k_tone_keeps_its_pitch(tmp_path):
    rate, seconds = 44100, 0.5
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(2)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(np.stack([tone, tone], axis=1).tobytes())
    audio = load_audio(path)
    assert abs(audio.shape[0] - seconds * SAMPLE_RATE) <= 16
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / audio.shape[0] - 440) < 3
    assert 0.25 < float(np.abs(audio).max()) < 0.35


def test_unusable_media_raise_clip_errors(tmp_path):
    pointer = tmp_path / "clip.wav"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1000\n")
    with pytest.raises(ClipError, match="git lfs pull"):
        load_audio(pointer)
    with pytest.raises(ClipError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    silent_video = write_video(tmp_path / "silent.flv", [np.zeros((32, 32, 3), np.uint8)] * 3)
    with pytest.raises(ClipError, match="no audio stream"):
        load_audio(silent_video)
    garbage = tmp_path / "garbage.flv"
    garbage.write_bytes(b"\x00not a video" * 50)
    with pytest.raises(ClipError):
        list(video_frames(garbage, 30))


def test_video_frames_follow_a_fixed_clock(tmp_path):
    frames = [np.full((32, 48, 3), 20 * i, np.uint8) for i in range(9)]
    path = write_video(tmp_path / "ramp.flv", frames)
    same = [int(f.mean().round()) for f in video_frames(path, 30)]
    assert len(same) == 9
    assert np.all(np.abs(np.array(same) - 20 * np.arange(9)) <= 3)
    half = [int(f.mean().round()) for f in video_frames(path, 15)]
    assert len(half) == 5 and np.all(np.abs(np.array(half) - 40 * np.arange(5)) <= 3)
    assert next(video_frames(path, 30)).shape == (32, 48, 3)


def _eye_angle(detector, image: np.ndarray) -> float:
    _, _, points = detector.detect(image, landmarks=True)
    (lx, ly), (rx, ry) = points[0][:2]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def test_alignment_levels_the_eyes_of_a_tilted_face():
    from facenet_pytorch import MTCNN

    detector = MTCNN(select_largest=True, device="cpu")
    tilted = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256)).rotate(20, resample=Image.BILINEAR))
    boxes, _, points = detector.detect(tilted, landmarks=True)
    assert abs(_eye_angle(detector, tilted)) > 12
    crop = aligned_crop(tilted, boxes[0], points[0][:2])
    assert crop.shape == (224, 224, 3)
    assert abs(_eye_angle(detector, crop)) < 4


def test_face_encoder_marks_frames_without_a_face(mobilenet_weights):
    torch.set_num_threads(1)
    encoder = FaceEncoder(mobilenet_weights, torch.device("cpu"), batch_size=2)
    blank = np.full((160, 160, 3), 128, np.uint8)
    features, present = encoder(iter([face_image(), blank, face_image()]))
    assert features.shape == (3, FEATURE_DIM) and features.dtype == np.float32
    np.testing.assert_array_equal(present, [True, False, True])
    assert np.all(features[1] == 0) and np.abs(features[0]).sum() > 0
    np.testing.assert_allclose(features[0], features[2], rtol=1e-4, atol=1e-5)
    empty_features, empty_present = encoder(iter([]))
    assert empty_features.shape == (0, FEATURE_DIM) and empty_present.shape == (0,)


def test_checkpoints_load_as_plain_tensors_only(tmp_path, mobilenet_weights):
    state = load_state_dict(mobilenet_weights)
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, wrapped)
    unwrapped = strip_prefix(load_state_dict(wrapped), "features.")
    assert set(unwrapped) == {k for k in state if k.startswith("features.")}
    with pytest.raises(UserError, match="weights_only"):
        torch.save({"state_dict": state, "hook": _Evil()}, tmp_path / "evil.pt")
        load_state_dict(tmp_path / "evil.pt")
    with pytest.raises(UserError, match="does not exist"):
        load_state_dict(tmp_path / "none.safetensors")
    save_file({"conv_stem.weight": torch.zeros(8, 3, 3, 3)}, tmp_path / "timm.safetensors")
    with pytest.raises(UserError, match="no 'features"):
        FaceEncoder(tmp_path / "timm.safetensors", torch.device("cpu"))
    save_file({"features.0.0.weight": torch.zeros(8, 3, 3, 3)}, tmp_path / "wrong.safetensors")
    with pytest.raises(UserError, match="does not fit"):
        FaceEncoder(tmp_path / "wrong.safetensors", torch.device("cpu"))


class _Evil:
    """An object whose unpickling would run code; weights_only loading must refuse it."""

    def __reduce__(self):
        return (print, ("unpickled!",))


def test_pickle_payload_is_really_refused(tmp_path):
    path = tmp_path / "payload.pt"
    with open(path, "wb") as fh:
        pickle.dump({"weight": _Evil()}, fh, protocol=2)
    with pytest.raises(UserError):
        load_state_dict(path)


def test_pickled_whole_model_gets_one_clean_line(tmp_path):
    from torchvision.models import mobilenet_v2

    path = tmp_path / "whole.pt"
    torch.save(mobilenet_v2(weights=None), path)
    with pytest.raises(UserError) as caught:
        load_state_dict(path)
    message = str(caught.value)
    assert "\x1b" not in message and "\n" not in message and message.endswith("convert it to safetensors")
    assert "pickled torchvision.models.mobilenetv2.MobileNetV2 object" in message and "state_dict()" in message
