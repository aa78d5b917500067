"""What every page starts with: page config, the base model, the ops this build has."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from slimlib.errors import SlimlibError
from slimlib.model.base import BaseModel
from slimlib.ops.recipe import ModelShape, Recipe

from . import state
from .config import config_to_recipe
from .resources import available_ops, base_model, shape_of


@dataclass
class PageContext:
    base: BaseModel
    shape: ModelShape
    available: frozenset[str]
    problems: dict[str, str]


def setup(title: str) -> None:
    st.set_page_config(page_title=f"slimlib: {title}", layout="wide")
    state.config()
    link_error = st.session_state.pop("link_error", None)
    if link_error:
        st.error(link_error)


def load(model_name: str | None = None) -> PageContext:
    """The session's base model (stops the page with a one-line error if it cannot be loaded)."""
    name = model_name or state.config().get("model")
    try:
        base = base_model(name)
    except SlimlibError as exc:
        st.error(str(exc))
        st.stop()
    available, problems = available_ops()
    return PageContext(base, shape_of(base), available, problems)


def current_recipe(ctx: PageContext) -> Recipe | None:
    """The recipe the session's controls describe, or None after showing why it is invalid."""
    from slimlib.ops.pipeline import check_recipe

    try:
        recipe = config_to_recipe(state.config(), ctx.shape.num_layers, ctx.available)
        check_recipe(recipe, ctx.base)
    except SlimlibError as exc:
        st.error(str(exc))
        return None
    return recipe
