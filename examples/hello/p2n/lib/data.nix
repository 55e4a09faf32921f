/**
  Reading the generated data, `p2n/lock.nix` in format 2 (docs/format-2.md).

  Pure functions from the data to the data: no derivations, nothing from
  nixpkgs. Each package and build environment is written once, with the values
  most systems share; `perSystem.<system>` holds what differs on one system
  (`null`: absent there) and `onlySystems` lists the systems that have the
  package when not all of them do.
*/
let
  withoutNulls =
    attrs: builtins.removeAttrs attrs (builtins.filter (key: attrs.${key} == null) (builtins.attrNames attrs));

  /**
    onSystem :: string -> attrset -> attrset

    An entry's values on `system`: its common values with that system's
    differences merged over them.

    Example:
      onSystem "x86_64-linux" { version = "1"; wheel = "a.whl"; perSystem.x86_64-linux.wheel = "b.whl"; }
      => { version = "1"; wheel = "b.whl"; }
  */
  onSystem =
    system: entry:
    let
      common = builtins.removeAttrs entry [
        "perSystem"
        "onlySystems"
      ];
    in
    if entry ? perSystem.${system} then withoutNulls (common // entry.perSystem.${system}) else common;

  /**
    hasSystem :: string -> attrset -> bool

    Whether a package entry is locked for `system`.
  */
  hasSystem = system: entry: !(entry ? onlySystems) || builtins.elem system entry.onlySystems;
in
{
  inherit onSystem hasSystem;

  /**
    checkFormat :: attrset -> attrset

    The data itself, or an error naming the fix when it is not format 2.
  */
  checkFormat =
    lock:
    if (lock.format or 1) == 2 then
      lock
    else
      throw "p2n: p2n/lock.nix is data format ${toString (lock.format or 1)}, this library reads format 2; run `p2n generate` to regenerate it";

  /**
    packagesOn :: { lock, system } -> { <name> = entry; }

    Every package locked for `system`, with that system's values.
  */
  packagesOn =
    { lock, system }:
    builtins.mapAttrs (name: entry: onSystem system entry) (
      builtins.removeAttrs lock.packages (
        builtins.filter (name: !hasSystem system lock.packages.${name}) (builtins.attrNames lock.packages)
      )
    );

  /**
    buildWheelsOf :: { lock, system } -> string -> [ { name, url, hash } ]

    The pinned wheels of one build environment (`build.requires` of an entry) on `system`.
  */
  buildWheelsOf =
    { lock, system }:
    key:
    let
      environment = onSystem system lock.buildSystems.${key};
    in
    map (name: environment.files.${name} // { inherit name; }) environment.wheels;
}
