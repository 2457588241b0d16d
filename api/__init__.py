"""Deployable 1: the HTTP API (Flask; uWSGI in production). Never imports torch, worker or darkroom.

``api.app.create_app`` builds the app; ``api.wsgi`` is uWSGI's entry point.
"""
