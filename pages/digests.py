"""Digests: who gets the stand-up by e-mail or chat, and a preview of today's.

Everyone manages their own subscriptions (an admin, anyone's); a digest is always cut to the subscriber's own
scope. Sending is ``python -m reports.digest`` on a schedule (README).
"""

from dataclasses import replace

import streamlit as st

from metrics.kpis import get_kpi
from reports.digest import build_digest, webhook_allowed
from store import StoreError
from ui.app_store import app_store
from ui.data import current_settings, newest_complete_day
from ui.errors import guarded, show_problem
from ui.shell import page
from ui.text import md

ctx, _filters = page("Digests", uses_filters=False)
st.title("Digests")
st.caption("The stand-up by e-mail or in a chat channel, every morning or every week, without opening the "
           "dashboard. Each digest holds only what its subscriber may see. A scheduled "
           "`python -m reports.digest` sends them (README).")
user = ctx.user
settings = current_settings()
try:
    store = app_store()
    subs = store.subscriptions()
except StoreError as err:
    show_problem(err, what="Subscriptions cannot be read:", icon=":material/database:")
    st.stop()
mine = subs if user.is_admin else [s for s in subs if s.email == user.email]


def _delete(subscription_id: int) -> None:
    try:
        store.delete_subscription(subscription_id)
    except StoreError as err:
        st.toast(f"Not deleted: {md(err)}", icon=":material/error:")


st.subheader("Subscriptions", anchor=False)
if not mine:
    st.caption("No subscription yet: add one below.")
for sub in mine:
    line, drop = st.columns([12, 1], vertical_alignment="center")
    what = ", ".join(get_kpi(k).label for k in sub.kpis) or "the stand-up's KPIs"
    where = sub.target if sub.channel == "email" else "a chat webhook"
    who = f"{md(sub.email)} · " if user.is_admin else ""
    line.markdown(f"{who}**{sub.cadence}** by {sub.channel} to {md(where)} · {md(what)}"
                  + (f" · items of severity ≥ {sub.min_severity:g}" if sub.min_severity else ""))
    drop.button("", key=f"digest_del_{sub.id}", icon=":material/delete:", type="tertiary",
                help="Unsubscribe", on_click=_delete, args=(sub.id,))

with st.form("digest_new", clear_on_submit=True):
    st.markdown("**Add a subscription**")
    left, right = st.columns(2)
    subscriber = left.text_input("Subscriber (whose view the digest holds)", value=user.email if user.email != "local"
                                 else "", disabled=not user.is_admin, help="Only an admin subscribes someone else.")
    channel = right.segmented_control("By", ["email", "webhook"], default="email",
                                      format_func={"email": "E-mail", "webhook": "Chat webhook"}.get)
    target = left.text_input("Webhook URL (chat only; an e-mail goes to the subscriber's address)",
                             placeholder="https://hooks.slack.com/services/…")
    cadence = right.segmented_control("How often", ["daily", "weekly"], default="daily",
                                      format_func={"daily": "Every day", "weekly": "Every week, with the deck"}.get)
    kpis = left.multiselect("KPIs (none: the stand-up's)", list(ctx.kpis), format_func=lambda n: get_kpi(n).label)
    severity = right.number_input("Alert at once from severity (0: no alerts)", min_value=0.0, value=0.0, step=0.5,
                                  help="Above 0, incidents at least this severe are also sent as they are found "
                                       "(python -m reports.alerts), and the digest lists only those.")
    if st.form_submit_button("Subscribe", icon=":material/forward_to_inbox:"):
        email = (subscriber if user.is_admin else user.email).strip().lower()
        by = channel or "email"
        try:
            if by == "webhook" and not webhook_allowed(settings, target.strip()):
                raise StoreError("That webhook's host is not one the dashboard may post to ([digest] webhook_hosts: "
                                 + ", ".join(settings.delivery.webhook_hosts) + ").")
            store.add_subscription(email=email, channel=by, target=email if by == "email" else target.strip(),
                                   cadence=cadence or "daily", kpis=kpis, min_severity=severity,
                                   created_by=user.email)
        except StoreError as err:
            show_problem(err, what="Not subscribed:")
        else:
            st.toast("Subscribed.", icon=":material/check:")
            st.rerun()

st.subheader("Preview", anchor=False)
with guarded():
    day = newest_complete_day(ctx)
    preview_for, shown_kpis, severity_floor = user, (), 0.0
    if user.is_admin and mine:
        pick = st.selectbox("Preview as", [None, *range(len(mine))],
                            format_func=lambda i: "yourself" if i is None else f"{mine[i].email} ({mine[i].channel})")
        if pick is not None:
            chosen = settings.access.user(mine[pick].email) if settings.access.mode != "none" else user
            if chosen is None:
                st.warning(f"{md(mine[pick].email)} has no role any more: the digest would not be sent.")
                st.stop()
            preview_for, shown_kpis, severity_floor = chosen, mine[pick].kpis, mine[pick].min_severity
    digest = build_digest(replace(ctx, user=preview_for), day, kpis=shown_kpis, min_severity=severity_floor,
                          images=False)
st.caption(f"Subject: {md(digest.subject)} · charts are attached in the e-mail itself")
with st.container(border=True):
    st.html(digest.html)
