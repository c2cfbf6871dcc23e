"""avbench: a robustness benchmark for audio-visual and audio-text emotion recognition under missing data."""
__version__ = "0.1.0"
