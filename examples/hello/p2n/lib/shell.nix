/**
  The development shell.

  `mkDevShell { pkgs, env, name }` is nixpkgs' `mkShell` with the environment
  first on PATH and `VIRTUAL_ENV` pointing at it, so `python`, the project's
  scripts and tools that look for an active venv all see the locked packages.
*/
{
  mkDevShell =
    {
      pkgs,
      env,
      name,
    }:
    pkgs.mkShell {
      inherit name;
      packages = [ env ];
      shellHook = ''
        export VIRTUAL_ENV=${env}
        unset PYTHONPATH PYTHONHOME
      '';
    };
}
