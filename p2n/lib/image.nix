/**
  An OCI image of the environment (`packages.<system>.image`), built by p2n's
  own builder (make_image.py, the target interpreter as builder) rather than
  nixpkgs' `dockerTools`: the contract with nixpkgs stays an interpreter and
  `mkShell`, and every byte of the archive is decided by one short script —
  entries sorted, mtime 1, owner 0:0, no host names or timestamps, files stored
  whole — so `p2n verify .#image` can prove it bit-identical.

  Layers, from least to most often changed: the interpreter's closure, the
  other dependencies, the project's own packages with the environment. The
  entrypoint is the project's first console script (as `nix run`), else the
  environment's python. `$out` is an oci-archive: `podman load -i result`,
  `skopeo inspect oci-archive:result`.

  Linux systems only (an image runs a Linux closure).
*/
{
  /**
    mkImage :: { python, system, name, environment, projectPackages, entrypoint } -> derivation

    Example:
      mkImage { inherit python system environment; name = "hello-image";
                projectPackages = [ packages.hello ]; entrypoint = [ "${environment}/bin/hello" ]; }
  */
  mkImage =
    {
      python,
      system,
      name,
      environment,
      projectPackages,
      entrypoint,
    }:
    derivation {
      inherit name system environment;
      builder = python.interpreter;
      args = [ ./make_image.py ];
      projectPaths = projectPackages;
      entrypointJSON = builtins.toJSON entrypoint;
      tag = "${name}:latest";
      architecture =
        {
          x86_64-linux = "amd64";
          aarch64-linux = "arm64";
        }
        .${system} or (throw "p2n: OCI images are built for Linux systems, not ${system}");
      exportReferencesGraph = [
        "interpreter-closure"
        python
        "environment-closure"
        environment
      ];
    };
}
