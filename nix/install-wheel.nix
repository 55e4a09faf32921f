/**
  One derivation per wheel.

  `installWheel { python, system, installer, pname, version, wheel, wheelName, extraAttrs ? { } }`
  installs a fetched wheel into `$out/<python.sitePackages>` (scripts into
  `$out/bin`) with PyPA installer (`installer`: installer.nix's `mkInstaller`),
  then byte-compiles it with `NIX_BUILD_CORES` processes (bytecode.py). The
  builder is the interpreter itself, so no stdenv is needed. `extraAttrs` adds
  derivation attributes (native.nix's for wheels with native code: their ELF
  files get a RUNPATH). The pycs are hash-based and do not depend on the
  number of processes: two builds give the same bytes.
*/
{
  installWheel =
    {
      python,
      system,
      installer,
      pname,
      version,
      wheel,
      wheelName,
      extraAttrs ? { },
    }:
    derivation (
      {
      name = "python${python.pythonVersion}-${pname}-${version}";
      inherit
        system
        pname
        version
        wheel
        wheelName
        installer
        ;
      builder = python.interpreter;
      # -S: no site module (nixpkgs' sitecustomize, .pth files): the builder needs none.
      # install_wheel.py, imported compiled from the installer derivation (installer.nix).
      args = [
        "-S"
        "-c"
        "import os, sys; sys.path.insert(0, os.environ['installer']); import p2n_install_wheel"
      ];
      bytecodeScript = ./bytecode.py;
      interpreter = python.interpreter;
      sitePackages = python.sitePackages;
      SOURCE_DATE_EPOCH = "315532800";
      PYTHONHASHSEED = "0";
      PYTHONDONTWRITEBYTECODE = "1";
      }
      // extraAttrs
    );
}
