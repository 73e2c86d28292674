"""The native module (Rust, PyO3): use the functions of `sizeup` instead."""

from typing import Any, Dict, List, Tuple

__version__: str

def estimate(command: str, fields: Dict[str, Any]) -> Tuple[bool, Dict[str, Any]]:
    """Run `command` (`"params"`, `"plan train"`) with the request `fields`:
    `(True, response)` or `(False, problem)`, the problem holding the CLI's message
    in parts (`message`, `error`, `field`, `causes`, `hints`)."""

def response_schemas() -> Dict[str, Any]:
    """The JSON Schema of every response: `{"commands": [...], "$defs": {...}}`."""

def main(argv: List[str]) -> int:
    """Run the CLI with `argv` (program name first); the exit status."""
