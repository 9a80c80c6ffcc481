"""Rumour and negative-sentiment alerts: posts grouped into stories, stories tested against each
platform's own baseline, one alert per story with a lifecycle, delivered to subscriptions.

Library only (no FastAPI, no service): ``services/alerter`` runs the engine on the pipeline's
``alerting`` tap stream and the dispatcher; the gateway's alerts router reads and changes alerts.
See docs/alerts.md for the models and formulas.
"""

from trustscope.alerts.models import Alert, AlertEvent, Post, Story

__all__ = ["Alert", "AlertEvent", "Post", "Story"]
