"""Per-session state: the controls' config, restoring a config into the widgets, the shared link.

Everything lives in `st.session_state`, so two browser sessions never see each other's controls.
Streamlit forgets a widget's value when the user visits a page that does not draw it, so the
config dict (a plain key, never a widget) is the source of truth; widgets are seeded from it
before they are drawn and read back into it afterwards.
"""
from __future__ import annotations

import copy
from typing import Iterable
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from slimlib.errors import SlimlibError
from slimlib.ops.recipe import Recipe
from slimlib.report.goal import Goal

from .config import decode_recipe, default_config, encode_recipe, recipe_to_config

CONFIG = "config"
RESTORE = "restore_pending"
URL_PARAM = "cfg"
GOAL = "goal"  # session key: the goal as text ("" = no goal), the source of truth for the goal widgets
GOAL_PARAM = "goal"  # the link's goal parameter (slimlib.report.goal text form)
DEFAULT_ROOT = "http://127.0.0.1:8501/"
WIDGET_PREFIX = "w."
_page_paths: set[str] = set()  # url paths of the registered pages (ui.page declares them; links cut them)


def widget_key(name: str) -> str:
    return WIDGET_PREFIX + name


def config() -> dict:
    """This session's config, created on first use from the link's `cfg` parameter or defaults."""
    if CONFIG not in st.session_state:
        st.session_state[CONFIG] = default_config()
        token = st.query_params.get(URL_PARAM)
        if token:
            try:
                # The link is decoded into controls once the model's shape is known (ui.page.load);
                # its model is the config's at once, so the model picker and page.load open that model
                # (not the default first, with the link's steps applied to the wrong shape).
                linked = decode_recipe(token)
                st.session_state["link_recipe"] = linked
                st.session_state[CONFIG]["model"] = linked.base_model
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


def skip_model_reseed() -> None:
    """Keep the model picker's widgets as they are on the next run (they already show the config's model)."""
    st.session_state.pop("model_reseed", None)


def restore_recipe(recipe: Recipe, shape) -> None:
    set_config(recipe_to_config(recipe, shape))


def take_restore_flag() -> bool:
    """True once after a restore (a click on the chart, a preset, the Heads page, a shared link)."""
    return st.session_state.pop(RESTORE, False)


def goal_text() -> str:
    """This session's goal as text; on first use it comes from the link's `goal` parameter."""
    if GOAL not in st.session_state:
        text = st.query_params.get(GOAL_PARAM) or ""
        if text:
            try:
                text = Goal.parse(text).to_text()
            except SlimlibError as exc:
                st.session_state["link_error"] = f"the link's goal: {exc}"
                text = ""
        st.session_state[GOAL] = text
        st.session_state["goal_reseed"] = True
    return st.session_state[GOAL]


def goal() -> Goal | None:
    text = goal_text()
    return Goal.parse(text) if text else None


def set_goal(new_goal: Goal | None) -> None:
    st.session_state[GOAL] = new_goal.to_text() if new_goal is not None else ""


def publish_link(recipe: Recipe) -> str:
    """Keep the browser's URL in step with the config and the goal, so a copied address reopens this view."""
    token = encode_recipe(recipe)
    if st.query_params.get(URL_PARAM) != token:
        st.query_params[URL_PARAM] = token
    text = goal_text()
    if text and st.query_params.get(GOAL_PARAM) != text:
        st.query_params[GOAL_PARAM] = text
    elif not text and GOAL_PARAM in st.query_params:
        del st.query_params[GOAL_PARAM]
    return token


def remember_page_paths(paths: Iterable[str]) -> None:
    _page_paths.update(paths)


def page_url_paths() -> set[str]:
    return set(_page_paths)


def root_url(url: str | None, page_paths: Iterable[str] = ()) -> str:
    """The app's root (the Explore page) from the address of any of its pages.

    A page's address is the root plus the page's url path (http://host:8501/Export); the root may
    itself have a path (server.baseUrlPath, a proxy), so only a trailing registered page path is cut.
    """
    parts = urlsplit((url or DEFAULT_ROOT).strip())
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[-1] in set(page_paths):
        segments.pop()
    path = "/" + "/".join(segments) + ("/" if segments else "")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def share_url(token: str, goal_text_: str | None = None, url: str | None = None,
              page_paths: Iterable[str] | None = None) -> str:
    """A link that opens the Explore page with these controls (and goal), from any page."""
    if url is None:
        try:
            url = st.context.url
        except Exception:  # no browser (tests, bare mode)
            url = None
    if page_paths is None:
        page_paths = page_url_paths()
    query = {URL_PARAM: token}
    if goal_text_:
        query[GOAL_PARAM] = goal_text_
    return f"{root_url(url, page_paths)}?{urlencode(query, safe=':,*')}"
