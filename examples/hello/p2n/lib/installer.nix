/**
  The wheel installer used inside builds: PyPA `installer`, pinned like any
  other input (URL + sha256 of its pure-Python wheel on PyPI); it needs
  Python >= 3.10.

  `pin` is that wheel (`{ name, url, sha256 }`, for fetch.nix).
  `mkInstaller { python, system, bytecodeScript }` unpacks it and byte-compiles
  it once per interpreter (see unpack_installer.py); builders put the result
  on `sys.path`. Imported from the wheel itself, every build compiled
  installer's modules again through zipimport.
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
      builder = python.interpreter;
      args = [
        "-S"
        ./unpack_installer.py
      ];
      wheel = fetchFile pin;
      PYTHONHASHSEED = "0";
      PYTHONDONTWRITEBYTECODE = "1";
    };
}
