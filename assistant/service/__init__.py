"""The HTTP service: FastAPI app, request schemas, auth, rate limiting, the hot-swappable assistant."""
