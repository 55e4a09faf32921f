/**
  The wheel installer used inside builds: PyPA `installer`, pinned like any
  other input (URL + sha256 of its pure-Python wheel on PyPI); it needs
  Python >= 3.10.

  `pin` is that wheel (`{ name, url, sha256 }`, for fetch.nix).
  `mkInstaller { python, system, bytecodeScript }` unpacks it and byte-compiles
  it once per interpreter (see unpack_installer.py); builders put the result
  on `sys.path`. Imported from the wheel itself, every build compiled
  installer's modules again through zipimport. p2n's own builder modules
  (install_wheel.py, bytecode.py, patch_elf.py) are compiled into the same
  output as `p2n_*` modules: a wheel's build imports them instead of
  compiling them from source (~26 M instructions, a tenth of a small wheel's
  build; patch_elf.py as much again for native wheels).
*/
let
  inherit (import ./fetch.nix) fetchFile;
  pin = {
    name = "installer-1.1.0-py3-none-any.whl";
    url = "https://files.pythonhosted.org/packages/d7/7a/63547a792a12148882205d79e07644091d5b7690f40c2bb9d41452a8bdc2/installer-1.1.0-py3-none-any.whl";
    sha256 = "f55f5728ff61d3dd54dbc5a397cf3f7307cb64b180c20b72afbebf01c9e2c8a0";
  };
in
{
  inherit pin;

  mkInstaller =
    {
      python,
      system,
      bytecodeScript,
    }:
    derivation {
      name = "python${python.pythonVersion}-installer-1.1.0";
      inherit system bytecodeScript;
      builderModules = builtins.concatStringsSep " " [
        "p2n_install_wheel=${./install_wheel.py}"
        "p2n_bytecode=${bytecodeScript}"
        "p2n_patch_elf=${./patch_elf.py}"
      ];
      builder = python.interpreter;
      args = [
        "-S"
        ./unpack_installer.py
      ];
      wheel = fetchFile (pin // { first = true; });
      PYTHONHASHSEED = "0";
      PYTHONDONTWRITEBYTECODE = "1";
    };
}
