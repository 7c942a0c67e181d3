"""A small FastAPI app wired to an Aegistry-rendered ``auth`` package."""
