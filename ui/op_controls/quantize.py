"""Quantization: the weight bit-width (32 = off), with what this CPU means for it."""
from __future__ import annotations

import streamlit as st

from slimlib.measure.hardware import bit_width_advice
from slimlib.ops.quantize import QUANT_BITS

DEFAULTS = {"bits": 32}
EXPANDED = True


def draw(w, shape) -> dict:
    st.select_slider("Weight bits (32 = off)", list(QUANT_BITS), key=w.seed("bits"))
    st.caption(bit_width_advice())
    return w.read()


def to_step(values: dict, shape) -> dict | None:
    return {"bits": int(values["bits"])} if int(values["bits"]) != 32 else None


def from_step(step: dict, shape) -> dict:
    return {"bits": step["bits"]}
