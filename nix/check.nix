/**
  The flake's `checks.<system>.imports`: `nix flake check` builds it.

  `mkImportCheck { python, system, environment, name }` runs the
  environment's `bin/python` inside a build and imports every top-level
  module and package each installed distribution lists in its `RECORD`
  (check_imports.py): a wheel for the wrong platform, a native library
  missing from the RUNPATH or a dependency left out fails here, with the
  module and the error named, rather than on a user's machine. Modules named
  like tests, docs, examples or `setup`/`conftest` are not imported.
*/
{
  mkImportCheck =
    {
      python,
      system,
      environment,
      name,
    }:
    derivation {
      inherit name system environment;
      builder = python.interpreter;
      args = [ ./check_imports.py ];
      sitePackages = python.sitePackages;
      PYTHONDONTWRITEBYTECODE = "1";
    };
}
