/**
  p2n's Nix builder library, copied next to the generated files by
  `p2n generate` so a project needs nothing but nixpkgs.

  Contract with nixpkgs (see docs/nixpkgs-contract.md): `pkgs.<python>` with
  `interpreter`, `pythonVersion`, `sitePackages`; `pkgs.mkShell`. Nothing else;
  no `<nixpkgs>` lookups, no import-from-derivation.

  Entries with `libraries` (wheels with native code) also use `pkgs.patchelf`
  and the nixpkgs packages named there (native.nix). Entries with `sdist` or
  `git` are built from source (build-source.nix) with the wheels of
  `lock.buildSystems.<build.requires>`; `[tool.p2n]` overrides (the data's
  `overrides`, the first overlay) may add `stdenv`, `buildInputs`,
  `nativeBuildInputs` (nixpkgs attribute paths), `env`, `patches`.

  The data is `p2n/lock.nix`, format 2 (docs/format-2.md, data.nix); the
  packages form a set with a fixpoint (package-set.nix) that overlays extend.
*/
let
  inherit (import ./fetch.nix) fetchFile;
  inherit (import ./install-wheel.nix) installWheel;
  inherit (import ./project.nix) localSource installProject;
  inherit (import ./env.nix) mkEnvironment;
  inherit (import ./shell.nix) mkDevShell;
  inherit (import ./installer.nix) mkInstaller;
  inherit (import ./image.nix) mkImage;
  inherit (import ./check.nix) mkImportCheck;
  data = import ./data.nix;
  sets = import ./package-set.nix;

  /**
    fileOf :: { root } -> entry -> string -> derivation

    A file of `entry.files` by name: downloaded, or (a path source) copied
    from the project's tree; checked against its hash either way.
  */
  fileOf =
    { root }:
    entry: name:
    let
      file = entry.files.${name};
    in
    if file ? path then
      builtins.path {
        inherit name;
        path = root + "/${file.path}";
        sha256 = file.hash;
        recursive = false;
      }
    else
      fetchFile {
        inherit name;
        inherit (file) url hash;
      };

  /**
    recipeFor :: { root, buildWheelsOf, final } -> string -> entry -> recipe

    The recipe (package-set.nix) of one entry of the data on one system;
    dependencies are looked up in `final`, the finished set.
  */
  recipeFor =
    {
      root,
      buildWheelsOf,
      final,
    }:
    pname: entry:
    let
      file = fileOf { inherit root; } entry;
      localSrc = localSource {
        inherit root;
        inherit (entry.local) path;
        name = "${pname}-${entry.version}-source";
      };
      common = {
        inherit pname;
        inherit (entry) version;
        dependencies = map (dep: final.${dep}) entry.deps;
        libraries = entry.libraries or null;
        pretendVersion = entry.pretendVersion or null;
        subdirectory = null;
        patches = [ ];
        env = { };
        stdenv = false;
        buildInputs = [ ];
        nativeBuildInputs = [ ];
      };
      fromSource =
        src: subdirectory:
        common
        // {
          kind = "source";
          inherit src subdirectory;
          build = {
            inherit (entry.build) backend backendPath;
            wheels = buildWheelsOf entry.build.requires;
          };
        };
    in
    if entry ? sdist then
      fromSource (file entry.sdist) (entry.subdirectory or null)
    else if entry ? git then
      fromSource (builtins.fetchGit {
        inherit (entry.git) url rev narHash;
        allRefs = true;
      }) (entry.git.subdirectory or null)
    else if entry ? wheel then
      common
      // {
        kind = "wheel";
        src = file entry.wheel;
        wheelName = entry.wheel;
      }
    else if entry ? build then
      fromSource localSrc null
    else
      common
      // {
        kind = "project";
        src = localSrc;
        inherit (entry.local) importRoot scripts;
      };

  /**
    overridesLayer :: { lock, root } -> overlay

    `[tool.p2n.packages]` of the project (the data's `overrides`) as the
    first overlay: builds from source get their patches, environment
    variables, stdenv and inputs. Wheels are left as they are.
  */
  overridesLayer =
    { lock, root }:
    final: prev:
    builtins.mapAttrs (
      name: own:
      prev.${name}.overrideAttrs (
        old:
        if old.kind == "wheel" then
          { }
        else
          {
            patches = old.patches ++ map (path: root + "/${path}") (own.patches or [ ]);
            env = old.env // (own.env or { });
            stdenv = own.stdenv or old.stdenv;
            buildInputs = old.buildInputs ++ (own.buildInputs or [ ]);
            nativeBuildInputs = old.nativeBuildInputs ++ (own.nativeBuildInputs or [ ]);
          }
      )
    ) (builtins.intersectAttrs prev (lock.overrides or { }));

  /**
    mkPythonSet :: { pkgs, python, system, installer, lock, root, overrides } -> attrset

    Every package locked for `system`, as a fixpoint: the data, then the
    `[tool.p2n]` layer, then `overrides` (the user's overlay).
  */
  mkPythonSet =
    {
      pkgs,
      python,
      system,
      installer,
      lock,
      root,
      overrides,
    }:
    let
      build = sets.buildPackage {
        inherit
          pkgs
          python
          system
          installer
          ;
      };
      buildWheelsOf = data.buildWheelsOf { inherit lock system; };
      base =
        final:
        builtins.mapAttrs (
          pname: entry:
          sets.makePackage build (recipeFor { inherit root buildWheelsOf final; } pname entry)
        ) (data.packagesOn { inherit lock system; });
    in
    sets.fix (sets.extends overrides (sets.extends (overridesLayer { inherit lock root; }) base));

  /**
    A local package as an editable install (dev shell): its `.pth` reads the working tree.
  */
  editableFor =
    {
      python,
      system,
      installer,
    }:
    pname: entry:
    installProject {
      inherit
        python
        system
        installer
        pname
        ;
      inherit (entry) version;
      inherit (entry.local) importRoot scripts;
      memberPath = entry.local.path;
      src = "";
    };
in
{
  inherit
    fetchFile
    installWheel
    localSource
    installProject
    mkEnvironment
    mkDevShell
    ;
  inherit (sets) fix extends composeOverlays closureOf;

  /**
    mkOutputs :: { pkgs, system, lock, root, overrides ? final: prev: { } } -> attrset

    The generated data (`lock`, p2n/lock.nix) for one system as flake outputs.
    `root` is the project's directory; `overrides` an overlay over the package
    set (after the `[tool.p2n]` layer). Returns:
    - `pythonSet`: the package set (name -> package, see package-set.nix);
    - `environment`: one venv-shaped derivation with every locked package;
    - `packages`: `default` (the environment), per package an environment of
      it and its dependencies' closure, `image` on Linux (image.nix);
    - `devEnvironment`, `devShell`: the project's packages editable;
    - `apps`: the project's console scripts (`default`: the first);
    - `checks`: `imports`, a build that imports every top-level module of the environment.

    Example:
      (import ./p2n/lib).mkOutputs {
        inherit pkgs system;
        lock = import ./p2n/lock.nix;
        root = ./.;
        overrides = final: prev: {
          rich = prev.rich.overrideAttrs (old: { patches = old.patches ++ [ ./rich.patch ]; });
        };
      }
  */
  mkOutputs =
    {
      pkgs,
      system,
      lock,
      root,
      overrides ? final: prev: { },
    }:
    let
      checked = data.checkFormat lock;
      python = pkgs.${checked.python};
      installer = mkInstaller {
        inherit python system;
        bytecodeScript = ./bytecode.py;
      };
      entries = data.packagesOn {
        lock = checked;
        inherit system;
      };
      pythonSet = mkPythonSet {
        inherit
          pkgs
          python
          system
          installer
          root
          overrides
          ;
        lock = checked;
      };
      envOf =
        name: roots:
        mkEnvironment {
          inherit python system name;
          packages = sets.closureOf roots;
        };
      environment = envOf "${checked.project}-env" (
        map (name: pythonSet.${name}) (builtins.attrNames entries)
      );
      # The dev shell's environment: local packages editable, from the working tree.
      devEnvironment = envOf "${checked.project}-dev-env" (
        map (
          name:
          if entries.${name} ? local then
            editableFor { inherit python system installer; } name entries.${name}
            // {
              dependencies = pythonSet.${name}.dependencies;
              pname = name;
            }
          else
            pythonSet.${name}
        ) (builtins.attrNames entries)
      );
      appFor = script: {
        type = "app";
        program = "${environment}/bin/${script}";
      };
      linux = builtins.elem system [
        "x86_64-linux"
        "aarch64-linux"
      ];
      # packages.<system>.image on Linux (image.nix).
      images =
        if linux then
          {
            image = mkImage {
              inherit python system environment;
              name = "${checked.project}-image";
              projectPackages = map (name: pythonSet.${name}) (
                builtins.filter (name: entries.${name} ? local) (builtins.attrNames entries)
              );
              entrypoint =
                if checked.scripts == [ ] then
                  [ "${environment}/bin/python" ]
                else
                  [ "${environment}/bin/${builtins.head checked.scripts}" ];
            };
          }
        else
          { };
    in
    {
      inherit
        pythonSet
        environment
        devEnvironment
        images
        ;
      packages =
        builtins.mapAttrs (name: package: envOf "${name}-${package.version or "0"}-env" [ package ]) pythonSet
        // images
        // {
          default = environment;
        };
      devShell = mkDevShell {
        inherit pkgs;
        env = devEnvironment;
        name = "${checked.project}-shell";
      };
      apps =
        builtins.listToAttrs (
          map (script: {
            name = script;
            value = appFor script;
          }) checked.scripts
        )
        // (if checked.scripts == [ ] then { } else { default = appFor (builtins.head checked.scripts); });
      checks = {
        imports = mkImportCheck {
          inherit python system environment;
          name = "${checked.project}-imports";
        };
      };
    };
}
