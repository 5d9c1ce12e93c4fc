"""Home: the sign-in form when signed out, else the member, the team and the pages. (A page of
the navigation that ``Home.py``, the entry script, builds; named ``start.py`` so that it does not
clash with ``Home.py`` on case-insensitive file systems.)"""

from __future__ import annotations

import streamlit as st

from apps import ui
from apps.client import ApiError, api_url

ui.page("Home")
st.title("Leadly")

session = ui.current()
if session is None:
    st.write("Sign in with your Leadly account to see your team's dashboards.")
    with st.form("sign_in"):
        email = st.text_input("Email", key="sign_in_email")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if not email or not password:
            st.error("Enter your email and password.")
        else:
            try:
                ui.sign_in(email, password)
            except ApiError as e:
                ui.show_api_error(e, "Sign-in failed")
            else:
                st.rerun()
    st.caption(f"API: {api_url()}")
else:
    ui.sidebar(session)
    member, team = session.member, session.team
    st.success(f"Signed in as **{member['name']}** ({member['email']}, {member['role']}).")
    st.write(f"Team **{team['name']}**")
    st.subheader("Pages")
    for path, label, blurb in ui.PAGES:
        st.page_link(path, label=f"{label} — {blurb}")
    if st.button("Sign out", key="home_sign_out"):
        ui.sign_out()
        st.rerun()
