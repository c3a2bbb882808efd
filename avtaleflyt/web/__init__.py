"""The coordinator's dashboard (`avtaleflyt serve`): FastAPI, server-rendered Jinja2 pages."""
