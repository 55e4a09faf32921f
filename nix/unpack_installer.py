"""Builder of PyPA installer's derivation: its wheel unpacked and byte-compiled, once.

The builders of every package put ``$out`` on ``sys.path``. Inputs:
``wheel`` (installer's pinned wheel), ``bytecodeScript`` (bytecode.py),
``builderModules`` (``name=path`` pairs: p2n's builder scripts, copied in as
modules ``name`` so that builds import them compiled).
Only the ``installer`` package is kept, without the Windows script launchers
(``*.exe``: p2n writes POSIX scripts). Its pycs are ``unchecked-hash``, like
the standard library's: the store never changes a source after the build, so
importing need not read and hash it.
"""

import importlib.util
import os
import sys
import zipfile

out = os.environ["out"]
with zipfile.ZipFile(os.environ["wheel"]) as archive:
    members = sorted(
        name
        for name in archive.namelist()
        if name.startswith("installer/") and not name.endswith(".exe")
    )
    archive.extractall(out, members)
for pair in os.environ.get("builderModules", "").split():
    module, _, script = pair.partition("=")
    with open(script, "rb") as source, open(os.path.join(out, module + ".py"), "wb") as copy:
        copy.write(source.read())

spec = importlib.util.spec_from_file_location("p2n_bytecode", os.environ["bytecodeScript"])
assert spec is not None and spec.loader is not None
bytecode = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bytecode
spec.loader.exec_module(bytecode)
bytecode.compile_tree(out, bytecode.UNCHECKED_HASH, bytecode.build_cores())
