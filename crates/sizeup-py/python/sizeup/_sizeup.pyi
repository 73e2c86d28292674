"""The native module (Rust, PyO3): use the functions of `sizeup` instead."""

from typing import List, Optional, Tuple

__version__: str

def run_json(
    args: List[str], config_name: Optional[str] = None, config_text: Optional[str] = None
) -> Tuple[bool, str, bool]:
    """Run a command line; `(ok, json or the CLI's error, usage error)`."""

def main(argv: List[str]) -> int:
    """Run the CLI with `argv` (program name first); the exit status."""
