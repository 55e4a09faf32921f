"""Reading a project's own ``pyproject.toml``: name, console scripts, import root.

The lock says *which* local packages exist; their pyproject.toml says how
they are installed. Only the static ``[project]`` table is read (no build
backend runs at generate time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from . import fsread
from .errors import InputError
from .tomlfile import TomlTable, load_toml


@dataclass(frozen=True)
class LocalProject:
    """A project directory with a pyproject.toml."""

    directory: Path
    name: str | None
    """``[project].name``; None for a workspace root without a ``[project]`` table."""
    requires_python: SpecifierSet | None
    scripts: tuple[tuple[str, str], ...]
    """Console and GUI scripts, ``(name, "module:attr")``, sorted by name."""
    import_root: str
    """Directory (relative to ``directory``) that holds the importable packages."""


def read_project(directory: Path) -> LocalProject:
    """Read ``directory/pyproject.toml``."""
    path = directory / "pyproject.toml"
    if not fsread.is_file(path):
        if any(fsread.is_file(directory / name) for name in ("setup.py", "setup.cfg")):
            # setuptools without pyproject.toml (PEP 517's fallback): nothing static to read,
            # its backend names the distribution and its scripts when it builds the wheel.
            return LocalProject(directory, None, None, (), _import_root(directory))
        raise InputError(f"{path}: not found; run p2n in a project directory or pass --project")
    top = TomlTable(path, "", load_toml(path))
    project = top.opt_table("project")
    if project is None or "name" not in project.data:
        # [project] may hold only urls beside a complete [tool.poetry] (Poetry 1.x reads that).
        tool = top.opt_table("tool")
        poetry = tool.opt_table("poetry") if tool is not None else None
        if poetry is not None and "name" in poetry.data:
            return _classic_poetry(directory, poetry)
        if project is not None:
            project.string("name")  # a [project] table needs a name: the error says so
        return LocalProject(directory, None, None, (), ".")
    requires = project.opt_string("requires-python")
    try:
        requires_python = SpecifierSet(requires) if requires is not None else None
    except InvalidSpecifier as exc:
        raise project.error("requires-python", f"invalid specifier {requires!r}") from exc
    scripts: dict[str, str] = {}
    for key in ("scripts", "gui-scripts"):
        table = project.opt_table(key)
        if table is not None:
            for name in table.names():
                scripts[name] = table.string(name)
    return LocalProject(
        directory=directory,
        name=project.string("name"),
        requires_python=requires_python,
        scripts=tuple(sorted(scripts.items())),
        import_root=_import_root(directory),
    )


def _classic_poetry(directory: Path, poetry: TomlTable) -> LocalProject:
    """A project described by ``[tool.poetry]`` alone (Poetry before PEP 621)."""
    from .poetryconstraint import ConstraintError, parse_constraint

    requires_python = None
    dependencies = poetry.opt_table("dependencies")
    python = dependencies.opt_string("python") if dependencies is not None else None
    if dependencies is not None and python is not None:
        try:
            requires_python = parse_constraint(python).as_specifier_set()
        except ConstraintError as exc:
            raise dependencies.error("python", str(exc)) from exc
    scripts: dict[str, str] = {}
    table = poetry.opt_table("scripts") or TomlTable(poetry.file, "tool.poetry.scripts", {})
    for name in table.names():
        if isinstance(table.data[name], str):
            scripts[name] = table.string(name)
            continue
        spec = table.opt_table(name)
        assert spec is not None  # opt_table raised if it were not a table
        if spec.opt_string("type") not in (None, "console"):
            continue  # "file" scripts are copied files, not entry points
        scripts[name] = spec.opt_string("reference") or spec.string("callable")
    return LocalProject(
        directory=directory,
        name=poetry.string("name"),
        requires_python=requires_python,
        scripts=tuple(sorted(scripts.items())),
        import_root=_import_root(directory),
    )


def _import_root(directory: Path) -> str:
    """``src`` for a src-layout project, else the project directory itself."""
    src = directory / "src"
    if fsread.is_dir(src) and any(
        fsread.is_file(child / "__init__.py") or child.suffix == ".py"
        for child in fsread.iterdir(src)
    ):
        return "src"
    return "."
