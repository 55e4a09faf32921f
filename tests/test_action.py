"""p2n's GitHub Action (action.yml) and the CI recipes in docs/ci.

GitHub is out of reach here, so: the files are validated against SchemaStore's
schemas (vendored by check-jsonschema), checked for what a schema cannot see,
and the action's own run steps are executed in order the way the runner does,
on examples/hello with the nixpkgs stand-in (see docs/ci/README.md).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.helpers import EXAMPLE, REPO

ACTION = REPO / "action.yml"
WORKFLOWS = sorted((REPO / "docs" / "ci").glob("*.yml"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def check_schema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    if not CHECK_JSONSCHEMA.exists():
        raise RuntimeError("check-jsonschema is missing: run scripts/setup.sh")
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_action_and_workflows_follow_github_schemas(tmp_path: Path) -> None:
    assert WORKFLOWS, "docs/ci has no workflow"
    action = check_schema("vendor.github-actions", ACTION)
    assert action.returncode == 0, action.stdout + action.stderr
    workflows = check_schema("vendor.github-workflows", *WORKFLOWS)
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr
    # The schema does catch a broken action: a composite run step without its shell.
    broken = ACTION.read_text().replace("      shell: bash\n", "", 1)
    (tmp_path / "action.yml").write_text(broken)
    assert check_schema("vendor.github-actions", tmp_path / "action.yml").returncode != 0


def test_action_expressions_refer_to_what_exists() -> None:
    action = load(ACTION)
    inputs = set(action["inputs"])
    steps = action["runs"]["steps"]
    step_ids = {step["id"] for step in steps if "id" in step}
    text = ACTION.read_text()
    for expression in EXPRESSION.findall(text) + [s["if"] for s in steps if "if" in s]:
        for name in re.findall(r"inputs\.([\w-]+)", expression):
            assert name in inputs, f"undeclared input {name} in {expression!r}"
        for name in re.findall(r"steps\.([\w-]+)\.", expression):
            assert name in step_ids, f"unknown step {name} in {expression!r}"
    for step in steps:
        if "run" in step:
            # Inputs reach scripts only through env: an input never becomes shell code.
            assert "${{" not in step["run"], step["name"]
            assert step["shell"] == "bash"
    for name, output in action["outputs"].items():
        assert EXPRESSION.fullmatch(output["value"]), name
    assert [s["uses"].split("@")[0] for s in steps if "uses" in s] == [
        "cachix/install-nix-action",
        "actions/upload-artifact",
    ]


def test_docs_workflows_use_the_action_with_declared_inputs() -> None:
    inputs = set(load(ACTION)["inputs"])
    uses = []
    for workflow in WORKFLOWS:
        for job in load(workflow)["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("OWNER/pyproject2nix@"):
                    uses.append(workflow.name)
                    assert set(step.get("with", {})) <= inputs, step["with"]
    assert "github-actions.yml" in uses


class LocalRunner:
    """Runs a composite action's run steps as GitHub's runner does; skips `uses:` steps."""

    def __init__(self, action: dict[str, Any], inputs: dict[str, str], root: Path) -> None:
        self.action = action
        self.inputs = {
            name: str(spec.get("default", "")) for name, spec in action["inputs"].items()
        }
        self.inputs.update(inputs)
        self.root = root
        self.temp = root / "runner-temp"
        self.temp.mkdir()
        self.path_file = root / "github-path"
        self.summary = root / "step-summary.md"
        for path in (self.path_file, self.summary):
            path.write_text("")
        self.outputs: dict[str, dict[str, str]] = {}
        self.skipped: list[str] = []

    def expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("inputs."):
                return self.inputs[expression.removeprefix("inputs.")]
            if expression == "github.action_path":
                return str(REPO)
            step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
            if step:
                return self.outputs.get(step.group(1), {}).get(step.group(2), "")
            raise AssertionError(f"the local runner does not know {expression!r}")

        return EXPRESSION.sub(value, text)

    def run(self, workspace: Path) -> int:
        for index, step in enumerate(self.action["runs"]["steps"]):
            if "uses" in step:
                self.skipped.append(step["uses"])
                continue
            assert "if" not in step, "the local runner evaluates no conditions on run steps"
            output_file = self.root / f"output-{index}"
            output_file.write_text("")
            extra_path = [line for line in self.path_file.read_text().splitlines() if line]
            env = {
                **os.environ,
                **{name: self.expand(str(value)) for name, value in step.get("env", {}).items()},
                "RUNNER_TEMP": str(self.temp),
                "GITHUB_PATH": str(self.path_file),
                "GITHUB_OUTPUT": str(output_file),
                "GITHUB_STEP_SUMMARY": str(self.summary),
                "PATH": os.pathsep.join([*reversed(extra_path), os.environ["PATH"]]),
            }
            script = self.root / f"step-{index}.sh"
            script.write_text(step["run"])
            cwd = workspace / self.expand(step.get("working-directory", "."))
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=1500,
            )
            print(f"--- step {step['name']}: exit {done.returncode}\n{done.stdout}{done.stderr}")
            outputs = dict(
                line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
            )
            if "id" in step:
                self.outputs[step["id"]] = outputs
            if done.returncode != 0:
                return done.returncode
        return 0

    def action_outputs(self) -> dict[str, str]:
        return {name: self.expand(spec["value"]) for name, spec in self.action["outputs"].items()}


@pytest.mark.nix
def test_action_steps_check_build_and_verify_the_example(standin: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "checkout"
    project = workspace / "hello"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("result", "__pycache__"))
    runner = LocalRunner(
        load(ACTION),
        {
            "project": "hello",
            "override-inputs": f"nixpkgs path:{standin}",
            "verify-args": "--no-diffoscope --perturb cores,timezone",
            "python": sys.executable,
        },
        tmp_path,
    )
    assert runner.run(workspace) == 0
    outputs = runner.action_outputs()
    assert outputs["verdict"] == "reproducible"
    reports = Path(outputs["report-dir"])
    assert reports == project / "p2n-verify"
    assert {p.name for p in reports.iterdir()} == {
        "verify.json",
        "verify.xml",
        "verify.html",
        "verify.txt",
    }
    assert "verdict: reproducible" in (reports / "verify.txt").read_text()
    assert "### p2n verify: reproducible" in runner.summary.read_text()
    # p2n came from the action's own source, into the runner's temp dir.
    assert (runner.temp / "p2n-venv" / "bin" / "p2n").exists()
    assert runner.skipped == ["cachix/install-nix-action@v31", "actions/upload-artifact@v4"]
