"""Flask application factory: one blueprint per source, one JSON error envelope."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from connector.config import Config, config_from_dict, load_config
from connector.store import Store
from mappings import Mapping, load_mapping, resolve_mapping_path
from webhooks.errors import WebhookError

log = logging.getLogger("ventanilla.webhooks")


@dataclass
class AppState:
    """What every endpoint needs: the validated configuration and the store."""

    config: Config
    store: Store
    mappings: dict[str, Mapping] = field(default_factory=dict)

    def mapping(self, desk: str) -> Mapping:
        """The desk's mapping, loaded (and validated) once."""
        if desk not in self.mappings:
            name = self.config.desk(desk).mapping
            self.mappings[desk] = load_mapping(resolve_mapping_path(name, self.config.base_dir))
        return self.mappings[desk]


def app_state() -> AppState:
    """Return the state of the running application."""
    state: AppState = current_app.extensions["ventanilla"]
    return state


def create_app(config: Config | dict[str, Any] | None = None, store: Store | None = None) -> Flask:
    """Build the app; ``config`` may be a Config, a plain dict, or None for the defaults."""
    if config is None:
        config = load_config()
    elif isinstance(config, dict):
        config = config_from_dict(config)
    if store is None:
        store = Store(config.database_url)
        store.create_schema()
    app = Flask("webhooks")
    # Flask's own limit, so werkzeug refuses oversize bodies before reading them.
    app.config["MAX_CONTENT_LENGTH"] = config.limits.max_body_bytes
    app.extensions["ventanilla"] = AppState(config=config, store=store)
    _register_blueprints(app)
    _register_error_handlers(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from webhooks.api import blueprint as api
    from webhooks.generic import blueprint as generic
    from webhooks.health import blueprint as health
    from webhooks.hubspot import blueprint as hubspot
    from webhooks.meta import blueprint as meta
    from webhooks.salesforce import blueprint as salesforce
    from webhooks.x import blueprint as x

    for blueprint in (health, meta, x, generic, salesforce, hubspot, api):
        app.register_blueprint(blueprint)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(WebhookError)
    def _webhook_error(error: WebhookError) -> ResponseReturnValue:
        log.warning("rejected request: %s %s", error.code, error.message)
        return jsonify(error.to_dict()), error.status_code

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        code = (error.name or "error").lower().replace(" ", "_")
        status = error.code or 500
        if status == 413:
            code = "payload_too_large"
        log.warning("rejected request: %s %s", status, error.description)
        return jsonify({"error": code, "message": error.description or error.name}), status
