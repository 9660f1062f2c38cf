"""The pages (chat, moderation, exports, analytics) and the vendored files they load, served with the
page's security headers. The pages are Jinja templates in web/ sharing their shells (web/layout.html, and
web/admin-layout.html for the admin pages); they hold no data of the request, only markup."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, make_response, render_template, send_from_directory

from infra.config import Settings

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
# The only third-party files the pages load, served from node_modules (npm ci, package-lock.json): the
# Socket.IO client, the Markdown renderer, the emoji set with its names in each language of the page, and
# uPlot for the analytics page's charts.
LANGUAGES = ("en", "fr", "es", "de")
VENDOR = {"socket.io.esm.min.js": "socket.io-client/dist/socket.io.esm.min.js",
          "markdown-it.esm.min.mjs": "markdown-it/dist/browser/markdown-it.esm.min.mjs",
          "uPlot.esm.js": "uplot/dist/uPlot.esm.js", "uPlot.min.css": "uplot/dist/uPlot.min.css",
          **{f"emoji-{lang}.json": f"emojibase-data/{lang}/compact.json" for lang in LANGUAGES},
          **{f"emoji-groups-{lang}.json": f"emojibase-data/{lang}/messages.json" for lang in LANGUAGES}}
CSP = "CONTENT_SECURITY_POLICY"  # app.config key, set by the factory from settings

pages = Blueprint("pages", __name__, template_folder=str(WEB))


def content_security_policy(settings: Settings) -> str:
    """The page runs its own modules only: no inline script or style, no plugin, not framed; avatars may be
    any http(s) image. 'self' in connect-src covers the same-origin WebSocket. Files are PUT to S3 and
    shown from it (presigned URLs): its public origin (and its subdomains, for virtual-hosted buckets) is
    allowed for connections, images, audio and video (blob: for a voice message being recorded)."""
    s3 = urlsplit(settings.s3_public_url or settings.s3_endpoint_url or "")
    origins = f"{s3.scheme}://{s3.netloc} {s3.scheme}://*.{s3.hostname}" if s3.netloc else ""
    return (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data: blob: {origins}; "
            f"media-src 'self' blob: {origins}; connect-src 'self' {origins}; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'").replace("  ", " ")


def html(name: str):
    response = make_response(render_template(name))
    response.headers.update({"Content-Security-Policy": current_app.config[CSP], "Referrer-Policy": "no-referrer",
                             "X-Content-Type-Options": "nosniff"})
    return response


@pages.get("/")
def page():
    """The chat page (web/): plain ES modules, no build step."""
    return html("index.html")


@pages.get("/moderation")
def moderation_page():
    """The moderator dashboard (web/moderation.html, web/js/moderation/), same rules as the chat page."""
    return html("moderation.html")


@pages.get("/exports")
def exports_page():
    """The admins' export page (web/exports.html, web/js/exports/), same rules as the chat page."""
    return html("exports.html")


@pages.get("/analytics")
def analytics_page():
    """The admins' analytics page (web/analytics.html, web/js/analytics/), same rules as the chat page."""
    return html("analytics.html")


@pages.get("/vendor/<name>")
def vendor(name: str):
    if name not in VENDOR:
        abort(404)
    return send_from_directory(ROOT / "node_modules", VENDOR[name])
