"""Leadly's Streamlit app: sign in through the API, then the dashboards and tools in pages/.

The entry point: it finds the session (this connection's, or the sign-in cookie's) and builds
the navigation (``st.navigation``: signed out, only the sign-in page is listed). Run with
``leadly ui`` (``streamlit run apps/server.py``, which also serves the cookie's route);
``leadly up`` starts it on ``LEADLY_UI_PORT`` (default 8501).
"""

from __future__ import annotations

from apps import ui

ui.page("Leadly")
current = ui.navigation(ui.current())
ui.sync_cookie()
current.run()
