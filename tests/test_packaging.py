"""Checks that packaging, set-up scripts, CI and Binder files agree with one another."""

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# conda-forge names that differ from the PyPI name of the same project
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}


def read(relpath):
    return (ROOT / relpath).read_text(encoding="utf-8")


def pyproject():
    return tomllib.loads(read("pyproject.toml"))


def conda_dependencies(text):
    """Map package name -> pinned version (or None) from a simple environment.yml.

    >>> conda_dependencies("name: x\\ndependencies:\\n  - python=3.11\\n  - pip\\n")
    {'python': '3.11', 'pip': None}
    """
    deps, inside = {}, False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not raw.startswith((" ", "-")):
            inside = line == "dependencies:"
            continue
        if inside:
            item = line.strip()
            assert item.startswith("- "), f"unexpected line in dependencies: {raw!r}"
            name, _, version = item[2:].strip().partition("=")
            assert not version.startswith("="), f"use a single '=' in conda pins: {raw!r}"
            deps[name.strip()] = version.strip() or None
    return deps


def pip_pins(requirements):
    """Map package name -> exact version from 'name==version' strings.

    >>> pip_pins(["numpy==2.4.6"])
    {'numpy': '2.4.6'}
    """
    pins = {}
    for req in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.]*)", req.strip())
        assert match, f"not pinned to one exact version: {req!r}"
        pins[match[1].lower()] = match[2]
    return pins


class TestEnvironmentFiles:
    """environment.yml, binder/ and pyproject.toml describe the same environment."""

    def test_binder_environment_is_byte_identical(self):
        """Binder reads only binder/, so its copy must equal the root file exactly."""
        assert (ROOT / "binder/environment.yml").read_bytes() == (
            ROOT / "environment.yml"
        ).read_bytes()

    def test_uses_only_conda_forge(self):
        """The environment is solved from conda-forge alone."""
        text = read("environment.yml")
        channels = re.search(r"^channels:\n((?:\s+- .*\n)+)", text, re.M)
        assert channels, "environment.yml has no channels list"
        assert [c.strip()[2:] for c in channels[1].splitlines()] == ["conda-forge"]

    def test_python_pinned_to_311(self):
        """Python is pinned to 3.11 (Binder's default would be older)."""
        deps = conda_dependencies(read("environment.yml"))
        assert deps.get("python") in ("3.11", "3.11.*"), deps.get("python")
        assert pyproject()["project"]["requires-python"] == ">=3.11"

    def test_pip_is_present(self):
        """pip is in the environment so postBuild can install memlab."""
        assert "pip" in conda_dependencies(read("environment.yml"))

    def test_lab_extra_matches_environment(self):
        """The lab extra and environment.yml pin the same packages to the same versions."""
        deps = conda_dependencies(read("environment.yml"))
        conda = {
            CONDA_TO_PYPI.get(name, name).lower(): version
            for name, version in deps.items()
            if name not in ("python", "pip")
        }
        lab = pip_pins(pyproject()["project"]["optional-dependencies"]["lab"])
        assert conda == lab
        assert {"jupyterlab", "ipywidgets", "matplotlib", "numpy"} <= set(lab)


class TestPyproject:
    """pyproject.toml is the single packaging file."""

    def test_no_other_packaging_files(self):
        """No setup.py, setup.cfg or requirements files compete with pyproject.toml."""
        for name in ("setup.py", "setup.cfg", "requirements.txt", "MANIFEST.in"):
            assert not (ROOT / name).exists(), name

    def test_core_has_no_runtime_dependencies(self):
        """The simulator core needs only the standard library."""
        assert pyproject()["project"].get("dependencies", []) == []

    def test_test_extra_is_pinned(self):
        """The test extra pins every package the suite uses."""
        pins = pip_pins(pyproject()["project"]["optional-dependencies"]["test"])
        assert {"pytest", "hypothesis", "nbmake", "nbclient", "ipykernel", "playwright"} <= set(pins)

    def test_version_comes_from_the_package(self):
        """The version has one source: memlab.__version__."""
        config = pyproject()
        assert "version" in config["project"]["dynamic"]
        assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "memlab.__version__"}
        match = re.search(r'^__version__ = "([^"]+)"$', read("memlab/__init__.py"), re.M)
        assert match and re.fullmatch(r"\d+\.\d+\.\d+", match[1])

    def test_native_sources_are_package_data(self):
        """The C sources of the native replayer ship inside the package."""
        config = pyproject()["tool"]["setuptools"]
        assert set(config["package-data"]["memlab.native"]) >= {"*.c", "*.h"}
        assert config["packages"]["find"]["include"] == ["memlab", "memlab.*"]

    def test_pytest_configuration(self):
        """pytest runs the tests and memlab's doctests, and knows the slow and browser markers."""
        options = pyproject()["tool"]["pytest"]["ini_options"]
        assert {"tests", "memlab"} <= set(options["testpaths"])
        assert "--doctest-modules" in options["addopts"]
        names = {marker.split(":")[0] for marker in options["markers"]}
        assert {"slow", "browser"} <= names


class TestBinder:
    """Binder builds the environment and then installs memlab itself."""

    def test_postbuild_starts_with_set_e_and_installs_the_project(self):
        """postBuild stops on the first error and pip-installs the checkout without deps."""
        lines = [line.strip() for line in read("binder/postBuild").splitlines()]
        commands = [line for line in lines if line and not line.startswith("#")]
        assert commands[0] == "set -e"
        assert "python -m pip install --no-deps ." in commands

    def test_postbuild_is_executable(self):
        """repo2docker runs postBuild as a program."""
        assert (ROOT / "binder/postBuild").stat().st_mode & stat.S_IXUSR

    def test_apt_installs_a_c_compiler(self):
        """The native replayer needs a C compiler and the C library headers."""
        packages = set(read("binder/apt.txt").split())
        assert {"gcc", "libc6-dev"} <= packages


class TestReadmeAndCi:
    """README's commands and badge are the ones that work."""

    BADGE = re.compile(
        r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]"
        r"\(https://mybinder\.org/v2/gh/[\w.-]+/memlab/HEAD\?urlpath=lab/tree/([^)\s]+)\)"
    )

    def test_badge_opens_an_existing_notebook(self):
        """The Binder badge's urlpath names a notebook in the repository."""
        match = self.BADGE.search(read("README.md"))
        assert match, "README has no Binder badge"
        assert match[1].endswith(".ipynb")
        assert (ROOT / match[1]).is_file(), match[1]

    def test_readme_names_the_two_commands(self):
        """README tells how to open the lessons and how to run the tests."""
        readme = read("README.md")
        assert "bash scripts/lab.sh" in readme
        assert "bash scripts/test.sh" in readme
        assert (ROOT / "scripts/lab.sh").is_file() and (ROOT / "scripts/test.sh").is_file()

    def test_ci_runs_the_readme_test_command(self):
        """CI runs exactly the test command README gives, and fails on errors."""
        ci = read(".ci/run")
        commands = [line.strip() for line in ci.splitlines() if not line.strip().startswith("#")]
        assert "set -euo pipefail" in commands
        assert "bash scripts/test.sh" in read("README.md")
        assert any(re.fullmatch(r"(exec )?bash scripts/test\.sh", c) for c in commands)

    @pytest.mark.parametrize("script", ["scripts/lab.sh", "scripts/test.sh", "scripts/venv.sh", ".ci/run"])
    def test_shell_syntax(self, script):
        """Every shell script parses."""
        result = subprocess.run(["bash", "-n", str(ROOT / script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr

    def test_scripts_pass_arguments_on(self):
        """Extra arguments reach JupyterLab and pytest."""
        assert re.search(r'-m jupyterlab [^\n]*\\\n[^\n]*"\$@"', read("scripts/lab.sh"))
        assert re.search(r'-m pytest --nbmake "\$@"', read("scripts/test.sh"))


class TestSetupScript:
    """scripts/venv.sh refuses a Python older than 3.11 with a clear message."""

    def run_pick(self, tmp_path, fake_version):
        new_enough = tuple(map(int, fake_version.split("."))) >= (3, 11)
        fake = tmp_path / "fakepython"
        fake.write_text(
            textwrap.dedent(
                f"""\
                #!/bin/sh
                case "$2" in
                  *print*) echo {fake_version} ;;
                  *) exit {0 if new_enough else 1} ;;
                esac
                """
            )
        )
        fake.chmod(0o755)
        script = f'source "{ROOT}/scripts/venv.sh"; _memlab_pick_python'
        env = dict(os.environ, MEMLAB_PYTHON=str(fake))
        return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)

    def test_old_python_is_refused(self, tmp_path):
        result = self.run_pick(tmp_path, "3.9")
        assert result.returncode != 0
        assert "3.9" in result.stderr and "3.11" in result.stderr

    def test_new_python_is_chosen(self, tmp_path):
        result = self.run_pick(tmp_path, "3.11")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("fakepython")


class TestSlowMarker:
    """Tests marked slow run only with --run-slow or MEMLAB_SLOW=1."""

    def run_pytest(self, tmp_path, *args, slow_env=None):
        (tmp_path / "conftest.py").write_text(read("tests/conftest.py"))
        (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: long\n")
        (tmp_path / "test_x.py").write_text(
            "import pytest\n\n"
            "def test_quick():\n    pass\n\n"
            "@pytest.mark.slow\ndef test_long():\n    pass\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "MEMLAB_SLOW"}
        if slow_env is not None:
            env["MEMLAB_SLOW"] = slow_env
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:nbmake", "-rs", *args],
            cwd=tmp_path, capture_output=True, text=True, env=env,
        )
        return result.returncode, result.stdout

    def test_skipped_by_default(self, tmp_path):
        code, out = self.run_pytest(tmp_path)
        assert code == 0, out
        assert "1 passed, 1 skipped" in out

    def test_run_slow_option(self, tmp_path):
        code, out = self.run_pytest(tmp_path, "--run-slow")
        assert code == 0, out
        assert "2 passed" in out

    def test_environment_variable(self, tmp_path):
        code, out = self.run_pytest(tmp_path, slow_env="1")
        assert code == 0, out
        assert "2 passed" in out


class TestNotebooks:
    """Notebooks are committed clean: no outputs and no execution counts."""

    NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

    def test_there_is_a_start_notebook(self):
        assert (ROOT / "notebooks/00_start_here.ipynb") in self.NOTEBOOKS

    @pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
    def test_notebook_is_clean(self, path):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        assert notebook["metadata"]["kernelspec"]["name"] == "python3"
        for index, cell in enumerate(notebook["cells"]):
            if cell["cell_type"] == "code":
                assert cell.get("outputs") == [], f"cell {index} has outputs"
                assert cell.get("execution_count") is None, f"cell {index} has an execution count"


class TestMissingVenvModule:
    """Without Debian's python3-venv, root installs it and others are told what to install."""

    def run_create(self, tmp_path, uid):
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        fixed = tmp_path / "venv-package-installed"
        log = tmp_path / "apt.log"
        scripts = {
            # A Python 3.11 whose venv module works only once the package is installed.
            "fakepython": f"""\
                #!/bin/bash
                if [ "$1" = -c ]; then
                    case "$2" in *print*) echo 3.11 ;; esac
                    exit 0
                fi
                if [ "$1 $2" = "-m venv" ] && [ -e {fixed} ]; then
                    mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && exit 0
                fi
                if [ "$1 $2 $3" = "-m pip --version" ]; then exit 0; fi
                echo "ensurepip is not available" >&2
                exit 1
                """,
            "apt-get": f"""\
                #!/bin/bash
                echo "$@" >> {log}
                [ "$1" = install ] && touch {fixed}
                exit 0
                """,
            "id": f"""\
                #!/bin/bash
                echo {uid}
                """,
        }
        for name, body in scripts.items():
            path = bin_dir / name
            path.write_text(textwrap.dedent(body))
            path.chmod(0o755)
        env = dict(
            os.environ,
            PATH=f"{bin_dir}:{os.environ['PATH']}",
            MEMLAB_PYTHON=str(bin_dir / "fakepython"),
        )
        venv = tmp_path / "venv"
        script = f'source "{ROOT}/scripts/venv.sh"; _memlab_create_venv "{venv}"'
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
        apt_calls = log.read_text().splitlines() if log.exists() else []
        return result, apt_calls, venv

    def test_root_installs_python3_venv_and_retries(self, tmp_path):
        result, apt_calls, venv = self.run_create(tmp_path, uid=0)
        assert result.returncode == 0, result.stderr
        assert apt_calls and apt_calls[0].startswith("install -y python3-venv")
        assert (venv / "bin/python").exists()

    def test_other_users_are_told_what_to_install(self, tmp_path):
        result, apt_calls, venv = self.run_create(tmp_path, uid=1000)
        assert result.returncode != 0
        assert apt_calls == []
        assert "apt-get install python3-venv" in result.stderr
        assert not venv.exists()
