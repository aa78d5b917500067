"""Per-session state: the controls' config, restoring a config into the widgets, the shared link.

Everything lives in `st.session_state`, so two browser sessions never see each other's controls.
Streamlit forgets a widget's value when the user visits a page that does not draw it, so the
config dict (a plain key, never a widget) is the source of truth; widgets are seeded from it
before they are drawn and read back into it afterwards.
"""
from __future__ import annotations

import copy

import streamlit as st

from slimlib.errors import SlimlibError
from slimlib.ops.recipe import Recipe

from .config import decode_recipe, default_config, encode_recipe, recipe_to_config

CONFIG = "config"
RESTORE = "restore_pending"
URL_PARAM = "cfg"
WIDGET_PREFIX = "w."


def widget_key(name: str) -> str:
    return WIDGET_PREFIX + name


def config() -> dict:
    """This session's config, created on first use from the link's `cfg` parameter or defaults."""
    if CONFIG not in st.session_state:
        st.session_state[CONFIG] = default_config()
        token = st.query_params.get(URL_PARAM)
        if token:
            try:
                # The link is decoded into controls once the model's shape is known (ui.page.load).
                st.session_state["link_recipe"] = decode_recipe(token)
            except SlimlibError as exc:
                st.session_state["link_error"] = str(exc)
        _flag_restore()
    return st.session_state[CONFIG]


def _flag_restore() -> None:
    # Every op control and the model picker reseed their widgets from the config on the next run.
    st.session_state[RESTORE] = True
    st.session_state["model_reseed"] = True


def set_config(new_config: dict) -> None:
    """Replace the config; the widgets pick it up on the next run (call st.rerun() after)."""
    st.session_state[CONFIG] = {**default_config(), **copy.deepcopy(new_config)}
    _flag_restore()


def restore_recipe(recipe: Recipe, shape) -> None:
    set_config(recipe_to_config(recipe, shape))


def take_restore_flag() -> bool:
    """True once after a restore (a click on the chart, a preset, the Heads page, a shared link)."""
    return st.session_state.pop(RESTORE, False)


def publish_link(recipe: Recipe) -> str:
    """Keep the browser's URL in step with the config, so a copied address reopens this view."""
    token = encode_recipe(recipe)
    if st.query_params.get(URL_PARAM) != token:
        st.query_params[URL_PARAM] = token
    return token


def share_url(token: str) -> str:
    base = None
    try:
        base = st.context.url
    except Exception:  # no browser (tests, bare mode)
        base = None
    base = (base or "http://127.0.0.1:8501/").split("?", 1)[0]
    # Pages live under their own path; the link opens the Explore (main) page.
    root = base.rsplit("/", 1)[0] + "/" if base.count("/") > 3 else base
    return f"{root}?{URL_PARAM}={token}"
