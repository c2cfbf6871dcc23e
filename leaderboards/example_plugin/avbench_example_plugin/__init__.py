"""An example avbench model plugin: see ``model.py`` and the README next to ``pyproject.toml``."""
