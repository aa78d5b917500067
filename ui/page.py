"""What every page starts with: page config, the session's base model and its shape; and the
app's navigation.

The navigation is declared with `st.navigation` rather than discovered from pages/, because a
discovered app names its landing page after the entrypoint's file ("app"). Every file in pages/
is still a page, in the same order and at the same address (/Heads, /Compare, ...), and the
landing page, Explore, is the entrypoint itself run a second time as a page: so its address is
the root and `st.switch_page("app.py")` keeps opening it.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from slimlib.errors import SlimlibError
from slimlib.model.base import LoadedBase
from slimlib.model.shape import ModelShape
from slimlib.ops.recipe import DEFAULT_MODEL, Recipe

from . import state
from .config import config_to_recipe
from .resources import base_model, shape_of
from .speed_timer import note_session

LAST_GOOD_MODEL = "model.last_good"
EXPLORE_TITLE = "Explore"
PAGES_DIR = "pages"
_routing = threading.local()  # set while the entrypoint runs the chosen page (per session thread)


def page_files(root: Path) -> list[Path]:
    """The files of pages/, in Streamlit's order: by leading number, then name."""
    def order(path: Path):
        match = re.match(r"^(\d+)", path.stem)
        return (float(match.group(1)) if match else float("inf"), path.stem.lower())

    return sorted((p for p in (root / PAGES_DIR).glob("*.py") if not p.name.startswith(("_", "."))), key=order)


def _declare_pages(entrypoint: str):
    """st.navigation over Explore (the entrypoint) and every file of pages/; returns the chosen page."""
    root = Path(entrypoint).resolve().parent
    pages = [st.Page(Path(entrypoint).name, title=EXPLORE_TITLE, default=True)]
    # Title and address come from the file name, as the pages/ folder gave them before.
    pages += [st.Page(f"{PAGES_DIR}/{path.name}") for path in page_files(root)]
    state.remember_page_paths(p.url_path for p in pages if p.url_path)
    return st.navigation(pages)


def route(entrypoint: str) -> bool:
    """In the entrypoint's own run: declare the pages, run the chosen one and return True. When the
    navigation runs the entrypoint again as the Explore page, return False: the caller draws Explore."""
    if getattr(_routing, "active", False):
        return False
    chosen = _declare_pages(entrypoint)
    _routing.active = True
    try:
        chosen.run()
    finally:
        _routing.active = False
    return True


@dataclass
class PageContext:
    base: LoadedBase
    shape: ModelShape
    load_error: str | None = None  # set when the requested model failed and the previous one is shown


def _menu_outside_route() -> None:
    """A fresh server's first run opened on a page's own address (/Export) runs that page in
    Streamlit's pages/-folder mode, without the entrypoint, under a menu that calls the landing
    page "app" (and AppTest starts every run that way). Declare the app's own menu here instead:
    this leaves that mode for good and keeps the page running as it is (no rerun, so a click that
    started this run is not lost)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # a Streamlit without them has no pages/-folder mode
        return
    ctx = get_script_run_ctx()
    if ctx is None or getattr(_routing, "active", False) or not PagesManager.uses_pages_directory:
        return
    entrypoint = Path(ctx.pages_manager.main_script_path)
    if (entrypoint.parent / PAGES_DIR).is_dir():
        _declare_pages(str(entrypoint))


def session_id() -> str | None:
    """This browser session's id (None outside a script run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def setup(title: str) -> None:
    _menu_outside_route()
    note_session(session_id())  # how many sessions are active decides where speed is timed
    st.set_page_config(page_title=f"slimlib: {title}", layout="wide")
    state.config()
    state.goal_text()  # a link's goal is read (and a damaged one reported) before the error is shown
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
        # The model picker already drew this run with the link's model; a reseed on the next run
        # would overwrite whatever the user types first (their edit arrives with that run).
        state.skip_model_reseed()
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
