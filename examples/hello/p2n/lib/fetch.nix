/**
  Fetching pinned files.

  `fetchFile { url, name, hash ? "", sha256 ? "" }` downloads one wheel or
  sdist with Nix's built-in fetcher (`<nix/fetchurl.nix>`, part of Nix itself,
  not nixpkgs): a fixed-output derivation, so the download happens at build
  time, in parallel with other builds, and the result is checked against
  `hash` (SRI, `sha256-…`, as in p2n/lock.nix) or `sha256` (hex).
  `name` is the file's real name (a store name cannot hold `%`).
*/
{
  fetchFile =
    {
      url,
      name,
      hash ? "",
      sha256 ? "",
    }:
    import <nix/fetchurl.nix> (
      {
        inherit url name;
      }
      // (if hash != "" then { inherit hash; } else { inherit sha256; })
    );
}
