/**
  p2n's Nix builder library, copied next to the generated files by
  `p2n generate` so a project needs nothing but nixpkgs.

  Contract with nixpkgs (see docs/nixpkgs-contract.md): `pkgs.<python>` with
  `interpreter`, `pythonVersion`, `sitePackages`; `pkgs.mkShell`. Nothing else;
  no `<nixpkgs>` lookups, no import-from-derivation.

  Entries with `libraries` (wheels with native code) also use `pkgs.patchelf`
  and the nixpkgs packages named there (native.nix). Entries with `sdist` or
  `git` are built from source (build-source.nix) with the wheels of
  `lock.buildSystems.<system>.<build.requires>`; overrides may add `stdenv`,
  `buildInputs`, `nativeBuildInputs` (nixpkgs attribute paths), `env`, `patches`.

  `mkOutputs { pkgs, system, lock, root }` turns the generated data
  (`lock`, see p2n/lock.nix) for one system into
  `{ environment, devShell, apps, images }`; `root` is the project's directory;
  `images` is `{ image }` (an OCI archive, image.nix) on Linux, `{ }` elsewhere.
*/
let
  inherit (import ./fetch.nix) fetchFile;
  inherit (import ./install-wheel.nix) installWheel;
  inherit (import ./project.nix) localSource installProject;
  inherit (import ./env.nix) mkEnvironment;
  inherit (import ./native.nix) nativeAttrs attrFromPath;
  inherit (import ./build-source.nix) buildFromSource;
  inherit (import ./shell.nix) mkDevShell;
  inherit (import ./installer.nix) mkInstaller;
  inherit (import ./image.nix) mkImage;

  /**
    One package's derivation from its generated entry: a wheel, or local source.
  */
  packageFor =
    {
      pkgs,
      python,
      system,
      installer,
      root,
      buildSystems,
    }:
    pname: entry:
    let
      editable = editableFor {
        inherit
          python
          system
          installer
          root
          ;
      } pname entry;
      # A pinned file: downloaded, or (a path source) copied from the project, hash-checked.
      fileOf =
        file:
        if file ? path then
          builtins.path {
            inherit (file) name sha256;
            path = root + "/${file.path}";
            recursive = false;
          }
        else
          fetchFile file;
      localSrc = localSource {
        inherit root;
        inherit (entry.local) path;
        name = "${pname}-${entry.version}-source";
      };
      native =
        if entry ? libraries then
          nativeAttrs {
            inherit pkgs;
            inherit (entry) libraries;
            what = "the runtime libraries of ${pname}";
          }
        else
          { };
      attrsOf =
        key:
        map (
          path:
          attrFromPath {
            inherit pkgs path;
            what = "${key} of ${pname}";
          }
        ) (entry.${key} or [ ]);
      fromSource =
        src: subdirectory:
        buildFromSource {
          inherit
            pkgs
            python
            system
            installer
            pname
            src
            subdirectory
            ;
          inherit (entry) version;
          inherit (entry.build) backend backendPath;
          buildWheels = buildSystems.${entry.build.requires};
          patches = map (path: root + "/${path}") (entry.patches or [ ]);
          useStdenv = entry.stdenv or false;
          buildInputs = attrsOf "buildInputs";
          nativeBuildInputs = attrsOf "nativeBuildInputs";
          env = entry.env or { };
          pretendVersion = entry.pretendVersion or null;
          extraAttrs = native;
        };
    in
    if entry ? sdist then
      fromSource (fileOf entry.sdist) (entry.subdirectory or null)
    else if entry ? git then
      fromSource (builtins.fetchGit {
        inherit (entry.git) url rev narHash;
        allRefs = true;
      }) (entry.git.subdirectory or null)
    else if entry ? wheel then
      installWheel {
        inherit
          python
          system
          installer
          pname
          ;
        inherit (entry) version;
        wheel = fileOf entry.wheel;
        wheelName = entry.wheel.name;
        extraAttrs = native;
      }
    else if entry ? build then
      fromSource localSrc null
    else
      editable "";

  /**
    A local package as an editable install (dev shell), or as before (no build system).
  */
  editableFor =
    {
      python,
      system,
      installer,
      root,
    }:
    pname: entry: memberPath:
    installProject {
      inherit
        python
        system
        installer
        pname
        memberPath
        ;
      inherit (entry) version;
      inherit (entry.local) importRoot scripts;
      src =
        if memberPath != "" then
          ""
        else
          localSource {
            inherit root;
            inherit (entry.local) path;
            name = "${pname}-${entry.version}-source";
          };
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

  mkOutputs =
    {
      pkgs,
      system,
      lock,
      root,
    }:
    let
      python = pkgs.${lock.python};
      installer = mkInstaller {
        inherit python system;
        bytecodeScript = ./bytecode.py;
      };
      entries = lock.systems.${system};
      packages = builtins.mapAttrs (packageFor {
        buildSystems = (lock.buildSystems or { }).${system} or { };
        inherit
          pkgs
          python
          system
          installer
          root
          ;
      }) entries;
      environment = mkEnvironment {
        inherit python system;
        name = "${lock.project}-env";
        packages = map (name: packages.${name}) (builtins.attrNames packages);
      };
      # The dev shell's environment: local packages editable, from the working tree.
      devPackages = builtins.mapAttrs (
        pname: entry:
        if entry ? local then
          editableFor {
            inherit
              python
              system
              installer
              root
              ;
          } pname entry entry.local.path
        else
          packages.${pname}
      ) entries;
      devEnvironment = mkEnvironment {
        inherit python system;
        name = "${lock.project}-dev-env";
        packages = map (name: devPackages.${name}) (builtins.attrNames devPackages);
      };
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
              name = "${lock.project}-image";
              projectPackages = map (name: packages.${name}) (
                builtins.filter (name: entries.${name} ? local) (builtins.attrNames entries)
              );
              entrypoint =
                if lock.scripts == [ ] then
                  [ "${environment}/bin/python" ]
                else
                  [ "${environment}/bin/${builtins.head lock.scripts}" ];
            };
          }
        else
          { };
    in
    {
      inherit environment devEnvironment packages images;
      devShell = mkDevShell {
        inherit pkgs;
        env = devEnvironment;
        name = "${lock.project}-shell";
      };
      apps = builtins.listToAttrs (
        map (script: {
          name = script;
          value = appFor script;
        }) lock.scripts
      )
      // (if lock.scripts == [ ] then { } else { default = appFor (builtins.head lock.scripts); });
    };
}
