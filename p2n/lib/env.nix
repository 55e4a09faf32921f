/**
  The environment: one venv-shaped store path holding every package.

  `mkEnvironment { python, system, name, packages }` merges the package
  derivations into `$out` (see make_env.py): `$out/bin/python` is the
  interpreter seen through `$out/pyvenv.cfg`, so it imports all packages with
  no wrapper, and console scripts run with it.

  It is built where it is asked for and never looked up in a binary cache
  (`preferLocalBuild`, `allowSubstitutes = false`, as nixpkgs' `buildEnv`):
  a tree of symlinks costs less to make than one query to a cache.
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
      preferLocalBuild = true;
      allowSubstitutes = false;
    };
}
