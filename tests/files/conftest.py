from webhooks_server import http, server, server_config, webhooks_app

__all__ = ["http", "server", "server_config", "webhooks_app"]
