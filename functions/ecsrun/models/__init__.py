"""Pydantic models for every edge: the run request, ECS events, the run record."""
