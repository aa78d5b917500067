"""One sidebar control per compression op, found by op name.

Each module here is named after its op and defines:
- `DEFAULTS`: the control's values when the op is off (a plain dict; it lives in the session config);
- `draw(w, shape) -> dict`: draws the widgets (keys from `w.seed`) and returns the new values;
- `to_step(values, shape) -> dict | None`: the step's fields the values describe (None: op off);
- `from_step(step, shape) -> dict`: values that reproduce a step (the inverse of to_step).
The pure pair to_step/from_step is what restoring a config from the chart or a link relies on;
tests/ui/test_app_config.py checks it for every registered op.
"""
from __future__ import annotations

import copy
import importlib
from types import ModuleType

from slimlib.ops.registry import op_specs


def control_for(op: str) -> ModuleType:
    """The control module of an op (ImportError names the missing file)."""
    try:
        return importlib.import_module(f"{__name__}.{op}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{op}":
            raise ImportError(f"op {op!r} has no UI control: add ui/op_controls/{op}.py") from None
        raise


def default_values() -> dict[str, dict]:
    return {spec.name: copy.deepcopy(control_for(spec.name).DEFAULTS) for spec in op_specs()}


class Widgets:
    """Widget keys for one op's control, seeded from its values (all of them after a restore)."""

    def __init__(self, op: str, values: dict, restoring: bool, session_state):
        self.op, self.values, self.restoring, self.state = op, values, restoring, session_state
        self.names: list[str] = []

    def key(self, name: str) -> str:
        return f"w.{self.op}.{name}"

    def seed(self, name: str, value=None) -> str:
        """The key of widget `name`, set to `value` (default: values[name]) if new or restoring."""
        key = self.key(name)
        if self.restoring or key not in self.state:
            self.state[key] = copy.deepcopy(self.values.get(name) if value is None else value)
        if name in self.values:
            self.names.append(name)
        return key

    def read(self) -> dict:
        """The values after drawing: every seeded value widget read back, the rest unchanged."""
        out = copy.deepcopy(self.values)
        for name in self.names:
            out[name] = copy.deepcopy(self.state.get(self.key(name), out[name]))
        return out
