/**
  The environment: one venv-shaped store path holding every package.

  `mkEnvironment { python, system, name, packages }` merges the package
  derivations into `$out` (see make_env.py): `$out/bin/python` is the
  interpreter seen through `$out/pyvenv.cfg`, so it imports all packages with
  no wrapper, and console scripts run with it.
*/
{
  mkEnvironment =
    {
      python,
      system,
      name,
      packages,
    }:
    derivation {
      inherit name system packages;
      builder = python.interpreter;
      args = [
        "-S"
        ./make_env.py
      ];
      interpreter = python.interpreter;
      sitePackages = python.sitePackages;
    };
}
