/**
  Packages built from source: an sdist, a git checkout or a local directory.

  `buildFromSource { pkgs, python, system, installer, pname, version, src,
  subdirectory ? null, buildWheels, backend, backendPath, patches ? [ ],
  useStdenv ? false, buildInputs ? [ ], nativeBuildInputs ? [ ], env ? { },
  extraAttrs ? { } }` builds a wheel with the source's PEP 517 `backend`, its
  build requirements installed from `buildWheels` (pinned `{ name, url, sha256 }`,
  fetched like any wheel), then installs it like a downloaded wheel
  (install_wheel.py with build_wheel.py). Offline: nothing is downloaded
  during the build.

  Pure-Python sources need only the interpreter as builder. With `useStdenv`
  (the overrides' `stdenv`, `build-inputs`, `native-build-inputs`) the same
  script runs as the build phase of nixpkgs' `stdenv.mkDerivation`, which
  brings a C compiler and puts `buildInputs`/`nativeBuildInputs` in reach.
  `patches` (files) are applied with nixpkgs' `patch -p1` before building;
  `env` adds environment variables. `pretendVersion` (the version p2n found
  at generate time: the lock's, or what a local package's backend computed
  from git) is handed to the version plugins, which find no `.git` here
  (build_wheel.py sets their override variables).
*/
let
  inherit (import ./fetch.nix) fetchFile;
in
{
  buildFromSource =
    {
      pkgs,
      python,
      system,
      installer,
      pname,
      version,
      src,
      subdirectory ? null,
      buildWheels,
      backend,
      backendPath,
      patches ? [ ],
      useStdenv ? false,
      buildInputs ? [ ],
      nativeBuildInputs ? [ ],
      env ? { },
      extraAttrs ? { },
      pretendVersion ? null,
    }:
    let
      attrs = {
        name = "python${python.pythonVersion}-${pname}-${version}";
        inherit
          pname
          version
          src
          installer
          ;
        interpreter = python.interpreter;
        sitePackages = python.sitePackages;
        buildWheelScript = ./build_wheel.py;
        bytecodeScript = ./bytecode.py;
        buildWheels = builtins.toJSON (
          map (wheel: {
            inherit (wheel) name;
            path = fetchFile wheel;
          }) buildWheels
        );
        buildBackend = backend;
        backendPath = builtins.toJSON backendPath;
        SOURCE_DATE_EPOCH = "315532800";
        PYTHONHASHSEED = "0";
        PYTHONDONTWRITEBYTECODE = "1";
      }
      // (if subdirectory != null then { inherit subdirectory; } else { })
      // (if pretendVersion != null then { inherit pretendVersion; } else { })
      // (
        if patches != [ ] then
          {
            p2nPatches = builtins.concatStringsSep " " (map (patch: "${patch}") patches);
            patchTool = "${pkgs.patch}/bin/patch";
          }
        else
          { }
      )
      // env
      // extraAttrs;
    in
    if useStdenv then
      pkgs.stdenv.mkDerivation (
        attrs
        // {
          inherit buildInputs nativeBuildInputs;
          stdenvBuild = "1";
          dontUnpack = true;
          dontConfigure = true;
          dontInstall = true;
          dontFixup = true;
          buildPhase = "${python.interpreter} ${./install_wheel.py}";
        }
      )
    else
      derivation (
        attrs
        // {
          inherit system;
          builder = python.interpreter;
          args = [ ./install_wheel.py ];
        }
      );
}
