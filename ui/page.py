"""What every page starts with: page config, the session's base model and its shape."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from slimlib.errors import SlimlibError
from slimlib.model.base import LoadedBase
from slimlib.ops.recipe import DEFAULT_MODEL, ModelShape, Recipe

from . import state
from .config import config_to_recipe
from .resources import base_model, shape_of

LAST_GOOD_MODEL = "model.last_good"


@dataclass
class PageContext:
    base: LoadedBase
    shape: ModelShape
    load_error: str | None = None  # set when the requested model failed and the previous one is shown


def setup(title: str) -> None:
    st.set_page_config(page_title=f"slimlib: {title}", layout="wide")
    state.config()
    link_error = st.session_state.pop("link_error", None)
    if link_error:
        st.error(link_error)


def load(model_name: str | None = None) -> PageContext:
    """The session's base model. If it cannot be loaded, the error is shown inline and the page
    keeps working on the last model that loaded (the bundled one at first), so nothing vanishes."""
    name = model_name or state.config().get("model")
    error = None
    try:
        base = base_model(name)
        st.session_state[LAST_GOOD_MODEL] = name
    except SlimlibError as exc:
        error = str(exc)
        st.error(f"{error} — still showing {st.session_state.get(LAST_GOOD_MODEL, DEFAULT_MODEL)}.")
        base = base_model(st.session_state.get(LAST_GOOD_MODEL, DEFAULT_MODEL))
    ctx = PageContext(base, shape_of(base), error)
    linked = st.session_state.pop("link_recipe", None)
    if linked is not None:  # a shared link: its recipe becomes the controls once the shape is known
        state.restore_recipe(linked, ctx.shape)
    return ctx


def current_recipe(ctx: PageContext) -> Recipe | None:
    """The recipe the session's controls describe, or None after showing why it is invalid."""
    from slimlib.ops.pipeline import check_recipe

    try:
        config = {**state.config(), "model": st.session_state.get(LAST_GOOD_MODEL, state.config().get("model"))}
        recipe = config_to_recipe(config, ctx.shape)
        check_recipe(recipe, ctx.base)
    except SlimlibError as exc:
        st.error(str(exc))
        return None
    return recipe
