/**
  Unit tests of fetch.nix's `storeName`: fetched files are named so that Nix,
  which starts runnable derivations in the order of their names, starts them
  after the packages' installs and the long installs' files first.
  `nix-instantiate --eval --strict tests/nix/test_fetch.nix` gives the names of
  the failing cases, `[ ]` when all pass (tests/test_nix_lib.py runs it).
*/
let
  inherit (import ../../nix/fetch.nix) storeName;
  pure = storeName { name = "six-1.17.0-py2.py3-none-any.whl"; };
  native = storeName { name = "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl"; };
  sdist = storeName { name = "zope_interface-7.0.tar.gz"; };
  installer = storeName {
    name = "installer-1.1.0-py3-none-any.whl";
    first = true;
  };
  # Installs (install-wheel.nix, build-source.nix) and the interpreter's own names.
  installs = [
    "python3.11-zope-interface-7.0"
    "python3.14-aaa-1"
    "python3-3.11.7"
  ];
  after = a: b: builtins.lessThan b a;
  cases = {
    keepsFileName = pure == "z2-six-1.17.0-py2.py3-none-any.whl";
    nativeBeforePure = after pure native;
    sdistBeforePure = after pure sdist;
    installerFirst = after native installer && after sdist installer;
    fetchesAfterInstalls = builtins.all (
      fetch: builtins.all (install: after fetch install) installs
    ) [ pure native sdist installer ];
  };
in
builtins.filter (name: !cases.${name}) (builtins.attrNames cases)
