/**
  The development shell.

  `mkDevShell { pkgs, env, name }` is nixpkgs' `mkShell` with the environment
  first on PATH and `VIRTUAL_ENV` pointing at it, so `python`, the project's
  scripts and tools that look for an active venv all see the locked packages.
  `env` holds the project's own packages as editable installs: the hook
  exports `P2N_PROJECT_ROOT`, the nearest directory up from `$PWD` with
  `p2n/lock.nix`, and their `.pth` files read the source from there.
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
        # Editable local packages: the nearest directory up from here holding the
        # generated files is the working tree their .pth files read from.
        p2n_dir=$PWD
        while [ -n "$p2n_dir" ] && ! [ -f "$p2n_dir/p2n/lock.nix" ]; do
          p2n_dir=''${p2n_dir%/*}
        done
        if [ -n "$p2n_dir" ]; then
          export P2N_PROJECT_ROOT=$p2n_dir
        else
          echo "p2n: not inside the project: local packages come from the store copy" >&2
        fi
        unset p2n_dir
      '';
    };
}
