/**
  Unit tests of the pure Nix functions of the library (data.nix, package-set.nix):
  `nix-instantiate --eval --strict tests/nix/test_data.nix` gives the names of the
  failing cases, `[ ]` when all pass (tests/test_nix_lib.py runs it).
*/
let
  data = import ../../nix/data.nix;
  sets = import ../../nix/package-set.nix;
  lock = {
    format = 2;
    systems = [
      "aarch64-darwin"
      "x86_64-linux"
    ];
    packages = {
      pure = {
        version = "1";
        wheel = "pure-1-py3-none-any.whl";
        deps = [ ];
      };
      native = {
        version = "2";
        wheel = "native-2-cp311-macosx.whl";
        deps = [ "pure" ];
        perSystem.x86_64-linux = {
          wheel = "native-2-cp311-manylinux.whl";
          libraries = [ "zlib" ];
        };
        perSystem.aarch64-darwin.deps = null;
      };
      linuxOnly = {
        version = "3";
        deps = [ ];
        onlySystems = [ "x86_64-linux" ];
      };
    };
    buildSystems.hatchling = {
      wheels = [ "hatchling.whl" ];
      files."hatchling.whl" = {
        url = "https://example.org/hatchling.whl";
        hash = "sha256-AAAA";
      };
      files."extra.whl" = {
        url = "https://example.org/extra.whl";
        hash = "sha256-BBBB";
      };
      perSystem.x86_64-linux.wheels = [
        "hatchling.whl"
        "extra.whl"
      ];
    };
  };
  linux = data.packagesOn {
    inherit lock;
    system = "x86_64-linux";
  };
  darwin = data.packagesOn {
    inherit lock;
    system = "aarch64-darwin";
  };
  base = final: {
    a = {
      pname = "a";
      dependencies = [ final.b ];
    };
    b = {
      pname = "b";
      dependencies = [ ];
    };
    c = {
      pname = "c";
      dependencies = [ ];
    };
  };
  overlaid = sets.fix (
    sets.extends (sets.composeOverlays [
      (final: prev: { b = prev.b // { dependencies = [ final.c ]; }; })
      (final: prev: { c = prev.c // { marked = true; }; })
    ]) base
  );
  cases = {
    commonValues = linux.pure == lock.packages.pure;
    perSystemWins = linux.native.wheel == "native-2-cp311-manylinux.whl" && linux.native.libraries == [ "zlib" ];
    othersKeepCommon = darwin.native.wheel == "native-2-cp311-macosx.whl" && !(darwin.native ? libraries);
    nullRemoves = !(darwin.native ? deps) && linux.native.deps == [ "pure" ];
    noBookkeeping = !(linux.native ? perSystem) && !(linux.linuxOnly ? onlySystems);
    onlySystems = linux ? linuxOnly && !(darwin ? linuxOnly);
    buildWheelsCommon =
      data.buildWheelsOf {
        inherit lock;
        system = "aarch64-darwin";
      } "hatchling" == [
        {
          name = "hatchling.whl";
          url = "https://example.org/hatchling.whl";
          hash = "sha256-AAAA";
        }
      ];
    buildWheelsPerSystem =
      map (w: w.name) (
        data.buildWheelsOf {
          inherit lock;
          system = "x86_64-linux";
        } "hatchling"
      ) == [
        "hatchling.whl"
        "extra.whl"
      ];
    formatChecked = (builtins.tryEval (data.checkFormat { format = 1; })).success == false;
    fixpointSeesOverlays =
      (builtins.head (builtins.head overlaid.a.dependencies).dependencies).marked or false;
    closure = map (p: p.pname) (sets.closureOf [ overlaid.a ]) == [
      "a"
      "b"
      "c"
    ];
    closureOnce = map (p: p.pname) (sets.closureOf [ overlaid.c overlaid.a overlaid.b ]) == [
      "c"
      "a"
      "b"
    ];
  };
in
builtins.filter (name: !cases.${name}) (builtins.attrNames cases)
