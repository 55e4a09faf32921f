"""Print a small table of the packages this environment was built from."""

from importlib.metadata import version

import attrs
from rich.console import Console
from rich.table import Table


@attrs.frozen
class Row:
    package: str
    version: str


def main() -> None:
    rows = [Row(name, version(name)) for name in ("rich", "attrs", "pygments")]
    table = Table(title="hello from a Nix-built environment")
    table.add_column("package")
    table.add_column("version")
    for row in rows:
        table.add_row(row.package, row.version)
    Console(width=60).print(table)
