/**
  The package set: every locked package of one system as a derivation, in a
  fixpoint, so that an overlay (`final: prev: { … }`) changes one package and
  everything that names it (dependencies, environments) sees the change.

  A package is a derivation that installs one distribution (a wheel, or one
  built from source) and carries, besides its derivation attributes:
  `pname`, `version`, `dependencies` (packages of the set, resolved through
  `final`), `recipe` (the attribute set it was built from) and
  `overrideAttrs`, which takes `old: { … }` (or an attribute set), merges it
  over the recipe and builds again:

    final: prev: {
      rich = prev.rich.overrideAttrs (old: { patches = old.patches ++ [ ./rich.patch ]; });
    }

  Recipe attributes (docs/format-2.md lists them with the data they come from):
  `pname`, `version`, `dependencies`, `kind` ("wheel", "source" or "project"),
  `src`, `wheelName` (wheels), `subdirectory`, `build` (`{ backend,
  backendPath, wheels }`, builds from source), `libraries` (nixpkgs attribute
  paths for the RUNPATH of ELF files; null: no patching), `patches` (applied
  with `patch -p1`: to the source, or to a wheel's installed files),
  `env` (environment variables), `stdenv` (build with nixpkgs' stdenv),
  `buildInputs`, `nativeBuildInputs` (derivations or nixpkgs attribute
  paths), `pretendVersion`, `importRoot` and `scripts` (projects without a
  build system).

  Dependencies are not inputs of a package's derivation: a bumped dependency
  rebuilds nothing else, as with pyproject.nix. Environments (env.nix) take
  the closure of `dependencies`, so `closureOf [ final.rich ]` is rich with
  everything it needs.
*/
let
  inherit (import ./install-wheel.nix) installWheel;
  inherit (import ./project.nix) installProject;
  inherit (import ./native.nix) nativeAttrs attrFromPath;
  inherit (import ./build-source.nix) buildFromSource;

  /**
    fix :: (attrset -> attrset) -> attrset

    The fixpoint of `f`, as nixpkgs' `lib.fix` (two lines here, so the
    contract with nixpkgs stays an interpreter and `mkShell`).
  */
  fix =
    f:
    let
      x = f x;
    in
    x;

  /**
    extends :: overlay -> (attrset -> attrset) -> (attrset -> attrset)

    `f` with `overlay` (`final: prev: { … }`) applied over it, as nixpkgs' `lib.extends`.
  */
  extends =
    overlay: f: final:
    let
      prev = f final;
    in
    prev // overlay final prev;

  /**
    composeOverlays :: [ overlay ] -> overlay

    Several overlays as one, applied left to right.

    Example:
      composeOverlays [ (final: prev: { a = 1; }) (final: prev: { b = prev.a + 1; }) ]
  */
  composeOverlays =
    overlays: final: prev:
    builtins.foldl' (done: overlay: done // overlay final (prev // done)) { } overlays;

  /**
    makePackage :: (recipe -> derivation) -> recipe -> package

    The derivation `build recipe`, with the recipe's `pname`, `version`,
    `dependencies`, the `recipe` itself and `overrideAttrs`.
  */
  makePackage =
    build: recipe:
    build recipe
    // {
      inherit recipe;
      inherit (recipe) pname version dependencies;
      overrideAttrs =
        change: makePackage build (recipe // (if builtins.isFunction change then change recipe else change));
    };

  /**
    buildPackage :: { pkgs, python, system, installer } -> recipe -> derivation

    One package's derivation from its recipe (see the top of this file).
  */
  buildPackage =
    {
      pkgs,
      python,
      system,
      installer,
    }:
    recipe:
    let
      what = key: "${key} of ${recipe.pname}";
      inputs =
        key:
        map (
          input:
          if builtins.isString input then
            attrFromPath {
              inherit pkgs;
              path = input;
              what = what key;
            }
          else
            input
        ) recipe.${key};
      native =
        if recipe.libraries == null then
          { }
        else
          nativeAttrs {
            inherit pkgs;
            inherit (recipe) libraries;
            what = what "the runtime libraries";
          };
    in
    if recipe.kind == "wheel" then
      installWheel {
        inherit python system installer;
        inherit (recipe) pname version wheelName;
        wheel = recipe.src;
        extraAttrs =
          recipe.env
          // native
          // (
            if recipe.patches == [ ] then
              { }
            else
              {
                p2nPatches = builtins.concatStringsSep " " (map (patch: "${patch}") recipe.patches);
                patchTool = "${pkgs.patch}/bin/patch";
              }
          );
      }
    else if recipe.kind == "source" then
      buildFromSource {
        inherit pkgs python system installer;
        inherit (recipe)
          pname
          version
          src
          subdirectory
          patches
          env
          pretendVersion
          ;
        inherit (recipe.build) backend backendPath;
        buildWheels = recipe.build.wheels;
        useStdenv = recipe.stdenv;
        buildInputs = inputs "buildInputs";
        nativeBuildInputs = inputs "nativeBuildInputs";
        extraAttrs = native;
      }
    else
      installProject {
        inherit python system installer;
        inherit (recipe)
          pname
          version
          src
          importRoot
          scripts
          ;
      };

  /**
    closureOf :: [ package ] -> [ package ]

    The packages and, recursively, their `dependencies`, each once: the given
    ones first, in their order, then what they need, breadth first (the same
    order on every evaluation). Packages an overlay brings from elsewhere need
    only `pname` (or `name`).
  */
  closureOf =
    packages:
    let
      item = package: {
        key = package.pname or package.name;
        inherit package;
      };
      found = builtins.genericClosure {
        startSet = map item packages;
        operator = found: map item (found.package.dependencies or [ ]);
      };
    in
    map (found: found.package) found;
in
{
  inherit
    fix
    extends
    composeOverlays
    makePackage
    buildPackage
    closureOf
    ;
}
