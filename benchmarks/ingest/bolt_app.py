"""The comparison app: Slack Bolt for Python, Flask adapter, handling reaction_added.

Run under gunicorn (2 workers) by run.py with SLACK_SIGNING_SECRET set. Bolt verifies the
signature and the timestamp, acknowledges, and runs the listener; nothing is persisted.
"""
import logging
import os

from flask import Flask, request
from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.adapter.flask import SlackRequestHandler

logging.basicConfig(level=logging.WARNING)

def authorize(**_kwargs):
    # A fixed installation: the default single-team authorization would call Slack's auth.test,
    # which is not reachable from a loopback benchmark.
    return AuthorizeResult(enterprise_id=None, team_id="T0BENCH", bot_token=os.environ.get("SLACK_BOT_TOKEN", "xoxb-bench"),
                           bot_user_id="U0BOT", bot_id="B0BENCH")


bolt = App(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    authorize=authorize,
    request_verification_enabled=True,
)


@bolt.event("reaction_added")
def on_reaction(event, logger):  # noqa: ARG001 - the listener is where an app would record the vote
    pass


app = Flask(__name__)
handler = SlackRequestHandler(bolt)


@app.route("/slack/events", methods=["POST"])
def slack_events():
    return handler.handle(request)
