"""The REST API: FastAPI app, one router per noun, schemas, auth."""
