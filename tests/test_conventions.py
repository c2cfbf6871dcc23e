"""What users expect of a command-line tool: a version, options bound to their environment variables and shown in
--help, enumerated choices the shell completes, a cache where the platform keeps caches, an import that works
without POSIX-only modules, Slurm resources that reach the job script, and every import declared."""
from __future__ import annotations

import ast
import functools
import json
import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import avbench
from avbench.cache import cache_dir, default_cache_dir
from avbench.errors import UserError
from avbench.execution.executors import DEFAULT_SLURM_MINUTES, slurm_parameters
from avbench.execution.run_config import SlurmResources, load, resolve, slurm_minutes

ROOT = Path(__file__).resolve().parents[1]


def test_version_has_one_source(cli_output) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert metadata.version("avbench") == avbench.__version__
    assert cli_output("--version")[:2] == (0, f"avbench {avbench.__version__}\n")
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_environment_variables_are_options_shown_in_help(cli_output, cli, monkeypatch, tmp_path) -> None:
    code, shown, _ = cli_output("--help")
    for option, variable in (("--cache", "AVBENCH_CACHE"), ("--threads", "AVBENCH_THREADS"),
                             ("--progress-seconds", "AVBENCH_PROGRESS_SECONDS")):
        assert option in shown and f"env var: {variable}" in shown
    monkeypatch.setenv("AVBENCH_CACHE", os.environ.get("AVBENCH_CACHE", str(tmp_path)))  # restored afterwards
    monkeypatch.setenv("AVBENCH_THREADS", "1")
    monkeypatch.setenv("AVBENCH_PROGRESS_SECONDS", "30")  # so that the values set below are undone afterwards
    code, _ = cli("--cache", str(tmp_path / "mine"), "--threads", "2", "--progress-seconds", "5", "list", "datasets")
    assert code == 0 and cache_dir() == tmp_path / "mine"  # the option is the variable, for workers too
    assert os.environ["AVBENCH_THREADS"] == "2" and os.environ["AVBENCH_PROGRESS_SECONDS"] == "5.0"
    monkeypatch.setenv("AVBENCH_THREADS", "0")
    code, _, err = cli_output("list", "datasets")
    assert code == 2 and "AVBENCH_THREADS" in err and "Traceback" not in err


def test_choices_are_shown_and_completed(cli_output, monkeypatch) -> None:
    assert "local|ray|slurm" in cli_output("run", "--help")[1]
    assert "table|md|csv|json" in cli_output("show", "--help")[1]

    def complete(words: str) -> list[str]:
        with monkeypatch.context() as patch:
            patch.setenv("_AVBENCH_COMPLETE", "complete_bash")
            patch.setenv("COMP_WORDS", words)
            patch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
            code, out, _ = cli_output()
        assert code == 0
        return out.split()

    assert complete("avbench run --executor ") == ["local", "ray", "slurm"]
    assert complete("avbench list ") == ["models", "corruptions", "protocols", "datasets", "reports"]
    assert complete("avbench schema m") == ["meta"]
    assert {"raver,ser", "raver,sfav"} <= set(complete("avbench run --models raver,s"))  # comma lists
    assert "markov,random-audio" in complete("avbench run --corruption markov,rand")
    monkeypatch.setenv("SHELL", "/bin/bash")
    code, script, _ = cli_output("--show-completion", "bash")
    assert code == 0 and "_AVBENCH_COMPLETE" in script


def test_cache_directory_follows_the_platform(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("AVBENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert default_cache_dir() == tmp_path / "xdg" / "avbench"
    assert cache_dir() == default_cache_dir() and default_cache_dir().is_dir()
    monkeypatch.setenv("AVBENCH_CACHE", str(tmp_path / "wins"))
    assert cache_dir() == tmp_path / "wins"


def test_imports_and_help_without_posix_only_modules() -> None:
    """As on Windows: no fcntl, resource, termios, pwd or grp. (The run lock itself is the lock's own business.)"""
    script = ("import sys\n"
              "for name in ('fcntl', 'resource', 'termios', 'pwd', 'grp'):\n"
              "    sys.modules[name] = None  # `import name` now raises ImportError\n"
              "import avbench, avbench.cli\n"
              "sys.argv = ['avbench', '--help']\n"
              "try:\n"
              "    avbench.cli.main()\n"
              "except SystemExit as exc:\n"
              "    print('exit', exc.code)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "exit 0" in result.stdout and "Commands" in result.stdout


@pytest.mark.parametrize(("text", "minutes"), [("90", 90), ("30:30", 31), ("4:00:00", 240), ("1-0", 1440),
                                               ("1-02:00:00", 1560), ("2-03:30", 3090)])
def test_slurm_time_forms(text: str, minutes: int) -> None:
    assert slurm_minutes(text) == minutes


def test_slurm_resources_reach_the_job_script(tmp_path, monkeypatch) -> None:
    """Partition, account, memory, time, GPUs and CPUs per job become #SBATCH lines (submitit's real Slurm
    executor, told it is on a cluster)."""
    submitit = pytest.importorskip("submitit")
    from submitit.slurm import slurm

    from avbench.execution.executors import make_executor

    assert slurm_parameters(None, 0) == {"timeout_min": DEFAULT_SLURM_MINUTES, "cpus_per_task": 1}
    assert slurm_parameters(None, 1)["gpus_per_node"] == 1  # --device cuda
    resources = SlurmResources(partition="gpu", account="lab", mem="16G", time=90, gpus_per_task=2, cpus_per_task=4)
    monkeypatch.setattr(slurm.SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    executor = make_executor("slurm", 1, tmp_path, slurm_cluster="slurm", slurm=resources)
    parameters = executor._executor._executor.parameters
    script = slurm._make_sbatch_string(command="true", folder=str(tmp_path), **parameters)
    for line in ("--partition=gpu", "--account=lab", "--mem=16G", "--time=90", "--gpus-per-node=2",
                 "--cpus-per-task=4"):
        assert f"#SBATCH {line}" in script
    local = make_executor("slurm", 1, tmp_path / "local", slurm_cluster="local", slurm=resources)
    assert isinstance(local._executor, submitit.AutoExecutor)  # the same parameters pass the local executor
    for bad, message in (({"mem": "lots"}, "slurm.mem"), ({"time": "soon"}, "slurm.time"),
                         ({"gpus": 1}, "slurm.gpus': unknown field")):
        with pytest.raises(UserError, match=message):
            resolve({"slurm": bad}, {"slurm"}, None)


def test_config_file_errors_name_file_and_field(tmp_path, cli) -> None:
    for text, message in (('models = 3', "field 'models': input should be a valid list"),
                          ('seeds = "3"', "field 'seeds': input should be a valid integer"),
                          ('bootsrap = 100', "field 'bootsrap': unknown field"),
                          ('config = "other.toml"', "names a model configuration"),
                          ('models = [', "not a readable TOML file")):
        path = tmp_path / "run.toml"
        path.write_text(text + "\n")
        code, err = cli("run", "--config", str(path), "--out", str(tmp_path / "out"))
        assert code == 2 and message in err and str(path) in err and "Traceback" not in err, err
        assert not (tmp_path / "out").exists()
    code, err = cli("run", "--config", str(tmp_path / "missing.toml"))
    assert code == 2 and "no such run configuration file" in err
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "run.json").write_text(json.dumps({"status": "complete"}))
    with pytest.raises(UserError, match="no recorded configuration"):
        load(str(tmp_path / "old"))


def test_options_override_the_file_and_merge_its_tables() -> None:
    from avbench.execution.run_config import RunConfig

    file = RunConfig.model_validate({"models": "raver,ser", "seed_list": [3, 4], "corruption": "random",
                                     "modality": "audio", "set": {"n_ctx": 16, "hidden": 8},
                                     "slurm": {"partition": "gpu", "mem": "8G"}, "bootstrap": 500})
    defaults = {"models": "all", "seeds": 1, "seed_list": None, "corruption": "markov", "modality": None,
                "overrides": {}, "bootstrap": 1000, "slurm": {}}
    merged = resolve(defaults, set(), file)  # nothing given here: the file's settings
    assert merged.models == ["raver", "ser"] and merged.seed_list == [3, 4] and merged.modality == "audio"
    given = {**defaults, "seeds": 2, "corruption": "markov", "overrides": {"hidden": 4}, "slurm": {"mem": "16G"},
             "bootstrap": 2000}
    merged = resolve(given, {"seeds", "corruption", "overrides", "slurm", "bootstrap"}, file)
    assert merged.seeds == 2 and merged.seed_list is None  # --seeds replaces the file's seed list
    assert merged.corruption == ["markov"] and merged.modality is None  # --corruption replaces the file's pair
    assert merged.overrides == {"n_ctx": 16, "hidden": 4} and merged.bootstrap == 2000
    assert merged.slurm == SlurmResources(partition="gpu", mem="16G")


@functools.cache
def _third_party_imports() -> dict[str, set[str]]:
    """Top-level third-party module → the package files importing it (the example plugin and tests aside)."""
    found: dict[str, set[str]] = {}
    for folder in ("benchmark", "models", "corruptions", "leaderboards", "reports"):
        for path in (ROOT / folder).rglob("*.py"):
            if "example_plugin" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                         else [])
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top != "avbench":
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_import_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    names = {r.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower() for r in declared}
    distributions = metadata.packages_distributions()
    missing = {module: sorted(files) for module, files in _third_party_imports().items()
               if module != "tomli" and not {d.lower() for d in distributions.get(module, [module])} & names}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_seaborn_stays_out_of_a_runs_process() -> None:
    """seaborn (and scipy.stats behind it) is imported by one module, and that module only inside the functions
    that draw its figures, so the default `avbench run` never imports it (a run with --protocols does, for its
    heatmap)."""
    assert set(_third_party_imports()["seaborn"]) == {"benchmark/output/seaborn_figures.py"}
    for folder in ("benchmark", "models", "corruptions", "leaderboards", "reports"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:  # module level only
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    assert "avbench.output.seaborn_figures" not in names, path
