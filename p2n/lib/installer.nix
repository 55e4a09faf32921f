/**
  The wheel installer used inside builds: PyPA `installer`, pinned like any
  other input (URL + sha256 of its pure-Python wheel on PyPI). It is put on
  `sys.path` straight from the wheel file; it needs Python >= 3.10.
*/
{
  name = "installer-1.1.0-py3-none-any.whl";
  url = "https://files.pythonhosted.org/packages/d7/7a/63547a792a12148882205d79e07644091d5b7690f40c2bb9d41452a8bdc2/installer-1.1.0-py3-none-any.whl";
  sha256 = "f55f5728ff61d3dd54dbc5a397cf3f7307cb64b180c20b72afbebf01c9e2c8a0";
}
