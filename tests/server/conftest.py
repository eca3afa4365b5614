from live_server import live_app, server, server_config, url

__all__ = ["live_app", "server", "server_config", "url"]
