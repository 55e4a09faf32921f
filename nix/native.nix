/**
  Native code: nixpkgs libraries for the ELF files of wheels.

  A manylinux wheel's extension modules link libraries (libstdc++, libgcc_s,
  libz, ...) that a nixpkgs interpreter does not put on their search path.
  Derivations of packages with native code get `patchelf` and the `lib/`
  directories of the packages named in the generated data (`libraries`,
  nixpkgs attribute paths such as `"stdenv.cc.cc.lib"`); patch_elf.py then
  gives every ELF file a RUNPATH to the directories that hold its libraries,
  like nixpkgs' autoPatchelfHook, and names the libraries it cannot find.
  Programs in wheels (ninja, cmake, uv_build's uv-build, ...) name the host's
  `/lib64/ld-linux-x86-64.so.2`, absent in the sandbox and on NixOS: they get
  nixpkgs' loader, `stdenv.cc.bintools.dynamicLinker`, as ELF interpreter.

  `attrFromPath { pkgs, path, what }` looks a dotted attribute path up in
  `pkgs` (`what` says where it was named, for the error).
  `getLib drv` is nixpkgs' `lib.getLib`: the `lib` output if there is one.
  `nativeAttrs { pkgs, libraries, what }` are the derivation attributes
  install_wheel.py reads to patch ELF files.
*/
let
  attrFromPath =
    {
      pkgs,
      path,
      what,
    }:
    let
      parts = builtins.filter builtins.isString (builtins.split "\\." path);
      step =
        value: name:
        if builtins.isAttrs value && value ? ${name} then
          value.${name}
        else
          throw "p2n: nixpkgs has no attribute '${path}' (named in ${what}); check the name on search.nixos.org";
    in
    builtins.foldl' step pkgs parts;

  getLib = drv: drv.lib or (drv.out or drv);
in
{
  inherit attrFromPath getLib;

  nativeAttrs =
    {
      pkgs,
      libraries,
      what,
    }:
    {
      patchelf = "${attrFromPath {
        inherit pkgs what;
        path = "patchelf";
      }}/bin/patchelf";
      patchElfScript = ./patch_elf.py;
      dynamicLinker = attrFromPath {
        inherit pkgs what;
        path = "stdenv.cc.bintools.dynamicLinker";
      };
      libraryNames = builtins.concatStringsSep ", " libraries;
      libraryDirs = builtins.concatStringsSep ":" (
        map (
          path:
          "${getLib (attrFromPath {
            inherit pkgs path what;
          })}/lib"
        ) libraries
      );
    };
}
