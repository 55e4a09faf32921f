/**
  Fetching pinned files.

  `fetchFile { url, name, hash ? "", sha256 ? "", first ? false }` downloads
  one wheel or sdist with Nix's built-in fetcher (`<nix/fetchurl.nix>`, part
  of Nix itself, not nixpkgs): a fixed-output derivation, so the download
  happens at build time, in parallel with other builds, and the result is
  checked against `hash` (SRI, `sha256-…`, as in p2n/lock.nix) or `sha256`
  (hex). `name` is the file's real name (a store name cannot hold `%`); the
  store path is named `storeName { inherit name first; }`.
*/
let
  /**
    storeName :: { name, first ? false } -> string

    The store name of a fetched file: `name` after a prefix that orders the
    download among the builds. Nix starts runnable derivations in the order
    of their names, and a download takes a build slot (`max-jobs`) like any
    build. `z…` sorts after every package's derivation (`python3.X-…`), so a
    free slot goes to an install whose file is there before another download
    starts; `z1-` (a wheel with compiled code, or an sdist: the installs and
    builds that take longest) comes before `z2-` (a pure-Python wheel), so
    the long installs start first and do not end the build alone; `first`
    (`z0-`: PyPA installer's own wheel, which every install needs) before both.

    Example:
      storeName { name = "six-1.17.0-py2.py3-none-any.whl"; }
      => "z2-six-1.17.0-py2.py3-none-any.whl"
  */
  storeName =
    {
      name,
      first ? false,
    }:
    let
      pure = builtins.match ".*-none-any\\.whl" name != null;
    in
    (
      if first then
        "z0-"
      else if pure then
        "z2-"
      else
        "z1-"
    )
    + name;
in
{
  inherit storeName;

  fetchFile =
    {
      url,
      name,
      hash ? "",
      sha256 ? "",
      first ? false,
    }:
    import <nix/fetchurl.nix> (
      {
        inherit url;
        name = storeName { inherit name first; };
      }
      // (if hash != "" then { inherit hash; } else { inherit sha256; })
    );
}
