"""fixer lab backend for the uwsgi-backend lab: the same two pages as lab-backend.py, as a WSGI
application that uWSGI serves to nginx over the uwsgi protocol (`uwsgi_pass`)."""

import json


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/api/health":
        return reply(start_response, "200 OK", "application/json", json.dumps({"status": "ok"}))
    if path == "/":
        return reply(start_response, "200 OK", "text/html", "<!doctype html><title>lab</title><p>fixer lab backend (uwsgi)</p>\n")
    return reply(start_response, "404 Not Found", "application/json", json.dumps({"error": "not found"}))


def reply(start_response, status, content_type, body):
    data = body.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]
