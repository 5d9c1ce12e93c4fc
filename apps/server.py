"""The Streamlit app as an ASGI application (``st.App``): ``apps/Home.py`` and its pages, plus
the route that sets the sign-in cookie (``apps/session_cookie.py``).

Run with ``leadly ui`` (or ``streamlit run apps/server.py``).
"""

from __future__ import annotations

import streamlit as st

from apps import session_cookie

app = st.App("Home.py", routes=session_cookie.routes())
