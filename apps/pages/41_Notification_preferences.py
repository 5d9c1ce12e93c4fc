"""Notification preferences: which notification types reach the member on which channel
(in-app, email, SMS, browser push, Slack/Teams webhook), do-not-disturb hours in their time
zone, the email digest, and where to send. Saved with ``PUT /api/v1/notification-preferences``."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from apps import ui
from apps.client import ApiError

session = ui.start("Notification preferences")
api = session.api

CHANNELS = {
    "in_app": "In app",
    "email": "Email",
    "sms": "SMS",
    "push": "Push",
    "webhook": "Slack/Teams",
}
LABELS = {
    "task_assigned": "Task assigned to me",
    "mention": "@mention",
    "deal_stage_changed": "Deal stage changed",
    "task_overdue": "Task overdue",
    "task_reminder": "Task reminder",
    "meeting_reminder": "Meeting reminder",
    "lead_assigned": "Lead assigned to me",
    "member_activity": "Activity of members I watch",
    "system": "System alerts (imports, …)",
}
DIGESTS = {"immediate": "Right away", "hourly": "Hourly digest", "daily": "Daily digest"}

try:
    prefs = api.get("/notification-preferences")
except ApiError as e:
    ui.stop_on_error(e, "Loading preferences")

st.subheader("What reaches me where")
head = st.columns([3, *([1] * len(CHANNELS))])
head[0].markdown("**Notification**")
for col, label in zip(head[1:], CHANNELS.values(), strict=True):
    col.markdown(f"**{label}**")
switches: dict[str, dict[str, bool]] = {}
for t, label in LABELS.items():
    row = st.columns([3, *([1] * len(CHANNELS))])
    row[0].write(label)
    switches[t] = {}
    for col, ch in zip(row[1:], CHANNELS, strict=True):
        switches[t][ch] = col.checkbox(
            f"{label}: {CHANNELS[ch]}",
            value=bool(prefs["types"].get(t, {}).get(ch)),
            key=f"pref_{t}_{ch}",
            label_visibility="collapsed",
        )

st.subheader("Do not disturb")
dnd = prefs["dnd"]
left, right = st.columns(2)
tz = left.text_input(
    "Time zone (IANA)",
    value=prefs["time_zone"],
    key="pref_time_zone",
    help="Empty: the time zone of your member profile.",
)
dnd_on = left.checkbox("Quiet hours", value=dnd is not None, key="pref_dnd_on")
start = right.time_input(
    "From",
    value=dt.time.fromisoformat(dnd["start"]) if dnd else dt.time(22, 0),
    key="pref_dnd_start",
)
end = right.time_input(
    "Until", value=dt.time.fromisoformat(dnd["end"]) if dnd else dt.time(7, 0), key="pref_dnd_end"
)
allow_urgent = left.checkbox(
    "Urgent notifications may interrupt", value=prefs["dnd_allow_urgent"], key="pref_dnd_urgent"
)

st.subheader("Email")
c1, c2, c3 = st.columns(3)
digest = c1.selectbox(
    "Send email",
    list(DIGESTS),
    index=list(DIGESTS).index(prefs["digest"]),
    format_func=DIGESTS.get,
    key="pref_digest",
)
digest_hour = c2.number_input(
    "Daily digest at (hour)",
    min_value=0,
    max_value=23,
    value=prefs["digest_hour"],
    key="pref_digest_hour",
)
email = c3.text_input(
    "Email address (empty: your sign-in email)", value=prefs["email"] or "", key="pref_email"
)

st.subheader("SMS and chat")
c1, c2, c3 = st.columns(3)
phone = c1.text_input(
    "Mobile number (E.164, +15551234567)", value=prefs["phone"] or "", key="pref_phone"
)
slack = c2.text_input(
    "Slack incoming webhook URL", value=prefs["slack_webhook_url"] or "", key="pref_slack"
)
teams = c3.text_input(
    "Teams incoming webhook URL", value=prefs["teams_webhook_url"] or "", key="pref_teams"
)

if st.button("Save preferences", type="primary", key="pref_save"):
    body = {
        "types": switches,
        "time_zone": tz.strip() or None,
        "dnd": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")} if dnd_on else None,
        "dnd_allow_urgent": allow_urgent,
        "digest": digest,
        "digest_hour": int(digest_hour),
        "email": email.strip() or None,
        "phone": phone.strip() or None,
        "slack_webhook_url": slack.strip() or None,
        "teams_webhook_url": teams.strip() or None,
    }
    try:
        api.request("PUT", "/notification-preferences", json=body)
    except ApiError as e:
        ui.show_api_error(e, "Saving preferences")
    else:
        st.success("Preferences saved.")
