/**
  Fetching pinned files.

  `fetchFile { url, sha256, name }` downloads one wheel or sdist with Nix's
  built-in fetcher (`<nix/fetchurl.nix>`, part of Nix itself, not nixpkgs): a
  fixed-output derivation, so the download happens at build time, in
  parallel with other builds, and the result is checked against `sha256`.
  `name` is the file's real name (a store name cannot hold `%`).
*/
{
  fetchFile =
    {
      url,
      sha256,
      name,
    }:
    import <nix/fetchurl.nix> { inherit url sha256 name; };
}
