/**
  The project's own packages (the root project, workspace members), installed
  from a filtered copy of their local source.

  `localSource { root, path, name }` copies `root + "/" + path` into the store
  without VCS folders, virtualenvs, build results, caches and p2n's own
  generated files, so editing those never rebuilds the project.

  `installProject { python, system, installer, pname, version, src, importRoot, scripts, memberPath ? "" }`
  puts `src/<importRoot>` on `sys.path` with a `.pth` file, writes a minimal
  `.dist-info` and the console `scripts` (an attribute set name -> "module:attr").
  With `memberPath` (the package's directory relative to the project) it is an
  editable install for the dev shell: the `.pth` prefers
  `$P2N_PROJECT_ROOT/<memberPath>/<importRoot>`, the working tree.
*/
let
  ignoredAnywhere = [
    ".git"
    ".hg"
    ".venv"
    "venv"
    "__pycache__"
    ".mypy_cache"
    ".pytest_cache"
    ".ruff_cache"
    ".tox"
    ".nox"
    "node_modules"
  ];
  ignoredAtTop = [
    "flake.nix"
    "flake.lock"
    "p2n"
  ];
  isResultLink = base: type: type == "symlink" && builtins.substring 0 6 base == "result";
in
{
  localSource =
    {
      root,
      path,
      name,
    }:
    let
      top = toString (root + "/${path}");
    in
    builtins.path {
      inherit name;
      path = root + "/${path}";
      filter =
        file: type:
        let
          base = baseNameOf file;
        in
        !(builtins.elem base ignoredAnywhere)
        && !(isResultLink base type)
        && !(dirOf file == top && builtins.elem base ignoredAtTop);
    };

  installProject =
    {
      python,
      system,
      installer,
      pname,
      version,
      src,
      importRoot,
      scripts,
      memberPath ? "",
    }:
    derivation {
      name = "python${python.pythonVersion}-${pname}-${version}${
        if memberPath != "" then "-editable" else ""
      }";
      inherit memberPath;
      inherit
        system
        pname
        version
        src
        importRoot
        installer
        ;
      builder = python.interpreter;
      args = [ ./install_project.py ];
      interpreter = python.interpreter;
      sitePackages = python.sitePackages;
      scriptsJSON = builtins.toJSON scripts;
    };
}
