/**
  One derivation per wheel.

  `installWheel { python, system, installerWheel, pname, version, wheel, wheelName, extraAttrs ? { } }`
  installs a fetched wheel into `$out/<python.sitePackages>` (scripts into
  `$out/bin`) with PyPA installer. The builder is the interpreter itself, so
  no stdenv is needed. `extraAttrs` adds derivation attributes (native.nix's
  for wheels with native code: their ELF files get a RUNPATH). `SOURCE_DATE_EPOCH` makes byte-compilation write
  hash-based .pyc files: two builds give the same bytes.
*/
{
  installWheel =
    {
      python,
      system,
      installerWheel,
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
        installerWheel
        ;
      builder = python.interpreter;
      args = [ ./install_wheel.py ];
      interpreter = python.interpreter;
      sitePackages = python.sitePackages;
      SOURCE_DATE_EPOCH = "315532800";
      PYTHONHASHSEED = "0";
      PYTHONDONTWRITEBYTECODE = "1";
      }
      // extraAttrs
    );
}
